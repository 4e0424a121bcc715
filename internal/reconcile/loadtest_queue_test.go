package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// queueT0 is the instant the queue tests' runs start from.
var queueT0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// ltOpt changes a test LoadTest.
type ltOpt func(*dilov1.LoadTest)

// queueLT is a LoadTest of namespace team-a in state, whose run started at queueT0
// plus startSec seconds, changed by opts.
func queueLT(name string, state dilov1.State, startSec int, opts ...ltOpt) dilov1.LoadTest {
	lt := dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: k8stypes.UID("uid-" + name)},
		Status: dilov1.LoadTestStatus{
			State: state, Run: 1, StartTime: &metav1.Time{Time: queueT0.Add(time.Duration(startSec) * time.Second)},
		},
	}
	for _, o := range opts {
		o(&lt)
	}
	return lt
}

func withChildren(names ...string) ltOpt {
	return func(lt *dilov1.LoadTest) { lt.Status.Children = names }
}

func withQueued(status metav1.ConditionStatus) ltOpt {
	return func(lt *dilov1.LoadTest) {
		reason := dilov1.ReasonQueued
		if status == metav1.ConditionFalse {
			reason = dilov1.ReasonAdmitted
		}
		lt.Status.Conditions = append(lt.Status.Conditions, metav1.Condition{
			Type: dilov1.ConditionQueued, Status: status, Reason: reason, Message: "m",
			LastTransitionTime: metav1.NewTime(queueT0),
		})
	}
}

func beingDeleted() ltOpt {
	return func(lt *dilov1.LoadTest) { lt.DeletionTimestamp = &metav1.Time{Time: queueT0} }
}

func noStartTime() ltOpt {
	return func(lt *dilov1.LoadTest) { lt.Status.StartTime = nil }
}

// ltPod is a load-generator pod of the LoadTest named lt, in phase.
func ltPod(lt string, phase corev1.PodPhase) corev1.Pod {
	return *testPod(lt+"-1-0", phase, func(p *corev1.Pod) {
		p.Labels = map[string]string{dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelLoadTest: lt}
	})
}

func TestQueueDecision(t *testing.T) {
	self := queueLT("self", dilov1.StatePending, 10)
	for _, tc := range []struct {
		name        string
		others      []dilov1.LoadTest
		pods        []corev1.Pod
		limit       int
		wantAdmit   bool
		wantRunning []string
		wantAhead   []string
	}{{
		name:      "empty namespace",
		limit:     1,
		wantAdmit: true,
	}, {
		name:      "itself in the list is not counted",
		others:    []dilov1.LoadTest{queueLT("self", dilov1.StateExecuting, 0)},
		limit:     1,
		wantAdmit: true,
	}, {
		name:        "a free slot",
		others:      []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:       2,
		wantAdmit:   true,
		wantRunning: []string{"a"},
	}, {
		name:        "every slot taken, by name",
		others:      []dilov1.LoadTest{queueLT("b", dilov1.StateExecuting, 0), queueLT("a", dilov1.StateExecuting, 5)},
		limit:       2,
		wantRunning: []string{"a", "b"},
	}, {
		name: "pending runs hold a slot once they have pods or were admitted",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StatePending, 0, withChildren("a-1-0")),
			queueLT("b", dilov1.StatePending, 0, withQueued(metav1.ConditionFalse)),
		},
		limit:       2,
		wantRunning: []string{"a", "b"},
	}, {
		name: "ended and never reconciled runs hold nothing",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateFinished, 0, withChildren("a-1-0"), withQueued(metav1.ConditionFalse)),
			queueLT("b", dilov1.StateFailed, 0, withChildren("b-1-0")),
			queueLT("c", "", 0, noStartTime()),
		},
		limit:     1,
		wantAdmit: true,
	}, {
		name: "runs queued earlier go first, and fill the free slot",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateExecuting, 0),
			queueLT("z", dilov1.StatePending, 2, withQueued(metav1.ConditionTrue)),
			queueLT("y", dilov1.StatePending, 1),
			queueLT("late", dilov1.StatePending, 11, withQueued(metav1.ConditionTrue)),
		},
		limit:       3,
		wantRunning: []string{"a"},
		wantAhead:   []string{"y", "z"},
	}, {
		name: "enough slots for those ahead and itself",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateExecuting, 0),
			queueLT("y", dilov1.StatePending, 1, withQueued(metav1.ConditionTrue)),
		},
		limit:       3,
		wantAdmit:   true,
		wantRunning: []string{"a"},
		wantAhead:   []string{"y"},
	}, {
		name: "same start: by name",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateExecuting, 0),
			queueLT("sel", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
			queueLT("selg", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
		},
		limit:       2,
		wantRunning: []string{"a"},
		wantAhead:   []string{"sel"},
	}, {
		name: "times to the second, as stored",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateExecuting, 0),
			queueLT("z", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
			queueLT("b", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue), func(lt *dilov1.LoadTest) {
				lt.Status.StartTime.Time = lt.Status.StartTime.Add(700 * time.Millisecond)
			}),
		},
		limit:       2,
		wantRunning: []string{"a"},
		wantAhead:   []string{"b"},
	}, {
		name: "a queued run being deleted is not ahead; a running one keeps its slot",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StatePending, 0, withQueued(metav1.ConditionTrue), beingDeleted()),
			queueLT("b", dilov1.StateExecuting, 0, beingDeleted()),
		},
		limit:       2,
		wantAdmit:   true,
		wantRunning: []string{"b"},
	}, {
		name:        "the pods of a failed run that still run hold its slot",
		others:      []dilov1.LoadTest{queueLT("a", dilov1.StateFailed, 0, withQueued(metav1.ConditionFalse))},
		pods:        []corev1.Pod{ltPod("a", corev1.PodSucceeded), ltPod("a", corev1.PodRunning)},
		limit:       1,
		wantRunning: []string{"a"},
	}, {
		name:        "the pods of a deleted LoadTest that still run hold a slot",
		others:      []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		pods:        []corev1.Pod{ltPod("a", corev1.PodRunning), ltPod("gone", corev1.PodPending)},
		limit:       2,
		wantRunning: []string{"a", "gone"},
	}, {
		name: "ended pods, its own and unlabelled ones hold nothing",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateFinished, 0),
		},
		pods:      []corev1.Pod{ltPod("a", corev1.PodSucceeded), ltPod("gone", corev1.PodFailed), ltPod("self", corev1.PodRunning), *testPod("x", corev1.PodRunning)},
		limit:     1,
		wantAdmit: true,
	}, {
		name: "more running than the cap (it was lowered)",
		others: []dilov1.LoadTest{
			queueLT("a", dilov1.StateExecuting, 0), queueLT("b", dilov1.StateExecuting, 0), queueLT("c", dilov1.StateExecuting, 0),
		},
		limit:       2,
		wantRunning: []string{"a", "b", "c"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			admit, running, ahead := queueDecision(&self, tc.others, tc.pods, tc.limit)
			if admit != tc.wantAdmit {
				t.Errorf("admit = %v, want %v", admit, tc.wantAdmit)
			}
			if diff := cmp.Diff(tc.wantRunning, running); diff != "" {
				t.Errorf("running (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAhead, ahead); diff != "" {
				t.Errorf("ahead (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQueueMoved(t *testing.T) {
	executing := queueLT("a", dilov1.StateExecuting, 0)
	admitted := queueLT("a", dilov1.StatePending, 0, withQueued(metav1.ConditionFalse))
	queued := queueLT("a", dilov1.StatePending, 0, withQueued(metav1.ConditionTrue))
	for _, tc := range []struct {
		name     string
		old, cur *dilov1.LoadTest
		want     bool
	}{
		{name: "run ended", old: &executing, cur: ptrTo(queueLT("a", dilov1.StateFinished, 0)), want: true},
		{name: "run failed", old: &admitted, cur: ptrTo(queueLT("a", dilov1.StateFailed, 0, withQueued(metav1.ConditionFalse))), want: true},
		{name: "running LoadTest deleted", old: &executing, cur: nil, want: true},
		{name: "spec edit restarts a running run", old: &executing, cur: ptrTo(queueLT("a", dilov1.StatePending, 60)), want: true},
		{name: "admitted run executes", old: &admitted, cur: &executing, want: false},
		{name: "queued run starts", old: &queued, cur: &admitted, want: true},
		{name: "queued LoadTest deleted", old: &queued, cur: nil, want: true},
		{name: "queued LoadTest being deleted", old: &queued, cur: ptrTo(queueLT("a", dilov1.StatePending, 0, withQueued(metav1.ConditionTrue), beingDeleted())), want: true},
		{name: "queued run restarted by a spec edit", old: &queued, cur: ptrTo(queueLT("a", dilov1.StatePending, 60)), want: true},
		{name: "queued run's message changed", old: &queued, cur: &queued, want: false},
		{name: "new LoadTest joins the queue: those behind it must name it", old: ptrTo(queueLT("a", "", 0, noStartTime())), cur: &queued, want: true},
		{name: "ended run deleted", old: ptrTo(queueLT("a", dilov1.StateFinished, 0)), cur: nil, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := queueMoved(tc.old, tc.cur); got != tc.want {
				t.Errorf("queueMoved = %v, want %v", got, tc.want)
			}
		})
	}
}

func ptrTo(lt dilov1.LoadTest) *dilov1.LoadTest { return &lt }

func TestQueuedMessage(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = fmt.Sprintf("lt-%02d", i)
	}
	for _, tc := range []struct {
		name           string
		running, ahead []string
		want           string
	}{{
		name:    "slots taken",
		running: []string{"a", "b"},
		want:    "waiting for a free slot: 2 of 2 runs allowed at once in namespace team-a are running (a, b)",
	}, {
		name:    "runs ahead",
		running: []string{"a", "b"},
		ahead:   []string{"c"},
		want:    "waiting for a free slot: 2 of 2 runs allowed at once in namespace team-a are running (a, b); 1 run is ahead of this one in the queue (c)",
	}, {
		name:    "one running, runs ahead",
		running: []string{"a"},
		ahead:   []string{"c", "d"},
		want:    "waiting for a free slot: 1 of 2 runs allowed at once in namespace team-a is running (a); 2 runs are ahead of this one in the queue (c, d)",
	}, {
		name:    "long lists are cut",
		running: many[:2],
		ahead:   many,
		want: "waiting for a free slot: 2 of 2 runs allowed at once in namespace team-a are running (lt-00, lt-01); " +
			"12 runs are ahead of this one in the queue (lt-00, lt-01, lt-02, lt-03, lt-04 and 7 more)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, queuedMessage("team-a", 2, tc.running, tc.ahead)); diff != "" {
				t.Errorf("queuedMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmitRun runs the step on a fake API server: it queues, admits, and leaves alone.
func TestAdmitRun(t *testing.T) {
	now := queueT0.Add(90 * time.Second)
	for _, tc := range []struct {
		name      string
		self      dilov1.LoadTest
		others    []dilov1.LoadTest
		limit     int
		stale     bool // the reconciled copy is older than the API server's
		wantDone  bool
		wantCond  *metav1.Condition
		wantStart time.Time
		wantEvent string
	}{{
		name:      "queued",
		self:      queueLT("self", dilov1.StatePending, 10),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:     1,
		wantDone:  true,
		wantCond:  &metav1.Condition{Status: metav1.ConditionTrue, Reason: dilov1.ReasonQueued, Message: "waiting for a free slot: 1 of 1 runs allowed at once in namespace team-a is running (a)"},
		wantStart: queueT0.Add(10 * time.Second),
		wantEvent: "Normal Queued Run 1 queued: waiting for a free slot",
	}, {
		name:      "still queued: no second Event",
		self:      queueLT("self", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:     1,
		wantDone:  true,
		wantCond:  &metav1.Condition{Status: metav1.ConditionTrue, Reason: dilov1.ReasonQueued, Message: "waiting for a free slot: 1 of 1 runs allowed at once in namespace team-a is running (a)"},
		wantStart: queueT0.Add(10 * time.Second),
	}, {
		name:      "admitted at once",
		self:      queueLT("self", dilov1.StatePending, 10),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateFinished, 0)},
		limit:     1,
		wantCond:  &metav1.Condition{Status: metav1.ConditionFalse, Reason: dilov1.ReasonAdmitted, Message: "started: 0 of 1 runs allowed at once in namespace team-a were running"},
		wantStart: queueT0.Add(10 * time.Second),
	}, {
		name:      "admitted from the queue: started now",
		self:      queueLT("self", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:     2,
		wantCond:  &metav1.Condition{Status: metav1.ConditionFalse, Reason: dilov1.ReasonAdmitted, Message: "started after 1m30s in the queue: 1 of 2 runs allowed at once in namespace team-a was running (a)"},
		wantStart: now,
		wantEvent: "Normal Admitted Run 1 started after 1m30s in the queue",
	}, {
		name:      "a stale copy decides nothing",
		self:      queueLT("self", dilov1.StatePending, 10),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:     1,
		stale:     true,
		wantDone:  true,
		wantStart: queueT0.Add(10 * time.Second),
	}, {
		name:      "admitted already",
		self:      queueLT("self", dilov1.StatePending, 10, withQueued(metav1.ConditionFalse)),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		limit:     1,
		wantCond:  &metav1.Condition{Status: metav1.ConditionFalse, Reason: dilov1.ReasonAdmitted, Message: "m"},
		wantStart: queueT0.Add(10 * time.Second),
	}, {
		name:      "no cap",
		self:      queueLT("self", dilov1.StatePending, 10),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		wantStart: queueT0.Add(10 * time.Second),
	}, {
		name:      "no cap: a run queued by an earlier manager starts",
		self:      queueLT("self", dilov1.StatePending, 10, withQueued(metav1.ConditionTrue)),
		others:    []dilov1.LoadTest{queueLT("a", dilov1.StateExecuting, 0)},
		wantCond:  &metav1.Condition{Status: metav1.ConditionFalse, Reason: dilov1.ReasonAdmitted, Message: "started after 1m30s in the queue: the manager no longer caps how many runs execute at once"},
		wantStart: now,
		wantEvent: "Normal Admitted Run 1 started after 1m30s in the queue",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			objs := []client.Object{tc.self.DeepCopy()}
			for i := range tc.others {
				objs = append(objs, tc.others[i].DeepCopy())
			}
			c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build()
			lt := &dilov1.LoadTest{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(&tc.self), lt); err != nil {
				t.Fatal(err)
			}
			if tc.stale {
				if err := c.Update(ctx, lt.DeepCopy()); err != nil {
					t.Fatal(err)
				}
			}
			rec := events.NewFakeRecorder(10)
			r := &LoadTestReconciler{Client: c, APIReader: c, Recorder: rec, MaxRunningPerNamespace: tc.limit}
			s := &runScope{lt: lt, before: lt.DeepCopy(), now: now, run: 1}
			done, err := r.admitRun(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if done != tc.wantDone {
				t.Errorf("done = %v, want %v", done, tc.wantDone)
			}
			got := meta.FindStatusCondition(lt.Status.Conditions, dilov1.ConditionQueued)
			if tc.wantCond == nil && got != nil {
				t.Errorf("Queued condition %+v, want none", got)
			}
			if tc.wantCond != nil {
				if got == nil {
					t.Fatalf("no Queued condition, want %+v", tc.wantCond)
				}
				g := metav1.Condition{Status: got.Status, Reason: got.Reason, Message: got.Message}
				if diff := cmp.Diff(*tc.wantCond, g); diff != "" {
					t.Errorf("Queued condition (-want +got):\n%s", diff)
				}
			}
			if !lt.Status.StartTime.Time.Equal(tc.wantStart) {
				t.Errorf("startTime %v, want %v", lt.Status.StartTime, tc.wantStart)
			}
			select {
			case e := <-rec.Events:
				if tc.wantEvent == "" || !strings.HasPrefix(e, tc.wantEvent) {
					t.Errorf("Event %q, want %q", e, tc.wantEvent)
				}
			default:
				if tc.wantEvent != "" {
					t.Errorf("no Event, want %q", tc.wantEvent)
				}
			}
		})
	}
}
