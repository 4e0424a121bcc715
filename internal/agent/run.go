package agent

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Run reads the values, bodies and CA certificates the plan keeps in files,
// waits for the start gate if any, sends the load plan describes and returns
// the pod's report. plan must be valid (runplan.Parse or Validate has
// checked it). Run fails only if the load could not start: a file it
// refuses is a *runplan.FieldError naming the plan's field, found before
// the gate so that the run fails at once. Cancelling ctx stops the load
// early; the report covers what was sent.
func Run(ctx context.Context, plan runplan.Plan) (podreport.Report, error) {
	return runWith(ctx, plan, nil)
}

// runWith is Run with the target's names resolved by resolver (nil: the
// default resolver).
func runWith(ctx context.Context, plan runplan.Plan, resolver *net.Resolver) (podreport.Report, error) {
	src, err := planSource(plan)
	if err != nil {
		return podreport.Report{}, err
	}
	var tlsErr firstError
	dial, err := newDialer(plan.Target, resolver, &tlsErr)
	if err != nil {
		return podreport.Report{}, err
	}
	if plan.Start != nil {
		if _, err := waitForStart(ctx, plan.Start.File, 100*time.Millisecond, time.Duration(plan.Start.Timeout), nil); err != nil {
			return podreport.Report{}, err
		}
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
	rep, err := report(start, time.Now(), workers, p, src)
	if rep.ErrorsByClass[podreport.ClassTLS] > 0 { // the document has a TLS error only with errors of its class
		rep.TLSError = tlsErr.String()
	}
	return rep, err
}

// newWorkers returns the plan's workers, each with its own cursor into src,
// the fetcher of the plan's target over dial and an empty tally of src's
// requests.
func newWorkers(plan runplan.Plan, src *source, dial dialer) []*worker {
	workers := make([]*worker, plan.Load.Concurrency())
	for i := range workers {
		workers[i] = &worker{
			id:     i,
			cursor: src.cursor(i, len(workers)),
			fetch:  newFetcher(plan.Target, dial, time.Duration(plan.Timeout)),
			tally:  newTally(len(src.requests)),
		}
	}
	return workers
}
