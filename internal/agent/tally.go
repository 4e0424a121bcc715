package agent

import (
	"fmt"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// tally is one worker's counts and latencies.
type tally struct {
	hist     *histogram.Histogram
	requests int64
	codes    [600]int64 // by status code, 100-599
	classes  [numClasses]int64
}

// newTally returns an empty tally.
func newTally() tally {
	return tally{hist: histogram.New(histogram.DefaultPrecision)}
}

// record counts one request's outcome; latency only for a response.
func (t *tally) record(status int, class errClass, latency time.Duration) {
	t.requests++
	if class != classNone {
		t.classes[class]++
		return
	}
	t.codes[status]++
	t.hist.Record(latency)
}

// report merges the workers' tallies into the pod's report of the run from
// start to end, counting the requests the pacer never sent as dropped.
func report(start, end time.Time, workers []*worker, p pacer) (podreport.Report, error) {
	r := podreport.Report{Start: start, End: end, Latency: histogram.New(histogram.DefaultPrecision)}
	var classes [numClasses]int64
	var codes [600]int64
	for _, w := range workers {
		r.Requests += w.requests
		r.BytesReceived += w.fetch.BytesReceived()
		for i, n := range w.classes {
			classes[i] += n
		}
		for i, n := range w.codes {
			codes[i] += n
		}
		if err := r.Latency.Merge(w.hist); err != nil {
			return podreport.Report{}, fmt.Errorf("failed to merge worker histograms: %w", err)
		}
	}
	dropped := p.unsent(r.Requests)
	classes[classDropped] += dropped
	r.Requests += dropped
	for c, n := range classes {
		if n > 0 {
			if r.ErrorsByClass == nil {
				r.ErrorsByClass = map[string]int64{}
			}
			r.ErrorsByClass[classNames[c]] = n
			r.Errors += n
		}
	}
	for status, n := range codes {
		if n > 0 {
			if r.Codes == nil {
				r.Codes = map[string]int64{}
			}
			r.Codes[podreport.CodeKey(status)] = n
			if !podreport.IsSuccess(status) {
				r.Errors += n
			}
		}
	}
	return r, nil
}
