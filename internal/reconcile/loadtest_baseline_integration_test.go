package reconcile

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestLoadTestBaseline: spec.thresholds.baseline compares each run with the previous
// finished run of the LoadTest, or with the last finished run of another one; the first
// run has nothing to compare with and passes, saying so; a slower run fails
// ThresholdBroken naming the baseline run and both values, and never becomes a
// baseline itself.
func TestLoadTestBaseline(t *testing.T) {
	_, ns, _ := setup(t)
	gated := func(baseline string) func(*dilov1.LoadTest) {
		return func(lt *dilov1.LoadTest) {
			lt.Spec.Thresholds = &dilov1.Thresholds{Baseline: &dilov1.Baseline{LoadTest: baseline, MaxP99IncreasePercent: ptr.To[int32](10)}}
		}
	}
	lt := createLoadTest(t, ns, "gate", 1, gated(""))
	complete := func(lt *dilov1.LoadTest, want string) *dilov1.LoadTest {
		t.Helper()
		got := waitState(t, lt, dilov1.StateFinished)
		if c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionComplete); c == nil || !strings.Contains(c.Message, want) {
			t.Errorf("run %d's Complete condition %+v, want its message to contain %q", got.Status.Run, c, want)
		}
		return got
	}

	endRun(t, lt, 1, time.Millisecond)
	got := complete(lt, "not compared with a baseline: no finished run of gate before run 1 in its history")
	if got.Status.Baseline != nil {
		t.Errorf("first run's status.baseline %+v, want none", got.Status.Baseline)
	}

	rerun(t, lt, "2")
	endRun(t, lt, 2, time.Millisecond)
	got = complete(lt, "within the limits of baseline gate run 1")
	if b := got.Status.Baseline; b == nil || b.LoadTest != "gate" || b.Run != 1 || b.P99 == nil || b.P90 == nil || b.RequestsPerSecond == "" {
		t.Errorf("second run's status.baseline %+v, want run 1 of gate with its figures", b)
	}

	rerun(t, lt, "3")
	endRun(t, lt, 3, 5*time.Millisecond)
	got = waitFailed(t, lt, dilov1.ReasonThresholdBroken, "above baseline gate run 2's")
	c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionFailed)
	if !strings.Contains(c.Message, "p99 5") || !strings.Contains(c.Message, "(maxP99IncreasePercent 10)") {
		t.Errorf("Failed message %q, want both values and the limit", c.Message)
	}
	if b := got.Status.Baseline; b == nil || b.Run != 2 {
		t.Errorf("failed run's status.baseline %+v, want run 2", b)
	}

	// Run 3 failed: the next run and another LoadTest naming this one compare with run 2.
	rerun(t, lt, "4")
	endRun(t, lt, 4, time.Millisecond)
	complete(lt, "within the limits of baseline gate run 2")
	other := createLoadTest(t, ns, "other", 1, gated("gate"))
	endRun(t, other, 1, 20*time.Millisecond)
	waitFailed(t, other, dilov1.ReasonThresholdBroken, "above baseline gate run 4's")

	missing := createLoadTest(t, ns, "orphan", 1, gated("nowhere"))
	endRun(t, missing, 1, time.Millisecond)
	complete(missing, "not compared with a baseline: LoadTest nowhere not found")
}

// endRun takes run of lt through the start gate to its end: every pod succeeds with a
// result of 10 requests, each taking latency.
func endRun(t *testing.T, lt *dilov1.LoadTest, run int64, latency time.Duration) {
	t.Helper()
	waitFor(t, lt, "run executing", func(got *dilov1.LoadTest) bool {
		return got.Status.Run == run && got.Status.State == dilov1.StateExecuting
	})
	pods := waitPods(t, lt, run, int(lt.Spec.Replicas))
	runAll(t, pods)
	at, err := time.Parse(time.RFC3339, waitStartAt(t, lt, run))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		setPodStatus(t, p.Name, p.Namespace, succeeded(resultMessage(t, at, 10, 0, latency)))
	}
}

// rerun asks for a new run of lt's spec with example.org/rerun=value.
func rerun(t *testing.T, lt *dilov1.LoadTest, value string) {
	t.Helper()
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) {
		if lt.Annotations == nil {
			lt.Annotations = map[string]string{}
		}
		lt.Annotations[dilov1.AnnotationRerun] = value
	})
}
