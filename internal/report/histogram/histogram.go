// Package histogram is the latency histogram the agent records into and the
// reconciler merges: log-linear buckets over nanoseconds, mergeable exactly
// and encodable within a fixed byte budget.
//
// Layout. A histogram of precision p (1 <= p <= MaxPrecision) keeps values
// below 2^p ns in buckets of width 1, and splits every octave [2^(k-1), 2^k)
// above into 2^(p-1) equal buckets. A bucket is therefore at most 2^(1-p) of
// its values wide: p = 8 (the default) is 128 buckets per octave, a relative
// width of 0.78 %, HdrHistogram's "2 significant digits". Values are clamped
// to [0, MaxValue] (MaxValue is about 78 hours).
//
// Exact merges. The bucket of a value at precision p-1 is the union of two
// buckets at precision p (it is the value with one more low bit cleared), so
// any histogram can be coarsened to a lower precision without guessing, and
// two histograms of any precisions merge exactly by coarsening both to the
// lower one and adding counts bucket by bucket. Percentiles are read from
// the merged counts, never averaged.
//
// Sub is Merge's inverse: a later cumulative snapshot minus an earlier one is
// exactly what was recorded in between, which is how the manager turns the
// agents' live snapshots into windows. Only the exact extremes are lost.
//
// Why not github.com/HdrHistogram/hdrhistogram-go. Its merge is exact only
// between histograms of identical parameters (otherwise it re-records each
// bucket's representative value); its precision comes in five decimal steps
// (1 to 5 significant figures), so shrinking an encoding to fit a budget
// means rebuilding from a re-recorded copy; its compressed V2 encoding is
// zlib over the dense counts, with no size bound; and at 3 significant
// figures it is ~140 KB per worker. The binary-bucket scheme here gives the
// nesting property above for free, an encoding whose worst case is a closed
// formula (see EncodedLenBound), and fits in about 250 lines.
package histogram

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

const (
	// MaxPrecision is the finest precision: 2^(MaxPrecision-1) buckets per octave.
	MaxPrecision = 10
	// DefaultPrecision is what the agent records at: 128 buckets per octave.
	DefaultPrecision = 8
	// maxBits is the bit length of the largest value kept.
	maxBits = 48
	// MaxValue is the largest value kept, in nanoseconds; larger ones are clamped.
	MaxValue = int64(1)<<maxBits - 1
)

// Histogram counts non-negative durations (nanoseconds) in log-linear buckets.
// The zero value is not usable; call New. It is not safe for concurrent use:
// the agent keeps one per worker and merges them at the end.
//
// The buckets are stored one octave (2^(precision-1) buckets, 1 KiB at the
// default precision) per page, allocated when first used: latencies usually
// span a few octaves, so a histogram takes a few KiB, not the 42 KiB of all
// buckets. That matters for an agent with a thousand connections and for a
// manager parsing a thousand pods' reports.
type Histogram struct {
	precision uint8
	pages     [][]uint64 // pages[k] holds buckets [k<<(precision-1), (k+1)<<(precision-1)); nil while empty
	total     uint64
	// min and max are the extremes of the recorded values, valid when total > 0:
	// exact, except after Sub, which can only bound them (see Sub).
	min, max int64
}

// New returns an empty histogram of the given precision, which must be in
// [1, MaxPrecision].
func New(precision int) *Histogram {
	if precision < 1 || precision > MaxPrecision {
		panic(fmt.Sprintf("histogram: precision %d out of [1, %d]", precision, MaxPrecision))
	}
	return &Histogram{precision: uint8(precision), pages: make([][]uint64, numBuckets(precision)>>(precision-1))}
}

// page returns the page of bucket i, allocating it if needed, and i's offset in it.
func (h *Histogram) page(i int) ([]uint64, int) {
	shift := uint(h.precision - 1)
	pg := h.pages[i>>shift]
	if pg == nil {
		pg = make([]uint64, 1<<shift)
		h.pages[i>>shift] = pg
	}
	return pg, i & (1<<shift - 1)
}

// get is the count of bucket i.
func (h *Histogram) get(i int) uint64 {
	shift := uint(h.precision - 1)
	if pg := h.pages[i>>shift]; pg != nil {
		return pg[i&(1<<shift-1)]
	}
	return 0
}

// each calls f for every non-empty bucket, in increasing order, until f returns false.
func (h *Histogram) each(f func(i int, c uint64) bool) {
	shift := uint(h.precision - 1)
	for k, pg := range h.pages {
		for j, c := range pg {
			if c != 0 && !f(k<<shift+j, c) {
				return
			}
		}
	}
}

// numBuckets is how many buckets a histogram of precision p has.
func numBuckets(p int) int {
	return (maxBits + 2 - p) << (p - 1)
}

// bucketOf is the index of the bucket that holds v (0 <= v <= MaxValue) at precision p.
func bucketOf(v uint64, p int) int {
	l := bits.Len64(v)
	if l <= p {
		return int(v)
	}
	shift := l - p
	return shift<<(p-1) + int(v>>uint(shift))
}

// bucketBounds returns the smallest and largest value of bucket i at precision p.
func bucketBounds(i, p int) (lo, hi int64) {
	half := 1 << (p - 1)
	if i < 2*half {
		return int64(i), int64(i)
	}
	shift := i/half - 1
	sub := i - shift*half
	lo = int64(sub) << uint(shift)
	return lo, lo + int64(1)<<uint(shift) - 1
}

// Precision is the histogram's precision.
func (h *Histogram) Precision() int { return int(h.precision) }

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Min is the smallest value recorded (0 when empty): exact, or after Sub a
// lower bound in the lowest non-empty bucket.
func (h *Histogram) Min() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Max is the largest value recorded (0 when empty): exact, or after Sub an
// upper bound in the highest non-empty bucket.
func (h *Histogram) Max() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Record adds one value. Negative values count as 0 and values above
// MaxValue as MaxValue. It does not allocate.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	} else if v > MaxValue {
		v = MaxValue
	}
	pg, j := h.page(bucketOf(uint64(v), int(h.precision)))
	pg[j]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
}

// Merge adds every count of o into h. When o is coarser, h is first coarsened
// to o's precision, so the result is exact at the lower of the two precisions.
// It fails only if a count would overflow.
func (h *Histogram) Merge(o *Histogram) error {
	if o.precision < h.precision {
		h.Coarsen(int(o.precision))
	}
	if h.total > math.MaxUint64-o.total {
		return errors.New("histogram: count overflows uint64")
	}
	p := int(h.precision)
	o.each(func(i int, c uint64) bool {
		if o.precision != h.precision {
			lo, _ := bucketBounds(i, int(o.precision))
			i = bucketOf(uint64(lo), p)
		}
		pg, j := h.page(i)
		pg[j] += c
		return true
	})
	if o.total > 0 {
		if h.total == 0 || o.min < h.min {
			h.min = o.min
		}
		if o.max > h.max {
			h.max = o.max
		}
	}
	h.total += o.total
	return nil
}

// Sub takes every count of o out of h, bucket by bucket: the inverse of
// Merge, to get what a cumulative histogram gained since an earlier snapshot
// of it. Like Merge it is exact at the lower of the two precisions: when o is
// coarser, h is coarsened to o's precision; when o is finer, o's buckets are
// counted in h's. It fails, leaving h unchanged, when o is not contained in h:
// some bucket of o, at that precision, holds more than h's.
//
// The extremes of what is left cannot always be known from counts, so after
// Sub Min and Max are conservative: Min is at most, and Max at least, the
// smallest and largest value left, each inside the lowest and highest
// non-empty bucket (so within one bucket width of the truth). They stay exact
// when they provably remain: h's Max when o's is below it (a snapshot that saw
// a new slowest request), likewise Min. Quantile, capped at Max, therefore
// stays never below the true quantile. Subtracting an empty histogram of the
// same precision changes nothing.
func (h *Histogram) Sub(o *Histogram) error {
	from := h
	if o.precision < h.precision {
		from = h.Clone()
		from.Coarsen(int(o.precision))
	}
	take := o
	if o.precision > from.precision {
		take = o.Clone()
		take.Coarsen(int(from.precision))
	}
	p := int(from.precision)
	var missing error
	take.each(func(i int, c uint64) bool {
		if have := from.get(i); c > have {
			lo, hi := bucketBounds(i, p)
			missing = fmt.Errorf("histogram: cannot subtract: bucket [%v, %v] holds %d values, the histogram taken from it %d",
				time.Duration(lo), time.Duration(hi), have, c)
			return false
		}
		return true
	})
	if missing != nil {
		return missing
	}
	// Checked first, so that a failed Sub leaves h as it was.
	take.each(func(i int, c uint64) bool {
		pg, j := from.page(i) // allocated: it holds at least c
		pg[j] -= c
		return true
	})
	from.total -= take.total
	for k, pg := range from.pages {
		if pg != nil && !slices.ContainsFunc(pg, func(c uint64) bool { return c != 0 }) {
			from.pages[k] = nil // a snapshot's delta often spans fewer octaves than the snapshot
		}
	}
	if from.total > 0 { // an empty histogram's Min and Max are 0 whatever the fields
		lo, _ := bucketBounds(from.firstBucket(), p)
		_, hi := bucketBounds(from.lastBucket(), p)
		// An extreme that remains lies in the outer bucket left, so this
		// keeps it; one that went is replaced by that bucket's bound.
		from.min, from.max = max(from.min, lo), min(from.max, hi)
	}
	*h = *from
	return nil
}

// Coarsen lowers the precision to p (no-op if it is not lower), merging
// buckets exactly: every value lands where it would had it been recorded at p.
func (h *Histogram) Coarsen(p int) {
	if p >= int(h.precision) {
		return
	}
	if p < 1 {
		p = 1
	}
	c := New(p)
	h.each(func(i int, n uint64) bool {
		lo, _ := bucketBounds(i, int(h.precision))
		pg, j := c.page(bucketOf(uint64(lo), p))
		pg[j] += n
		return true
	})
	h.pages, h.precision = c.pages, c.precision
}

// Clone returns an independent copy.
func (h *Histogram) Clone() *Histogram {
	c := *h
	c.pages = make([][]uint64, len(h.pages))
	for k, pg := range h.pages {
		if pg != nil {
			c.pages[k] = append([]uint64(nil), pg...)
		}
	}
	return &c
}

// Reset empties the histogram, keeping its precision.
func (h *Histogram) Reset() {
	clear(h.pages)
	h.total, h.min, h.max = 0, 0, 0
}

// Quantile returns the value at quantile q (0 < q <= 1): the highest value of
// the bucket holding the ceil(q*count)-th smallest value, capped at Max. That
// is never below the true sample quantile and at most one bucket width (a
// share 2^(1-precision) of the value) above it. It is 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	v := h.max
	h.each(func(i int, c uint64) bool {
		if seen += c; seen >= rank {
			_, hi := bucketBounds(i, int(h.precision))
			v = min(hi, h.max)
			return false
		}
		return true
	})
	return time.Duration(v)
}

// Equal reports whether two histograms hold the same counts at the same
// precision, and the same Min and Max.
func (h *Histogram) Equal(o *Histogram) bool {
	return h.Min() == o.Min() && h.Max() == o.Max() && h.EqualCounts(o)
}

// EqualCounts reports whether two histograms hold the same counts at the same
// precision, whatever their Min and Max: what Sub keeps exact.
func (h *Histogram) EqualCounts(o *Histogram) bool {
	if h.precision != o.precision || h.total != o.total {
		return false
	}
	for i := range numBuckets(int(h.precision)) {
		if h.get(i) != o.get(i) {
			return false
		}
	}
	return true
}

// The binary encoding: uvarint precision, uvarint min, uvarint max, then for
// each non-empty bucket in order a uvarint gap (index minus previous index
// minus one; the first is the index itself) and a uvarint count. The text form
// is that in unpadded base64url.

// AppendBinary appends the binary encoding of h to b.
func (h *Histogram) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(h.precision))
	b = binary.AppendUvarint(b, uint64(h.Min()))
	b = binary.AppendUvarint(b, uint64(h.Max()))
	prev := -1
	h.each(func(i int, c uint64) bool {
		b = binary.AppendUvarint(b, uint64(i-prev-1))
		b = binary.AppendUvarint(b, c)
		prev = i
		return true
	})
	return b, nil
}

// MarshalText is the base64url (unpadded) form of the binary encoding.
func (h *Histogram) MarshalText() ([]byte, error) {
	raw, _ := h.AppendBinary(nil)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(out, raw)
	return out, nil
}

// EncodedLenBound is the largest MarshalText output at precision p, whatever
// was recorded: every bucket non-empty with a maximal count.
func EncodedLenBound(p int) int {
	raw := 3*binary.MaxVarintLen64 + numBuckets(p)*(1+binary.MaxVarintLen64)
	return base64.RawURLEncoding.EncodedLen(raw)
}

// UnmarshalText decodes MarshalText's output, checking it is well formed.
func (h *Histogram) UnmarshalText(text []byte) error {
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(text)))
	n, err := base64.RawURLEncoding.Decode(raw, text)
	if err != nil {
		return fmt.Errorf("histogram: not base64url: %w", err)
	}
	return h.UnmarshalBinary(raw[:n])
}

// UnmarshalBinary decodes AppendBinary's output, checking it is well formed.
func (h *Histogram) UnmarshalBinary(raw []byte) error {
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(raw)
		if n <= 0 {
			return 0, fmt.Errorf("histogram: truncated or bad varint in %s", what)
		}
		raw = raw[n:]
		return v, nil
	}
	p, err := next("precision")
	if err != nil {
		return err
	}
	if p < 1 || p > MaxPrecision {
		return fmt.Errorf("histogram: precision %d out of [1, %d]", p, MaxPrecision)
	}
	lo, err := next("min")
	if err != nil {
		return err
	}
	hi, err := next("max")
	if err != nil {
		return err
	}
	if lo > hi || hi > uint64(MaxValue) {
		return fmt.Errorf("histogram: bad min %d / max %d", lo, hi)
	}
	d := New(int(p))
	n := numBuckets(int(p))
	idx := -1
	for len(raw) > 0 {
		gap, err := next("bucket gap")
		if err != nil {
			return err
		}
		c, err := next("bucket count")
		if err != nil {
			return err
		}
		if gap >= uint64(n) || idx+1+int(gap) >= n {
			return fmt.Errorf("histogram: bucket index beyond %d buckets", n)
		}
		if c == 0 {
			return errors.New("histogram: empty bucket encoded")
		}
		if d.total > math.MaxUint64-c {
			return errors.New("histogram: count overflows uint64")
		}
		idx += 1 + int(gap)
		pg, j := d.page(idx)
		pg[j] = c
		d.total += c
	}
	if d.total > 0 {
		d.min, d.max = int64(lo), int64(hi)
		if bucketOf(lo, int(p)) != d.firstBucket() || bucketOf(hi, int(p)) != idx {
			return errors.New("histogram: min or max outside the populated buckets")
		}
	} else if lo != 0 || hi != 0 {
		return errors.New("histogram: min/max set on an empty histogram")
	}
	*h = *d
	return nil
}

// lastBucket is the index of the highest non-empty bucket, or -1.
func (h *Histogram) lastBucket() int {
	shift := uint(h.precision - 1)
	for k := len(h.pages) - 1; k >= 0; k-- {
		pg := h.pages[k]
		for j := len(pg) - 1; j >= 0; j-- {
			if pg[j] != 0 {
				return k<<shift + j
			}
		}
	}
	return -1
}

// firstBucket is the index of the lowest non-empty bucket, or -1.
func (h *Histogram) firstBucket() int {
	first := -1
	h.each(func(i int, _ uint64) bool { first = i; return false })
	return first
}
