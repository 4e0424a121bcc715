package reconcile

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// History: status.history keeps a record of each of the last spec.historyLimit runs
// that ended, or that a spec edit replaced before they ended, oldest first. A run's
// timeline, which the manager's poller writes while it executes, is a ConfigMap the
// LoadTest owns; it is deleted once its run is neither current nor in the history.

// historyLimit is how many records status.history keeps: spec.historyLimit, or its
// default.
func historyLimit(spec *dilov1.LoadTestSpec) int {
	if spec.HistoryLimit == nil {
		return dilov1.DefaultHistoryLimit
	}
	return max(int(*spec.HistoryLimit), 0)
}

// runRecord summarises the run st describes, as it ended or, for a run still going,
// as a spec edit replaced it (reason Replaced, no completionTime). Its figures are its
// results', or, without results, its last progress'; timeline names its timeline's
// ConfigMap, "" for none.
func runRecord(st *dilov1.LoadTestStatus, timeline string) dilov1.RunRecord {
	rec := dilov1.RunRecord{
		Run: st.Run, RunSpecHash: st.RunSpecHash, State: st.State, Timeline: timeline,
		StartTime: st.StartTime.DeepCopy(), CompletionTime: st.CompletionTime.DeepCopy(),
	}
	switch st.State {
	case dilov1.StateFinished:
		rec.Reason = conditionReason(st.Conditions, dilov1.ConditionComplete)
	case dilov1.StateFailed:
		rec.Reason = conditionReason(st.Conditions, dilov1.ConditionFailed)
	default:
		rec.Reason, rec.CompletionTime = dilov1.ReasonReplaced, nil
	}
	switch res, p := st.Results, st.Progress; {
	case res != nil:
		rec.Requests, rec.RequestsPerSecond, rec.ErrorRatio = res.Requests, res.RequestsPerSecond, res.ErrorRatio
		rec.P50, rec.P99 = &metav1.Duration{Duration: res.Latency.P50.Duration}, &metav1.Duration{Duration: res.Latency.P99.Duration}
		rec.P90 = &metav1.Duration{Duration: res.Latency.P90.Duration}
	case p != nil:
		rec.Requests, rec.RequestsPerSecond, rec.ErrorRatio = p.Requests, p.RequestsPerSecond, p.ErrorRatio
		rec.P50, rec.P99 = &metav1.Duration{Duration: p.Latency.P50.Duration}, &metav1.Duration{Duration: p.Latency.P99.Duration}
		rec.P90 = &metav1.Duration{Duration: p.Latency.P90.Duration}
	}
	return rec
}

// conditionReason is the reason of the condition of type t, "" without one.
func conditionReason(conds []metav1.Condition, t string) string {
	if c := meta.FindStatusCondition(conds, t); c != nil {
		return c.Reason
	}
	return ""
}

// recordRun puts rec in history, in place of the record of the same run if there is
// one (a record written again, after a status patch was dropped), else last: the
// history stays ordered by run, unique by run. It returns a new slice.
func recordRun(history []dilov1.RunRecord, rec dilov1.RunRecord) []dilov1.RunRecord {
	history = slices.Clone(history)
	if i := slices.IndexFunc(history, func(r dilov1.RunRecord) bool { return r.Run == rec.Run }); i >= 0 {
		history[i] = rec
		return history
	}
	return append(history, rec)
}

// pruneHistory keeps the last limit records of history; pruned says whether it dropped
// any.
func pruneHistory(history []dilov1.RunRecord, limit int) (kept []dilov1.RunRecord, pruned bool) {
	if len(history) <= limit {
		return history, false
	}
	kept = slices.Clone(history[len(history)-limit:])
	if len(kept) == 0 {
		kept = nil
	}
	return kept, true
}

// staleTimelines are the timelines, of those listed, that are the LoadTest's (it
// controls them, or owns them) and of a run that is neither current nor in history.
func staleTimelines(lt *dilov1.LoadTest, timelines []metav1.PartialObjectMetadata) []metav1.PartialObjectMetadata {
	keep := map[int64]bool{lt.Status.Run: true}
	for _, rec := range lt.Status.History {
		keep[rec.Run] = true
	}
	var stale []metav1.PartialObjectMetadata
	for _, cm := range timelines {
		owned := slices.ContainsFunc(cm.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == lt.UID })
		run, err := strconv.ParseInt(cm.Labels[dilov1.LabelRun], 10, 64)
		if owned && err == nil && !keep[run] {
			stale = append(stale, cm)
		}
	}
	return stale
}

// updateHistory records the run in status.history when it ended in this reconcile,
// and prunes the history to spec.historyLimit (which may have been lowered). The
// timelines of runs it prunes are deleted after the status patch (see deleteTimelines).
func (r *LoadTestReconciler) updateHistory(ctx context.Context, s *runScope) error {
	st := &s.lt.Status
	prev := s.before.Status.State
	if s.newRun {
		prev = dilov1.StatePending
	}
	if isEnded(st.State) && !isEnded(prev) {
		timeline, err := r.timelineOf(ctx, s.lt, st.Run)
		if err != nil {
			return err
		}
		st.History = recordRun(st.History, runRecord(st, timeline))
	}
	var pruned bool
	st.History, pruned = pruneHistory(st.History, historyLimit(&s.lt.Spec))
	s.pruneTimelines = s.pruneTimelines || pruned
	return nil
}

// isEnded says whether a run in state ended: finished or failed.
func isEnded(state dilov1.State) bool {
	return state == dilov1.StateFinished || state == dilov1.StateFailed
}

// timelineOf is the name of the timeline ConfigMap of lt's run, "" when the poller
// made none. It reads the ConfigMap's metadata only, live: the manager caches no
// ConfigMap.
func (r *LoadTestReconciler) timelineOf(ctx context.Context, lt *dilov1.LoadTest, run int64) (string, error) {
	name := dilov1.TimelineName(lt.Name, run)
	cm := &metav1.PartialObjectMetadata{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: lt.Namespace, Name: name}, cm)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("failed to read ConfigMap %s: %w", name, err)
	case !slices.ContainsFunc(cm.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == lt.UID }):
		return "", nil // not the LoadTest's: not its timeline
	}
	return name, nil
}

// deleteTimelines deletes the LoadTest's timeline ConfigMaps whose run is neither
// current nor in status.history (staleTimelines). They are listed live, metadata only,
// by their labels: a cache would hold every ConfigMap of the namespace. Each is deleted
// only if it is still the ConfigMap that was listed.
func (r *LoadTestReconciler) deleteTimelines(ctx context.Context, s *runScope) error {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(s.lt.Namespace), client.MatchingLabels{
		dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelLoadTest: s.lt.Name,
	}); err != nil {
		return fmt.Errorf("failed to list the timelines: %w", err)
	}
	for _, cm := range staleTimelines(s.lt, list.Items) {
		cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		switch err := r.Delete(ctx, &cm, client.Preconditions{UID: &cm.UID}); {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			continue
		case err != nil:
			return fmt.Errorf("failed to delete timeline %s: %w", cm.Name, err)
		}
		log.FromContext(ctx).Info("Deleted the timeline of a run no longer in the history", "configMap", cm.Name, "run", cm.Labels[dilov1.LabelRun])
	}
	return nil
}

// baselineOf finds the baseline spec.thresholds.baseline asks for the current run of
// lt: the last finished run, before the current one, in the history of lt or of the
// LoadTest it names. Without one it returns why, for the Complete condition.
func (r *LoadTestReconciler) baselineOf(ctx context.Context, lt *dilov1.LoadTest) (*dilov1.BaselineRun, string, error) {
	name := lt.Spec.Thresholds.Baseline.LoadTest
	if name == "" || name == lt.Name {
		rec, ok := lastFinished(lt.Status.History, lt.Status.Run)
		if !ok {
			return nil, fmt.Sprintf("no finished run of %s before run %d in its history", lt.Name, lt.Status.Run), nil
		}
		return baselineRun(lt.Name, rec), "", nil
	}
	var other dilov1.LoadTest
	switch err := r.Get(ctx, client.ObjectKey{Namespace: lt.Namespace, Name: name}, &other); {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("LoadTest %s not found", name), nil
	case err != nil:
		return nil, "", fmt.Errorf("failed to read baseline LoadTest %s: %w", name, err)
	}
	rec, ok := lastFinished(other.Status.History, math.MaxInt64)
	if !ok {
		return nil, fmt.Sprintf("no finished run of %s in its history", name), nil
	}
	return baselineRun(name, rec), "", nil
}
