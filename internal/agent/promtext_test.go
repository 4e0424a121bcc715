package agent

import (
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPromText: promText writes Prometheus' text format, version 0.0.4, as
// its parser reads it: help texts with backslash and newline escaped, label
// values with the double quote too, numbers in Go's shortest form, and a
// histogram's cumulative buckets ending at +Inf, then its sum and count.
func TestPromText(t *testing.T) {
	const odd = `C:\dir "quoted"` + "\nnext line"
	var p promText
	p.family("test_requests_total", "counter", `Requests, a \ and a "quote"`+"\nover two lines.")
	p.sample(0, promLabel{"path", odd}, promLabel{"code", "200"})
	p.sample(1234567, promLabel{"path", "/"}, promLabel{"code", "200"})
	p.family("test_temperature", "gauge", "A gauge.")
	p.sample(-0.0005)
	p.family("test_seconds", "histogram", "A histogram.")
	p.histogram([]promBucket{{0.0005, 1}, {1, 3}, {2.5, 3}}, 4, 12.5)

	const want = `# HELP test_requests_total Requests, a \\ and a "quote"\nover two lines.
# TYPE test_requests_total counter
test_requests_total{path="C:\\dir \"quoted\"\nnext line",code="200"} 0
test_requests_total{path="/",code="200"} 1.234567e+06
# HELP test_temperature A gauge.
# TYPE test_temperature gauge
test_temperature -0.0005
# HELP test_seconds A histogram.
# TYPE test_seconds histogram
test_seconds_bucket{le="0.0005"} 1
test_seconds_bucket{le="1"} 3
test_seconds_bucket{le="2.5"} 3
test_seconds_bucket{le="+Inf"} 4
test_seconds_sum 12.5
test_seconds_count 4
`
	if diff := cmp.Diff(want, string(p.b)); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	wantFamilies := map[string]metricFamily{
		"test_requests_total": {Type: "counter", Help: `Requests, a \ and a "quote"` + "\nover two lines.", Samples: map[string]float64{
			`test_requests_total{code="200", path=` + strconv.Quote(odd) + `}`: 0,
			`test_requests_total{code="200", path="/"}`:                        1234567,
		}},
		"test_temperature": {Type: "gauge", Help: "A gauge.", Samples: map[string]float64{"test_temperature": -0.0005}},
		"test_seconds": {Type: "histogram", Help: "A histogram.", Samples: map[string]float64{
			`test_seconds_bucket{le="0.0005"}`: 1,
			`test_seconds_bucket{le="1"}`:      3,
			`test_seconds_bucket{le="2.5"}`:    3,
			`test_seconds_bucket{le="+Inf"}`:   4,
			"test_seconds_sum":                 12.5,
			"test_seconds_count":               4,
		}},
	}
	if diff := cmp.Diff(wantFamilies, parseMetrics(t, string(p.b))); diff != "" {
		t.Errorf("as Prometheus reads it (-want +got):\n%s", diff)
	}
}

// TestPromTextNumbers: numbers as Prometheus' Go client writes them.
func TestPromTextNumbers(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1, "-1"}, {42, "42"}, {0.0428, "0.0428"}, {1e-05, "1e-05"},
		{1 << 53, "9.007199254740992e+15"}, {1.7961873409635777e+09, "1.7961873409635777e+09"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := string(appendFloat(nil, tc.v)); got != tc.want {
			t.Errorf("appendFloat(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
