package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestHistoryLimit: spec.historyLimit may be edited alone whatever spec.updatePolicy,
// while a run goes; its bounds are the schema's.
func TestHistoryLimit(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	lt := loadTest(ns, "history")
	lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject
	running(t, c, lt, dilov1.StateExecuting)
	if err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.HistoryLimit = ptr(int32(3)) }); err != nil {
		t.Errorf("editing only historyLimit while Reject and executing: %v", err)
	}
	err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.HistoryLimit = ptr(int32(101)) })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.historyLimit: Invalid value: 101: spec.historyLimit in body should be less than or equal to 100") {
		t.Errorf("historyLimit 101: %v, want the schema's bound", err)
	}
	err = edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.HistoryLimit, lt.Spec.Replicas = ptr(int32(2)), 3 })
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "so spec.replicas cannot change until the run ends") {
		t.Errorf("historyLimit and replicas while Reject: %v, want the edit denied for spec.replicas", err)
	}
}

// TestThresholdsAbort: abort needs a limit to check (the webhook), its window and delay
// have bounds (the schema), and a short window is accepted with a warning.
func TestThresholdsAbort(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	lt := loadTest(ns, "abort-alone")
	lt.Spec.Thresholds = &dilov1.Thresholds{Abort: &dilov1.ThresholdAbort{}}
	err := c.Create(context.Background(), lt)
	if diff := cmp.Diff(`The LoadTest "abort-alone" is invalid: spec.thresholds.abort: Forbidden: checks the limits while the run executes, but none is set: `+
		`set at least one of spec.thresholds.maxErrorRatio, spec.thresholds.maxP50, spec.thresholds.maxP90 and spec.thresholds.maxP99, or remove abort`,
		kubectlMessage(err)); diff != "" {
		t.Errorf("kubectl's message (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name  string
		abort dilov1.ThresholdAbort
		want  string
	}{
		{"window too short", dilov1.ThresholdAbort{WindowSeconds: ptr(int32(4))},
			"spec.thresholds.abort.windowSeconds: Invalid value: 4: spec.thresholds.abort.windowSeconds in body should be greater than or equal to 5"},
		{"window too long", dilov1.ThresholdAbort{WindowSeconds: ptr(int32(3601))},
			"spec.thresholds.abort.windowSeconds: Invalid value: 3601: spec.thresholds.abort.windowSeconds in body should be less than or equal to 3600"},
		{"negative delay", dilov1.ThresholdAbort{DelaySeconds: ptr(int32(-1))},
			"spec.thresholds.abort.delaySeconds: Invalid value: -1: spec.thresholds.abort.delaySeconds in body should be greater than or equal to 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := loadTest(ns, "abort-bounds")
			lt.Spec.Thresholds = &dilov1.Thresholds{MaxErrorRatio: "0.1", Abort: &tc.abort}
			err := c.Create(context.Background(), lt)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create: %v\nwant the schema's Invalid error with %q", err, tc.want)
			}
		})
	}

	lt = loadTest(ns, "abort-short")
	lt.Spec.Thresholds = &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: time.Second}, Abort: &dilov1.ThresholdAbort{WindowSeconds: ptr(int32(5)), DelaySeconds: ptr(int32(60))}}
	warns.take()
	mustCreate(t, c, lt)
	want := []string{"spec.thresholds.abort.windowSeconds: a window of 5s holds only one or two of the manager's reads of the agents (every few seconds): " +
		"a single late read can break a limit and stop a healthy run; 10s or more is safer (unset: 30s)"}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestStopAnnotation: example.org/stop takes any value up to 256 bytes, as kubectl
// annotate sets it, on a LoadTest whose run goes whatever its updatePolicy; a longer
// one is refused, naming the annotation.
func TestStopAnnotation(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	lt := loadTest(ns, "stop")
	lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject
	running(t, c, lt, dilov1.StateExecuting)
	annotate := func(value string) error {
		patch := []byte(`{"metadata":{"annotations":{"` + dilov1.AnnotationStop + `":"` + value + `"}}}`)
		return c.Patch(context.Background(), &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stop"}},
			client.RawPatch(types.MergePatchType, patch))
	}
	if err := annotate("2026-12-02T10:00:00+00:00"); err != nil {
		t.Errorf("a stop: %v", err)
	}
	if err := annotate(strings.Repeat("x", 256)); err != nil {
		t.Errorf("a stop of 256 bytes: %v", err)
	}
	err := annotate(strings.Repeat("x", 257))
	if diff := cmp.Diff(`The LoadTest "stop" is invalid: metadata.annotations[example.org/stop]: Too long: may not be more than 256 bytes: `+
		`any new value stops the run, such as the time of the request (kubectl annotate loadtest NAME example.org/stop="$(date -Is)" --overwrite)`,
		kubectlMessage(err)); diff != "" {
		t.Errorf("kubectl's message (-want +got):\n%s", diff)
	}

	lt = loadTest(ns, "stop-on-create")
	lt.Annotations = map[string]string{dilov1.AnnotationStop: strings.Repeat("y", 300)}
	if err := c.Create(context.Background(), lt); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.annotations[example.org/stop]: Too long") {
		t.Errorf("create with a long stop: %v, want it denied", err)
	}
}
