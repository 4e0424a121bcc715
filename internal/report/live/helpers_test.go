package live

import (
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// at is the instant ms milliseconds after t0.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// histCounts compares histograms by their counts: a window's extremes are
// bounds (histogram.Sub), not the exact ones of a histogram recorded directly.
var histCounts = cmp.Comparer(func(a, b *histogram.Histogram) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.EqualCounts(b)
})

// agent simulates one pod's agent: its cumulative results, of which snapshot
// serves what the manager would read.
type agent struct {
	r      *rand.Rand
	rep    podreport.Report
	scale  time.Duration // the median latency
	spread float64       // of the latencies' logarithm: 0 makes every latency scale
	// Every timeoutEvery-th request times out, every errorEvery-th response is
	// a 503 (0: none).
	timeoutEvery, errorEvery int64
	responses                int64
}

// newAgent is an agent that starts sending at start.
func newAgent(seed uint64, start time.Time) *agent {
	return &agent{
		r:     rand.New(rand.NewPCG(seed, 77)),
		scale: 20 * time.Millisecond, spread: 0.6, timeoutEvery: 100,
		rep: podreport.Report{
			Start: start, End: start, Live: true,
			ErrorsByClass: map[string]int64{}, Codes: map[string]int64{},
			Latency: histogram.New(histogram.DefaultPrecision),
		},
	}
}

// send records n requests and moves the snapshot instant to end. Latencies are
// log-normal around scale (by default a spread of 0.6 in log, as a service's
// are), and each is recorded into into too (what a window should hold).
func (a *agent) send(n int, end time.Time, into ...*histogram.Histogram) {
	for range n {
		a.rep.Requests++
		if a.timeoutEvery > 0 && a.rep.Requests%a.timeoutEvery == 0 {
			a.rep.Errors++
			a.rep.ErrorsByClass[podreport.ClassTimeout]++
			continue
		}
		d := time.Duration(float64(a.scale) * math.Exp(a.spread*a.r.NormFloat64()))
		a.rep.Latency.Record(d)
		for _, h := range into {
			h.Record(d)
		}
		a.rep.BytesReceived += 512
		a.responses++
		if a.errorEvery > 0 && a.responses%a.errorEvery == 0 {
			a.rep.Errors++
			a.rep.Codes["503"]++
		} else {
			a.rep.Codes["200"]++
		}
	}
	if a.rep.FirstRequest.IsZero() && n > 0 {
		a.rep.FirstRequest = a.rep.Start
	}
	a.rep.End = end
}

// snapshot is the agent's snapshot as the manager reads it: encoded in full
// and parsed back.
func (a *agent) snapshot(t testing.TB) podreport.Report {
	t.Helper()
	b, err := a.rep.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.ParseFull(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// copyReport is a deep copy of a report's totals, to edit without touching it.
func copyReport(r podreport.Report) podreport.Report {
	r.ErrorsByClass, r.Codes = maps.Clone(r.ErrorsByClass), maps.Clone(r.Codes)
	r.Latency = r.Latency.Clone()
	return r
}

// newTracker is New that fails the test on error.
func newTracker(t testing.TB, start time.Time, pods []string, window time.Duration) *Tracker {
	t.Helper()
	tr, err := New(start, pods, window)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// observe is Observe that fails the test on error.
func observe(t testing.TB, tr *Tracker, snaps map[string]podreport.Report) {
	t.Helper()
	if err := tr.Observe(snaps); err != nil {
		t.Fatal(err)
	}
}

// podNames are n pod names of a run.
func podNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "web-3-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return names
}
