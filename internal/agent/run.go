package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// worker is one connection's goroutine with its own counters and histogram:
// nothing is shared per request but one atomic counter (the request budget
// or the schedule), and everything is merged once at the end.
type worker struct {
	*client
	hist     *histogram.Histogram
	requests int64
	codes    [600]int64 // by status code, 100-599
	classes  [numClasses]int64
}

// newWorker returns a worker for cfg's target, with an empty histogram.
func newWorker(cfg *RunConfig) *worker {
	return &worker{client: newClient(&cfg.target, time.Duration(cfg.Plan.Timeout)), hist: histogram.New(histogram.DefaultPrecision)}
}

// record counts one request's outcome; latency only for a response.
func (w *worker) record(status int, class errClass, latency time.Duration) {
	w.requests++
	if class != classNone {
		w.classes[class]++
		return
	}
	w.codes[status]++
	w.hist.Record(latency)
}

// runClosed is the closed model: send, wait for the response, send again,
// until the budget (nil: unbounded) is spent or stop is set. The end of one
// request is the start of the next, so one clock read per request.
func (w *worker) runClosed(budget *atomic.Int64, stop *atomic.Bool) {
	now := time.Now()
	for !stop.Load() {
		if budget != nil && budget.Add(-1) < 0 {
			break
		}
		status, class := w.do(now)
		end := time.Now()
		w.record(status, class, end.Sub(now))
		now = end
	}
	w.close()
}

// schedule is the open model's timetable: request i is intended to start at
// start + i/rate, for i < total. Workers take the next index from one atomic
// counter; a worker that is free sleeps until its request's intended time,
// one that is late sends at once. When every worker is busy the timetable
// keeps running, so requests queue, and every latency, measured from the
// request's intended time, includes its wait (no coordinated omission). That
// includes the wake-up delay of the agent's own timer: Go's netpoller sleeps
// in whole milliseconds, so an idle agent sends up to ~1ms late (as wrk2,
// whose timers are in milliseconds too).
type schedule struct {
	start    time.Time
	rate     int64
	total    int64
	next     atomic.Int64
	hardStop time.Time // a request not sent by then is dropped
}

// at is the intended start of request i, computed without accumulating error.
func (s *schedule) at(i int64) time.Time {
	return s.start.Add(time.Duration(i/s.rate)*time.Second + time.Duration(i%s.rate*int64(time.Second)/s.rate))
}

// runOpen is the open model's worker loop.
func (w *worker) runOpen(s *schedule, stop *atomic.Bool) {
	for !stop.Load() {
		i := s.next.Add(1) - 1
		if i >= s.total {
			break
		}
		intended := s.at(i)
		now := time.Now()
		if d := intended.Sub(now); d > 0 {
			time.Sleep(d)
			now = time.Now()
		}
		if now.After(s.hardStop) {
			break
		}
		status, class := w.do(now)
		w.record(status, class, time.Since(intended))
	}
	w.close()
}

// Run waits for the start gate if any, sends the load cfg describes and
// returns the pod's report. It fails only if the run could not start.
// Cancelling ctx stops the load early; the report covers what was sent.
func Run(ctx context.Context, cfg *RunConfig) (podreport.Report, error) {
	plan := cfg.Plan
	if plan.Start != nil {
		if _, err := waitForStart(ctx, plan.Start.File, 100*time.Millisecond, time.Duration(plan.Start.Timeout), nil); err != nil {
			return podreport.Report{}, err
		}
	}
	workers := make([]*worker, plan.Load.Concurrency())
	for i := range workers {
		workers[i] = newWorker(cfg)
	}
	var stop atomic.Bool
	start := time.Now()
	var sched *schedule
	var budget *atomic.Int64
	if o := plan.Load.Open; o != nil {
		// Requests not sent within one timeout after the sending window are
		// dropped, errors of class dropped: the target could not take the rate.
		sched = &schedule{
			start: start, rate: int64(o.Rate),
			total:    int64(o.Rate) * int64(o.Duration) / int64(time.Second),
			hardStop: start.Add(time.Duration(o.Duration) + time.Duration(plan.Timeout)),
		}
	} else if c := plan.Load.Closed; c != nil {
		if c.Duration > 0 {
			t := time.AfterFunc(time.Duration(c.Duration), func() { stop.Store(true) })
			defer t.Stop()
		}
		if c.Requests > 0 {
			budget = new(atomic.Int64)
			budget.Store(c.Requests)
		}
	}
	cancelled := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer cancelled()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			if sched != nil {
				w.runOpen(sched, &stop)
			} else {
				w.runClosed(budget, &stop)
			}
		})
	}
	wg.Wait()
	end := time.Now()

	r := podreport.Report{Start: start, End: end, Latency: histogram.New(histogram.DefaultPrecision)}
	var classes [numClasses]int64
	var codes [600]int64
	for _, w := range workers {
		r.Requests += w.requests
		r.BytesReceived += w.in.n
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
	if sched != nil && !stop.Load() && r.Requests < sched.total {
		classes[classDropped] += sched.total - r.Requests // never sent by the hard stop
		r.Requests = sched.total
	}
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
