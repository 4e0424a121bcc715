//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestScheduleRecurs: a LoadTest scheduled every minute against the demo target is
// scheduled, without a run, until the first tick, then runs at each tick: its history
// holds two finished runs within a few minutes, each started by a tick.
func TestScheduleRecurs(t *testing.T) {
	ns := newNamespace(t)
	lt := loadTest(ns, "every-minute", 1, "/", 20)
	lt.Spec.Schedule = "* * * * *"
	create(t, lt)
	if st := get(t, lt).Status; st.State != "" && st.State != dilov1.StateScheduled {
		t.Errorf("state %s just after creation, want scheduled until the first tick", st.State)
	}

	var cur *dilov1.LoadTest
	eventually(t, 4*time.Minute, "two scheduled runs finished", func() (bool, string) {
		cur = get(t, lt)
		finished := 0
		for _, rec := range cur.Status.History {
			if rec.State == dilov1.StateFinished {
				finished++
			}
		}
		return finished >= 2, fmt.Sprintf("state %s, run %d, history %+v", cur.Status.State, cur.Status.Run, cur.Status.History)
	})
	if st := cur.Status; st.LastScheduleTime == nil || st.NextScheduleTime == nil || !st.NextScheduleTime.After(st.LastScheduleTime.Time) {
		t.Errorf("lastScheduleTime %v, nextScheduleTime %v: want both, the next after the last", st.LastScheduleTime, st.NextScheduleTime)
	}
	if len(cur.Status.History) >= 2 {
		a, b := cur.Status.History[0], cur.Status.History[1]
		if a.StartTime == nil || b.StartTime == nil || b.StartTime.Sub(a.StartTime.Time) < 30*time.Second {
			t.Errorf("runs %d and %d started at %v and %v: want a tick (a minute) apart", a.Run, b.Run, a.StartTime, b.StartTime)
		}
	}
}
