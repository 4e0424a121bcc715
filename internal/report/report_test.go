package report

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// podRun simulates one pod: its raw latencies and its report, sent through
// Encode and Parse as the reconciler would see it.
func podRun(t *testing.T, r *rand.Rand, precision int) ([]time.Duration, Report) {
	t.Helper()
	n := 1 + r.IntN(20000)
	scale := time.Duration(1+r.IntN(5000)) * time.Microsecond
	h := histogram.New(precision)
	samples := make([]time.Duration, n)
	for i := range samples {
		v := time.Duration(r.ExpFloat64() * float64(scale))
		if r.IntN(50) == 0 {
			v *= time.Duration(10 + r.IntN(100)) // a tail
		}
		samples[i] = v
		h.Record(v)
	}
	timeouts := int64(r.IntN(10))
	start := t0.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
	rep := Report{
		Start: start, End: start.Add(10 * time.Second),
		Requests: int64(n) + timeouts, Errors: timeouts + 7,
		ErrorsByClass: map[string]int64{podreport.ClassTimeout: timeouts},
		Codes:         map[string]int64{"200": int64(n) - 7, "503": 7},
		BytesReceived: int64(n) * 100,
		Latency:       h,
	}
	if n < 7 {
		rep.Codes = map[string]int64{"200": int64(n)}
		rep.Errors = timeouts
	}
	b, err := rep.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return samples, back
}

// TestMergePercentilesMatchPooledSamples: the merged percentiles equal the
// percentiles of all pods' raw samples pooled, within the precision of the
// coarsest report: never below, at most one bucket above.
func TestMergePercentilesMatchPooledSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	for trial := range 40 {
		pods := 1 + r.IntN(12)
		var pooled []time.Duration
		var reports []Report
		var requests int64
		for range pods {
			p := histogram.DefaultPrecision
			if trial%2 == 1 {
				p = 2 + r.IntN(histogram.MaxPrecision-1)
			}
			s, rep := podRun(t, r, p)
			pooled = append(pooled, s...)
			reports = append(reports, rep)
			requests += rep.Requests
		}
		res, err := Merge(reports)
		if err != nil {
			t.Fatal(err)
		}
		lowest := histogram.MaxPrecision
		for _, rep := range reports {
			lowest = min(lowest, rep.Latency.Precision())
		}
		slices.Sort(pooled)
		for _, c := range []struct {
			q   float64
			got time.Duration
		}{{0.5, res.Latency.P50.Duration}, {0.9, res.Latency.P90.Duration}, {0.99, res.Latency.P99.Duration}, {1, res.Latency.Max.Duration}} {
			rank := int(float64(len(pooled))*c.q + 0.9999999)
			raw := pooled[max(rank, 1)-1]
			tol := time.Duration(float64(raw)*2/float64(int(1)<<lowest)) + 1
			if c.got < raw || c.got-raw > tol {
				t.Errorf("trial %d (%d pods, precision %d) q=%v: merged %v, pooled %v, tolerance %v", trial, pods, lowest, c.q, c.got, raw, tol)
			}
		}
		if res.Requests != requests || res.Pods != int32(pods) {
			t.Errorf("trial %d: requests %d pods %d, want %d %d", trial, res.Requests, res.Pods, requests, pods)
		}
	}
}

func TestMerge(t *testing.T) {
	hist := func(vals ...time.Duration) *histogram.Histogram {
		h := histogram.New(histogram.DefaultPrecision)
		for _, v := range vals {
			h.Record(v)
		}
		return h
	}
	a := Report{
		Start: t0, End: t0.Add(8 * time.Second), Requests: 4, Errors: 2,
		ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 2, "500": 1},
		BytesReceived: 300, Latency: hist(time.Millisecond, time.Millisecond, 3*time.Millisecond),
	}
	b := Report{
		Start: t0.Add(2 * time.Second), End: t0.Add(10 * time.Second), Requests: 6,
		Codes: map[string]int64{"200": 6}, BytesReceived: 600,
		Latency: hist(2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 100*time.Millisecond),
	}
	got, err := Merge([]Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Results{
		Pods: 2, Requests: 10, Errors: 2, ErrorRatio: "0.2000",
		ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 8, "500": 1},
		BytesReceived: 900, RequestsPerSecond: "1.00",
		Latency: v1.Latency{
			P50: metav1.Duration{Duration: 2*time.Millisecond + 7039}, // the top of 2ms's bucket
			P90: metav1.Duration{Duration: 100 * time.Millisecond},
			P99: metav1.Duration{Duration: 100 * time.Millisecond},
			Max: metav1.Duration{Duration: 100 * time.Millisecond},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Merge (-want +got):\n%s", diff)
	}
	if a.Latency.Count() != 3 {
		t.Fatal("Merge changed its input")
	}
	if _, err := Merge(nil); err == nil {
		t.Fatal("Merge(nil): no error")
	}
	if _, err := Merge([]Report{{Requests: 1}}); err == nil {
		t.Fatal("Merge without histogram: no error")
	}
}

func TestCheckThresholds(t *testing.T) {
	ms := func(n float64) metav1.Duration {
		return metav1.Duration{Duration: time.Duration(n * float64(time.Millisecond))}
	}
	ptr := func(d metav1.Duration) *metav1.Duration { return &d }
	res := v1.Results{
		Requests: 1000, Errors: 50, ErrorRatio: "0.0500",
		Latency: v1.Latency{P50: ms(20), P90: ms(120.4), P99: ms(312.51234), Max: ms(900)},
	}
	type out struct {
		Broken string
		OK     bool
	}
	for _, tc := range []struct {
		name string
		th   *v1.Thresholds
		res  v1.Results
		want out
	}{
		{"none", nil, res, out{"", true}},
		{"empty", &v1.Thresholds{}, res, out{"", true}},
		{"all kept", &v1.Thresholds{MaxErrorRatio: "0.05", MaxP50: ptr(ms(20)), MaxP90: ptr(ms(200)), MaxP99: ptr(ms(400))}, res, out{"", true}},
		{"p99", &v1.Thresholds{MaxP99: ptr(ms(250))}, res, out{"p99 313ms exceeds maxP99 250ms", false}},
		{"p99 rounds up", &v1.Thresholds{MaxP99: ptr(ms(312.5))}, res, out{"p99 313ms exceeds maxP99 312.5ms", false}},
		{"p99 just above", &v1.Thresholds{MaxP99: ptr(ms(312.4))}, v1.Results{Latency: v1.Latency{P99: ms(312.4004)}},
			out{"p99 312.4004ms exceeds maxP99 312.4ms", false}},
		{"ratio", &v1.Thresholds{MaxErrorRatio: "0.01"}, res, out{"error ratio 0.0500 exceeds maxErrorRatio 0.01", false}},
		{"ratio exact limit", &v1.Thresholds{MaxErrorRatio: "0.050"}, res, out{"", true}},
		{"ratio fine", &v1.Thresholds{MaxErrorRatio: "0.000001"}, v1.Results{Requests: 1_000_000, Errors: 2},
			out{"error ratio 0.00000200 exceeds maxErrorRatio 0.000001", false}},
		{"ratio zero requests", &v1.Thresholds{MaxErrorRatio: "0"}, v1.Results{}, out{"", true}},
		{"ratio bad", &v1.Thresholds{MaxErrorRatio: "lots"}, res, out{`maxErrorRatio "lots" is not a decimal`, false}},
		{"several", &v1.Thresholds{MaxErrorRatio: "0", MaxP50: ptr(ms(10)), MaxP90: ptr(ms(100))}, res,
			out{"error ratio 0.0500 exceeds maxErrorRatio 0; p50 20ms exceeds maxP50 10ms; p90 120ms exceeds maxP90 100ms", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got out
			got.Broken, got.OK = CheckThresholds(tc.th, tc.res)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("CheckThresholds (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParse: report.Parse never panics, and whatever it accepts merges and
// is judged against thresholds without error.
func FuzzParse(f *testing.F) {
	h := histogram.New(histogram.DefaultPrecision)
	h.Record(3 * time.Millisecond)
	good, err := Report{Start: t0, End: t0.Add(time.Second), Requests: 2, Errors: 1,
		ErrorsByClass: map[string]int64{"reset": 1}, Codes: map[string]int64{"200": 1}, Latency: h}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(good), "", "agent: could not run: no start time", `{"v":1}`, `{"v":1,"latency":"AQAA"}`} {
		f.Add(seed)
	}
	th := &v1.Thresholds{MaxErrorRatio: "0.01", MaxP99: &metav1.Duration{Duration: time.Millisecond}}
	f.Fuzz(func(t *testing.T, msg string) {
		r, err := Parse(msg)
		if err != nil {
			return
		}
		res, err := Merge([]Report{r, r})
		if err != nil {
			if strings.Contains(err.Error(), "overflows") { // doubling a near-maximal counter
				return
			}
			t.Fatalf("accepted report does not merge: %v", err)
		}
		if res.Requests != 2*r.Requests {
			t.Fatalf("merged requests %d, want %d", res.Requests, 2*r.Requests)
		}
		CheckThresholds(th, res)
	})
}
