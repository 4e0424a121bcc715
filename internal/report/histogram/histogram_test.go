package histogram

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsTileTheRange(t *testing.T) {
	for p := 1; p <= MaxPrecision; p++ {
		next := int64(0)
		for i := 0; i < numBuckets(p); i++ {
			lo, hi := bucketBounds(i, p)
			if lo != next || hi < lo {
				t.Fatalf("p=%d bucket %d = [%d,%d], want to start at %d", p, i, lo, hi, next)
			}
			if bucketOf(uint64(lo), p) != i || bucketOf(uint64(hi), p) != i {
				t.Fatalf("p=%d bucket %d bounds map back to %d/%d", p, i, bucketOf(uint64(lo), p), bucketOf(uint64(hi), p))
			}
			if w := hi - lo + 1; lo > 0 && float64(w) > float64(lo)*2/float64(int64(1)<<p)+1 {
				t.Fatalf("p=%d bucket %d width %d too wide for %d", p, i, w, lo)
			}
			next = hi + 1
		}
		if next-1 != MaxValue {
			t.Fatalf("p=%d last bucket ends at %d, want %d", p, next-1, MaxValue)
		}
	}
}

func TestCoarsenNests(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		v := uint64(r.Int64N(MaxValue + 1))
		if n%2 == 0 {
			v >>= r.IntN(48)
		}
		for p := MaxPrecision; p > 1; p-- {
			lo, _ := bucketBounds(bucketOf(v, p), p)
			if bucketOf(uint64(lo), p-1) != bucketOf(v, p-1) {
				t.Fatalf("value %d: bucket at p=%d does not nest in p=%d", v, p, p-1)
			}
		}
	}
}

// randomSamples draws n latencies from one of a few shapes, seeded.
func randomSamples(r *rand.Rand, n int) []time.Duration {
	out := make([]time.Duration, n)
	shape := r.IntN(4)
	base := time.Duration(r.Int64N(int64(time.Millisecond))) + time.Microsecond
	for i := range out {
		switch shape {
		case 0: // uniform
			out[i] = base + time.Duration(r.Int64N(int64(50*time.Millisecond)))
		case 1: // exponential
			out[i] = base + time.Duration(r.ExpFloat64()*float64(3*time.Millisecond))
		case 2: // log-normal-ish, wide
			out[i] = time.Duration(float64(base) * (1 + r.NormFloat64()*r.NormFloat64()*50))
		default: // bimodal with a far tail
			if r.IntN(100) == 0 {
				out[i] = 2*time.Second + time.Duration(r.Int64N(int64(time.Second)))
			} else {
				out[i] = base + time.Duration(r.Int64N(int64(200*time.Microsecond)))
			}
		}
		if out[i] < 0 {
			out[i] = 0
		}
	}
	return out
}

// TestMergeEqualsPooled: merging per-worker histograms of any precisions gives
// exactly the histogram of the pooled samples at the lowest precision, and its
// quantiles are within one bucket of the pooled raw quantiles.
func TestMergeEqualsPooled(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	for trial := 0; trial < 60; trial++ {
		parts := 1 + r.IntN(8)
		var pooled []time.Duration
		merged := New(MaxPrecision)
		lowest := MaxPrecision
		for range parts {
			p := 1 + r.IntN(MaxPrecision)
			if trial%3 != 0 {
				p = DefaultPrecision
			}
			lowest = min(lowest, p)
			h := New(p)
			for _, v := range randomSamples(r, r.IntN(3000)) {
				h.Record(v)
				pooled = append(pooled, v)
			}
			if err := merged.Merge(h); err != nil {
				t.Fatal(err)
			}
		}
		want := New(lowest)
		for _, v := range pooled {
			want.Record(v)
		}
		if !merged.Equal(want) {
			t.Fatalf("trial %d: merged histogram differs from the pooled one", trial)
		}
		if len(pooled) == 0 {
			continue
		}
		slices.Sort(pooled)
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
			rank := int(float64(len(pooled))*q + 0.9999999)
			raw := pooled[max(rank, 1)-1]
			got := merged.Quantile(q)
			tol := time.Duration(float64(raw)*2/float64(int(1)<<lowest)) + 1
			if got < raw || got-raw > tol {
				t.Errorf("trial %d q=%v p=%d: got %v, pooled raw %v (tolerance %v)", trial, q, lowest, got, raw, tol)
			}
		}
		if merged.Max() != pooled[len(pooled)-1] || merged.Min() != pooled[0] {
			t.Errorf("trial %d: min/max %v/%v, want %v/%v", trial, merged.Min(), merged.Max(), pooled[0], pooled[len(pooled)-1])
		}
	}
}

func TestTextRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for p := 1; p <= MaxPrecision; p++ {
		h := New(p)
		for _, v := range randomSamples(r, 5000) {
			h.Record(v)
		}
		text, err := h.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := back.UnmarshalText(text); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		if !back.Equal(h) {
			t.Fatalf("p=%d: round trip differs", p)
		}
	}
	var empty Histogram
	if err := empty.UnmarshalText(mustText(New(3))); err != nil || empty.Count() != 0 {
		t.Fatalf("empty round trip: %v, count %d", err, empty.Count())
	}
}

func TestWorstCaseWithinBound(t *testing.T) {
	for p := 1; p <= MaxPrecision; p++ {
		h := New(p)
		for i := range numBuckets(p) {
			pg, j := h.page(i)
			pg[j] = 1<<64 - 1
		}
		h.max = MaxValue
		if n := len(mustText(h)); n > EncodedLenBound(p) {
			t.Fatalf("p=%d: %d bytes > bound %d", p, n, EncodedLenBound(p))
		}
	}
}

func TestUnmarshalRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "!!", "AA", "CwAA", "AQAAAAA", "AQICAAE"} {
		var h Histogram
		if err := h.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	h := New(DefaultPrecision)
	d := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() { d += 12345; h.Record(d) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	h := New(DefaultPrecision)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xfffff) * 100)
	}
}

func mustText(h *Histogram) []byte {
	b, err := h.MarshalText()
	if err != nil {
		panic(err)
	}
	return b
}
