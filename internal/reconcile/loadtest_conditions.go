package reconcile

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// summarizeConditions sets the conditions kstatus reads from the state of the current
// run, so that a tool waiting on a LoadTest (Flux, kpt, cli-utils' appliers) sees an
// executing run in progress and a failed one failed: Reconciling while it is pending or
// executing, Stalled once it failed (with the Failed condition's reason and message),
// neither once it finished. generation is the LoadTest's metadata.generation.
func summarizeConditions(st *dilov1.LoadTestStatus, generation int64) {
	reconciling := func(reason, message string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: dilov1.ConditionReconciling,
			Status: metav1.ConditionTrue, ObservedGeneration: generation, Reason: reason, Message: message})
	}
	switch st.State {
	case dilov1.StatePending, dilov1.StateExecuting:
		meta.RemoveStatusCondition(&st.Conditions, dilov1.ConditionStalled)
		switch q := meta.FindStatusCondition(st.Conditions, dilov1.ConditionQueued); {
		case st.Stopping != nil:
			reconciling(dilov1.ReasonStopping, fmt.Sprintf("run %d is being stopped (%s)", st.Run, st.Stopping.Reason))
		case st.State == dilov1.StateExecuting:
			reconciling(dilov1.ReasonExecuting, fmt.Sprintf("run %d is executing", st.Run))
		case q != nil && q.Status == metav1.ConditionTrue:
			reconciling(dilov1.ReasonQueued, q.Message)
		default:
			reconciling(dilov1.ReasonPending, fmt.Sprintf("run %d is starting its pods", st.Run))
		}
	case dilov1.StateFailed:
		meta.RemoveStatusCondition(&st.Conditions, dilov1.ConditionReconciling)
		reason, message := dilov1.ReasonPodFailed, fmt.Sprintf("run %d failed", st.Run)
		if f := meta.FindStatusCondition(st.Conditions, dilov1.ConditionFailed); f != nil {
			reason, message = f.Reason, f.Message
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: dilov1.ConditionStalled,
			Status: metav1.ConditionTrue, ObservedGeneration: generation, Reason: reason, Message: message})
	default:
		meta.RemoveStatusCondition(&st.Conditions, dilov1.ConditionReconciling)
		meta.RemoveStatusCondition(&st.Conditions, dilov1.ConditionStalled)
	}
}
