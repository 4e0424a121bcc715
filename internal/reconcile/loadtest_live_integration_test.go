package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// setupWith is setup with the LoadTest reconciler changed by mod.
func setupWith(t *testing.T, mod func(*LoadTestReconciler)) (string, *manager) {
	t.Helper()
	t.Parallel()
	ns, err := env.CreateNamespace(context.Background(), nsPrefix(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	createService(t, ns, "web", corev1.ServiceTypeClusterIP)
	return ns, startManagerWith(t, ns, mod)
}

// sendingNow makes the start gate's instant now (to the second, so at most now): a
// run's pods are sending as soon as the gate opens, and a stop tells them to stop
// rather than ending the run at once.
func sendingNow(r *LoadTestReconciler) { r.StartDelay = time.Nanosecond }

// annotateStop sets the LoadTest's example.org/stop annotation, as kubectl annotate
// --overwrite does.
func annotateStop(t *testing.T, lt *dilov1.LoadTest, value string) {
	t.Helper()
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) {
		if lt.Annotations == nil {
			lt.Annotations = map[string]string{}
		}
		lt.Annotations[dilov1.AnnotationStop] = value
	})
}

// waitStopAt waits until every pod of the run that has not ended carries the same
// stop-at annotation and returns it.
func waitStopAt(t *testing.T, lt *dilov1.LoadTest, run int64) string {
	t.Helper()
	var at string
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		values := map[string]bool{}
		for _, p := range runPods(t, lt, run) {
			values[p.Annotations[dilov1.AnnotationStopAt]] = true
		}
		if len(values) != 1 || values[""] {
			return fmt.Errorf("stop-at annotations: %v", values)
		}
		for v := range values {
			at = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// eventsOf lists the Events of obj with reason.
func eventsOf(t *testing.T, obj client.Object, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// recordedOnce fails unless obj has exactly one Event of reason, recorded once (no
// series: the events library counts a repeated Event in its series).
func recordedOnce(obj client.Object, reason string, list []eventsv1.Event) error {
	if len(list) != 1 || list[0].Series != nil {
		var seen []string
		for _, e := range list {
			n := int32(1)
			if e.Series != nil {
				n = e.Series.Count
			}
			seen = append(seen, fmt.Sprintf("%q x%d", e.Note, n))
		}
		return fmt.Errorf("%s Events of %s: %v, want one, once", reason, obj.GetName(), seen)
	}
	return nil
}

// historyOf is the LoadTest's history, as run: state/reason strings.
func historyOf(lt *dilov1.LoadTest) []string {
	var out []string
	for _, r := range lt.Status.History {
		out = append(out, fmt.Sprintf("%d: %s/%s", r.Run, r.State, r.Reason))
	}
	return out
}

// TestLoadTestStartGateOnce: the gate's instant is recorded in status.sendStartTime,
// the StartGateOpened Event is recorded once, and reconciles after it (pods and the
// LoadTest changing) never give a pod another instant.
func TestLoadTestStartGateOnce(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "gate", 3, nil)
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 3)
	runAll(t, pods)
	at := waitStartAt(t, lt, 1)
	got := waitFor(t, lt, "with a sendStartTime", func(lt *dilov1.LoadTest) bool { return lt.Status.SendStartTime != nil })
	if s := got.Status.SendStartTime.UTC().Format(time.RFC3339); s != at {
		t.Errorf("status.sendStartTime %s, want the pods' start-at %s", s, at)
	}
	waitEvents(t, got, "StartGateOpened")

	// More reconciles: the pods' status and the LoadTest's metadata change.
	for i := range 3 {
		for _, p := range pods {
			setPodStatus(t, p.Name, ns, func(st *corev1.PodStatus) {
				st.Conditions = []corev1.PodCondition{{Type: corev1.ContainersReady, Status: corev1.ConditionStatus([]string{"True", "False"}[i%2])}}
			})
		}
		patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Annotations = map[string]string{"poke": fmt.Sprint(i)} })
	}
	consistently(t, 2*time.Second, func() error {
		for _, p := range runPods(t, lt, 1) {
			if v := p.Annotations[dilov1.AnnotationStartAt]; v != at {
				return fmt.Errorf("pod %s has start-at %q, want %q", p.Name, v, at)
			}
		}
		return recordedOnce(got, "StartGateOpened", eventsOf(t, got, "StartGateOpened"))
	})
}

// TestLoadTestStopSending: a new example.org/stop value stops a run whose pods are
// sending: they get the same stop-at, and once they succeeded the run ends failed,
// reason Stopped, with the results they sent, final progress and a history record.
// The value is handled once: set again, or on an ended run, it stops nothing, and a
// later run is not stopped by it.
func TestLoadTestStopSending(t *testing.T) {
	ns, _ := setupWith(t, sendingNow)
	lt := createLoadTest(t, ns, "stop", 2, func(lt *dilov1.LoadTest) {
		lt.Spec.Thresholds = &dilov1.Thresholds{MaxP50: &metav1.Duration{Duration: time.Millisecond}} // broken: not judged
	})
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 2)
	runAll(t, pods)
	start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, 1))
	if err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	annotateStop(t, lt, "t1")
	stopAt := waitStopAt(t, lt, 1)
	if at, err := time.Parse(time.RFC3339Nano, stopAt); err != nil || at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("stop-at %q (%v), want about now", stopAt, err)
	}
	got := waitFor(t, lt, "stopping", func(lt *dilov1.LoadTest) bool { return lt.Status.Stopping != nil })
	if s := got.Status.Stopping; s.Reason != dilov1.ReasonStopped || !strings.Contains(s.Message, `example.org/stop annotation ("t1")`) ||
		got.Status.LastHandledStop != "t1" || got.Status.State != dilov1.StateExecuting {
		t.Errorf("stopping %+v, lastHandledStop %q, state %s; want Stopped naming t1, t1, executing", s, got.Status.LastHandledStop, got.Status.State)
	}
	waitEvents(t, got, "Stopping")

	msg := resultMessage(t, start, 40, 4, 20*time.Millisecond)
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(msg))
	}
	got = waitFailed(t, lt, dilov1.ReasonStopped, `example.org/stop annotation ("t1"); its pods sent 80 requests, error ratio 0.1000`)
	if res := got.Status.Results; res == nil || res.Requests != 80 || res.Errors != 8 {
		t.Errorf("results %+v, want the 80 requests the pods sent", res)
	}
	if p := got.Status.Progress; p == nil || !p.Final || p.Requests != 80 || p.Errors != 8 || p.Pods != 2 || p.Window != nil ||
		!p.ObservedTime.Equal(got.Status.CompletionTime) {
		t.Errorf("progress %+v, want the final figures", p)
	}
	if diff := cmp.Diff([]string{"1: failed/Stopped"}, historyOf(got)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if r := got.Status.History[0]; r.Requests != 80 || r.ErrorRatio != "0.1000" || r.P99 == nil || r.CompletionTime == nil || r.Timeline != "" {
		t.Errorf("history record %+v, want the results' figures, no timeline", r)
	}
	waitEvents(t, got, dilov1.ReasonStopped)

	// The same value again, then a new one on the ended run: recorded, nothing stopped.
	annotateStop(t, lt, "t1")
	annotateStop(t, lt, "t2")
	ended := waitFor(t, lt, "t2 handled", func(lt *dilov1.LoadTest) bool { return lt.Status.LastHandledStop == "t2" })
	if ended.Status.State != dilov1.StateFailed || ended.Status.CompletionTime == nil || !ended.Status.CompletionTime.Equal(got.Status.CompletionTime) {
		t.Errorf("a stop of an ended run changed it: %+v", ended.Status)
	}
	waitEvents(t, ended, "StopIgnored")

	// A new run keeps lastHandledStop and the history; the annotation, still t2, does
	// not stop it.
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Thresholds = nil })
	next := waitState(t, lt, dilov1.StateExecuting)
	runAll(t, waitPods(t, lt, next.Status.Run, 2))
	waitStartAt(t, lt, next.Status.Run)
	waitFor(t, lt, "the new run sending", func(lt *dilov1.LoadTest) bool { return lt.Status.SendStartTime != nil })
	consistently(t, time.Second, func() error {
		cur := &dilov1.LoadTest{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(lt), cur); err != nil {
			return err
		}
		if cur.Status.Stopping != nil || cur.Status.State != dilov1.StateExecuting || cur.Status.LastHandledStop != "t2" {
			return fmt.Errorf("the new run: stopping %+v, state %s, lastHandledStop %q", cur.Status.Stopping, cur.Status.State, cur.Status.LastHandledStop)
		}
		if cur.Status.Progress != nil || cur.Status.SendStartTime == nil {
			return fmt.Errorf("the new run's progress %+v, sendStartTime %v: want none, and its own", cur.Status.Progress, cur.Status.SendStartTime)
		}
		if diff := cmp.Diff([]string{"1: failed/Stopped"}, historyOf(cur)); diff != "" {
			return fmt.Errorf("history (-want +got):\n%s", diff)
		}
		return nil
	})
}

// TestLoadTestStopBeforeSending: a run whose pods have not started sending ends at
// once when stopped, failed Stopped without results, its pods deleted; a run queued
// behind the namespace's cap too, without ever getting pods.
func TestLoadTestStopBeforeSending(t *testing.T) {
	ns, _ := setupWith(t, func(r *LoadTestReconciler) { r.MaxRunningPerNamespace = 1 })
	first := createLoadTest(t, ns, "first", 2, nil)
	waitState(t, first, dilov1.StateExecuting)
	pods := waitPods(t, first, 1, 2)
	setPodStatus(t, pods[0].Name, ns, running) // the other is still pending: the gate is closed

	queued := createLoadTest(t, ns, "queued", 1, nil)
	waitFor(t, queued, "queued", func(lt *dilov1.LoadTest) bool {
		return meta.IsStatusConditionTrue(lt.Status.Conditions, dilov1.ConditionQueued)
	})
	annotateStop(t, queued, "now")
	got := waitFailed(t, queued, dilov1.ReasonStopped, `("now"); its pods had not started sending, so there are no results`)
	if got.Status.Results != nil || len(runPods(t, queued, 0)) != 0 {
		t.Errorf("a queued run stopped: results %+v, %d pods; want none", got.Status.Results, len(runPods(t, queued, 0)))
	}
	if diff := cmp.Diff([]string{"1: failed/Stopped"}, historyOf(got)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	annotateStop(t, first, "now")
	got = waitFailed(t, first, dilov1.ReasonStopped, "its pods had not started sending")
	if got.Status.Results != nil || got.Status.Progress != nil {
		t.Errorf("results %+v, progress %+v; want none", got.Status.Results, got.Status.Progress)
	}
	waitGone(t, first)
	for _, p := range runPods(t, first, 0) {
		if _, ok := p.Annotations[dilov1.AnnotationStartAt]; ok {
			t.Errorf("pod %s got a start-at", p.Name)
		}
	}
}

// TestLoadTestStopThresholdBroken: status.stopping set by the poller (a live
// threshold) reaches the pods as a stop-at, and the run ends failed with its reason and
// message, with the results sent.
func TestLoadTestStopThresholdBroken(t *testing.T) {
	ns, _ := setupWith(t, sendingNow)
	lt := createLoadTest(t, ns, "abort", 2, func(lt *dilov1.LoadTest) {
		lt.Spec.Thresholds = &dilov1.Thresholds{MaxErrorRatio: "0.5", Abort: &dilov1.ThresholdAbort{}}
	})
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 2)
	runAll(t, pods)
	start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, 1))
	if err != nil {
		t.Fatal(err)
	}
	const why = "error ratio 0.9000 over the last 30s exceeds maxErrorRatio 0.5"
	patch := fmt.Sprintf(`{"status":{"stopping":{"reason":%q,"message":%q,"time":%q}}}`,
		dilov1.ReasonThresholdBroken, why, time.Now().UTC().Format(time.RFC3339))
	if err := env.Client.Status().Patch(context.Background(), lt, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	waitStopAt(t, lt, 1)
	msg := resultMessage(t, start, 10, 1, time.Millisecond) // the final ratio keeps the limit: not judged again
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(msg))
	}
	got := waitFailed(t, lt, dilov1.ReasonThresholdBroken, why+"; its pods sent 20 requests")
	if got.Status.Results == nil || got.Status.Results.Requests != 20 {
		t.Errorf("results %+v, want the 20 requests sent", got.Status.Results)
	}
}

// TestLoadTestStopAfterTheEnd: a stop that comes when every pod has ended, before any
// was told, ends the run Stopped anyway (the user asked), saying the results are
// complete.
func TestLoadTestStopAfterTheEnd(t *testing.T) {
	ns, mgr := setupWith(t, sendingNow)
	lt := createLoadTest(t, ns, "late", 2, nil)
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 2)
	runAll(t, pods)
	start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, 1))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, lt, "with a sendStartTime", func(lt *dilov1.LoadTest) bool { return lt.Status.SendStartTime != nil })
	mgr.stop()
	msg := resultMessage(t, start, 30, 0, time.Millisecond)
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(msg))
	}
	annotateStop(t, lt, "late")
	startManagerWith(t, ns, sendingNow)
	got := waitFailed(t, lt, dilov1.ReasonStopped, "its pods had all ended before the stop took effect, so these are the whole run's results: 60 requests")
	if got.Status.Results == nil || got.Status.Results.Requests != 60 {
		t.Errorf("results %+v, want 60 requests", got.Status.Results)
	}
	for _, p := range runPods(t, lt, 1) {
		if _, ok := p.Annotations[dilov1.AnnotationStopAt]; ok {
			t.Errorf("ended pod %s was told to stop", p.Name)
		}
	}
}

// createTimeline creates the timeline ConfigMap of lt's run, as the poller does.
func createTimeline(t *testing.T, lt *dilov1.LoadTest, run int64) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: dilov1.TimelineName(lt.Name, run), Namespace: lt.Namespace, Labels: dilov1.RunLabels(lt.Name, run),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: dilov1.GroupVersion.String(), Kind: "LoadTest", Name: lt.Name, UID: lt.UID}}},
		Data: map[string]string{"timeline.json": "[]"},
	}
	if err := env.Client.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	return cm
}

// exists says whether obj exists.
func exists(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// TestLoadTestHistory: a spec edit records the run it replaces (Replaced, its state,
// its timeline), an ended run its record; a lowered spec.historyLimit prunes the
// oldest, deletes their timelines and keeps the run.
func TestLoadTestHistory(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "hist", 1, nil)
	waitState(t, lt, dilov1.StateExecuting)
	waitPods(t, lt, 1, 1)
	tl1 := createTimeline(t, lt, 1)
	other := createTimeline(t, lt, 99) // no such run: deleted at the first prune
	notOurs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hist-timeline-98", Namespace: ns, Labels: dilov1.RunLabels("hist", 98)}}
	if err := env.Client.Create(context.Background(), notOurs); err != nil {
		t.Fatal(err)
	}

	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas = 2 })
	got := waitState(t, lt, dilov1.StateExecuting)
	if diff := cmp.Diff([]string{"1: executing/Replaced"}, historyOf(got)); diff != "" {
		t.Fatalf("history after a spec edit (-want +got):\n%s", diff)
	}
	if r := got.Status.History[0]; r.Timeline != tl1.Name || r.CompletionTime != nil || r.StartTime == nil {
		t.Errorf("record of the replaced run %+v, want timeline %s, a start and no completion", r, tl1.Name)
	}
	if err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		if exists(t, other) {
			return fmt.Errorf("the timeline of run 99, in no history, still exists")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !exists(t, tl1) || !exists(t, notOurs) {
		t.Errorf("a timeline in the history, or a ConfigMap the LoadTest does not own, was deleted")
	}

	run := got.Status.Run
	tl2 := createTimeline(t, got, run)
	pods := waitPods(t, lt, run, 2)
	runAll(t, pods)
	start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, run))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(resultMessage(t, start, 50, 0, time.Millisecond)))
	}
	got = waitState(t, lt, dilov1.StateFinished)
	want := []string{"1: executing/Replaced", fmt.Sprintf("%d: finished/Finished", run)}
	if diff := cmp.Diff(want, historyOf(got)); diff != "" {
		t.Fatalf("history after the run finished (-want +got):\n%s", diff)
	}
	if r := got.Status.History[1]; r.Timeline != tl2.Name || r.Requests != 100 || r.CompletionTime == nil || r.RunSpecHash != got.Status.RunSpecHash {
		t.Errorf("record of the finished run %+v, want its timeline, 100 requests, its completion and hash", r)
	}
	if p := got.Status.Progress; p == nil || !p.Final || p.Requests != 100 {
		t.Errorf("progress %+v, want the final 100 requests", p)
	}

	// Lowering the limit prunes run 1 and its timeline; the run stays as it is.
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.HistoryLimit = ptr.To[int32](1) })
	pruned := waitFor(t, lt, "pruned", func(lt *dilov1.LoadTest) bool { return len(lt.Status.History) == 1 })
	if diff := cmp.Diff(want[1:], historyOf(pruned)); diff != "" {
		t.Errorf("history once pruned (-want +got):\n%s", diff)
	}
	if pruned.Status.Run != run || pruned.Status.State != dilov1.StateFinished {
		t.Errorf("a historyLimit edit changed the run: %+v", pruned.Status)
	}
	if err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		if exists(t, tl1) {
			return fmt.Errorf("the timeline of run 1, pruned, still exists")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// 0: no record, but the current run's timeline stays.
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.HistoryLimit = ptr.To[int32](0) })
	waitFor(t, lt, "without history", func(lt *dilov1.LoadTest) bool { return len(lt.Status.History) == 0 })
	consistently(t, time.Second, func() error {
		if !exists(t, tl2) {
			return fmt.Errorf("the current run's timeline was deleted")
		}
		return nil
	})
}

// TestLoadTestStopWhileOldPodsLeave: a new run waiting for the pods of the run it
// replaced to be gone ends at once when stopped: it would never start.
func TestLoadTestStopWhileOldPodsLeave(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "leaving", 1, nil)
	waitState(t, lt, dilov1.StateExecuting)
	old := waitPods(t, lt, 1, 1)[0]
	const hold = "example.org/test-hold" // keeps the old pod, deleted, until the test lets it go
	patchPod := func(finalizers []string) {
		t.Helper()
		p := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&old), p); err != nil {
			t.Fatal(err)
		}
		orig := p.DeepCopy()
		p.Finalizers = finalizers
		if err := env.Client.Patch(context.Background(), p, client.MergeFrom(orig)); err != nil {
			t.Fatal(err)
		}
	}
	patchPod([]string{hold})
	t.Cleanup(func() { patchPod(nil) })

	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas = 2 })
	waitFor(t, lt, "a new run, pending", func(lt *dilov1.LoadTest) bool {
		return lt.Status.Run == 2 && lt.Status.State == dilov1.StatePending
	})
	annotateStop(t, lt, "now")
	got := waitFailed(t, lt, dilov1.ReasonStopped, "its pods had not started sending")
	if n := len(runPods(t, lt, 2)); n != 0 {
		t.Errorf("the stopped run has %d pods, want none", n)
	}
	if !exists(t, &old) {
		t.Fatalf("the old run's pod is gone already: the test proves nothing")
	}
	if diff := cmp.Diff([]string{"1: executing/Replaced", "2: failed/Stopped"}, historyOf(got)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestLoadTestRerun: a new value of example.org/rerun starts a new run of the same spec,
// numbered after the last (and a later spec edit never reuses a number); the run it
// follows stays in the history and its pods go. Values a LoadTest was created with,
// as in a manifest copied from a live object, start nothing and stop nothing.
func TestLoadTestRerun(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "again", 1, func(lt *dilov1.LoadTest) {
		lt.Annotations = map[string]string{dilov1.AnnotationRerun: "copied", dilov1.AnnotationStop: "copied"}
	})
	got := waitState(t, lt, dilov1.StateExecuting)
	if st := got.Status; st.Run != 1 || st.LastHandledRerun != "copied" || st.LastHandledStop != "copied" || st.Stopping != nil {
		t.Fatalf("first run: run %d, lastHandledRerun %q, lastHandledStop %q, stopping %+v; want run 1 going, both values handled",
			st.Run, st.LastHandledRerun, st.LastHandledStop, st.Stopping)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionReconciling); c == nil || c.Status != metav1.ConditionTrue || c.Reason != dilov1.ReasonExecuting {
		t.Errorf("an executing run's Reconciling condition: %+v", c)
	}
	pods := waitPods(t, lt, 1, 1)
	runAll(t, pods)
	start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, 1))
	if err != nil {
		t.Fatal(err)
	}
	setPodStatus(t, pods[0].Name, ns, succeeded(resultMessage(t, start, 50, 0, time.Millisecond)))
	waitState(t, lt, dilov1.StateFinished)

	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Annotations[dilov1.AnnotationRerun] = "again" })
	got = waitFor(t, lt, "run 2", func(lt *dilov1.LoadTest) bool { return lt.Status.Run == 2 })
	if st := got.Status; st.LastHandledRerun != "again" || st.RunSpecHash == "" || st.ObservedGeneration != got.Generation || st.Results != nil {
		t.Errorf("rerun status %+v; want run 2 from scratch, the value handled", st)
	}
	if diff := cmp.Diff([]string{"1: finished/Finished"}, historyOf(got)); diff != "" {
		t.Errorf("history after a rerun (-want +got):\n%s", diff)
	}
	waitGone(t, lt, dilov1.PodName("again", 2, 0))
	waitPods(t, lt, 2, 1)
	waitFor(t, lt, "run 2 executing", func(lt *dilov1.LoadTest) bool { return lt.Status.Run == 2 && lt.Status.State == dilov1.StateExecuting })
	waitEvents(t, lt, "RunStarted")

	// A rerun while the run goes replaces it, as a spec edit does; then a spec edit
	// takes the next number, not its generation's (already used).
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Annotations[dilov1.AnnotationRerun] = "third" })
	got = waitFor(t, lt, "run 3", func(lt *dilov1.LoadTest) bool { return lt.Status.Run == 3 })
	if diff := cmp.Diff([]string{"1: finished/Finished", "2: executing/Replaced"}, historyOf(got)); diff != "" {
		t.Errorf("history after a rerun of a going run (-want +got):\n%s", diff)
	}
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas = 2 })
	got = waitFor(t, lt, "the edit's run", func(lt *dilov1.LoadTest) bool {
		return lt.Status.ObservedGeneration == lt.Generation && lt.Status.Run > 3
	})
	if got.Generation != 2 || got.Status.Run != 4 {
		t.Errorf("after a spec edit: generation %d run %d; want generation 2, run 4", got.Generation, got.Status.Run)
	}
	waitPods(t, lt, 4, 2)
}
