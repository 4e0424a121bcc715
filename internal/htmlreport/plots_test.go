package htmlreport

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gonum.org/v1/plot"

	"github.com/dilo-operator/dilo/internal/report/histogram"
)

func TestSpectrumX(t *testing.T) {
	for _, tc := range []struct {
		p, x float64
	}{
		{0, 0}, {0.5, math.Log10(2)}, {0.9, 1}, {0.99, 2}, {0.999, 3}, {0.9999, 4}, {0.99999, 5},
	} {
		if got := spectrumX(tc.p); !cmp.Equal(got, tc.x, cmpopts.EquateApprox(0, 1e-9)) {
			t.Errorf("spectrumX(%v) = %v, want %v", tc.p, got, tc.x)
		}
	}
	// The ticks' percentiles are the decimals themselves, so that Quantile
	// ranks them as it ranks 0.99.
	for x, want := range []float64{0, 0.9, 0.99, 0.999, 0.9999} {
		if got := percentileAt(float64(x)); got != want {
			t.Errorf("percentileAt(%d) = %v, want exactly %v", x, got, want)
		}
	}
}

func TestSpectrumAxis(t *testing.T) {
	p, err := spectrumPlot([]series{{label: "all requests", xys: spectrumPoints(latencies(3, 1000, 10*time.Millisecond, 0.5)), color: ink, width: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var ticks []plot.Tick
	for _, tk := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
		ticks = append(ticks, plot.Tick{Value: tk.Value, Label: tk.Label})
	}
	want := []plot.Tick{{Value: 0, Label: "0%"}, {Value: 1, Label: "90%"}, {Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}}
	if diff := cmp.Diff(want, ticks); diff != "" {
		t.Errorf("x ticks (-want +got):\n%s", diff)
	}
	// Where the known percentiles land along the axis, as a share of its
	// length: each nine a quarter further.
	var at []float64
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		at = append(at, p.X.Norm(spectrumX(q)))
	}
	if diff := cmp.Diff([]float64{0, math.Log10(2) / 4, 0.25, 0.5, 0.75, 1}, at, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("positions along the x axis (-want +got):\n%s", diff)
	}
}

func TestSpectrumPoints(t *testing.T) {
	// 10,000 values each 0.3 % above the last, in buckets of 0.2 %: every
	// rank has a value of its own, so a percentile off by one rank shows.
	h := histogram.New(histogram.MaxPrecision)
	for i := range 10000 {
		h.Record(time.Duration(math.Pow(1.003, float64(i))))
	}
	xys := spectrumPoints(h)
	if got, want := len(xys), spectrumDecades*samplesPerDecade+1; got != want {
		t.Fatalf("%d points, want %d", got, want)
	}
	got := map[float64]float64{}
	for _, xy := range xys {
		if xy.X == math.Trunc(xy.X) {
			got[xy.X] = xy.Y
		}
	}
	want := map[float64]float64{0: millis(h.Min())}
	for x, q := range []float64{0.9, 0.99, 0.999, 0.9999} {
		want[float64(x+1)] = millis(h.Quantile(q))
		if h.Quantile(q) == h.Quantile(q+1e-4) {
			t.Fatalf("the histogram does not tell rank %v from the next", q)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("latency (ms) at each tick (-want +got):\n%s", diff)
	}
}

func TestNiceTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range niceTicks(lo, hi) {
			out = append(out, tk.Label)
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 250, []string{"0", "50", "100", "150", "200", "250"}},
		{0, 237, []string{"0", "50", "100", "150", "200"}},
		{0, 150, []string{"0", "25", "50", "75", "100", "125", "150"}},
		{0, 120, []string{"0", "20", "40", "60", "80", "100", "120"}},
		{0, 1, []string{"0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{0, 0.05, []string{"0", "0.01", "0.02", "0.03", "0.04", "0.05"}},
		{0, 0.25, []string{"0", "0.05", "0.1", "0.15", "0.2", "0.25"}},
		{-10, 10, []string{"-10", "-5", "0", "5", "10"}},
		{0, 0, nil},
		{1, 0, nil},
	} {
		if diff := cmp.Diff(tc.want, labels(tc.lo, tc.hi)); diff != "" {
			t.Errorf("niceTicks(%v, %v) (-want +got):\n%s", tc.lo, tc.hi, diff)
		}
	}
}

func TestLabelsOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   Run
		la, lb string
	}{
		{"two runs", Run{Namespace: "n", LoadTest: "lt-a", Run: 3}, Run{Namespace: "n", LoadTest: "lt-a", Run: 4}, "lt-a run 3", "lt-a run 4"},
		{"two LoadTests", Run{LoadTest: "lt-a", Run: 3}, Run{LoadTest: "lt-b", Run: 3}, "lt-a run 3", "lt-b run 3"},
		{"two namespaces", Run{Namespace: "n", LoadTest: "lt-a", Run: 3}, Run{Namespace: "m", LoadTest: "lt-a", Run: 3}, "n/lt-a run 3", "m/lt-a run 3"},
		{"one run twice", Run{LoadTest: "lt-a", Run: 3}, Run{LoadTest: "lt-a", Run: 3}, "lt-a run 3 (a)", "lt-a run 3 (b)"},
		{"no names", Run{}, Run{}, "(unnamed) run 0 (a)", "(unnamed) run 0 (b)"},
	} {
		la, lb := labelsOf(tc.a, tc.b)
		if diff := cmp.Diff([2]string{tc.la, tc.lb}, [2]string{la, lb}); diff != "" {
			t.Errorf("%s: labelsOf (-want +got):\n%s", tc.name, diff)
		}
	}
}
