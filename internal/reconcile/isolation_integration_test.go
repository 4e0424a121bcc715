package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Attacks by a LoadTest author on the run's target: each must fail the run with a
// reason of its own and leave no pod sending.

// executingRun creates a LoadTest of 2 replicas against Service "web" and waits until
// its pods run, the start gate open.
func executingRun(t *testing.T, ns, name string) (*dilov1.LoadTest, []corev1.Pod) {
	t.Helper()
	lt := createLoadTest(t, ns, name, 2, nil)
	waitState(t, lt, dilov1.StateExecuting)
	pods := waitPods(t, lt, 1, 2)
	runAll(t, pods)
	waitStartAt(t, lt, 1)
	return lt, pods
}

// TestTargetReplacedByExternalName: the Service is deleted and created again as an
// ExternalName alias of an outside host after the run started.
func TestTargetReplacedByExternalName(t *testing.T) {
	ctx, ns, _ := setup(t)
	lt, _ := executingRun(t, ns, "rename")
	deleteAndWait(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})
	if err := env.Client.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "victim.example.com"},
	}); err != nil {
		t.Fatal(err)
	}
	got := waitFailed(t, lt, dilov1.ReasonTargetChanged, "deleted")
	if msg := got.Status.Conditions[0].Message; strings.Contains(msg, "victim.example.com") {
		t.Errorf("message %q reveals the ExternalName's target", msg)
	}
	waitGone(t, lt)
	waitEvents(t, got, dilov1.ReasonTargetChanged)
}

// TestTargetRepointedByEndpointSlice: a hand-written EndpointSlice gives the Service an
// endpoint outside the cluster while the run goes.
func TestTargetRepointedByEndpointSlice(t *testing.T) {
	ctx, ns, _ := setup(t)
	lt, _ := executingRun(t, ns, "repoint")
	if err := env.Client.Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "web-outside", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}}},
		Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}},
	}); err != nil {
		t.Fatal(err)
	}
	waitFailed(t, lt, dilov1.ReasonTargetChanged, `EndpointSlice "web-outside"`)
	waitGone(t, lt)
}

// TestTargetSelectorRemoved: the Service's selector is removed mid-run, so that its
// endpoints become whatever someone writes.
func TestTargetSelectorRemoved(t *testing.T) {
	ctx, ns, _ := setup(t)
	lt, _ := executingRun(t, ns, "unselect")
	svc := &corev1.Service{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, svc); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(svc.DeepCopy())
	svc.Spec.Selector = nil
	if err := env.Client.Patch(ctx, svc, patch); err != nil {
		t.Fatal(err)
	}
	waitFailed(t, lt, dilov1.ReasonTargetChanged, "has no selector")
	waitGone(t, lt)
}

// TestServiceWithoutSelectorRefused: a run never starts against a Service without a
// selector, and no pod is created for it.
func TestServiceWithoutSelectorRefused(t *testing.T) {
	ctx, ns, _ := setup(t)
	if err := env.Client.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "by-hand"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}); err != nil {
		t.Fatal(err)
	}
	lt := createLoadTest(t, ns, "by-hand", 2, func(lt *dilov1.LoadTest) { lt.Spec.Test.ServiceName = "by-hand" })
	waitFailed(t, lt, dilov1.ReasonServiceWithoutSelector, "--allow-services-without-selector")
	if pods := runPods(t, lt, 0); len(pods) != 0 {
		t.Errorf("%d pods created for a Service without selector", len(pods))
	}
}

// TestLimitsWithoutWebhooks: the load limits hold at run start when no webhook judged
// the LoadTest (the suite installs none).
func TestLimitsWithoutWebhooks(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "flood", 20, func(lt *dilov1.LoadTest) { lt.Spec.Test.Concurrency = ptr.To[int32](1000) })
	waitFailed(t, lt, dilov1.ReasonLimitExceeded, "--max-connections-per-loadtest")
	if pods := runPods(t, lt, 0); len(pods) != 0 {
		t.Errorf("%d pods created for a run over the limits", len(pods))
	}
	long := createLoadTest(t, ns, "long", 1, func(lt *dilov1.LoadTest) { lt.Spec.DeadlineSeconds = ptr.To[int64](7 * 86400) })
	waitFailed(t, long, dilov1.ReasonLimitExceeded, "--max-deadline")
}

// TestPodTemplateCannotSetDiLOKeys: without the webhook, a podTemplate's keys under
// DiLO's prefix still never reach the pods (a label example.org/simpledeployment would
// make the pod look like a SimpleDeployment's; example.org/start-at would open the start
// gate early).
func TestPodTemplateCannotSetDiLOKeys(t *testing.T) {
	_, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "keys", 1, func(lt *dilov1.LoadTest) {
		lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{
			Labels:      map[string]string{dilov1.LabelSimpleDeployment: "victim", "team": "a"},
			Annotations: map[string]string{dilov1.AnnotationStartAt: "2020-01-01T00:00:00Z", "note": "x"},
		}}
	})
	pod := waitPods(t, lt, 1, 1)[0]
	if _, ok := pod.Labels[dilov1.LabelSimpleDeployment]; ok || pod.Labels["team"] != "a" {
		t.Errorf("pod labels %v; want team=a and no %s", pod.Labels, dilov1.LabelSimpleDeployment)
	}
	if _, ok := pod.Annotations[dilov1.AnnotationStartAt]; ok || pod.Annotations["note"] != "x" {
		t.Errorf("pod annotations %v; want note=x and no %s", pod.Annotations, dilov1.AnnotationStartAt)
	}
}

// TestLookAlikePodIsNotDeleted: a pod that carries a LoadTest's labels but is not
// controlled by a LoadTest of that name is neither deleted nor waited for.
func TestLookAlikePodIsNotDeleted(t *testing.T) {
	ctx, ns, _ := setup(t)
	lookAlike := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "not-dilos", Labels: map[string]string{
			dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelLoadTest: "target", dilov1.LabelRun: "0",
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: testImage}}},
	}
	if err := env.Client.Create(ctx, lookAlike); err != nil {
		t.Fatal(err)
	}
	lt := createLoadTest(t, ns, "target", 1, nil)
	waitState(t, lt, dilov1.StateExecuting)
	consistently(t, 500*time.Millisecond, func() error {
		p := &corev1.Pod{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lookAlike), p); err != nil || p.DeletionTimestamp != nil {
			return fmt.Errorf("the look-alike pod was deleted (%v)", err)
		}
		return nil
	})
}
