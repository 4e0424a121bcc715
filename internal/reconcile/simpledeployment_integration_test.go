package reconcile

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestSimpleDeployment checks that a SimpleDeployment gets its one pod, that a spec
// edit replaces it, and that deleting it deletes the pod.
func TestSimpleDeployment(t *testing.T) {
	ctx, ns, _ := setup(t)
	sd := &dilov1.SimpleDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "simple", Namespace: ns},
		Spec:       dilov1.SimpleDeploymentSpec{Sleepytime: ptr.To(intstr.FromString("120"))},
	}
	if err := env.Client.Create(ctx, sd); err != nil {
		t.Fatal(err)
	}
	pod := waitSimplePod(t, sd, "simple-1")
	wantCmd := []string{"/agent", "sleep", "--seconds=120", "--message=I'm so very useful!"}
	if diff := cmp.Diff(wantCmd, pod.Spec.Containers[0].Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.Kind != "SimpleDeployment" || ref.Name != "simple" {
		t.Errorf("pod controller %+v", ref)
	}
	sc := pod.Spec.Containers[0].SecurityContext
	if pod.Spec.Containers[0].Image != testImage || !*pod.Spec.SecurityContext.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("pod spec: %+v", pod.Spec)
	}

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sd), sd); err != nil {
			return err
		}
		sd.Spec.Sleepytime = ptr.To(intstr.FromInt32(7))
		return env.Client.Update(ctx, sd)
	})
	if err != nil {
		t.Fatal(err)
	}
	pod = waitSimplePod(t, sd, "simple-2")
	if got := pod.Spec.Containers[0].Command[2]; got != "--seconds=7" {
		t.Errorf("new pod sleeps %s, want --seconds=7", got)
	}

	deleteAndWait(t, sd)
	if err := testenv.Eventually(ctx, wait, func(ctx context.Context) error {
		if pods := simplePods(t, sd); len(pods) > 0 {
			return fmt.Errorf("pods left: %v", pods)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// simplePods are the names of the SimpleDeployment's pods.
func simplePods(t *testing.T, sd *dilov1.SimpleDeployment) []string {
	var list corev1.PodList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(sd.Namespace),
		client.MatchingLabels{dilov1.LabelSimpleDeployment: sd.Name}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// waitSimplePod waits until name is the SimpleDeployment's only pod and its status
// says so, and returns the pod.
func waitSimplePod(t *testing.T, sd *dilov1.SimpleDeployment, name string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	err := testenv.Eventually(context.Background(), wait, func(ctx context.Context) error {
		got := &dilov1.SimpleDeployment{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sd), got); err != nil {
			return err
		}
		if len(got.Status.Children) != 1 || got.Status.Children[0] != name || got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("status %+v, want children [%s]", got.Status, name)
		}
		if pods := simplePods(t, sd); len(pods) != 1 || pods[0] != name {
			return fmt.Errorf("pods %v, want [%s]", pods, name)
		}
		return env.Client.Get(ctx, client.ObjectKey{Namespace: sd.Namespace, Name: name}, pod)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}
