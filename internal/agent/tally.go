package agent

import (
	"fmt"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// tally is one worker's results: its counts and latencies, by request of
// the mix, when it first sent and what it read.
//
// Its memory is allocated at start, except for what a request's first
// response of a status code or its first latency in an octave needs: a
// worker of a mix of 64 requests then holds 64 small counters, not 64 tables
// of 500 status codes, which for ten thousand connections would be gigabytes.
// Status codes get slots in the order a worker first sees them, shared by its
// requests; a request's codes are counted by slot.
type tally struct {
	byRequest []requestTally // by request index
	slot      [600]uint16    // by status code: 1 + its slot, 0 before it is first seen
	slotCode  []int16        // by slot: the status code
	first     time.Time      // when the worker began writing its first request; zero before
	bytes     int64          // what its fetcher had read as of its last request
	// latencySum is the sum of the responses' latencies, which a histogram
	// does not keep and Prometheus' does. A worker's requests overlap only
	// in the open model's queue, so it stays far from overflowing.
	latencySum time.Duration
}

// requestTally is one request's part of a worker's tally.
type requestTally struct {
	requests int64
	classes  [numClasses]int64
	codes    []int64              // by slot; shorter when the last slots were not seen for this request
	hist     *histogram.Histogram // nil before the first response
}

// newTally returns an empty tally for a mix of n requests.
func newTally(n int) tally {
	return tally{byRequest: make([]requestTally, n)}
}

// record counts the outcome of one request of index req; latency only for a
// response. It allocates only the first time a status code or an octave of
// latency is seen.
func (t *tally) record(req, status int, class errClass, latency time.Duration) {
	r := &t.byRequest[req]
	r.requests++
	if class != classNone {
		r.classes[class]++
		return
	}
	s := int(t.slot[status])
	if s == 0 {
		t.slotCode = append(t.slotCode, int16(status))
		s = len(t.slotCode)
		t.slot[status] = uint16(s)
	}
	if s > len(r.codes) {
		r.codes = append(r.codes, make([]int64, s-len(r.codes))...)
	}
	r.codes[s-1]++
	if r.hist == nil {
		r.hist = histogram.New(histogram.DefaultPrecision)
	}
	r.hist.Record(latency)
	t.latencySum += latency
}

// count is how many responses of status the tally holds, over its requests.
func (t *tally) count(status int) int64 {
	s := int(t.slot[status])
	if s == 0 {
		return 0
	}
	var n int64
	for _, r := range t.byRequest {
		if s <= len(r.codes) {
			n += r.codes[s-1]
		}
	}
	return n
}

// requests is how many requests the tally holds, over its requests.
func (t *tally) requests() int64 {
	var n int64
	for _, r := range t.byRequest {
		n += r.requests
	}
	return n
}

// requestTotals is one request's results over all workers, as they are
// merged for the report.
type requestTotals struct {
	requests int64
	classes  [numClasses]int64
	codes    [600]int64
	hist     *histogram.Histogram
}

// totals are the workers' tallies merged: by request, and what is the
// pod's.
type totals struct {
	byRequest  []requestTotals
	sent       int64     // the requests sent (or tried), over the mix
	bytes      int64     // received
	first      time.Time // the earliest of the workers' first requests; zero if none sent
	latencySum time.Duration
}

// mergeTallies merges the workers' tallies of a mix of n requests. Each is
// read under its worker's lock, so that the load may still be running: a
// worker then waits for the merge of its own tally only, a few
// microseconds.
func mergeTallies(workers []*worker, n int) (totals, error) {
	t := totals{byRequest: make([]requestTotals, n)}
	for i := range t.byRequest {
		t.byRequest[i].hist = histogram.New(histogram.DefaultPrecision)
	}
	for _, w := range workers {
		w.mu.Lock()
		err := t.add(&w.tally)
		w.mu.Unlock()
		if err != nil {
			return totals{}, err
		}
	}
	return t, nil
}

// add merges one worker's tally into t.
func (t *totals) add(w *tally) error {
	t.bytes += w.bytes
	t.latencySum += w.latencySum
	if !w.first.IsZero() && (t.first.IsZero() || w.first.Before(t.first)) {
		t.first = w.first
	}
	for i, r := range w.byRequest {
		q := &t.byRequest[i]
		q.requests += r.requests
		t.sent += r.requests
		for c, n := range r.classes {
			q.classes[c] += n
		}
		for s, n := range r.codes {
			q.codes[w.slotCode[s]] += n
		}
		if r.hist != nil {
			if err := q.hist.Merge(r.hist); err != nil {
				return fmt.Errorf("failed to merge worker histograms: %w", err)
			}
		}
	}
	return nil
}

// drop counts unsent requests of each request of the mix as dropped.
func (t *totals) drop(unsent []int64) {
	for i, n := range unsent {
		t.byRequest[i].classes[classDropped] += n
		t.byRequest[i].requests += n
	}
}

// report is the pod's report of t, sent from start to end: the totals are
// the sum of the requests' results; a mix of more than one request reports
// each one, in plan order. Its times are start plus durations read on the
// monotonic clock, so that a step of the wall clock during the load cannot
// put them out of order. tlsErr is the run's first TLS failure, which the
// report holds only with errors of its class.
func (t *totals) report(start, end time.Time, src *source, tlsErr *firstError) (podreport.Report, error) {
	rep := podreport.Report{Start: start, End: start.Add(max(end.Sub(start), 0)), BytesReceived: t.bytes,
		Latency: histogram.New(histogram.DefaultPrecision)}
	if !t.first.IsZero() {
		rep.FirstRequest = start.Add(min(max(t.first.Sub(start), 0), rep.End.Sub(start)))
	}
	for i, q := range t.byRequest {
		r := podreport.RequestReport{Name: src.requests[i].name, Requests: q.requests, Latency: q.hist}
		r.Errors, r.ErrorsByClass, r.Codes = countErrors(q)
		rep.Requests += r.Requests
		rep.Errors += r.Errors
		rep.ErrorsByClass = addCounts(rep.ErrorsByClass, r.ErrorsByClass)
		rep.Codes = addCounts(rep.Codes, r.Codes)
		if err := rep.Latency.Merge(q.hist); err != nil {
			return podreport.Report{}, fmt.Errorf("failed to merge request histograms: %w", err)
		}
		rep.ByRequest = append(rep.ByRequest, r)
	}
	if len(rep.ByRequest) == 1 { // the totals are the one request's
		rep.ByRequest = nil
	}
	if rep.ErrorsByClass[podreport.ClassTLS] > 0 {
		rep.TLSError = tlsErr.String()
	}
	return rep, nil
}

// countErrors returns the errors of q (no response, or a status outside
// 200-399) and its counts by class name and by status code, nil when empty.
func countErrors(q requestTotals) (errs int64, classes, codes map[string]int64) {
	for c, n := range q.classes {
		if n > 0 {
			if classes == nil {
				classes = map[string]int64{}
			}
			classes[classNames[c]] = n
			errs += n
		}
	}
	for status, n := range q.codes {
		if n > 0 {
			if codes == nil {
				codes = map[string]int64{}
			}
			codes[podreport.CodeKey(status)] = n
			if !podreport.IsSuccess(status) {
				errs += n
			}
		}
	}
	return errs, classes, codes
}

// addCounts adds the counts of from to into, made when needed, and returns it.
func addCounts(into, from map[string]int64) map[string]int64 {
	for k, n := range from {
		if into == nil {
			into = map[string]int64{}
		}
		into[k] += n
	}
	return into
}
