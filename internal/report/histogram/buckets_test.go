package histogram

import (
	"math"
	"testing"
	"time"
)

func TestCountAtOrBelowAndSum(t *testing.T) {
	h := New(DefaultPrecision)
	values := []time.Duration{time.Millisecond, 2 * time.Millisecond, 2 * time.Millisecond, 40 * time.Millisecond, 3 * time.Second}
	var sum time.Duration
	for _, v := range values {
		h.Record(v)
		sum += v
	}
	for _, tc := range []struct {
		d    time.Duration
		want uint64
	}{
		{0, 0},
		{999 * time.Microsecond, 0},
		{1010 * time.Microsecond, 1},
		{2100 * time.Microsecond, 3},
		{time.Second, 4},
		{10 * time.Second, 5},
		{3 * time.Second, 5}, // the largest value, exactly
	} {
		if got := h.CountAtOrBelow(tc.d); got != tc.want {
			t.Errorf("CountAtOrBelow(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if got := h.Sum(); math.Abs(float64(got-sum))/float64(sum) > 0.008 {
		t.Errorf("Sum() = %v, want %v within 0.8%%", got, sum)
	}
}
