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

// TestSub: a later cumulative histogram minus an earlier one holds exactly
// the values recorded in between, at the lower precision, with Min and Max
// bounding them within the outer buckets; a histogram that is not contained
// fails and leaves the receiver as it was.
func TestSub(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	record := func(p int, vals ...[]time.Duration) *Histogram {
		h := New(p)
		for _, vs := range vals {
			for _, v := range vs {
				h.Record(v)
			}
		}
		return h
	}
	for _, tc := range []struct {
		name         string
		hp, op       int  // precisions of the receiver and of what is subtracted
		before, gain int  // values recorded before the earlier snapshot, and after it
		empty        bool // the gain is everything: the result is empty
	}{
		{"same precision", DefaultPrecision, DefaultPrecision, 3000, 500, false},
		{"nothing gained", DefaultPrecision, DefaultPrecision, 3000, 0, false},
		{"nothing before", DefaultPrecision, DefaultPrecision, 0, 700, false},
		{"all of it", DefaultPrecision, DefaultPrecision, 0, 0, true},
		{"subtrahend coarser", DefaultPrecision, 5, 2000, 800, false},
		{"subtrahend finer", 4, MaxPrecision, 2000, 800, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, gain := randomSamples(r, tc.before), randomSamples(r, tc.gain)
			if tc.empty {
				before = randomSamples(r, 100)
			}
			h := record(tc.hp, before, gain)
			o := record(tc.op, before)
			oCopy := o.Clone()
			if err := h.Sub(o); err != nil {
				t.Fatal(err)
			}
			lowest := min(tc.hp, tc.op)
			want := record(lowest, gain)
			if !h.EqualCounts(want) {
				t.Fatalf("counts differ from the %d values gained", len(gain))
			}
			if !o.Equal(oCopy) {
				t.Fatal("Sub changed its argument")
			}
			if len(gain) == 0 {
				if !h.Equal(New(lowest)) || h.Min() != 0 || h.Max() != 0 {
					t.Fatalf("empty result: count %d, min %v, max %v", h.Count(), h.Min(), h.Max())
				}
				return
			}
			slices.Sort(gain)
			slices.Sort(before)
			if len(before) == 0 || before[len(before)-1] < gain[len(gain)-1] { // the max remained
				if h.Max() != gain[len(gain)-1] {
					t.Errorf("max %v, want the exact %v: it remained", h.Max(), gain[len(gain)-1])
				}
			}
			if len(before) == 0 || before[0] > gain[0] {
				if h.Min() != gain[0] {
					t.Errorf("min %v, want the exact %v: it remained", h.Min(), gain[0])
				}
			}
			if h.Min() > gain[0] || bucketOf(uint64(h.Min()), lowest) != h.firstBucket() {
				t.Errorf("min %v: not a bound of %v in the lowest bucket", h.Min(), gain[0])
			}
			if top := gain[len(gain)-1]; h.Max() < top || bucketOf(uint64(h.Max()), lowest) != h.lastBucket() {
				t.Errorf("max %v: not a bound of %v in the highest bucket", h.Max(), top)
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 1} {
				// Recorded directly, the quantile is capped at the exact max;
				// after Sub, at the bound: never lower, and in the same bucket.
				got, exact := h.Quantile(q), want.Quantile(q)
				if got < exact || bucketOf(uint64(got), lowest) != bucketOf(uint64(exact), lowest) {
					t.Errorf("q=%v: %v, recorded directly %v", q, got, exact)
				}
			}
			var back Histogram // the bounds keep the encoding valid
			if err := back.UnmarshalText(mustText(h)); err != nil || !back.Equal(h) {
				t.Fatalf("round trip after Sub: %v", err)
			}
		})
	}
}

// TestSubExactExtremesWhenNothingTaken: subtracting an empty histogram keeps
// the exact extremes.
func TestSubExactExtremesWhenNothingTaken(t *testing.T) {
	h := New(DefaultPrecision)
	for _, v := range randomSamples(rand.New(rand.NewPCG(1, 1)), 1000) {
		h.Record(v)
	}
	want := h.Clone()
	if err := h.Sub(New(DefaultPrecision)); err != nil || !h.Equal(want) {
		t.Fatalf("Sub(empty): %v, min/max %v/%v, want %v/%v", err, h.Min(), h.Max(), want.Min(), want.Max())
	}
}

// TestSubNotContained: Sub fails, leaving h unchanged (not even coarsened),
// whenever some bucket of o holds more than h's.
func TestSubNotContained(t *testing.T) {
	hist := func(p int, vals ...time.Duration) *Histogram {
		h := New(p)
		for _, v := range vals {
			h.Record(v)
		}
		return h
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		h, o *Histogram
	}{
		{"more in a bucket", hist(8, ms, ms, 2*ms), hist(8, ms, ms, ms)},
		{"another bucket", hist(8, ms, ms, 2*ms), hist(8, 3*ms)},
		{"more in all", hist(8, ms), hist(8, ms, 2*ms)},
		{"into an empty one", hist(8), hist(8, ms)},
		{"coarser, more in a bucket", hist(8, ms, 2*ms), hist(3, ms, ms)},
		{"finer, more in a coarse bucket", hist(3, ms), hist(8, ms, ms+20*time.Microsecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.h.Clone()
			err := tc.h.Sub(tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			if !tc.h.Equal(before) {
				t.Fatal("a failed Sub changed the histogram")
			}
			t.Log(err)
		})
	}
}
