package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// unsentPacer is a pacer that never ran and reports n requests unsent.
type unsentPacer int64

// run does nothing.
func (unsentPacer) run(*worker) {}

// unsent is n.
func (n unsentPacer) unsent(int64) int64 { return int64(n) }

// warm is never.
func (unsentPacer) warm(int) bool { return false }

// testLoad is a load of workers sending src from start, paced by p.
func testLoad(start time.Time, workers []*worker, p pacer, src *source) *load {
	return &load{start: start, workers: workers, pacer: p, stop: newStopSignal(), src: src, tlsErr: new(firstError)}
}

// namedSource is a mix of requests named names, of weights.
func namedSource(t *testing.T, weights []int, names ...string) *source {
	t.Helper()
	reqs := testRequests(len(names))
	for i := range reqs {
		reqs[i].name = names[i]
	}
	src, err := newSource(reqs, weights)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestReportByRequest: the report holds each request's results in plan
// order, over all workers, the requests never sent shared by the weights,
// and totals that are their sums; both documents encode it.
func TestReportByRequest(t *testing.T) {
	src := namedSource(t, []int{2, 1, 1}, "list", "order", "idle")
	w0, _ := fakeWorker(t, 0)
	w1, _ := fakeWorker(t, 1)
	w0.tally, w1.tally = newTally(3), newTally(3)
	ms := time.Millisecond
	w0.record(0, 200, classNone, 1*ms)
	w0.record(0, 503, classNone, 2*ms)
	w0.record(1, 201, classNone, 3*ms) // a code w0 first sees for request 1, after 200 and 503
	w0.record(1, 0, classTimeout, 0)
	w1.record(1, 201, classNone, 4*ms) // w1's first code: slot 0 there
	w1.record(0, 200, classNone, 5*ms)
	w1.record(0, 0, classReset, 0)
	start := time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)
	r, err := testLoad(start, []*worker{w0, w1}, unsentPacer(9), src).report(start.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	hist := func(ds ...time.Duration) *histogram.Histogram {
		h := histogram.New(histogram.DefaultPrecision)
		for _, d := range ds {
			h.Record(d)
		}
		return h
	}
	// 9 dropped over the cycle list, order, idle, list: twice, then list.
	want := podreport.Report{Start: start, End: start.Add(time.Second), Requests: 16, Errors: 12,
		ErrorsByClass: map[string]int64{"timeout": 1, "reset": 1, "dropped": 9},
		Codes:         map[string]int64{"200": 2, "201": 2, "503": 1},
		Latency:       hist(1*ms, 2*ms, 3*ms, 4*ms, 5*ms),
		ByRequest: []podreport.RequestReport{
			{Name: "list", Requests: 9, Errors: 7, ErrorsByClass: map[string]int64{"reset": 1, "dropped": 5},
				Codes: map[string]int64{"200": 2, "503": 1}, Latency: hist(1*ms, 2*ms, 5*ms)},
			{Name: "order", Requests: 5, Errors: 3, ErrorsByClass: map[string]int64{"timeout": 1, "dropped": 2},
				Codes: map[string]int64{"201": 2}, Latency: hist(3*ms, 4*ms)},
			{Name: "idle", Requests: 2, Errors: 2, ErrorsByClass: map[string]int64{"dropped": 2}, Latency: hist()},
		}}
	if diff := cmp.Diff(want, r, cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	full, err := r.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := podreport.ParseFull(string(full)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Encode(); err != nil {
		t.Fatal(err)
	}
}

// TestReportOneRequest: with one request the totals are its results, and
// the report has no byRequest.
func TestReportOneRequest(t *testing.T) {
	w, _ := fakeWorker(t, 0)
	w.record(0, 200, classNone, time.Millisecond)
	start := time.Now()
	r, err := testLoad(start, []*worker{w}, unsentPacer(2), namedSource(t, []int{1}, "default")).report(start)
	if err != nil {
		t.Fatal(err)
	}
	if r.ByRequest != nil || r.Requests != 3 || r.Codes["200"] != 1 || r.ErrorsByClass["dropped"] != 2 || r.Latency.Count() != 1 {
		t.Fatalf("report %+v", r)
	}
}

// TestRecordDoesNotAllocate: once a request has seen a status code and an
// octave of latency, recording them again allocates nothing.
func TestRecordDoesNotAllocate(t *testing.T) {
	tl := newTally(64)
	tl.record(63, 200, classNone, time.Millisecond)
	tl.record(5, 404, classNone, time.Millisecond)
	if allocs := testing.AllocsPerRun(1000, func() {
		tl.record(63, 200, classNone, time.Millisecond)
		tl.record(5, 404, classNone, time.Millisecond)
		tl.record(0, 0, classRefused, 0)
	}); allocs != 0 {
		t.Fatalf("%v allocations per record", allocs)
	}
}
