package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestSummarizeConditions checks the conditions of each state, and that kstatus (what
// Flux and cli-utils' appliers wait with) reads an executing run as in progress, a
// failed one as failed and a finished one as current.
func TestSummarizeConditions(t *testing.T) {
	cond := func(typ, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, ObservedGeneration: 4, Reason: reason, Message: msg}
	}
	failed := cond(dilov1.ConditionFailed, dilov1.ReasonThresholdBroken, "p99 312ms exceeds maxP99 250ms")
	queued := cond(dilov1.ConditionQueued, dilov1.ReasonQueued, "waiting behind a, b")
	for _, tc := range []struct {
		name    string
		status  dilov1.LoadTestStatus
		want    []metav1.Condition
		kstatus status.Status
	}{
		{"pending", dilov1.LoadTestStatus{State: dilov1.StatePending},
			[]metav1.Condition{cond(dilov1.ConditionReconciling, dilov1.ReasonPending, "run 4 is starting its pods")}, status.InProgressStatus},
		{"queued", dilov1.LoadTestStatus{State: dilov1.StatePending, Conditions: []metav1.Condition{queued}},
			[]metav1.Condition{queued, cond(dilov1.ConditionReconciling, dilov1.ReasonQueued, "waiting behind a, b")}, status.InProgressStatus},
		{"executing", dilov1.LoadTestStatus{State: dilov1.StateExecuting},
			[]metav1.Condition{cond(dilov1.ConditionReconciling, dilov1.ReasonExecuting, "run 4 is executing")}, status.InProgressStatus},
		{"stopping", dilov1.LoadTestStatus{State: dilov1.StateExecuting, Stopping: &dilov1.Stopping{Reason: dilov1.ReasonStopped}},
			[]metav1.Condition{cond(dilov1.ConditionReconciling, dilov1.ReasonStopping, "run 4 is being stopped (Stopped)")}, status.InProgressStatus},
		{"failed", dilov1.LoadTestStatus{State: dilov1.StateFailed, Conditions: []metav1.Condition{
			failed, cond(dilov1.ConditionReconciling, dilov1.ReasonExecuting, "run 4 is executing")}},
			[]metav1.Condition{failed, cond(dilov1.ConditionStalled, dilov1.ReasonThresholdBroken, "p99 312ms exceeds maxP99 250ms")}, status.FailedStatus},
		{"finished", dilov1.LoadTestStatus{State: dilov1.StateFinished, Conditions: []metav1.Condition{
			cond(dilov1.ConditionComplete, dilov1.ReasonFinished, "all 2 pods of run 4 succeeded"),
			cond(dilov1.ConditionReconciling, dilov1.ReasonExecuting, "run 4 is executing")}},
			[]metav1.Condition{cond(dilov1.ConditionComplete, dilov1.ReasonFinished, "all 2 pods of run 4 succeeded")}, status.CurrentStatus},
		{"a failed run rerun", dilov1.LoadTestStatus{State: dilov1.StatePending, Conditions: []metav1.Condition{
			cond(dilov1.ConditionStalled, dilov1.ReasonPodFailed, "x")}},
			[]metav1.Condition{cond(dilov1.ConditionReconciling, dilov1.ReasonPending, "run 4 is starting its pods")}, status.InProgressStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.status
			st.Run, st.ObservedGeneration = 4, 4
			summarizeConditions(&st, 4)
			if diff := cmp.Diff(tc.want, st.Conditions, cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime"),
				cmpopts.SortSlices(func(a, b metav1.Condition) bool { return a.Type < b.Type })); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			lt := &dilov1.LoadTest{TypeMeta: metav1.TypeMeta{APIVersion: dilov1.GroupVersion.String(), Kind: "LoadTest"},
				ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns", Generation: 4}, Status: st}
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(lt)
			if err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.kstatus {
				t.Errorf("kstatus computes %s (%s); want %s", res.Status, res.Message, tc.kstatus)
			}
		})
	}
}

func TestNextRun(t *testing.T) {
	for _, tc := range []struct{ run, generation, want int64 }{
		{0, 1, 1}, // the first run
		{1, 2, 2}, // a spec edit
		{2, 2, 3}, // a rerun
		{3, 2, 4}, // another
		{4, 3, 5}, // a spec edit after reruns: never a number used before
		{5, 9, 9},
	} {
		if got := nextRun(tc.run, tc.generation); got != tc.want {
			t.Errorf("nextRun(%d, %d) = %d; want %d", tc.run, tc.generation, got, tc.want)
		}
	}
}
