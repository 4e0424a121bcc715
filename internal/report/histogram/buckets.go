package histogram

import "time"

// CountAtOrBelow is how many recorded values are at most d, for a Prometheus
// histogram's cumulative bucket: a bucket of the histogram counts as below d
// when its largest value is, so the count is exact at the histogram's bucket
// bounds and otherwise off by at most the one bucket that straddles d.
func (h *Histogram) CountAtOrBelow(d time.Duration) uint64 {
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
