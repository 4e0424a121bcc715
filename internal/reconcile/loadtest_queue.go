package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// The queue: with LoadTestReconciler.MaxRunningPerNamespace set, at most that many runs
// hold a slot in a namespace at once. A run holds one while it executes, and while it is
// pending once admitted (its pods were created, or its Queued condition is False); and
// so does a LoadTest any of whose pods has not ended, whatever its status says: the pods
// of a failed run, or of a deleted LoadTest, may take seconds to stop. A pending run
// that was not admitted and has no pods waits in the namespace's queue, ordered by
// status.startTime, then name; admitRun starts it when the running runs and those ahead
// of it leave a slot free. Everything the decision needs is in the LoadTests' status and
// their pods, so a restarted manager goes on with the same queue.

// maxQueueNames bounds the names a Queued message lists, however many LoadTests the
// namespace holds, so that it fits the API server's limit on an Event's note (1024
// bytes), far below its limit on a condition's message.
const maxQueueNames = 5

// admitRun holds a pending run that has no pods yet behind the cap on runs executing at
// once in the namespace: it lists the namespace's LoadTests with the APIReader, and
// DiLO's pods there from the cache, and decides with queueDecision. An admitted run
// gets Queued=False and createPods goes on; a queued one gets Queued=True, naming what
// it waits behind, and the reconcile stops there: no pods, and no failure check
// (spec.deadlineSeconds counts from when the run leaves the queue). A run that holds a
// slot already is left alone, and so is one being stopped: stopRun ends it.
//
// Two reconciles never both take the last slot: the controller reconciles one LoadTest
// at a time, and the LoadTests are read live, so they include the slot taken by the
// previous reconcile, whose status patch (and pods) the cache may not have yet. The
// cache may only be late in showing that pods ended or are gone, which keeps a slot
// taken a little longer.
//
// Without a cap it does nothing, but admit a run that a manager with a cap queued.
func (r *LoadTestReconciler) admitRun(ctx context.Context, s *runScope) (bool, error) {
	lt := s.lt
	if lt.Status.State != dilov1.StatePending || len(s.pods) > 0 || runAdmitted(lt) || lt.Status.Stopping != nil {
		return false, nil
	}
	if r.MaxRunningPerNamespace <= 0 {
		if meta.IsStatusConditionTrue(lt.Status.Conditions, dilov1.ConditionQueued) {
			r.admit(s, "the manager no longer caps how many runs execute at once")
		}
		return false, nil
	}
	var list dilov1.LoadTestList
	if err := r.APIReader.List(ctx, &list, client.InNamespace(lt.Namespace)); err != nil {
		return false, fmt.Errorf("failed to list the LoadTests of namespace %s: %w", lt.Namespace, err)
	}
	i := slices.IndexFunc(list.Items, func(o dilov1.LoadTest) bool { return o.UID == lt.UID })
	if i < 0 {
		s.deleted = true // gone since it was read: no status to patch
		return true, nil
	}
	if list.Items[i].ResourceVersion != lt.ResourceVersion {
		// The cache is behind this LoadTest: a decision taken on it could start a run
		// already queued or started by the previous reconcile, and the patch's
		// optimistic lock would drop its status anyway. The newer one comes next.
		log.FromContext(ctx).V(1).Info("LoadTest changed since it was read; waiting for the newer one before queuing its run")
		return true, nil
	}
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(lt.Namespace), client.HasLabels{dilov1.LabelLoadTest},
		client.MatchingLabels{dilov1.LabelManagedBy: dilov1.ManagedByDiLO}); err != nil {
		return false, fmt.Errorf("failed to list the pods of namespace %s: %w", lt.Namespace, err)
	}
	limit := r.MaxRunningPerNamespace
	admit, running, ahead := queueDecision(lt, list.Items, pods.Items, limit)
	if admit {
		r.admit(s, runningPhrase(lt.Namespace, limit, running, true))
		return false, nil
	}
	msg := queuedMessage(lt.Namespace, limit, running, ahead)
	wasQueued := meta.IsStatusConditionTrue(lt.Status.Conditions, dilov1.ConditionQueued)
	meta.SetStatusCondition(&lt.Status.Conditions, metav1.Condition{
		Type: dilov1.ConditionQueued, Status: metav1.ConditionTrue, ObservedGeneration: s.lt.Generation,
		Reason: dilov1.ReasonQueued, Message: msg,
	})
	if !wasQueued {
		log.FromContext(ctx).Info("Queued run: the namespace's runs are capped", "run", s.run, "running", len(running), "ahead", len(ahead))
		r.recordQueue(lt, dilov1.ReasonQueued, "QueueRun", "Run %d queued: %s", s.run, msg)
	}
	return true, nil
}

// admit sets Queued=False on the run, saying why it may start. A run that was queued
// starts now: status.startTime is reset to this instant, as a Job's is when it is
// resumed, so that spec.deadlineSeconds and the run's duration count from its start,
// not from when it joined the queue; and an Event records its start.
func (r *LoadTestReconciler) admit(s *runScope, why string) {
	st := &s.lt.Status
	msg := "started: " + why
	if c := meta.FindStatusCondition(st.Conditions, dilov1.ConditionQueued); c != nil && c.Status == metav1.ConditionTrue {
		msg = fmt.Sprintf("started after %s in the queue: %s", s.now.Sub(c.LastTransitionTime.Time).Round(time.Second), why)
		st.StartTime = &metav1.Time{Time: s.now}
		r.recordQueue(s.lt, dilov1.ReasonAdmitted, "AdmitRun", "Run %d %s", s.run, msg)
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: dilov1.ConditionQueued, Status: metav1.ConditionFalse, ObservedGeneration: s.lt.Generation,
		Reason: dilov1.ReasonAdmitted, Message: msg,
	})
}

// recordQueue records a queue Event on lt. It is recorded when the step decides, before
// the status patch: a patch that fails is retried, and may record it twice.
func (r *LoadTestReconciler) recordQueue(lt *dilov1.LoadTest, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, reason, action, note, args...)
	}
}

// queueDecision decides whether self's run may start when at most limit runs may hold
// a slot at once in its namespace, others being the namespace's LoadTests and pods its
// load-generator pods (self's among them or not: they are recognised by name). running
// are the LoadTests holding a slot, by name: by their status, or because one of their
// pods has not ended; ahead the others waiting before self in the queue, in queue
// order. self starts when they leave a slot for it: running and ahead together are
// fewer than limit.
func queueDecision(self *dilov1.LoadTest, others []dilov1.LoadTest, pods []corev1.Pod, limit int) (admit bool, running, ahead []string) {
	stopping := map[string]bool{}
	for i := range pods {
		if name := pods[i].Labels[dilov1.LabelLoadTest]; name != "" && name != self.Name && !podEnded(&pods[i]) {
			stopping[name] = true
		}
	}
	var before []*dilov1.LoadTest
	for i := range others {
		o := &others[i]
		switch {
		case o.Name == self.Name:
		case holdsSlot(o) || stopping[o.Name]:
			running = append(running, o.Name)
			delete(stopping, o.Name)
		case inQueue(o) && queueOrder(o, self) < 0:
			before = append(before, o)
		}
	}
	for name := range stopping { // their LoadTest is gone
		running = append(running, name)
	}
	slices.Sort(running)
	slices.SortFunc(before, queueOrder)
	for _, o := range before {
		ahead = append(ahead, o.Name)
	}
	return len(running)+len(ahead) < limit, running, ahead
}

// holdsSlot reports whether lt's run counts against the namespace's cap: it executes, or
// it is pending and was admitted (it has pods, or its Queued condition is False). A
// LoadTest being deleted keeps its slot until it is gone: its pods may still run.
func holdsSlot(lt *dilov1.LoadTest) bool {
	switch lt.Status.State {
	case dilov1.StateExecuting:
		return true
	case dilov1.StatePending:
		return len(lt.Status.Children) > 0 || runAdmitted(lt)
	}
	return false
}

// runAdmitted reports whether lt's run got a slot: its Queued condition is False.
func runAdmitted(lt *dilov1.LoadTest) bool {
	c := meta.FindStatusCondition(lt.Status.Conditions, dilov1.ConditionQueued)
	return c != nil && c.Status == metav1.ConditionFalse
}

// inQueue reports whether lt's run waits for a slot (or is about to be decided): pending,
// not admitted, and its LoadTest not being deleted.
func inQueue(lt *dilov1.LoadTest) bool {
	return lt.Status.State == dilov1.StatePending && !holdsSlot(lt) && lt.DeletionTimestamp == nil
}

// queueOrder orders queued runs: by status.startTime (unset last), then name. Times are
// compared to the second, as the API server stores them, so that a run whose startTime
// this reconcile just set sorts as it will once stored.
func queueOrder(a, b *dilov1.LoadTest) int {
	at, bt := a.Status.StartTime, b.Status.StartTime
	switch {
	case at == nil && bt != nil:
		return 1
	case at != nil && bt == nil:
		return -1
	case at != nil && bt != nil && at.Unix() != bt.Unix():
		return cmp.Compare(at.Unix(), bt.Unix())
	}
	return cmp.Compare(a.Name, b.Name)
}

// queuedMessage is the Queued condition's message of a run that waits: how many of the
// limit runs allowed at once run in namespace ns, and which, and which are ahead of it.
func queuedMessage(ns string, limit int, running, ahead []string) string {
	msg := "waiting for a free slot: " + runningPhrase(ns, limit, running, false)
	switch len(ahead) {
	case 0:
	case 1:
		msg += fmt.Sprintf("; 1 run is ahead of this one in the queue (%s)", nameList(ahead))
	default:
		msg += fmt.Sprintf("; %d runs are ahead of this one in the queue (%s)", len(ahead), nameList(ahead))
	}
	return msg
}

// runningPhrase says how many of the limit runs allowed at once in namespace ns are
// running (were, when past), and which: "2 of 2 runs allowed at once in namespace
// team-a are running (a, b)".
func runningPhrase(ns string, limit int, running []string, past bool) string {
	verb := "are"
	switch {
	case len(running) == 1 && past:
		verb = "was"
	case len(running) == 1:
		verb = "is"
	case past:
		verb = "were"
	}
	msg := fmt.Sprintf("%d of %d runs allowed at once in namespace %s %s running", len(running), limit, ns, verb)
	if len(running) > 0 {
		msg += " (" + nameList(running) + ")"
	}
	return msg
}

// nameList joins names with commas, the first maxQueueNames of them only.
func nameList(names []string) string {
	if len(names) <= maxQueueNames {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxQueueNames], ", "), len(names)-maxQueueNames)
}

// queueWatch is the event handler of LoadTests that, when the runs are capped,
// reconciles the LoadTests waiting in a namespace's queue when another LoadTest of the
// namespace may have let them move: see queueMoved. Without a cap it does nothing.
func (r *LoadTestReconciler) queueWatch() handler.EventHandler {
	if r.MaxRunningPerNamespace <= 0 {
		return handler.Funcs{}
	}
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			old, okOld := e.ObjectOld.(*dilov1.LoadTest)
			cur, okNew := e.ObjectNew.(*dilov1.LoadTest)
			if okOld && okNew && queueMoved(old, cur) {
				r.enqueueWaiting(ctx, cur.Namespace, cur.Name, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			if lt, ok := e.Object.(*dilov1.LoadTest); ok && queueMoved(lt, nil) {
				r.enqueueWaiting(ctx, lt.Namespace, lt.Name, q)
			}
		},
	}
}

// queuePodWatch is the event handler of pods that, when the runs are capped, reconciles
// the LoadTests waiting in a namespace's queue when a load-generator pod there ends or
// is gone: the last one of a LoadTest whose status no longer holds a slot frees it.
// Without a cap it does nothing.
func (r *LoadTestReconciler) queuePodWatch() handler.EventHandler {
	if r.MaxRunningPerNamespace <= 0 {
		return handler.Funcs{}
	}
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			old, okOld := e.ObjectOld.(*corev1.Pod)
			cur, okNew := e.ObjectNew.(*corev1.Pod)
			if okOld && okNew && cur.Labels[dilov1.LabelLoadTest] != "" && !podEnded(old) && podEnded(cur) {
				r.enqueueWaiting(ctx, cur.Namespace, cur.Labels[dilov1.LabelLoadTest], q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			if pod, ok := e.Object.(*corev1.Pod); ok && pod.Labels[dilov1.LabelLoadTest] != "" && !podEnded(pod) {
				r.enqueueWaiting(ctx, pod.Namespace, pod.Labels[dilov1.LabelLoadTest], q)
			}
		},
	}
}

// queueMoved reports whether a LoadTest going from old to cur (nil: deleted) changes the
// queue for the runs waiting in its namespace: it held a slot and no longer holds it (its
// run ended, a spec edit restarted it, it was deleted), or it was in the queue and left
// it (started, ended, deleted) or moved in it (a new run), or it joined the queue: it
// frees nothing then, but the runs queued behind it must name it in their message.
func queueMoved(old, cur *dilov1.LoadTest) bool {
	switch {
	case holdsSlot(old):
		return cur == nil || !holdsSlot(cur)
	case inQueue(old):
		return cur == nil || !inQueue(cur) || queueOrder(old, cur) != 0
	}
	return cur != nil && inQueue(cur)
}

// enqueueWaiting queues a reconcile of every LoadTest of namespace ns, but the one named
// moved (its own events reconcile it), that waits in the queue or has no status yet,
// reading them from the cache. The latter, and the waiting ones whose Queued condition
// the cache does not hold yet, may be in the middle of a reconcile that read moved
// before it moved: the reconcile queued now runs after that one and decides again.
func (r *LoadTestReconciler) enqueueWaiting(ctx context.Context, ns, moved string, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	var list dilov1.LoadTestList
	if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list the LoadTests waiting in the queue", "namespace", ns)
		return
	}
	for i := range list.Items {
		lt := &list.Items[i]
		if lt.Name != moved && (inQueue(lt) || lt.Status.State == "" && lt.DeletionTimestamp == nil) {
			q.Add(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(lt)})
		}
	}
}
