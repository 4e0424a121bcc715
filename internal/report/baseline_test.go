package report_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
)

func TestCheckBaseline(t *testing.T) {
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	base := v1.BaselineRun{LoadTest: "checkout", Run: 3, RequestsPerSecond: "1000", P50: d("1ms"), P90: d("2ms"), P99: d("2.08ms")}
	results := func(rps, p50, p90, p99 string) v1.Results {
		return v1.Results{RequestsPerSecond: rps, Latency: v1.Latency{P50: *d(p50), P90: *d(p90), P99: *d(p99)}}
	}
	tests := []struct {
		name    string
		limits  *v1.Baseline
		base    v1.BaselineRun
		results v1.Results
		want    string
	}{
		{name: "no limits", limits: nil, base: base, results: results("1", "9s", "9s", "9s")},
		{name: "p99 exactly at the limit", limits: &v1.Baseline{MaxP99IncreasePercent: ptr.To[int32](10)},
			base: base, results: results("1000", "1ms", "2ms", "2.288ms")},
		{name: "p99 a nanosecond above the limit", limits: &v1.Baseline{MaxP99IncreasePercent: ptr.To[int32](10)},
			base: base, results: results("1000", "1ms", "2ms", "2.288001ms"),
			want: "p99 2.29ms is 10.0% above baseline checkout run 3's 2.08ms (maxP99IncreasePercent 10)"},
		{name: "zero percent allows no increase", limits: &v1.Baseline{MaxP50IncreasePercent: ptr.To[int32](0)},
			base: base, results: results("1000", "1.000001ms", "2ms", "2ms"),
			want: "p50 1.01ms is 0.0% above baseline checkout run 3's 1ms (maxP50IncreasePercent 0)"},
		{name: "rate exactly at the limit", limits: &v1.Baseline{MaxRequestsPerSecondDecreasePercent: ptr.To[int32](5)},
			base: base, results: results("950", "1ms", "2ms", "2ms")},
		{name: "rate below the limit", limits: &v1.Baseline{MaxRequestsPerSecondDecreasePercent: ptr.To[int32](5)},
			base: base, results: results("949.9", "1ms", "2ms", "2ms"),
			want: "requests per second 949.9 is 5.0% below baseline checkout run 3's 1000 (maxRequestsPerSecondDecreasePercent 5)"},
		{name: "several breaches", limits: &v1.Baseline{MaxP90IncreasePercent: ptr.To[int32](50), MaxP99IncreasePercent: ptr.To[int32](50),
			MaxRequestsPerSecondDecreasePercent: ptr.To[int32](10)},
			base: base, results: results("500", "1ms", "40ms", "41.6ms"),
			want: "p90 40ms is 1900.0% above baseline checkout run 3's 2ms (maxP90IncreasePercent 50); " +
				"p99 41.6ms is 1900.0% above baseline checkout run 3's 2.08ms (maxP99IncreasePercent 50); " +
				"requests per second 500 is 50.0% below baseline checkout run 3's 1000 (maxRequestsPerSecondDecreasePercent 10)"},
		{name: "a baseline without p90 leaves that limit unchecked", limits: &v1.Baseline{MaxP90IncreasePercent: ptr.To[int32](0)},
			base: v1.BaselineRun{LoadTest: "checkout", Run: 3, RequestsPerSecond: "1000"}, results: results("1000", "1ms", "9s", "9s")},
		{name: "an unreadable rate is not compared", limits: &v1.Baseline{MaxRequestsPerSecondDecreasePercent: ptr.To[int32](0)},
			base: v1.BaselineRun{LoadTest: "checkout", Run: 3, RequestsPerSecond: "0"}, results: results("1", "1ms", "1ms", "1ms")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := report.CheckBaseline(tt.limits, tt.base, tt.results)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckBaseline() message (-want +got):\n%s", diff)
			}
			if ok != (tt.want == "") {
				t.Errorf("CheckBaseline() ok = %v, want %v", ok, tt.want == "")
			}
		})
	}
}
