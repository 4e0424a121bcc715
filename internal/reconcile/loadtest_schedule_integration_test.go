package reconcile

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// every sets a schedule of one tick each d, with concurrencyPolicy policy ("" for the
// default, Forbid).
func every(d time.Duration, policy dilov1.ConcurrencyPolicy) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		lt.Spec.Schedule = "@every " + d.String()
		lt.Spec.ConcurrencyPolicy = policy
	}
}

// historyRuns are the run numbers and states status.history records, oldest first.
func historyRuns(lt *dilov1.LoadTest) []string {
	var runs []string
	for _, rec := range lt.Status.History {
		runs = append(runs, fmt.Sprintf("%d %s %s", rec.Run, rec.State, rec.Reason))
	}
	return runs
}

// TestLoadTestSchedule: a LoadTest created with a schedule has no run until its first
// tick (it is scheduled, its next tick in status); each tick then starts a new run of
// the same spec, as a rerun does, and the history keeps every one of them.
func TestLoadTestSchedule(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "recurring", 1, every(3*time.Second, ""))

	got := waitState(t, lt, dilov1.StateScheduled)
	if st := got.Status; st.Run != 0 || st.NextScheduleTime == nil || st.LastScheduleTime != nil || st.StartTime != nil {
		t.Errorf("scheduled status %+v, want no run, no last tick and the next tick", st)
	}
	if pods := runPods(t, lt, 0); len(pods) > 0 {
		t.Errorf("%d pods before the first tick, want none", len(pods))
	}

	endRun(t, lt, 1, time.Millisecond)
	got = waitFor(t, lt, "run 1 recorded finished", func(got *dilov1.LoadTest) bool {
		return slices.Contains(historyRuns(got), "1 finished Finished")
	})
	first := got.Status.LastScheduleTime
	if first == nil {
		t.Fatalf("status.lastScheduleTime unset after a tick started run 1")
	}
	waitEvents(t, lt, "RunScheduled", "RunStarted")

	endRun(t, lt, 2, time.Millisecond)
	got = waitFor(t, lt, "run 2 recorded finished", func(got *dilov1.LoadTest) bool {
		return slices.Contains(historyRuns(got), "2 finished Finished")
	})
	if runs := historyRuns(got); !slices.Contains(runs, "1 finished Finished") {
		t.Errorf("history %q, want runs 1 and 2 finished", runs)
	}
	if last := got.Status.LastScheduleTime; last == nil || !last.After(first.Time) {
		t.Errorf("status.lastScheduleTime %v after run 2, want after run 1's tick %v", last, first)
	}
}

// TestLoadTestScheduleForbid: with concurrencyPolicy Forbid (the default) a tick while
// the run executes is skipped, and said so; the run goes on.
func TestLoadTestScheduleForbid(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "forbid", 1, every(time.Second, ""))
	got := waitFor(t, lt, "run 1 executing", func(got *dilov1.LoadTest) bool {
		return got.Status.Run == 1 && got.Status.State == dilov1.StateExecuting
	})
	started := got.Status.LastScheduleTime
	waitEvents(t, lt, "TickSkipped")
	consistently(t, 3*time.Second, func() error {
		if got := waitFor(t, lt, "read", func(*dilov1.LoadTest) bool { return true }); got.Status.Run != 1 {
			return fmt.Errorf("run %d started while run 1 executes, want ticks skipped", got.Status.Run)
		}
		return nil
	})
	got = waitFor(t, lt, "read", func(*dilov1.LoadTest) bool { return true })
	if last := got.Status.LastScheduleTime; started == nil || last == nil || !last.After(started.Time) {
		t.Errorf("status.lastScheduleTime %v, want skipped ticks after run 1's (%v) counted as acted on", last, started)
	}
}

// TestLoadTestScheduleReplace: with concurrencyPolicy Replace a tick replaces the run
// going, recorded Replaced in the history, as a rerun does.
func TestLoadTestScheduleReplace(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "replace", 1, every(2*time.Second, dilov1.ConcurrencyPolicyReplace))
	waitFor(t, lt, "run 1 going", func(got *dilov1.LoadTest) bool { return got.Status.Run == 1 })
	got := waitFor(t, lt, "run 1 replaced", func(got *dilov1.LoadTest) bool {
		return got.Status.Run >= 2 && len(got.Status.History) > 0
	})
	if rec := got.Status.History[0]; rec.Run != 1 || rec.Reason != dilov1.ReasonReplaced {
		t.Errorf("first history record %+v, want run 1 Replaced", rec)
	}
}

// TestLoadTestScheduleSuspend: a suspended schedule starts no run and has no next tick;
// a spec edit still starts a run at once, as without a schedule.
func TestLoadTestScheduleSuspend(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "suspended", 1, func(lt *dilov1.LoadTest) {
		every(time.Second, "")(lt)
		lt.Spec.Suspend = ptr.To(true)
	})
	waitState(t, lt, dilov1.StateScheduled)
	consistently(t, 2500*time.Millisecond, func() error {
		got := waitFor(t, lt, "read", func(*dilov1.LoadTest) bool { return true })
		if got.Status.State != dilov1.StateScheduled || got.Status.NextScheduleTime != nil {
			return fmt.Errorf("suspended LoadTest is %s, next tick %v; want scheduled, none", got.Status.State, got.Status.NextScheduleTime)
		}
		return nil
	})
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas = 2 })
	got := waitFor(t, lt, "run started by the edit", func(got *dilov1.LoadTest) bool {
		return got.Status.Run != 0 && got.Status.ObservedGeneration == got.Generation
	})
	if got.Status.LastScheduleTime != nil {
		t.Errorf("status.lastScheduleTime %v, want unset: no tick started the run", got.Status.LastScheduleTime)
	}
}

// TestLoadTestScheduleUnreadable: a schedule the manager cannot read (stored while the
// webhook was off) starts no run and has no next tick; a Warning Event says why.
func TestLoadTestScheduleUnreadable(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "unreadable", 1, func(lt *dilov1.LoadTest) { lt.Spec.Schedule = "every night" })
	got := waitState(t, lt, dilov1.StateScheduled)
	if got.Status.NextScheduleTime != nil {
		t.Errorf("status.nextScheduleTime %v, want unset", got.Status.NextScheduleTime)
	}
	waitEvents(t, lt, "InvalidSchedule")
}
