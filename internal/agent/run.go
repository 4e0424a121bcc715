package agent

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Run reads the values, bodies and CA certificates the plan keeps in files,
// serves the snapshot endpoint if the plan has one, waits for the start gate
// if any, sends the load plan describes and returns the pod's report. plan
// must be valid (runplan.Parse or Validate has checked it). Run fails only
// if the load could not start: a file it refuses is a *runplan.FieldError
// naming the plan's field, found before the gate so that the run fails at
// once; so is a snapshot port it cannot listen on, as a plain error.
// Cancelling ctx, or the instant of the plan's stop file, stops the load
// early; the report covers what was sent. The stop file's contents that are
// not an instant are reported on os.Stderr.
func Run(ctx context.Context, plan runplan.Plan) (podreport.Report, error) {
	return runWith(ctx, plan, runOptions{complaints: os.Stderr})
}

// runOptions are what a run takes besides its plan.
type runOptions struct {
	// resolver resolves the target's names; nil is the default resolver.
	resolver *net.Resolver
	// complaints gets what the stop file holds that is no instant, and the
	// snapshot endpoint's server errors.
	complaints io.Writer
}

// startPoll is how often the start file is read until it holds the start
// instant.
const startPoll = 100 * time.Millisecond

// runWith is Run with opts.
func runWith(ctx context.Context, plan runplan.Plan, opts runOptions) (podreport.Report, error) {
	src, err := planSource(plan)
	if err != nil {
		return podreport.Report{}, err
	}
	tlsErr := new(firstError)
	dial, err := newDialer(plan.Target, opts.resolver, tlsErr)
	if err != nil {
		return podreport.Report{}, err
	}
	var live *liveEndpoint
	if plan.Live != nil {
		if live, err = serveLive(plan.Live.Port, opts.complaints); err != nil {
			return podreport.Report{}, err
		}
		defer live.close()
	}
	at := time.Now()
	if plan.Start != nil {
		if at, err = awaitStartTime(ctx, plan.Start.File, startPoll, time.Duration(plan.Start.Timeout), nil); err != nil {
			return podreport.Report{}, err
		}
	}
	l := newLoad(plan, src, dial, tlsErr, at)
	return l.run(ctx, plan.Stop, live, opts.complaints)
}

// load is one run's load, from the instant its start is known: its workers,
// how they are paced and what they send. It is what the end-of-run report
// and the live snapshots read.
type load struct {
	start   time.Time // on the monotonic clock
	warm    bool      // the workers have time to connect before the start
	workers []*worker
	pacer   pacer
	stop    *stopSignal
	src     *source
	tlsErr  *firstError
}

// newLoad returns the load of plan, sending src over dial, that starts at
// at, or now if at has passed. The start is read on the monotonic clock,
// as every time of the load is.
func newLoad(plan runplan.Plan, src *source, dial dialer, tlsErr *firstError, at time.Time) *load {
	now := time.Now()
	wait := max(at.Sub(now), 0)
	l := &load{start: now.Add(wait), warm: wait > 0, workers: newWorkers(plan, src, dial), stop: newStopSignal(),
		src: src, tlsErr: tlsErr}
	l.pacer = newPacer(plan.Load, l.start, time.Duration(plan.Timeout), l.stop)
	return l
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

// warmLead is how long before the start the workers make their
// connections: time for a thousand TLS handshakes on one core, and short
// enough that a server's wait for a first request (Go's ReadHeaderTimeout
// is often 5s or more) does not close them first.
const warmLead = 2 * time.Second

// run sends the load and returns its report. Before the start, every worker
// is started, and those that send at once make their connections (from
// warmLead before the start until it, or until ctx ends), so that at the
// instant each only writes its first request: the start is then as close to
// the instant as the clock allows, whatever connecting takes. From the
// start, live (if any) serves the load's snapshots and the stop file (if
// any) is watched. Cancelling ctx, or the stop file's instant, stops the
// load.
func (l *load) run(ctx context.Context, stopFile *runplan.Stop, live *liveEndpoint, complaints io.Writer) (podreport.Report, error) {
	defer context.AfterFunc(ctx, l.stop.stop)()
	warmNow, started := make(chan struct{}), make(chan struct{})
	var workers sync.WaitGroup
	for _, w := range l.workers {
		warm := l.warm && l.pacer.warm(w.id)
		workers.Go(func() {
			if warm {
				<-warmNow
				// A connection not made by the start is made again by the first
				// request, which counts its errors.
				_ = w.fetch.Connect(ctx, l.start)
			}
			<-started
			l.pacer.run(w)
			w.fetch.Close()
		})
	}
	err := waitUntil(ctx, l.start.Add(-warmLead))
	close(warmNow)
	if err == nil {
		err = sleepUntil(ctx, l.start)
	}
	if err != nil {
		l.stop.stop()
		close(started)
		workers.Wait()
		return podreport.Report{}, err
	}
	if live != nil {
		live.publish(l)
	}
	close(started)
	quit := make(chan struct{})
	var watcher sync.WaitGroup
	if stopFile != nil {
		watcher.Go(func() { watchStop(stopFile.File, stopPoll, quit, l.stop.stop, complaints, nil) })
	}
	workers.Wait()
	l.stop.over()
	close(quit)
	watcher.Wait()
	return l.report(time.Now())
}

// report is the load's report, once every worker has returned, the load
// having ended at end: the requests the pacer never sent count as dropped,
// shared over the mix as src would have sent them.
func (l *load) report(end time.Time) (podreport.Report, error) {
	t, err := mergeTallies(l.workers, len(l.src.requests))
	if err != nil {
		return podreport.Report{}, err
	}
	t.drop(l.src.shares(l.pacer.unsent(t.sent)))
	return t.report(l.start, end, l.src, l.tlsErr)
}

// progress is a snapshot of a load while it runs: its report so far, and the
// sum of its latencies, which Prometheus' histogram has and the report's
// has not.
type progress struct {
	report     podreport.Report
	latencySum time.Duration
}

// snapshot is the load's progress now, while its workers may still send:
// its report is Live, ends when the last worker's tally was read, and
// counts no request as dropped, since what is unsent may yet be sent.
func (l *load) snapshot() (progress, error) {
	t, err := mergeTallies(l.workers, len(l.src.requests))
	if err != nil {
		return progress{}, err
	}
	rep, err := t.report(l.start, time.Now(), l.src, l.tlsErr)
	if err != nil {
		return progress{}, err
	}
	rep.Live = true
	return progress{report: rep, latencySum: t.latencySum}, nil
}
