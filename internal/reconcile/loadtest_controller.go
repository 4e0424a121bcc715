package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/metrics"
	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/report"
)

// LoadTestReconciler runs a LoadTest's runs: see the package documentation.
type LoadTestReconciler struct {
	client.Client
	// APIReader reads around the cache, to confirm that a Service is really missing.
	APIReader client.Reader
	// Recorder records the Events that tell a LoadTest's story.
	Recorder events.EventRecorder
	// AgentImage is the image of the load-generator pods.
	AgentImage string
	// StartDelay is how far in the future the start-at instant is set; 0 means
	// dilov1.StartDelaySeconds.
	StartDelay time.Duration
	// Now returns the current time; nil means time.Now (tests move the clock).
	Now func() time.Time
	// Policy is what the cluster's DiLO allows a LoadTest, checked again when a run
	// starts; the zero value means policy.Default().
	Policy policy.Policy
	// Logs reads the agents' logs, where their full result documents are; nil reads
	// none, and the results come from the pods' termination messages alone.
	Logs PodLogReader
	// MaxRunningPerNamespace caps how many runs execute at once in a namespace; the
	// runs beyond it wait, pending, in the namespace's queue (see admitRun). 0: no cap.
	MaxRunningPerNamespace int
}

// +kubebuilder:rbac:groups=example.org,resources=loadtests,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=example.org,resources=loadtests/status,verbs=get;patch
// +kubebuilder:rbac:groups=example.org,resources=loadtests/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;create;update;patch;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the reconciler with mgr: it watches LoadTests, the pods
// they control, and the Services (and their EndpointSlices) they send to. Every change
// of a LoadTest is reconciled, not only those of its spec: the example.org/stop
// annotation stops a run, and status.stopping, which the poller sets when a live
// threshold breaks, must reach the run's pods at once. It watches no ConfigMap: the
// timelines are read and deleted live, when a run ends or is pruned from the history.
func (r *LoadTestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Policy.MaxReplicas == 0 {
		r.Policy = policy.Default()
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &dilov1.LoadTest{}, serviceNameField, func(o client.Object) []string {
		return []string{o.(*dilov1.LoadTest).Spec.Test.ServiceName}
	}); err != nil {
		return fmt.Errorf("failed to index LoadTests by Service: %w", err)
	}
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("dilo-loadtest")
	}
	if r.Logs == nil {
		logs, err := NewPodLogReader(mgr.GetConfig())
		if err != nil {
			return err
		}
		r.Logs = logs
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&dilov1.LoadTest{}).
		Owns(&corev1.Pod{}).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.loadTestsOfService)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.loadTestsOfEndpointSlice)).
		Watches(&dilov1.LoadTest{}, r.queueWatch()).
		Watches(&corev1.Pod{}, r.queuePodWatch()).
		Named("loadtest").
		Complete(r)
}

// serviceNameField indexes LoadTests by spec.test.serviceName.
const serviceNameField = "spec.test.serviceName"

// loadTestsOfService maps a Service to the LoadTests of its namespace whose runs are
// going and send to it: a change of their target must fail them.
func (r *LoadTestReconciler) loadTestsOfService(ctx context.Context, svc client.Object) []ctrl.Request {
	return r.runningLoadTestsOf(ctx, svc.GetNamespace(), svc.GetName())
}

// loadTestsOfEndpointSlice maps an EndpointSlice to the running LoadTests that send to
// its Service.
func (r *LoadTestReconciler) loadTestsOfEndpointSlice(ctx context.Context, es client.Object) []ctrl.Request {
	name := es.GetLabels()[discoveryv1.LabelServiceName]
	if name == "" {
		return nil
	}
	return r.runningLoadTestsOf(ctx, es.GetNamespace(), name)
}

func (r *LoadTestReconciler) runningLoadTestsOf(ctx context.Context, namespace, service string) []ctrl.Request {
	var list dilov1.LoadTestList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{serviceNameField: service}); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list the LoadTests of a Service", "service", service)
		return nil
	}
	var reqs []ctrl.Request
	for _, lt := range list.Items {
		if st := lt.Status.State; st == dilov1.StatePending || st == dilov1.StateExecuting {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&lt)})
		}
	}
	return reqs
}

// runScope is everything one reconcile of a LoadTest learned; the status is computed
// from it once, at the end.
type runScope struct {
	lt     *dilov1.LoadTest
	before *dilov1.LoadTest
	now    time.Time

	// run is the current run; newRun is set when this reconcile started it, and rerun
	// when it did because the example.org/rerun annotation asked, the spec unchanged.
	run    int64
	newRun bool
	rerun  bool
	// names are the run's pod names by replica; pods the ones that exist.
	names []string
	pods  map[string]*corev1.Pod
	// stale counts the pods of older runs (or of an earlier LoadTest of the same
	// name) that still exist; the run waits for them to be gone.
	stale int
	// stopIgnored is set when this reconcile handled a stop asked of a run that had
	// ended; stopComplete when the run being stopped had ended before its pods were
	// told (see decideStop).
	stopIgnored  bool
	stopComplete bool
	// pruneTimelines is set when the timelines of runs that are neither current nor in
	// the history may be left to delete: a new run started, or records were pruned.
	pruneTimelines bool
	// stopPods is set when the run failed in this reconcile: its running pods are
	// deleted once the failure is recorded.
	stopPods bool
	// assessment is what the run's pods say, once assessed; failure is why the run
	// failed.
	assessed   bool
	assessment runAssessment
	failure    *failure
	results    *dilov1.Results
	// baseline is the run the results were compared with (spec.thresholds.baseline);
	// noBaseline says why there was none, when one was asked for.
	baseline   *dilov1.BaselineRun
	noBaseline string
	// requeueAfter is when an ended run's ttlSecondsAfterFinished passes; expired is
	// how many of its pods this reconcile deleted for it, and deleted is set when it
	// deleted the LoadTest itself.
	requeueAfter time.Duration
	expired      int
	deleted      bool
	// tick is the scheduled instant of spec.schedule's tick that is due (zero: none);
	// tickRun is set when it started the new run, tickSkipped when concurrencyPolicy
	// Forbid skipped it. untilTick is how long until the next tick (0: none);
	// scheduleErr why spec.schedule cannot be read. See scheduleTick.
	tick        time.Time
	tickRun     bool
	tickSkipped bool
	untilTick   time.Duration
	scheduleErr error
}

// step is one named step of a reconcile; done stops the steps after it.
type step struct {
	name string
	fn   func(context.Context, *runScope) (done bool, err error)
}

// Reconcile moves a LoadTest's run along. The steps, in order:
//
//  1. startRun: a new spec, a new value of the example.org/rerun annotation, or a tick
//     of spec.schedule starts a new run, from pending; the run it replaces goes into
//     the history. A LoadTest created with a schedule waits, scheduled, for its first
//     tick.
//  2. takeStopRequest: a new value of the example.org/stop annotation stops the run,
//     if it is going (status.stopping).
//  3. deleteStalePods: delete the pods of older runs; wait until they are gone.
//  4. stopEndedRun: a finished or failed run is the record; only its running pods
//     are stopped (failed run), and, once spec.ttlSecondsAfterFinished has passed,
//     its pods (or the LoadTest) deleted. Nothing else happens until the spec changes,
//     a rerun is asked or a tick is due; nor while scheduled.
//  5. admitRun, createPods: while pending and not being stopped, wait in the
//     namespace's queue for a free slot when MaxRunningPerNamespace caps the runs (see
//     admitRun); then resolve the Service and create the missing pods.
//  6. assessPods: fail fast on a broken pod or the deadline; see assessRun.
//  7. checkTarget: fail a run whose Service is no longer the one it started with.
//  8. stopRun: a run being stopped (status.stopping) ends at once if its pods have not
//     started sending, else its running pods are told when to stop; see decideStop.
//  9. openStartGate: once every pod runs, set the same start-at on all of them.
//  10. collectResults: once every pod succeeded, merge their results, check thresholds
//     (or end a stopped run with its stop's reason).
//  11. stopFailedRun: delete the running pods of a run that failed, once the failure
//     is recorded.
//
// The status is then computed from the scope and patched (see patchStatus).
func (r *LoadTestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	lt := &dilov1.LoadTest{}
	if err := r.Get(ctx, req.NamespacedName, lt); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Forget(req.Namespace, req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !lt.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the garbage collector deletes the pods
	}
	s := &runScope{lt: lt, before: lt.DeepCopy(), now: r.now()}
	defer func() {
		if s.deleted {
			return
		}
		if err := r.patchStatus(ctx, s); err != nil {
			retErr = err
			res = ctrl.Result{}
		}
	}()
	for _, st := range []step{
		{"startRun", r.startRun},
		{"takeStopRequest", r.takeStopRequest},
		{"deleteStalePods", r.deleteStalePods},
		{"stopEndedRun", r.stopEndedRun},
		{"admitRun", r.admitRun},
		{"createPods", r.createPods},
		{"assessPods", r.assessPods},
		{"checkTarget", r.checkTarget},
		{"stopRun", r.stopRun},
		{"openStartGate", r.openStartGate},
		{"collectResults", r.collectResults},
		{"stopFailedRun", r.stopFailedRun},
	} {
		done, err := st.fn(ctx, s)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to %s: %w", st.name, err)
		}
		if done {
			break
		}
	}
	requeue := s.assessment.RequeueAfter
	if s.requeueAfter > 0 {
		requeue = s.requeueAfter
	}
	return ctrl.Result{RequeueAfter: soonest(requeue, s.untilTick)}, nil
}

// now is the reconciler's clock.
func (r *LoadTestReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// startRun starts a new run when the spec is not the current run's, a new value of
// the example.org/rerun annotation asks for one, or a tick of spec.schedule is due (see
// scheduleTick): status restarts from pending, keeping only what is the LoadTest's
// rather than the run's: the history, where the run it replaces is recorded (Replaced,
// if it had not ended), the stop and rerun values handled last, and the schedule's
// times. An edit of spec.updatePolicy, the TTL fields, spec.historyLimit or the
// schedule fields alone keeps the run going (dilov1.RunSpec), so that a user can lock a
// running test (or unlock it, or reschedule it) without restarting it. A new LoadTest
// takes the stop and rerun values it was created with as handled: a manifest copied
// from a live object starts, and runs, once; with a schedule it waits, scheduled, for
// the first tick instead, as a CronJob does. A tick while a run goes is skipped unless
// concurrencyPolicy is Replace; it counts as acted on all the same (lastScheduleTime),
// so that it never starts a run late. A spec edit or a rerun starts a run at once,
// schedule or not: what the user just asked for is not put off to a tick.
func (r *LoadTestReconciler) startRun(ctx context.Context, s *runScope) (bool, error) {
	st := &s.lt.Status
	hash, err := runSpecHash(s.lt.Spec)
	if err != nil {
		return false, err
	}
	stop, rerun := st.LastHandledStop, st.LastHandledRerun
	if st.State == "" {
		stop, rerun = s.lt.Annotations[dilov1.AnnotationStop], s.lt.Annotations[dilov1.AnnotationRerun]
	}
	asked := s.lt.Annotations[dilov1.AnnotationRerun] != rerun
	scheduleTick(s)
	act, tickRun, tickSkipped := decideStart(startInput{
		State: st.State, Run: st.Run, SpecChanged: st.RunSpecHash != hash, Rerun: asked,
		Scheduled: s.lt.Spec.Schedule != "", Tick: !s.tick.IsZero(),
		Replace: s.lt.Spec.ConcurrencyPolicy == dilov1.ConcurrencyPolicyReplace,
	})
	if tickSkipped {
		st.LastScheduleTime, s.tickSkipped = &metav1.Time{Time: s.tick}, true
	}
	switch act {
	case waitTick:
		*st = dilov1.LoadTestStatus{
			State:            dilov1.StateScheduled,
			RunSpecHash:      hash,
			LastHandledStop:  stop,
			LastHandledRerun: rerun,
			LastScheduleTime: st.LastScheduleTime,
			NextScheduleTime: st.NextScheduleTime,
			History:          st.History,
		}
	case startNew:
		history := st.History
		if st.State != "" && st.Run != 0 {
			timeline, err := r.timelineOf(ctx, s.lt, st.Run)
			if err != nil {
				return false, err
			}
			history = recordRun(history, runRecord(st, timeline))
			s.pruneTimelines = true // the replaced run is no longer current
		}
		s.newRun, s.rerun, s.tickRun = true, asked && st.RunSpecHash == hash, tickRun
		last := st.LastScheduleTime
		if !s.tick.IsZero() {
			last = &metav1.Time{Time: s.tick} // consumed by this run, whatever started it
		}
		*st = dilov1.LoadTestStatus{
			State:            dilov1.StatePending,
			Run:              nextRun(st.Run, s.lt.Generation),
			RunSpecHash:      hash,
			StartTime:        &metav1.Time{Time: s.now},
			LastHandledStop:  stop,
			LastHandledRerun: s.lt.Annotations[dilov1.AnnotationRerun],
			LastScheduleTime: last,
			NextScheduleTime: st.NextScheduleTime,
			History:          history,
		}
	}
	st.ObservedGeneration = s.lt.Generation
	s.run = st.Run
	s.names = make([]string, s.lt.Spec.Replicas)
	for i := range s.names {
		s.names[i] = dilov1.PodName(s.lt.Name, s.run, int32(i))
	}
	return false, nil
}

// nextRun is the number of the run that follows run (0: none yet) for a LoadTest at
// generation: the generation, as long as runs start only for spec edits, and never a
// number already used, since a rerun starts a run with no new generation.
func nextRun(run, generation int64) int64 {
	return max(generation, run+1)
}

// deleteStalePods lists the LoadTest's pods, keeps the current run's and deletes the
// others: older runs', and those of an earlier LoadTest of the same name. A new run
// waits, pending, until they are gone: it never mixes with an old one (a run being
// stopped does not wait: it never starts). A pod that only carries the labels,
// controlled by anything but a LoadTest of this name, is not DiLO's to delete, nor to
// wait for.
func (r *LoadTestReconciler) deleteStalePods(ctx context.Context, s *runScope) (bool, error) {
	var list corev1.PodList
	if err := r.List(ctx, &list, client.InNamespace(s.lt.Namespace),
		client.MatchingLabels{dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelLoadTest: s.lt.Name}); err != nil {
		return false, fmt.Errorf("failed to list pods: %w", err)
	}
	s.pods = map[string]*corev1.Pod{}
	run := strconv.FormatInt(s.run, 10)
	for i := range list.Items {
		pod := &list.Items[i]
		if metav1.IsControlledBy(pod, s.lt) && pod.Labels[dilov1.LabelRun] == run {
			if slices.Contains(s.names, pod.Name) {
				s.pods[pod.Name] = pod
			}
			continue
		}
		if ref := metav1.GetControllerOf(pod); ref == nil || ref.Kind != "LoadTest" || ref.Name != s.lt.Name ||
			!strings.HasPrefix(ref.APIVersion, dilov1.GroupVersion.Group+"/") {
			continue
		}
		s.stale++
		if pod.DeletionTimestamp != nil {
			continue
		}
		if err := r.deletePod(ctx, pod); err != nil {
			return false, err
		}
		log.FromContext(ctx).Info("Deleted pod of an older run", "pod", client.ObjectKeyFromObject(pod), "run", pod.Labels[dilov1.LabelRun])
	}
	// A run being stopped need not wait: it will never start, and stopRun ends it now.
	return s.stale > 0 && s.lt.Status.Stopping == nil, nil
}

// stopEndedRun leaves an ended run alone, except that the running pods of a failed
// run are deleted, and that spec.ttlSecondsAfterFinished is applied (expireEndedRun).
func (r *LoadTestReconciler) stopEndedRun(ctx context.Context, s *runScope) (bool, error) {
	switch s.lt.Status.State {
	case dilov1.StateScheduled:
		return true, nil // no run yet: the first tick starts one
	case dilov1.StateFinished:
		return true, r.expireEndedRun(ctx, s)
	case dilov1.StateFailed:
		if err := r.deleteRunningPods(ctx, s); err != nil {
			return true, err
		}
		return true, r.expireEndedRun(ctx, s)
	}
	return false, nil
}

// expireEndedRun applies spec.ttlSecondsAfterFinished to an ended run: before it has
// passed, a requeue is scheduled for that instant (no polling); after, the run's pods
// are deleted, or the LoadTest itself with spec.ttlDeletesLoadTest. The status stays.
func (r *LoadTestReconciler) expireEndedRun(ctx context.Context, s *runScope) error {
	left, ok := ttlLeft(s.lt, s.now)
	if !ok {
		return nil
	}
	if left > 0 {
		s.requeueAfter = left
		return nil
	}
	if s.lt.Spec.TTLDeletesLoadTest {
		err := r.Delete(ctx, s.lt, client.Preconditions{UID: &s.lt.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("failed to delete the LoadTest after ttlSecondsAfterFinished: %w", err)
		}
		s.deleted = true
		log.FromContext(ctx).Info("Deleted LoadTest: ttlSecondsAfterFinished passed", "run", s.run)
		return nil
	}
	for _, name := range s.names {
		pod, ok := s.pods[name]
		if !ok || pod.DeletionTimestamp != nil {
			continue
		}
		if err := r.deletePod(ctx, pod); err != nil {
			return err
		}
		s.expired++
	}
	if s.expired > 0 {
		log.FromContext(ctx).Info("Deleted pods of an ended run: ttlSecondsAfterFinished passed", "run", s.run, "pods", s.expired)
	}
	return nil
}

// ttlLeft is how long until lt's ended run's ttlSecondsAfterFinished passes, counted
// from status.completionTime (0 or less: it has passed); ok is false when there is no
// TTL to apply (unset, or the run has not ended).
func ttlLeft(lt *dilov1.LoadTest, now time.Time) (left time.Duration, ok bool) {
	ttl, end := lt.Spec.TTLSecondsAfterFinished, lt.Status.CompletionTime
	if ttl == nil || end == nil || (lt.Status.State != dilov1.StateFinished && lt.Status.State != dilov1.StateFailed) {
		return 0, false
	}
	return end.Add(time.Duration(*ttl) * time.Second).Sub(now), true
}

// createPods creates the run's missing pods while it is pending, unless it is being
// stopped (stopRun ends it). When the run starts, its load is checked against the
// cluster's policy, and its Service is looked up and recorded as the run's target
// (status.target): the run fails when the Service is missing or unusable (the webhook
// checks it too, but the Service may have changed since, and the webhooks may have
// been off). Pods created later in the run, to replace a deleted pending one, send to
// the recorded target.
func (r *LoadTestReconciler) createPods(ctx context.Context, s *runScope) (bool, error) {
	if s.lt.Status.State != dilov1.StatePending || len(s.pods) == len(s.names) || s.lt.Status.Stopping != nil {
		return false, nil
	}
	if s.lt.Status.Target == nil {
		if errs := r.Policy.CheckLoad(&s.lt.Spec); len(errs) > 0 {
			s.failure = &failure{dilov1.ReasonLimitExceeded, errs.ToAggregate().Error()}
			return false, nil
		}
		svc, slices, err := r.getService(ctx, s.lt, r.Client)
		if err != nil {
			return false, err
		}
		tgt, f := resolveTarget(s.lt, svc, slices, r.Policy)
		if f != nil {
			s.failure = f
			return false, nil
		}
		if f, err := r.checkReferences(ctx, s.lt); err != nil || f != nil {
			s.failure = f
			return false, err
		}
		s.lt.Status.Target = tgt
	}
	for i, name := range s.names {
		if _, ok := s.pods[name]; ok {
			continue
		}
		pod, err := desiredLoadTestPod(s.lt, s.run, int32(i), s.lt.Status.Target, r.AgentImage)
		if err != nil {
			s.failure = &failure{Reason: dilov1.ReasonPodRejected, Message: fmt.Sprintf("DiLO could not build pod %s: %v", name, err)}
			return false, nil
		}
		if err := r.Create(ctx, pod); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue // created before the cache saw it
			}
			if f := podRejected(name, err); f != nil {
				s.failure = f
				return false, nil
			}
			return false, fmt.Errorf("failed to create pod %s: %w", name, err)
		}
		log.FromContext(ctx).V(1).Info("Created pod", "pod", client.ObjectKeyFromObject(pod))
	}
	return false, nil
}

// checkReferences fails a run, before any of its pods exists, when a Secret or
// ConfigMap key its test reads is missing: its pods would otherwise wait for the
// volume forever. Each is read live, never cached: the manager keeps no Secret, and
// only the names of its keys are looked at.
func (r *LoadTestReconciler) checkReferences(ctx context.Context, lt *dilov1.LoadTest) (*failure, error) {
	for _, ref := range lt.Spec.Test.ValueRefs() {
		key := client.ObjectKey{Namespace: lt.Namespace, Name: ref.Name}
		var keys []string
		var err error
		if ref.Secret {
			var sec corev1.Secret
			if err = r.APIReader.Get(ctx, key, &sec); err == nil {
				keys = slices.Collect(maps.Keys(sec.Data))
			}
		} else {
			var cm corev1.ConfigMap
			if err = r.APIReader.Get(ctx, key, &cm); err == nil {
				keys = append(slices.Collect(maps.Keys(cm.Data)), slices.Collect(maps.Keys(cm.BinaryData))...)
			}
		}
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("failed to read %s %s: %w", ref.Kind(), key, err)
		}
		if f := referenceProblem(lt.Namespace, ref, err, keys); f != nil {
			return f, nil
		}
	}
	return nil, nil
}

// referenceProblem says why a run cannot read ref: the read's error (not found, or
// forbidden to the manager), or keys, those of the object read, lacking ref's key.
func referenceProblem(namespace string, ref dilov1.ValueRef, err error, keys []string) *failure {
	what := fmt.Sprintf("%s %s/%s (%s)", ref.Kind(), namespace, ref.Name, ref.Field)
	switch {
	case apierrors.IsNotFound(err):
		return &failure{dilov1.ReasonReferenceNotFound, what + " does not exist"}
	case err != nil:
		return &failure{dilov1.ReasonReferenceNotFound, what + " cannot be read by DiLO's manager: " + err.Error()}
	case !slices.Contains(keys, ref.Key):
		return &failure{dilov1.ReasonReferenceNotFound, fmt.Sprintf("%s has no key %q", what, ref.Key)}
	}
	return nil
}

// checkTarget fails a going run whose Service is no longer its recorded target (see
// targetChange), so that its load never follows a Service re-pointed out of the
// namespace or the cluster. What the cache shows is confirmed by a live read before
// the run fails. A run whose pods all succeeded has sent its load: it is not failed.
func (r *LoadTestReconciler) checkTarget(ctx context.Context, s *runScope) (bool, error) {
	tgt := s.lt.Status.Target
	if tgt == nil || s.failure != nil || s.assessment.AllSucceeded || !isGoing(s.lt.Status.State) {
		return false, nil
	}
	for _, reader := range []client.Reader{r.Client, r.APIReader} {
		svc, slices, err := r.getService(ctx, s.lt, reader)
		if err != nil {
			return false, err
		}
		change := targetChange(s.lt, tgt, svc, slices, r.Policy)
		if change == "" {
			return false, nil
		}
		s.failure = &failure{dilov1.ReasonTargetChanged, change + "; the run's pods were stopped"}
	}
	return false, nil
}

// isGoing says whether a run in state is pending or executing.
func isGoing(state dilov1.State) bool {
	return state == dilov1.StatePending || state == dilov1.StateExecuting
}

// getService reads the LoadTest's Service, nil when it does not exist, and its
// EndpointSlices from reader. A cache miss is confirmed with a live read: a Service
// created just before the LoadTest may not be in the cache yet.
func (r *LoadTestReconciler) getService(ctx context.Context, lt *dilov1.LoadTest, reader client.Reader) (*corev1.Service, []discoveryv1.EndpointSlice, error) {
	key := types.NamespacedName{Namespace: lt.Namespace, Name: lt.Spec.Test.ServiceName}
	svc := &corev1.Service{}
	err := reader.Get(ctx, key, svc)
	if apierrors.IsNotFound(err) && r.APIReader != nil && reader != r.APIReader {
		reader = r.APIReader
		err = reader.Get(ctx, key, svc)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("failed to get Service %s: %w", key, err)
	}
	var slices discoveryv1.EndpointSliceList
	if err := reader.List(ctx, &slices, client.InNamespace(lt.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return nil, nil, fmt.Errorf("failed to list the EndpointSlices of Service %s: %w", key, err)
	}
	return svc, slices.Items, nil
}

// assessPods judges the run from its pods; see assessRun.
func (r *LoadTestReconciler) assessPods(_ context.Context, s *runScope) (bool, error) {
	start := s.now
	if s.lt.Status.StartTime != nil {
		start = s.lt.Status.StartTime.Time
	}
	s.assessed = true
	s.assessment = assessRun(runObservation{
		Replicas:        s.lt.Spec.Replicas,
		Names:           s.names,
		Pods:            s.pods,
		Executing:       s.lt.Status.State == dilov1.StateExecuting,
		Start:           start,
		Deadline:        r.Policy.Deadline(&s.lt.Spec),
		DeadlineDefault: s.lt.Spec.DeadlineSeconds == nil,
		Now:             s.now,
	})
	if s.failure == nil {
		s.failure = s.assessment.Failure
	}
	return false, nil
}

// openStartGate sets the start-at annotation on every pod of the run once all of them
// are running (see startGate), and, once every pod carries it, records the instant in
// status.sendStartTime: from then on it is the run's, whatever the cache shows of the
// pods. Each pod is patched with an optimistic lock, so that a reconcile that read a
// pod before the previous one annotated it never writes it again (see annotatePod).
func (r *LoadTestReconciler) openStartGate(ctx context.Context, s *runScope) (bool, error) {
	st := &s.lt.Status
	if s.failure != nil || !s.assessment.AllRunning {
		return false, nil
	}
	delay := r.StartDelay
	if delay == 0 {
		delay = dilov1.StartDelaySeconds * time.Second
	}
	at, missing := startGate(s.names, s.pods, st.SendStartTime, s.now, delay)
	for _, name := range missing {
		if ok, err := r.annotatePod(ctx, s.pods[name], dilov1.AnnotationStartAt, at); !ok || err != nil {
			return false, err
		}
	}
	if st.SendStartTime == nil {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			// Not DiLO's writing (someone annotated a pod): its agent fails on it, and
			// the run with it.
			log.FromContext(ctx).Info("A pod's start-at is not an RFC 3339 instant", "startAt", at)
			return false, nil
		}
		st.SendStartTime = &metav1.Time{Time: t}
	}
	return false, nil
}

// annotatePod sets annotation key of pod to value with a merge patch and an optimistic
// lock. ok is false when the pod changed since the cache showed it, or is gone: what
// was decided from the old pod may be wrong (it may carry the annotation already), and
// the newer pod triggers another reconcile, which decides again.
func (r *LoadTestReconciler) annotatePod(ctx context.Context, pod *corev1.Pod, key, value string) (ok bool, err error) {
	patch := client.MergeFromWithOptions(pod.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = value
	switch err := r.Patch(ctx, pod, patch); {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		log.FromContext(ctx).V(1).Info("Pod changed since it was read; waiting for the newer one", "pod", pod.Name, "annotation", key)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("failed to set %s on pod %s: %w", key, pod.Name, err)
	}
	return true, nil
}

// collectResults merges the results of a run whose pods all succeeded and checks them
// against the thresholds, once: the status is the record from then on. A run being
// stopped ends failed with its stop's reason instead (see stoppedFailure).
func (r *LoadTestReconciler) collectResults(ctx context.Context, s *runScope) (bool, error) {
	if s.failure != nil || !s.assessment.AllSucceeded {
		return false, nil
	}
	pr := podResults{names: s.names, pods: s.pods, logs: map[string][]byte{}}
	for _, name := range s.names {
		if r.Logs == nil {
			break
		}
		b, err := r.Logs.PodLog(ctx, s.lt.Namespace, name, agentContainer, report.MaxLogLen)
		if err != nil {
			log.FromContext(ctx).V(1).Info("Failed to read an agent's log: using its termination message", "pod", name, "error", err.Error())
			continue
		}
		pr.logs[name] = b
	}
	target := "Service " + s.lt.Namespace + "/" + s.lt.Spec.Test.ServiceName
	if th := s.lt.Spec.Thresholds; th != nil && th.Baseline != nil {
		var err error
		if s.baseline, s.noBaseline, err = r.baselineOf(ctx, s.lt); err != nil {
			return false, err
		}
	}
	var note string
	s.results, s.failure, note = collectResults(pr, s.lt.Spec.Thresholds, s.baseline, target, len(s.lt.Spec.Test.Requests) > 1)
	if stop := s.lt.Status.Stopping; stop != nil {
		s.failure = stoppedFailure(stop, s.results, s.failure, s.stopComplete)
	}
	if note != "" {
		r.Recorder.Eventf(s.lt, nil, corev1.EventTypeWarning, "ResultsIncomplete", "CollectResults", "%s", dilov1.Truncate(note, 1024))
	}
	return false, nil
}

// stopFailedRun has the pods of a failed run that still run deleted, after the status
// patch that records the failure succeeded (see patchStatus): a failure decided from a
// LoadTest the cache had not updated yet is dropped with its patch, and pods deleted
// for it would fail the next reconcile for the wrong reason (PodDeleted).
func (r *LoadTestReconciler) stopFailedRun(_ context.Context, s *runScope) (bool, error) {
	if s.failure == nil {
		return false, nil
	}
	s.stopPods = true
	return true, nil
}

// deleteRunningPods deletes the run's pods that have not ended; ended ones stay for
// their logs.
func (r *LoadTestReconciler) deleteRunningPods(ctx context.Context, s *runScope) error {
	for _, name := range s.names {
		pod, ok := s.pods[name]
		if !ok || podEnded(pod) || pod.DeletionTimestamp != nil {
			continue
		}
		if err := r.deletePod(ctx, pod); err != nil {
			return err
		}
		log.FromContext(ctx).Info("Deleted running pod of a failed run", "pod", client.ObjectKeyFromObject(pod))
	}
	return nil
}

// deletePod deletes pod, in the background, if it is still the pod that was observed.
func (r *LoadTestReconciler) deletePod(ctx context.Context, pod *corev1.Pod) error {
	err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to delete pod %s: %w", pod.Name, err)
	}
	return nil
}

// computeStatus writes the status of the current run from the scope. An ended run's
// status is not touched: it is the record of that run. Nor is a run's whose pods were
// not assessed (the reconcile stopped early), but for a failure. A run that ended with
// results gets them as its final progress too, which `kubectl get ld` shows; one that
// ended without keeps the last live progress the poller wrote.
func computeStatus(s *runScope) {
	st := &s.lt.Status
	if st.State == dilov1.StateFinished || st.State == dilov1.StateFailed || !s.assessed && s.failure == nil {
		return
	}
	st.Children = st.Children[:0]
	for _, name := range s.names {
		if _, ok := s.pods[name]; ok {
			st.Children = append(st.Children, name)
		}
	}
	if len(st.Children) == 0 {
		st.Children = nil
	}
	a := s.assessment
	st.Active, st.Succeeded, st.Failed = a.Active, a.Succeeded, a.Failed
	switch {
	case s.failure != nil:
		st.State = dilov1.StateFailed
		st.CompletionTime = &metav1.Time{Time: s.now}
		st.Results = s.results
		if s.results != nil {
			st.Progress = finalProgress(s.results, st.SendStartTime, s.now)
			st.Baseline = s.baseline
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: dilov1.ConditionFailed, Status: metav1.ConditionTrue, ObservedGeneration: s.lt.Generation,
			Reason: s.failure.Reason, Message: dilov1.Truncate(s.failure.Message, maxConditionMessage),
		})
	case s.results != nil:
		st.State = dilov1.StateFinished
		st.CompletionTime = &metav1.Time{Time: s.now}
		st.Results = s.results
		st.Progress = finalProgress(s.results, st.SendStartTime, s.now)
		st.Baseline = s.baseline
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: dilov1.ConditionComplete, Status: metav1.ConditionTrue, ObservedGeneration: s.lt.Generation,
			Reason: dilov1.ReasonFinished, Message: dilov1.Truncate(completeMessage(len(s.names), s.run, s.baseline, s.noBaseline), maxConditionMessage),
		})
	case s.stale == 0 && a.AllExist:
		st.State = dilov1.StateExecuting
	}
}

// patchStatus computes the status and the history and patches them if they changed,
// with an optimistic lock: a status computed from a stale LoadTest is dropped (the
// newer one triggers another reconcile). What the status records is acted on only
// once the patch succeeded: the Events for the state transitions are recorded, so that
// each is recorded once; the running pods of a run that failed are deleted; and the
// timelines of runs that left the history are deleted, so that no record the API
// server holds names a deleted one.
func (r *LoadTestReconciler) patchStatus(ctx context.Context, s *runScope) error {
	computeStatus(s)
	summarizeConditions(&s.lt.Status, s.lt.Generation)
	if err := r.updateHistory(ctx, s); err != nil {
		return err
	}
	if !equality.Semantic.DeepEqual(s.before.Status, s.lt.Status) {
		err := r.Status().Patch(ctx, s.lt, client.MergeFromWithOptions(s.before, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("LoadTest changed since it was read; dropped its status")
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to patch status: %w", err)
		}
	}
	r.recordTransitions(s)
	if s.stopPods {
		if err := r.deleteRunningPods(ctx, s); err != nil {
			return err
		}
	}
	if s.pruneTimelines {
		return r.deleteTimelines(ctx, s)
	}
	return nil
}

// recordTransitions records an Event for every state transition of the reconcile, and
// the metrics of a run that ended.
func (r *LoadTestReconciler) recordTransitions(s *runScope) {
	lt, st := s.lt, s.lt.Status
	prev := s.before.Status.State
	if s.newRun {
		prev = dilov1.StatePending
	}
	if st.State != prev && st.StartTime != nil && st.CompletionTime != nil {
		switch st.State {
		case dilov1.StateFinished:
			metrics.RunEnded(lt.Namespace, lt.Name, metrics.ResultFinished, st.CompletionTime.Sub(st.StartTime.Time), st.Results)
		case dilov1.StateFailed:
			metrics.RunEnded(lt.Namespace, lt.Name, metrics.ResultFailed, st.CompletionTime.Sub(st.StartTime.Time), st.Results)
		}
	}
	if r.Recorder == nil {
		return
	}
	if s.newRun {
		note := fmt.Sprintf("Started run %d: %d pods", s.run, len(s.names))
		switch {
		case s.tickRun && isGoing(s.before.Status.State):
			note = fmt.Sprintf("Scheduled tick at %s: started run %d (%d pods), replacing run %d (concurrencyPolicy Replace)",
				formatStartAt(s.tick), s.run, len(s.names), s.before.Status.Run)
		case s.tickRun:
			note = fmt.Sprintf("Scheduled tick at %s: started run %d (%d pods)", formatStartAt(s.tick), s.run, len(s.names))
		case s.rerun:
			note = fmt.Sprintf("Rerun asked (%s=%q): started run %d (%d pods), after run %d",
				dilov1.AnnotationRerun, dilov1.Truncate(st.LastHandledRerun, 256), s.run, len(s.names), s.before.Status.Run)
		case s.before.Status.Run != 0:
			note = fmt.Sprintf("Spec changed: started run %d (%d pods), replacing run %d", s.run, len(s.names), s.before.Status.Run)
		}
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "RunStarted", "StartRun", note)
	}
	r.recordScheduleEvents(s)
	if s.expired > 0 {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "PodsExpired", "DeletePods",
			"Deleted the %d pods of run %d: ttlSecondsAfterFinished (%ds) passed", s.expired, s.run, *lt.Spec.TTLSecondsAfterFinished)
	}
	switch {
	case s.stopIgnored && st.State == dilov1.StateScheduled:
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "StopIgnored", "TakeStopRequest",
			"No run yet (scheduled, waiting for the first tick): nothing to stop (%s=%q)", dilov1.AnnotationStop, dilov1.Truncate(st.LastHandledStop, 256))
	case s.stopIgnored:
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "StopIgnored", "TakeStopRequest",
			"Run %d had already %s: nothing to stop (%s=%q)", s.run, st.State, dilov1.AnnotationStop, dilov1.Truncate(st.LastHandledStop, 256))
	}
	if gateOpened(s) {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "StartGateOpened", "OpenStartGate",
			"All %d pods of run %d are running; they start sending at %s", len(s.names), s.run, formatStartAt(st.SendStartTime.Time))
	}
	if st.State == prev {
		return
	}
	switch st.State {
	case dilov1.StateExecuting:
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "Executing", "CreatePods", "All %d pods of run %d exist", len(s.names), s.run)
	case dilov1.StateFinished:
		res := st.Results
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, dilov1.ReasonFinished, "FinishRun",
			"Run %d finished: %d requests, error ratio %s, p99 %s", s.run, res.Requests, res.ErrorRatio, res.Latency.P99.Duration)
	case dilov1.StateFailed:
		r.Recorder.Eventf(lt, nil, corev1.EventTypeWarning, s.failure.Reason, "FailRun", "%s",
			dilov1.Truncate(fmt.Sprintf("Run %d failed: %s", s.run, s.failure.Message), maxEventNote))
	}
}

// recordScheduleEvents records what the reconcile did with spec.schedule: a tick that
// started a run (RunScheduled), one Forbid skipped (TickSkipped), and a schedule that
// cannot be read, once per generation, so that a user who stored one with the webhook
// off learns why the LoadTest never runs.
func (r *LoadTestReconciler) recordScheduleEvents(s *runScope) {
	lt := s.lt
	if s.tickRun {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "RunScheduled", "StartRun",
			"Tick of schedule %q at %s started run %d", dilov1.Truncate(lt.Spec.Schedule, 256), formatStartAt(s.tick), s.run)
	}
	if s.tickSkipped {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeNormal, "TickSkipped", "StartRun",
			"Tick of schedule %q at %s skipped: run %d is %s and concurrencyPolicy is Forbid",
			dilov1.Truncate(lt.Spec.Schedule, 256), formatStartAt(s.tick), s.run, lt.Status.State)
	}
	if s.scheduleErr != nil && (s.before.Status.ObservedGeneration != lt.Generation || s.before.Status.State == "") {
		r.Recorder.Eventf(lt, nil, corev1.EventTypeWarning, "InvalidSchedule", "StartRun", "%s",
			dilov1.Truncate("No tick will start a run: "+s.scheduleErr.Error(), maxEventNote))
	}
}

// finalProgress is status.progress of a run that ended at end with results res, its
// pods having started sending at sent (nil: not recorded): the results' figures,
// final, without a window.
func finalProgress(res *dilov1.Results, sent *metav1.Time, end time.Time) *dilov1.Progress {
	p := &dilov1.Progress{
		ObservedTime: metav1.Time{Time: end},
		Pods:         res.Pods, Requests: res.Requests, Errors: res.Errors,
		ErrorRatio: res.ErrorRatio, RequestsPerSecond: res.RequestsPerSecond,
		Latency: dilov1.Percentiles{P50: res.Latency.P50, P90: res.Latency.P90, P99: res.Latency.P99},
		Final:   true,
	}
	if sent != nil && end.After(sent.Time) {
		p.ElapsedSeconds = int64(end.Sub(sent.Time) / time.Second)
	}
	return p
}

// gateOpened says whether this reconcile opened the start gate for the first time: it
// recorded status.sendStartTime. A reconcile that reads the LoadTest before the patch
// of the one that opened it is dropped by the optimistic lock, so that the Event that
// says so is recorded once.
func gateOpened(s *runScope) bool {
	return s.lt.Status.SendStartTime != nil && (s.newRun || s.before.Status.SendStartTime == nil)
}

// Limits of the API server on what DiLO writes: a condition's message, an Event's note.
const (
	maxConditionMessage = 32768
	maxEventNote        = 1024
)
