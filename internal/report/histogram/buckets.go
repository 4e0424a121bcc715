package histogram

import "time"

// CountAtOrBelow is how many recorded values are at most d, for a Prometheus
// histogram's cumulative bucket: all of them when the largest is (Max is exact,
// or after Sub an upper bound), else those of the buckets whose largest value
// is at most d. It is never above the truth, exact at the histogram's bucket
// bounds, and otherwise short only by values of the one bucket that straddles
// d: within 2^(1-p) under d at precision p (0.78 % at the default).
func (h *Histogram) CountAtOrBelow(d time.Duration) uint64 {
	if h.total > 0 && h.max <= int64(d) {
		return h.total
	}
	var n uint64
	h.each(func(i int, c uint64) bool {
		if _, hi := bucketBounds(i, int(h.precision)); hi > int64(d) {
			return false
		}
		n += c
		return true
	})
	return n
}

// Sum estimates the total of the recorded values, each counted at its
// bucket's midpoint: within a bucket's relative width (0.78 % at the default
// precision) of the true sum. A Prometheus histogram needs one; nothing in
// DiLO's results uses it.
func (h *Histogram) Sum() time.Duration {
	var sum float64
	h.each(func(i int, c uint64) bool {
		lo, hi := bucketBounds(i, int(h.precision))
		sum += float64(c) * (float64(lo) + float64(hi)) / 2
		return true
	})
	return time.Duration(sum)
}
