package agent

import (
	"fmt"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// tally is one worker's counts and latencies, by request of the mix.
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

// report merges the workers' tallies into the pod's report of the run from
// start to end, counting the requests the pacer never sent as dropped,
// shared over the mix as src would have sent them. The totals are the sum of
// the requests' results; a mix of more than one request reports each one,
// in plan order.
func report(start, end time.Time, workers []*worker, p pacer, src *source) (podreport.Report, error) {
	totals := make([]requestTotals, len(src.requests))
	for i := range totals {
		totals[i].hist = histogram.New(histogram.DefaultPrecision)
	}
	var sent, bytes int64
	for _, w := range workers {
		bytes += w.fetch.BytesReceived()
		for i, r := range w.byRequest {
			q := &totals[i]
			q.requests += r.requests
			sent += r.requests
			for c, n := range r.classes {
				q.classes[c] += n
			}
			for s, n := range r.codes {
				q.codes[w.slotCode[s]] += n
			}
			if r.hist != nil {
				if err := q.hist.Merge(r.hist); err != nil {
					return podreport.Report{}, fmt.Errorf("failed to merge worker histograms: %w", err)
				}
			}
		}
	}
	for i, n := range src.shares(p.unsent(sent)) {
		totals[i].classes[classDropped] += n
		totals[i].requests += n
	}
	rep := podreport.Report{Start: start, End: end, BytesReceived: bytes, Latency: histogram.New(histogram.DefaultPrecision)}
	for i, q := range totals {
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
