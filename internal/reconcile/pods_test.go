package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestTrimPod checks what the cache keeps of a pod DiLO created, once it ran: metadata
// without managed fields and others' annotations, the whole status, the node and the
// containers' limits.
func TestTrimPod(t *testing.T) {
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns", UID: "uid-1", Generation: 1},
		Spec:       dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}},
	}
	pod, err := desiredLoadTestPod(lt, 1, 0, &dilov1.RunTarget{Address: "10.97.0.7", Port: 80, Host: "web.ns.svc"}, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	plan := pod.Annotations[dilov1.AnnotationRunPlan]
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "dilo"}}
	pod.Annotations = map[string]string{dilov1.AnnotationStartAt: "2026-12-01T10:00:00Z", dilov1.AnnotationRunPlan: plan,
		"from-the-template": strings.Repeat("x", 30000)}
	pod.Spec.NodeName = "node-1"
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodFailed,
		ContainerStatuses: []corev1.ContainerStatus{{Name: agentContainer, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "{}"},
		}}},
	}
	want := pod.DeepCopy()
	want.ManagedFields = nil
	want.Annotations = map[string]string{dilov1.AnnotationStartAt: "2026-12-01T10:00:00Z", dilov1.AnnotationRunPlan: plan}
	want.Spec = corev1.PodSpec{
		NodeName: "node-1",
		Containers: []corev1.Container{{Name: agentContainer, Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		}}},
	}

	got, err := trimPod(pod)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trimmed pod (-want +got):\n%s", diff)
	}
	if got := memoryLimit(got.(*corev1.Pod), agentContainer); got != "256Mi" {
		t.Errorf("memoryLimit of the trimmed pod = %s, want 256Mi", got)
	}
	svc := &corev1.Service{}
	if got, _ := trimPod(svc); got != svc {
		t.Errorf("trimPod changed a %T", svc)
	}
}

func TestTrimLoadTest(t *testing.T) {
	lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{
		Name:          "x",
		Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: strings.Repeat("x", 60000), "keep": "me"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	got, err := trimLoadTest(lt)
	if err != nil {
		t.Fatal(err)
	}
	want := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "x", Annotations: map[string]string{"keep": "me"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trimLoadTest (-want +got):\n%s", diff)
	}
}
