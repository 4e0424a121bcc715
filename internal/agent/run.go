package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Run waits for the start gate if any, sends the load plan describes and
// returns the pod's report. plan must be valid (runplan.Parse or Validate
// has checked it). Run fails only if the load could not start. Cancelling
// ctx stops the load early; the report covers what was sent.
func Run(ctx context.Context, plan runplan.Plan) (podreport.Report, error) {
	return runWith(ctx, plan, newTCPDialer(plan.Target.Address, nil))
}

// runWith is Run with its connections made by dial.
func runWith(ctx context.Context, plan runplan.Plan, dial dialer) (podreport.Report, error) {
	if plan.Start != nil {
		if _, err := waitForStart(ctx, plan.Start.File, 100*time.Millisecond, time.Duration(plan.Start.Timeout), nil); err != nil {
			return podreport.Report{}, err
		}
	}
	src, err := planSource(plan)
	if err != nil {
		return podreport.Report{}, err
	}
	workers := newWorkers(plan, src, dial)
	var stop atomic.Bool
	start := time.Now()
	p := newPacer(plan.Load, start, time.Duration(plan.Timeout), &stop)
	cancelled := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer cancelled()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			p.run(w)
			w.fetch.Close()
		})
	}
	wg.Wait()
	return report(start, time.Now(), workers, p)
}

// newWorkers returns the plan's workers, each with its own cursor into src,
// an HTTP/1.1 fetcher over dial and an empty tally.
func newWorkers(plan runplan.Plan, src *source, dial dialer) []*worker {
	workers := make([]*worker, plan.Load.Concurrency())
	for i := range workers {
		workers[i] = &worker{
			id:     i,
			cursor: src.cursor(i, len(workers)),
			fetch:  newHTTP1Client(dial, time.Duration(plan.Timeout)),
			tally:  newTally(),
		}
	}
	return workers
}
