package reconcile

import (
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Recurring runs. A LoadTest with spec.schedule starts a new run of its spec at each
// tick, as a new value of example.org/rerun does, with a CronJob's semantics: it is
// scheduled (no run) until its first tick, only the most recent of the ticks missed
// while the manager was down counts, and not once startingDeadlineSeconds has passed.
// A tick while a run is pending or executing is skipped (Forbid) or replaces the run
// (Replace). The manager does not poll: each reconcile asks to be requeued at
// status.nextScheduleTime.

// maxWalk bounds how many ticks dueTick walks one by one before it jumps closer to now.
const maxWalk = 10_000

// dueTick is what sched says at now, given last, the scheduled instant of the last tick
// acted on (zero: none yet; ticks then follow created, the LoadTest's creation): tick is
// the most recent tick after last and at or before now, zero if there is none; due says
// whether it starts a run: deadline (seconds, nil for none) has not passed since it. Of
// several missed ticks only the most recent is returned, so that a manager down for a
// day runs one late run, not a burst. next is the first tick after now, zero when sched
// has none (cron looks five years ahead).
func dueTick(sched cron.Schedule, last, created, now time.Time, deadline *int64) (tick time.Time, due bool, next time.Time) {
	from := last
	if from.IsZero() {
		from = created
	}
	t, jumped := from, false
	for i := 0; ; i++ {
		n := sched.Next(t)
		if n.IsZero() || n.After(now) {
			next = n
			break
		}
		tick, t = n, n
		if i < maxWalk {
			continue
		}
		if jumped {
			// An irregular schedule still far behind: the tick is late whichever it is.
			next = sched.Next(now)
			break
		}
		// Far behind (a long outage, a short schedule): go on from a few average
		// intervals before now rather than walk every missed tick.
		avg := tick.Sub(from) / maxWalk
		if near := now.Add(-10 * avg); near.After(t) {
			t = near
		}
		i, jumped = 0, true
	}
	if tick.IsZero() {
		return tick, false, next
	}
	due = deadline == nil || !now.After(tick.Add(time.Duration(*deadline)*time.Second))
	return tick, due, next
}

// scheduleTick reads the LoadTest's schedule at s.now and sets s.tick to the tick that
// is due (see dueTick), if any, and status.nextScheduleTime with s.untilTick, when
// the reconcile should come back for the next one. Suspended, it sets neither. A
// schedule that cannot be read (stored while the webhook was off) has no tick:
// s.scheduleErr says why, and the manager only warns.
func scheduleTick(s *runScope) {
	st, spec := &s.lt.Status, &s.lt.Spec
	st.NextScheduleTime, s.untilTick = nil, 0
	if spec.Schedule == "" {
		return
	}
	sched, err := dilov1.ParseSchedule(spec)
	if err != nil {
		s.scheduleErr = err
		return
	}
	if ptr.Deref(spec.Suspend, false) {
		return
	}
	var last time.Time
	if st.LastScheduleTime != nil {
		last = st.LastScheduleTime.Time
	}
	tick, due, next := dueTick(sched, last, s.lt.CreationTimestamp.Time, s.now, spec.StartingDeadlineSeconds)
	if due {
		s.tick = tick
	}
	if !next.IsZero() {
		st.NextScheduleTime = &metav1.Time{Time: next}
		s.untilTick = next.Sub(s.now)
	}
}

// startAction is what startRun does with the LoadTest's run.
type startAction int

const (
	// keepRun: the current run goes on (or the wait for a first tick).
	keepRun startAction = iota
	// waitTick: no run yet; the LoadTest is scheduled until its schedule's first tick.
	waitTick
	// startNew: a new run starts, replacing the current one if there is one.
	startNew
)

// startInput is what decides whether a reconcile starts a run.
type startInput struct {
	// State and Run are status.state and status.run (0: no run yet).
	State dilov1.State
	Run   int64
	// SpecChanged: the run spec's hash is not status.runSpecHash.
	SpecChanged bool
	// Rerun: a new value of the example.org/rerun annotation.
	Rerun bool
	// Scheduled: spec.schedule is set; Tick: a tick of it is due; Replace:
	// concurrencyPolicy is Replace.
	Scheduled, Tick, Replace bool
}

// decideStart says what startRun does, and what becomes of a due tick: tickRun when it
// starts the run, tickSkipped when Forbid skips it because a run is pending or
// executing. A spec edit or a rerun starts a run at once, schedule or not (what the
// user just asked for is not put off to a tick), and a tick due with them is consumed
// by that run, neither run again nor skipped. A new LoadTest with a schedule waits for
// its first tick, as a CronJob does; one whose schedule was removed before that runs,
// as one created without.
func decideStart(in startInput) (act startAction, tickRun, tickSkipped bool) {
	fresh := in.State == "" || in.Run == 0 && in.State != dilov1.StateScheduled
	edited := !fresh && in.SpecChanged
	tick := in.Tick
	if tick && !fresh && !edited && !in.Rerun && isGoing(in.State) && !in.Replace {
		tick, tickSkipped = false, true
	}
	switch {
	case fresh && in.Scheduled && !tick:
		return waitTick, false, tickSkipped
	case fresh || edited || in.Rerun || tick || in.State == dilov1.StateScheduled && !in.Scheduled:
		return startNew, tick && !edited && !in.Rerun, tickSkipped
	}
	return keepRun, false, tickSkipped
}

// soonest is the sooner of two requeue delays, 0 meaning none.
func soonest(a, b time.Duration) time.Duration {
	if a <= 0 || b > 0 && b < a {
		return b
	}
	return a
}
