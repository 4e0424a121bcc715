package reconcile

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/metrics"
	"github.com/dilo-operator/dilo/internal/report/runplan"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestLoadTestRun follows a run from creation to finished: pods with the right spec,
// the synchronised start, the merged results, the Complete condition and the Events.
func TestLoadTestRun(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "run", 3, func(lt *dilov1.LoadTest) {
		lt.Spec.Test.Port = ptr.To(intstr.FromString("admin"))
		lt.Spec.Thresholds = &dilov1.Thresholds{MaxErrorRatio: "0.1", MaxP99: &metav1.Duration{Duration: time.Second}}
	})

	got := waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 3)
	svc := &corev1.Service{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, svc); err != nil {
		t.Fatal(err)
	}
	wantTarget := &dilov1.RunTarget{Service: "web", UID: svc.UID, Type: corev1.ServiceTypeClusterIP, ClusterIP: svc.Spec.ClusterIP,
		Port: 9090, Address: svc.Spec.ClusterIP, Host: "web." + ns + ".svc:9090"}
	if diff := cmp.Diff(wantTarget, got.Status.Target); diff != "" {
		t.Errorf("status.target (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"run-1-0", "run-1-1", "run-1-2"}, got.Status.Children); diff != "" {
		t.Errorf("status.children (-want +got):\n%s", diff)
	}
	if got.Status.StartTime == nil || got.Status.ObservedGeneration != 1 || got.Status.Active != 3 {
		t.Errorf("executing status: %+v", got.Status)
	}
	for i, p := range pods {
		wantLabels := map[string]string{"app.kubernetes.io/managed-by": "dilo", "example.org/loadtest": "run",
			"example.org/run": "1", "example.org/replica": fmt.Sprint(i)}
		if diff := cmp.Diff(wantLabels, p.Labels); diff != "" {
			t.Errorf("pod %s labels (-want +got):\n%s", p.Name, diff)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != got.UID || ref.Kind != "LoadTest" {
			t.Errorf("pod %s controller %+v, want the LoadTest", p.Name, ref)
		}
		// The agents dial the Service's cluster IP, never a name a DNS search path
		// could complete elsewhere; the Host header is still the Service's name.
		c := p.Spec.Containers[0]
		if c.Image != testImage || !slices.Equal(c.Command, []string{"/agent", "run", "--plan-file=/etc/dilo/start/plan"}) {
			t.Errorf("pod %s container %s %v", p.Name, c.Image, c.Command)
		}
		plan, err := runplan.Parse([]byte(p.Annotations[dilov1.AnnotationRunPlan]))
		if err != nil {
			t.Fatalf("pod %s run plan: %v", p.Name, err)
		}
		wantTarget := runplan.Target{Address: net.JoinHostPort(svc.Spec.ClusterIP, "9090"), Host: "web." + ns + ".svc:9090"}
		if diff := cmp.Diff(wantTarget, plan.Target); diff != "" {
			t.Errorf("pod %s run plan's target (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff([]runplan.Request{{Name: "default", Weight: 1, Method: "GET", Path: "/"}}, plan.Requests); diff != "" {
			t.Errorf("pod %s run plan's requests (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff(runplan.Load{Closed: &runplan.Closed{Concurrency: 1, Requests: 100}}, plan.Load); diff != "" {
			t.Errorf("pod %s run plan's load (-want +got):\n%s", p.Name, diff)
		}
		if plan.ResultFile != "/dev/termination-log" || plan.Start == nil || plan.Start.File != "/etc/dilo/start/at" {
			t.Errorf("pod %s run plan: result file %q, start %+v", p.Name, plan.ResultFile, plan.Start)
		}
		if diff := cmp.Diff([]corev1.PodReadinessGate{{ConditionType: dilov1.ReadinessGateNeverReady}}, p.Spec.ReadinessGates); diff != "" {
			t.Errorf("pod %s readiness gates (-want +got):\n%s", p.Name, diff)
		}
		sc := c.SecurityContext
		if p.Spec.RestartPolicy != corev1.RestartPolicyNever || !*p.Spec.SecurityContext.RunAsNonRoot ||
			p.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
			*sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" ||
			*p.Spec.AutomountServiceAccountToken || *p.Spec.EnableServiceLinks {
			t.Errorf("pod %s is not restricted: %+v %+v", p.Name, p.Spec.SecurityContext, sc)
		}
	}

	// The start gate opens only once every pod runs.
	runAll(t, pods[:2])
	consistently(t, time.Second, func() error {
		for _, p := range runPods(t, lt, 1) {
			if v, ok := p.Annotations[dilov1.AnnotationStartAt]; ok {
				return fmt.Errorf("pod %s has start-at %q before every pod runs", p.Name, v)
			}
		}
		return nil
	})
	before := time.Now()
	runAll(t, pods[2:])
	at := waitStartAt(t, lt, 1)
	start, err := time.Parse(time.RFC3339, at)
	if err != nil || start.Before(before.Truncate(time.Second)) || start.After(time.Now().Add(3*time.Second)) {
		t.Errorf("start-at %q (%v), want about 2s after %s", at, err, before)
	}

	msg := resultMessage(t, start, 100, 5, 20*time.Millisecond)
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(msg))
	}
	got = waitState(t, lt, dilov1.StateFinished)
	res := got.Status.Results
	if res == nil || res.Pods != 3 || res.Requests != 300 || res.Errors != 15 || res.ErrorRatio != "0.0500" || res.Codes["200"] != 285 {
		t.Errorf("results %+v, want 3 pods, 300 requests, 15 errors", res)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionComplete); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Complete condition %+v, want True", c)
	}
	if meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionFailed) != nil {
		t.Errorf("finished run has a Failed condition: %+v", got.Status.Conditions)
	}
	if got.Status.CompletionTime == nil || got.Status.Succeeded != 3 || got.Status.Active != 0 {
		t.Errorf("finished status: %+v", got.Status)
	}
	waitEvents(t, got, "RunStarted", "Executing", "StartGateOpened", "Finished")
}

// TestLoadTestFails checks each way a run fails fast: the condition reason, the message
// naming the pod, and the run's pods that had not ended deleted.
func TestLoadTestFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*dilov1.LoadTest)
		break_ func(t *testing.T, lt *dilov1.LoadTest, pod corev1.Pod) // breaks the second pod, the first one running
		reason string
		want   string // in the condition message
	}{{
		name: "pod failed",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, ended(corev1.PodFailed, "Error", 1, "agent: could not run: no start time"))
		},
		reason: dilov1.ReasonPodFailed, want: "exited with code 1: agent: could not run",
	}, {
		name: "image pull",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, func(st *corev1.PodStatus) {
				st.Phase = corev1.PodPending
				st.ContainerStatuses = []corev1.ContainerStatus{{Name: agentContainer, Image: testImage,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}}
			})
		},
		reason: dilov1.ReasonImagePullFailed, want: "ImagePullBackOff",
	}, {
		name: "container config",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, func(st *corev1.PodStatus) {
				st.Phase = corev1.PodPending
				st.ContainerStatuses = []corev1.ContainerStatus{{Name: agentContainer, Image: testImage,
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: "bad"}}}}
			})
		},
		reason: dilov1.ReasonContainerCreateFailed, want: "CreateContainerConfigError",
	}, {
		name: "OOM killed",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, ended(corev1.PodFailed, "OOMKilled", 137, ""))
		},
		reason: dilov1.ReasonOOMKilled, want: "memory limit 256Mi",
	}, {
		name: "evicted",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, func(st *corev1.PodStatus) {
				st.Phase, st.Reason, st.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
			})
		},
		reason: dilov1.ReasonEvicted, want: "low on resource",
	}, {
		name: "unschedulable past the grace",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			setPodStatus(t, p.Name, p.Namespace, func(st *corev1.PodStatus) {
				st.Phase = corev1.PodPending
				st.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonUnschedulable, Message: "0/3 nodes are available",
					LastTransitionTime: metav1.NewTime(time.Now().Add(-dilov1.UnschedulableGraceSeconds * time.Second))}}
			})
		},
		reason: dilov1.ReasonUnschedulable, want: "0/3 nodes are available",
	}, {
		name: "pod deleted",
		break_: func(t *testing.T, _ *dilov1.LoadTest, p corev1.Pod) {
			if err := env.Client.Delete(context.Background(), &p); err != nil {
				t.Fatal(err)
			}
		},
		reason: dilov1.ReasonPodDeleted, want: "",
	}, {
		name: "result unreadable",
		break_: func(t *testing.T, lt *dilov1.LoadTest, p corev1.Pod) {
			for _, q := range runPods(t, lt, 1) {
				setPodStatus(t, q.Name, q.Namespace, running)
			}
			for _, q := range runPods(t, lt, 1) {
				msg := resultMessage(t, time.Now(), 10, 0, time.Millisecond)
				if q.Name == p.Name {
					msg = "not a result"
				}
				setPodStatus(t, q.Name, q.Namespace, succeeded(msg))
			}
		},
		reason: dilov1.ReasonResultUnreadable, want: "",
	}, {
		name: "threshold broken",
		mod: func(lt *dilov1.LoadTest) {
			lt.Spec.Thresholds = &dilov1.Thresholds{MaxP50: &metav1.Duration{Duration: 10 * time.Millisecond}}
		},
		break_: func(t *testing.T, lt *dilov1.LoadTest, _ corev1.Pod) {
			for _, q := range runPods(t, lt, 1) {
				setPodStatus(t, q.Name, q.Namespace, running)
			}
			for _, q := range runPods(t, lt, 1) {
				setPodStatus(t, q.Name, q.Namespace, succeeded(resultMessage(t, time.Now(), 10, 0, 50*time.Millisecond)))
			}
		},
		reason: dilov1.ReasonThresholdBroken, want: "exceeds maxP50 10ms",
	}, {
		name:   "deadline",
		mod:    func(lt *dilov1.LoadTest) { lt.Spec.DeadlineSeconds = ptr.To[int64](2) },
		break_: func(*testing.T, *dilov1.LoadTest, corev1.Pod) {}, // the deadline comes by itself
		reason: dilov1.ReasonDeadlineExceeded, want: "2s after it started",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, ns, _ := setup(t)
			lt := createLoadTest(t, ns, "fails", 2, tc.mod)
			waitState(t, lt, dilov1.StateExecuting)
			pods := waitPods(t, lt, 1, 2)
			setPodStatus(t, pods[0].Name, ns, running)
			tc.break_(t, lt, pods[1])
			want := tc.want
			if want == "" {
				want = "pod " + pods[1].Name
			}
			got := waitFailed(t, lt, tc.reason, want)
			if tc.reason == dilov1.ReasonThresholdBroken && (got.Status.Results == nil || got.Status.Results.Requests != 20) {
				t.Errorf("a run that broke a threshold keeps its results: %+v", got.Status.Results)
			}
			// The pods that had not ended are deleted; ended ones stay for their logs.
			var keep []string
			for _, p := range runPods(t, lt, 1) {
				if podEnded(&p) {
					keep = append(keep, p.Name)
				}
			}
			waitGone(t, lt, keep...)
			waitEvents(t, got, tc.reason)
		})
	}
}

// TestLoadTestServiceProblems checks that a run fails at once, with no pod, when its
// Service is missing or of type ExternalName.
func TestLoadTestServiceProblems(t *testing.T) {
	_, ns, _ := setup(t)
	createService(t, ns, "external", corev1.ServiceTypeExternalName)
	for _, tc := range []struct{ service, port, reason string }{
		{"missing", "", dilov1.ReasonServiceNotFound},
		{"external", "", dilov1.ReasonExternalNameService},
		{"web", "grpc", dilov1.ReasonServicePortNotFound},
	} {
		lt := createLoadTest(t, ns, "svc-"+tc.service, 2, func(lt *dilov1.LoadTest) {
			lt.Spec.Test.ServiceName = tc.service
			if tc.port != "" {
				lt.Spec.Test.Port = ptr.To(intstr.FromString(tc.port))
			}
		})
		got := waitFailed(t, lt, tc.reason, tc.service)
		if c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionFailed); !strings.Contains(c.Message, ns) || strings.Contains(c.Message, "example.com") {
			t.Errorf("%s: message %q should name the namespace and not the ExternalName's target", tc.reason, c.Message)
		}
		if pods := runPods(t, lt, 0); len(pods) != 0 {
			t.Errorf("%s: %d pods created for a run that cannot start", tc.reason, len(pods))
		}
	}

	// Fixing the spec of a failed LoadTest starts a new run, with a clean status: the
	// failed run's conditions gone, Stalled included.
	lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "svc-missing"}}
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Test.ServiceName = "web" })
	got := waitState(t, lt, dilov1.StateExecuting)
	if got.Status.ObservedGeneration != 2 || len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != dilov1.ConditionReconciling ||
		got.Status.CompletionTime != nil {
		t.Errorf("status of the new run: %+v", got.Status)
	}
	waitPods(t, lt, 2, 2)
}

// TestLoadTestSpecUpdate checks that a spec edit deletes every pod of the old run and
// starts a new one from pending, and that a label edit changes nothing.
func TestLoadTestSpecUpdate(t *testing.T) {
	ctx, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "update", 2, nil)
	waitState(t, lt, dilov1.StateExecuting)
	old := waitPods(t, lt, 1, 2)
	runAll(t, old)
	waitStartAt(t, lt, 1)

	// A label edit does not bump the generation: the run goes on, untouched.
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Labels = map[string]string{"team": "perf"} })
	got := waitFor(t, lt, "labelled", func(lt *dilov1.LoadTest) bool { return lt.Labels["team"] == "perf" })
	if got.Generation != 1 {
		t.Fatalf("a label edit bumped the generation to %d", got.Generation)
	}
	consistently(t, time.Second, func() error {
		cur := runPods(t, lt, 0)
		if len(cur) != 2 || cur[0].UID != old[0].UID || cur[1].UID != old[1].UID {
			return fmt.Errorf("the run's pods changed after a label edit: %d pods", len(cur))
		}
		st := &dilov1.LoadTest{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lt), st); err != nil {
			return err
		}
		if st.Status.ObservedGeneration != 1 || st.Status.State != dilov1.StateExecuting {
			return fmt.Errorf("status changed after a label edit: %+v", st.Status)
		}
		return nil
	})

	// An edit of updatePolicy alone bumps the generation but keeps the run going.
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject })
	got = waitFor(t, lt, "observed generation 2", func(lt *dilov1.LoadTest) bool { return lt.Status.ObservedGeneration == 2 })
	if got.Status.Run != 1 || got.Status.State != dilov1.StateExecuting {
		t.Fatalf("an updatePolicy edit changed the run: %+v", got.Status)
	}
	if cur := runPods(t, lt, 0); len(cur) != 2 || cur[0].UID != old[0].UID || cur[1].UID != old[1].UID {
		t.Fatalf("the run's pods changed after an updatePolicy edit: %d pods", len(cur))
	}

	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas = 3 })
	got = waitState(t, lt, dilov1.StateExecuting)
	if got.Status.ObservedGeneration != 3 || got.Status.Run != 3 || got.Status.StartTime == nil || len(got.Status.Children) != 3 ||
		meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionFailed) != nil {
		t.Errorf("new run status: %+v", got.Status)
	}
	pods := waitPods(t, lt, 3, 3)
	for _, p := range pods {
		if _, ok := p.Annotations[dilov1.AnnotationStartAt]; ok {
			t.Errorf("new run's pod %s has a start-at already", p.Name)
		}
	}
	if all := runPods(t, lt, 0); len(all) != 3 {
		t.Errorf("%d pods after the restart, want only the new run's 3", len(all))
	}
	for _, p := range old {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&p), &corev1.Pod{}); err == nil {
			t.Errorf("old run's pod %s still exists", p.Name)
		}
	}
	waitEvents(t, got, "RunStarted")
}

// TestLoadTestDelete checks that deleting a LoadTest deletes its pods, by the garbage
// collector following the owner references.
func TestLoadTestDelete(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "delete", 2, nil)
	waitState(t, lt, dilov1.StateExecuting)
	waitPods(t, lt, 1, 2)
	deleteAndWait(t, lt)
	waitGone(t, lt)
}

// TestLoadTestManagerRestart stops the manager in the middle of a run, finishes the pods
// while no manager runs, and checks that a new manager finishes the run without
// creating any pod again.
func TestLoadTestManagerRestart(t *testing.T) {
	_, ns, mgr := setup(t)
	lt := createLoadTest(t, ns, "restart", 3, nil)
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 3)
	runAll(t, pods)
	at := waitStartAt(t, lt, 1)
	mgr.stop()

	msg := resultMessage(t, time.Now(), 50, 0, time.Millisecond)
	for _, p := range pods {
		setPodStatus(t, p.Name, ns, succeeded(msg))
	}
	startManager(t, ns)
	got := waitState(t, lt, dilov1.StateFinished)
	if got.Status.Results == nil || got.Status.Results.Requests != 150 {
		t.Errorf("results after the restart: %+v", got.Status.Results)
	}
	after := runPods(t, lt, 0)
	if len(after) != 3 {
		t.Fatalf("%d pods after the restart, want 3", len(after))
	}
	for i, p := range after {
		if p.UID != pods[i].UID || p.Annotations[dilov1.AnnotationStartAt] != at {
			t.Errorf("pod %s was replaced or re-gated after the restart", p.Name)
		}
	}
}

// TestLoadTestManagerRestartWhilePending stops the manager right after the first pods
// are created and checks that the next manager completes the same run.
func TestLoadTestManagerRestartWhilePending(t *testing.T) {
	_, ns, mgr := setup(t)
	lt := createLoadTest(t, ns, "pending", 5, nil)
	if err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		if len(runPods(t, lt, 0)) == 0 {
			return fmt.Errorf("no pod yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mgr.stop()
	startManager(t, ns)
	got := waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 5)
	if got.Status.ObservedGeneration != 1 || len(got.Status.Children) != 5 {
		t.Errorf("status after the restart: %+v", got.Status)
	}
	if all := runPods(t, lt, 0); len(all) != len(pods) {
		t.Errorf("%d pods, want %d", len(all), len(pods))
	}
}

// patchLoadTest changes a LoadTest with a merge patch.
func patchLoadTest(t *testing.T, lt *dilov1.LoadTest, change func(*dilov1.LoadTest)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &dilov1.LoadTest{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: lt.Namespace, Name: lt.Name}, cur); err != nil {
			return err
		}
		orig := cur.DeepCopy()
		change(cur)
		return env.Client.Patch(context.Background(), cur, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil && !strings.Contains(err.Error(), "no changes") {
		t.Fatal(err)
	}
}

// TestLoadTestTTL checks spec.ttlSecondsAfterFinished: the pods of an ended run are
// kept until it passes, then deleted, its status kept; with ttlDeletesLoadTest the
// LoadTest itself is deleted.
func TestLoadTestTTL(t *testing.T) {
	t.Run("finished: pods deleted, status kept", func(t *testing.T) {
		_, ns, _ := setup(t)
		lt := createLoadTest(t, ns, "ttl", 2, func(lt *dilov1.LoadTest) {
			lt.Spec.TTLSecondsAfterFinished = ptr.To[int32](3)
		})
		waitState(t, lt, dilov1.StateExecuting)
		pods := waitPods(t, lt, 1, 2)
		runAll(t, pods)
		start, err := time.Parse(time.RFC3339, waitStartAt(t, lt, 1))
		if err != nil {
			t.Fatal(err)
		}
		msg := resultMessage(t, start, 100, 0, 10*time.Millisecond)
		for _, p := range pods {
			setPodStatus(t, p.Name, ns, succeeded(msg))
		}
		finished := waitState(t, lt, dilov1.StateFinished)
		// completionTime is stored to the second: the TTL passes 2 to 3 seconds from now.
		consistently(t, time.Second, func() error {
			if n := len(runPods(t, lt, 1)); n != 2 {
				return fmt.Errorf("%d pods left before the TTL passed, want 2", n)
			}
			return nil
		})
		waitGone(t, lt)
		got := waitState(t, lt, dilov1.StateFinished)
		if diff := cmp.Diff(finished.Status, got.Status); diff != "" {
			t.Errorf("status changed when the pods were deleted (-before +after):\n%s", diff)
		}
		if got.Status.Results == nil || got.Status.Results.Requests != 200 {
			t.Errorf("results %+v, want 200 requests kept", got.Status.Results)
		}
		waitEvents(t, got, "Finished", "PodsExpired")
		// The run's end was recorded in the metrics, once.
		var m dto.Metric
		if err := metrics.Requests.WithLabelValues(ns, "ttl").Write(&m); err != nil || m.GetCounter().GetValue() != 200 {
			t.Errorf("dilo_loadtest_requests_total = %v (%v), want 200", m.GetCounter().GetValue(), err)
		}
	})
	t.Run("failed: LoadTest deleted", func(t *testing.T) {
		_, ns, _ := setup(t)
		lt := createLoadTest(t, ns, "ttl-delete", 2, func(lt *dilov1.LoadTest) {
			lt.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
			lt.Spec.TTLDeletesLoadTest = true
		})
		waitState(t, lt, dilov1.StateExecuting)
		pods := waitPods(t, lt, 1, 2)
		setPodStatus(t, pods[0].Name, ns, ended(corev1.PodFailed, "Error", 1, "agent: boom"))
		err := testenv.Eventually(context.Background(), wait, func(ctx context.Context) error {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(lt), &dilov1.LoadTest{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("LoadTest still exists (%v)", err)
		})
		if err != nil {
			t.Fatal(err)
		}
		waitGone(t, lt)
	})
}

// TestLoadTestPodRejected checks that a pod the API server refuses (here an invalid
// toleration, which no webhook caught) fails the run instead of leaving it pending.
func TestLoadTestPodRejected(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "rejected", 2, func(lt *dilov1.LoadTest) {
		lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{
			// Exists with a value is invalid for a pod.
			Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}},
		}}
	})
	waitFailed(t, lt, dilov1.ReasonPodRejected, "the API server refused pod rejected-1-0")
	if pods := runPods(t, lt, 0); len(pods) != 0 {
		t.Errorf("%d pods exist for a run whose pods were refused", len(pods))
	}
}

// TestLoadTestPodTemplate checks that the stored pods carry spec.podTemplate, DiLO's
// labels winning, and that the run still goes on.
func TestLoadTestPodTemplate(t *testing.T) {
	_, ns, _ := setup(t)
	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "load", Effect: corev1.TaintEffectNoSchedule}}
	affinity := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{
			TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"example.org/loadtest": "tpl"}},
		}}},
	}}
	lt := createLoadTest(t, ns, "tpl", 2, func(lt *dilov1.LoadTest) {
		lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{
				Labels:      map[string]string{"team": "perf", "example.org/loadtest": "other"},
				Annotations: map[string]string{"sidecar.istio.io/inject": "false"},
			},
			Spec: dilov1.AgentPodSpec{
				Resources: &corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				NodeSelector: map[string]string{"pool": "load"},
				Tolerations:  tolerations,
				Affinity:     affinity,
			},
		}
	})
	waitState(t, lt, dilov1.StateExecuting)
	for i, p := range waitPods(t, lt, 1, 2) {
		wantLabels := map[string]string{"app.kubernetes.io/managed-by": "dilo", "example.org/loadtest": "tpl",
			"example.org/run": "1", "example.org/replica": fmt.Sprint(i), "team": "perf"}
		if diff := cmp.Diff(wantLabels, p.Labels); diff != "" {
			t.Errorf("pod %s labels (-want +got):\n%s", p.Name, diff)
		}
		if p.Annotations["sidecar.istio.io/inject"] != "false" {
			t.Errorf("pod %s annotations %v, want sidecar.istio.io/inject: false", p.Name, p.Annotations)
		}
		res := p.Spec.Containers[0].Resources
		if res.Requests.Cpu().String() != "500m" || res.Limits.Memory().String() != "512Mi" {
			t.Errorf("pod %s resources %+v, want the template's", p.Name, res)
		}
		if diff := cmp.Diff(map[string]string{"pool": "load"}, p.Spec.NodeSelector); diff != "" {
			t.Errorf("pod %s nodeSelector (-want +got):\n%s", p.Name, diff)
		}
		if !slices.ContainsFunc(p.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol == tolerations[0] }) {
			t.Errorf("pod %s tolerations %+v, want %+v among them", p.Name, p.Spec.Tolerations, tolerations[0])
		}
		if diff := cmp.Diff(affinity, p.Spec.Affinity); diff != "" {
			t.Errorf("pod %s affinity (-want +got):\n%s", p.Name, diff)
		}
	}
}
