package report

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
)

// CheckBaseline reports whether merged results keep every limit of b against
// the baseline run base; when they do not, broken names each breach with the
// baseline run and both values, e.g. "p99 3.21ms is 54.3% above baseline
// example-02 run 3's 2.08ms (maxP99IncreasePercent 10)", joined by "; ". The
// comparisons are exact (integer nanoseconds, rational rates); a limit whose
// baseline figure is missing is not checked.
func CheckBaseline(b *v1.Baseline, base v1.BaselineRun, r v1.Results) (broken string, ok bool) {
	if b == nil {
		return "", true
	}
	name := fmt.Sprintf("baseline %s run %d", base.LoadTest, base.Run)
	var out []string
	for _, c := range []struct {
		name  string
		got   time.Duration
		base  *metav1.Duration
		limit *int32
		field string
	}{
		{"p50", r.Latency.P50.Duration, base.P50, b.MaxP50IncreasePercent, "maxP50IncreasePercent"},
		{"p90", r.Latency.P90.Duration, base.P90, b.MaxP90IncreasePercent, "maxP90IncreasePercent"},
		{"p99", r.Latency.P99.Duration, base.P99, b.MaxP99IncreasePercent, "maxP99IncreasePercent"},
	} {
		if c.limit == nil || c.base == nil || c.base.Duration <= 0 {
			continue
		}
		// got > base × (100 + limit) / 100, in integers.
		got := new(big.Int).Mul(big.NewInt(int64(c.got)), big.NewInt(100))
		allowed := new(big.Int).Mul(big.NewInt(int64(c.base.Duration)), big.NewInt(100+int64(*c.limit)))
		if got.Cmp(allowed) > 0 {
			out = append(out, fmt.Sprintf("%s %s is %s above %s's %s (%s %d)", c.name, RoundDuration(c.got),
				percentDelta(big.NewRat(int64(c.got), 1), big.NewRat(int64(c.base.Duration), 1)),
				name, RoundDuration(c.base.Duration), c.field, *c.limit))
		}
	}
	if l := b.MaxRequestsPerSecondDecreasePercent; l != nil {
		got, okGot := new(big.Rat).SetString(r.RequestsPerSecond)
		was, okWas := new(big.Rat).SetString(base.RequestsPerSecond)
		if okGot && okWas && was.Sign() > 0 {
			// got < was × (100 - limit) / 100
			allowed := new(big.Rat).Mul(was, big.NewRat(100-int64(*l), 100))
			if got.Cmp(allowed) < 0 {
				out = append(out, fmt.Sprintf("requests per second %s is %s below %s's %s (maxRequestsPerSecondDecreasePercent %d)",
					r.RequestsPerSecond, percentDelta(got, was), name, base.RequestsPerSecond, *l))
			}
		}
	}
	return strings.Join(out, "; "), len(out) == 0
}

// percentDelta is how far got is from base, in percent of base, to one decimal.
func percentDelta(got, base *big.Rat) string {
	d := new(big.Rat).Sub(got, base)
	d.Abs(d).Quo(d, base).Mul(d, big.NewRat(100, 1))
	return d.FloatString(1) + "%"
}
