//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// everyMinute is the LoadTest TestScheduleRecurs checks, created by TestMain before the
// suite (startEveryMinute), so that its ticks, a minute apart, pass while the other
// tests run rather than adding minutes to the suite; stateAtCreation is its state just
// after it was created.
var everyMinute struct {
	lt              *dilov1.LoadTest
	stateAtCreation dilov1.State
	err             error
}

// startEveryMinute creates, in a namespace of its own with the demo target, a LoadTest
// scheduled every minute (one pod, 20 GETs a run); the returned func deletes the
// namespace.
func startEveryMinute() (cleanup func()) {
	c := context.Background()
	ns, err := createTargetNamespace(c, "dilo-e2e-schedule-", nil)
	cleanup = func() {
		if ns != nil && os.Getenv("E2E_KEEP") != "1" {
			_ = k8s.Delete(context.Background(), ns)
		}
	}
	if everyMinute.err = err; err != nil {
		return cleanup
	}
	lt := loadTest(ns.Name, "every-minute", 1, "/", 20)
	lt.Spec.Schedule = "* * * * *"
	if everyMinute.err = k8s.Create(c, lt); everyMinute.err != nil {
		return cleanup
	}
	everyMinute.lt = lt
	got := &dilov1.LoadTest{}
	if err := k8s.Get(c, client.ObjectKeyFromObject(lt), got); err == nil {
		everyMinute.stateAtCreation = got.Status.State
	}
	return cleanup
}

// TestScheduleRecurs: a LoadTest scheduled every minute against the demo target is
// scheduled, without a run, until the first tick, then runs at each tick: its history
// holds two finished runs, each started by a tick, a minute apart.
func TestScheduleRecurs(t *testing.T) {
	if everyMinute.err != nil {
		t.Fatalf("creating the scheduled LoadTest: %v", everyMinute.err)
	}
	lt := everyMinute.lt
	if st := everyMinute.stateAtCreation; st != "" && st != dilov1.StateScheduled {
		t.Errorf("state %s just after creation, want scheduled until the first tick", st)
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
	h := cur.Status.History
	for i := 1; i < len(h); i++ {
		a, b := h[i-1], h[i]
		if a.StartTime == nil || b.StartTime == nil || b.StartTime.Sub(a.StartTime.Time) < 30*time.Second {
			t.Errorf("runs %d and %d started at %v and %v: want a tick (a minute) apart", a.Run, b.Run, a.StartTime, b.StartTime)
		}
	}
}
