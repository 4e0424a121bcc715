package agent

import (
	"sync/atomic"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// pacer is how fast and for how long: a load model, whose loop each worker's
// goroutine runs.
type pacer interface {
	// run sends worker w's requests until the load is over for it.
	run(w *worker)
	// unsent is how many of the requests the load meant to send were never
	// sent, sent having been: errors of class dropped.
	unsent(sent int64) int64
	// warm reports whether worker id sends within warmWithin of the start,
	// and so makes its connection before.
	warm(id int) bool
}

// warmWithin is how soon after the start a worker must send for its
// connection to be made before the start. One needed later would wait
// idle, which the server may not allow for long, and the connections of a
// ramp would all come at once instead of as the ramp goes.
const warmWithin = time.Second

// newPacer returns the pacer of load, which starts at start. Stopping stop
// ends the load early, at each worker's next request or wait. With stages,
// the open model's window and the closed model's duration are the stages'
// total; the closed model's request cap still applies.
func newPacer(load runplan.Load, start time.Time, timeout time.Duration, stop *stopSignal) pacer {
	if o := load.Open; o != nil {
		var table timetable = newConstantRate(o.Rate, time.Duration(o.Duration))
		window := time.Duration(o.Duration)
		if len(o.Stages) > 0 {
			table, window = newRateStages(o.Stages), runplan.StagesDuration(o.Stages)
		}
		// Requests not sent within one timeout after the sending window are
		// dropped: the target could not take the rate.
		return newOpenPacer(start, table, start.Add(window+timeout), o.Concurrency, stop)
	}
	c := load.Closed
	p := &closedPacer{start: start, conns: steadyConnections(c.Concurrency), until: time.Duration(c.Duration), stop: stop}
	if len(c.Stages) > 0 {
		p.conns, p.until = newConnectionStages(c.Stages), runplan.StagesDuration(c.Stages)
	}
	if c.Requests > 0 {
		p.budget = new(atomic.Int64)
		p.budget.Store(c.Requests)
	}
	return p
}

// closedPacer is the closed model: every active connection sends its next
// request when the previous one ended, until the budget is spent or the
// duration is over. The end of one request is the start of the next, so one
// clock read per request.
type closedPacer struct {
	start  time.Time
	conns  connections
	until  time.Duration // the load's duration; 0: until the budget is spent
	budget *atomic.Int64 // requests left to send; nil: no cap
	stop   *stopSignal
}

// connections is the closed model's number of connections over time: worker
// k sends while k < active(elapsed since the start). A steady number
// (steadyConnections) or stages (connectionStages).
type connections interface {
	active(elapsed time.Duration) int
}

// steadyConnections is the same number of connections throughout.
type steadyConnections int

// active is n, whenever.
func (n steadyConnections) active(time.Duration) int { return int(n) }

// idlePoll is how often a worker that is not among the active connections
// looks again.
const idlePoll = 10 * time.Millisecond

// run is the closed model's worker loop.
func (p *closedPacer) run(w *worker) {
	var wait *time.Timer
	now := time.Now()
	for !p.stop.stopped() {
		elapsed := now.Sub(p.start)
		if p.until > 0 && elapsed >= p.until {
			break
		}
		if w.id >= p.conns.active(elapsed) { // not needed now: wait, without a connection
			w.fetch.Close()
			if !p.stop.sleep(&wait, idlePoll) {
				break
			}
			now = time.Now()
			continue
		}
		if p.budget != nil && p.budget.Add(-1) < 0 {
			break
		}
		now = w.send(now, now)
	}
}

// unsent is none: the closed model sends what it can.
func (p *closedPacer) unsent(int64) int64 { return 0 }

// warm is whether worker id is among the connections at the start, and
// within the request cap.
func (p *closedPacer) warm(id int) bool {
	return id < p.conns.active(0) && (p.budget == nil || int64(id) < p.budget.Load())
}

// openPacer is the open model: requests are intended to start on a fixed
// timetable. Worker k sends request k first; then workers take the next
// index from one atomic counter. A worker that is free sleeps until its
// request's intended time, one that is late sends at once. When every
// worker is busy the timetable keeps running, so requests queue, and every
// latency, measured from the request's intended time, includes its wait (no
// coordinated omission). That includes the wake-up delay of the agent's own
// timer: Go's netpoller sleeps in whole milliseconds, so an idle agent sends
// up to ~1ms late (as wrk2, whose timers are in milliseconds too).
type openPacer struct {
	start    time.Time
	table    timetable
	next     atomic.Int64 // the index of the next request to send after the first round
	hardStop time.Time    // a request not sent by then is dropped
	stop     *stopSignal
}

// newOpenPacer returns the open model of table for workers workers, from
// start, dropping what is not sent by hardStop.
func newOpenPacer(start time.Time, table timetable, hardStop time.Time, workers int, stop *stopSignal) *openPacer {
	p := &openPacer{start: start, table: table, hardStop: hardStop, stop: stop}
	p.next.Store(int64(workers))
	return p
}

// timetable is the open model's schedule, a pure function: it holds len()
// requests, request i intended to start at(i) after the start, in order. A
// constant rate (constantRate) or stages of rates (rateStages): request i
// when the integral of the rate reaches i.
type timetable interface {
	len() int64
	at(i int64) time.Duration
}

// constantRate is the timetable of rate requests a second for a duration.
type constantRate struct {
	rate, n int64
}

// newConstantRate returns the timetable of rate requests a second for d:
// rate*d requests, rounded down. The whole seconds and the rest are
// multiplied apart, since rate times d in nanoseconds overflows an int64
// within runplan's limits.
func newConstantRate(rate int, d time.Duration) constantRate {
	r, s := int64(rate), int64(time.Second)
	return constantRate{rate: r, n: r*(int64(d)/s) + r*(int64(d)%s)/s}
}

// len is the number of requests.
func (c constantRate) len() int64 { return c.n }

// at is i/rate seconds, computed without accumulating error.
func (c constantRate) at(i int64) time.Duration {
	return time.Duration(i/c.rate)*time.Second + time.Duration(i%c.rate*int64(time.Second)/c.rate)
}

// run is the open model's worker loop. Its first round is fixed, worker k
// sending request k, so that which workers send first is known before the
// start (warm); the rest are shared out as workers come free.
func (p *openPacer) run(w *worker) {
	var wait *time.Timer
	for i := int64(w.id); !p.stop.stopped() && i < p.table.len(); i = p.next.Add(1) - 1 {
		intended := p.start.Add(p.table.at(i))
		now := time.Now()
		if d := intended.Sub(now); d > 0 {
			if !p.stop.sleep(&wait, d) {
				break
			}
			now = time.Now()
		}
		if now.After(p.hardStop) {
			break
		}
		w.send(intended, now)
	}
}

// unsent is what the timetable held beyond the requests sent, unless the load
// was stopped early: a stopped load reports what it sent, and nothing it
// did not send counts against the target.
func (p *openPacer) unsent(sent int64) int64 {
	if p.stop.stopped() {
		return 0
	}
	return max(p.table.len()-sent, 0)
}

// warm is whether worker id's first request, request id, is due within
// warmWithin of the start.
func (p *openPacer) warm(id int) bool {
	i := int64(id)
	return i < p.table.len() && p.table.at(i) < warmWithin
}
