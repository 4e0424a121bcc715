package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

	setSleepytime(t, sd, 7)
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

// TestSimpleDeploymentSparesPodsNotItsOwn is the attack on other pods through a
// SimpleDeployment's labels, which anyone may put on a pod: pods labelled as the
// SimpleDeployment's but controlled by a LoadTest or by nothing survive its reconciles,
// the one that creates its pod and the one that replaces it after a spec edit. A pod of
// nobody's that holds the name of its pod is left alone too, and not claimed as its child.
func TestSimpleDeploymentSparesPodsNotItsOwn(t *testing.T) {
	ctx, ns, _ := setup(t)
	lt := createLoadTest(t, ns, "load", 1, nil)
	foreign := []*corev1.Pod{
		createLabelledPod(t, ns, "of-a-loadtest", "simple", lt),
		createLabelledPod(t, ns, "of-nobody", "simple", nil),
		createLabelledPod(t, ns, "simple-1", "simple", nil), // its first pod's name
	}
	spared := func() error {
		for _, want := range foreign {
			pod := &corev1.Pod{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(want), pod); err != nil {
				return fmt.Errorf("pod %s: %v", want.Name, err)
			}
			if pod.UID != want.UID {
				return fmt.Errorf("pod %s was deleted and made again (uid %s, was %s)", want.Name, pod.UID, want.UID)
			}
			if pod.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s is being deleted", want.Name)
			}
		}
		return nil
	}

	sd := &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: "simple", Namespace: ns}}
	if err := env.Client.Create(ctx, sd); err != nil {
		t.Fatal(err)
	}
	consistently(t, 2*time.Second, spared)
	waitEvents(t, sd, "PodNameTaken")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sd), sd); err != nil {
		t.Fatal(err)
	}
	if len(sd.Status.Children) > 0 {
		t.Errorf("status claims children %v; pod simple-1 is not the SimpleDeployment's", sd.Status.Children)
	}

	// Once its name is free, it gets its pod; a spec edit then has a pod of its own to delete.
	deleteAndWait(t, foreign[2])
	foreign = foreign[:2]
	waitSimplePod(t, sd, "simple-1")
	setSleepytime(t, sd, 7)
	waitSimplePod(t, sd, "simple-2")
	waitEvents(t, sd, "Replaced")
	consistently(t, time.Second, spared)
}

// TestOfEarlierSimpleDeployment: the pods a SimpleDeployment deletes besides its own are
// those controlled by a SimpleDeployment of its name and group that is gone.
func TestOfEarlierSimpleDeployment(t *testing.T) {
	sd := &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: "simple", Namespace: "ns", UID: "now"}}
	gvk := dilov1.GroupVersion.WithKind("SimpleDeployment")
	ref := func(apiVersion, kind, name string, uid types.UID, controller bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(controller)}}
	}
	for _, tc := range []struct {
		name string
		refs []metav1.OwnerReference
		want bool
	}{
		{"an earlier SimpleDeployment", ref(gvk.GroupVersion().String(), gvk.Kind, "simple", "before", true), true},
		{"of another version", ref(gvk.Group+"/v2", gvk.Kind, "simple", "before", true), true},
		{"this SimpleDeployment", ref(gvk.GroupVersion().String(), gvk.Kind, "simple", "now", true), false},
		{"another SimpleDeployment", ref(gvk.GroupVersion().String(), gvk.Kind, "other", "before", true), false},
		{"owned, not controlled", ref(gvk.GroupVersion().String(), gvk.Kind, "simple", "before", false), false},
		{"a kind of another group", ref("other.example/v1", gvk.Kind, "simple", "before", true), false},
		{"a LoadTest", ref(gvk.GroupVersion().String(), "LoadTest", "simple", "before", true), false},
		{"nobody", nil, false},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "simple-1", Namespace: "ns", OwnerReferences: tc.refs}}
		if got := ofEarlierSimpleDeployment(pod, sd); got != tc.want {
			t.Errorf("%s: ofEarlierSimpleDeployment = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// createLabelledPod creates a pod carrying the labels of the SimpleDeployment sd's pods,
// controlled by owner (a LoadTest) or by nothing.
func createLabelledPod(t *testing.T, ns, name, sd string, owner *dilov1.LoadTest) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelSimpleDeployment: sd,
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: testImage}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, dilov1.GroupVersion.WithKind("LoadTest"))}
	}
	if err := env.Client.Create(context.Background(), pod); err != nil {
		t.Fatalf("failed to create pod %s: %v", name, err)
	}
	return pod
}

// simplePods are the names of the pods labelled as the SimpleDeployment's.
func simplePods(t *testing.T, sd *dilov1.SimpleDeployment) []string {
	return labelledPods(t, sd, func(*corev1.Pod) bool { return true })
}

// controlledPods are the names of the SimpleDeployment's pods that it controls.
func controlledPods(t *testing.T, sd *dilov1.SimpleDeployment) []string {
	return labelledPods(t, sd, func(p *corev1.Pod) bool { return metav1.IsControlledBy(p, sd) })
}

// labelledPods are the names of the pods labelled as the SimpleDeployment's that keep
// accepts.
func labelledPods(t *testing.T, sd *dilov1.SimpleDeployment, keep func(*corev1.Pod) bool) []string {
	t.Helper()
	var list corev1.PodList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(sd.Namespace),
		client.MatchingLabels{dilov1.LabelSimpleDeployment: sd.Name}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range list.Items {
		if keep(&list.Items[i]) {
			names = append(names, list.Items[i].Name)
		}
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
		if pods := controlledPods(t, got); len(pods) != 1 || pods[0] != name {
			return fmt.Errorf("pods %v, want [%s]", pods, name)
		}
		return env.Client.Get(ctx, client.ObjectKey{Namespace: sd.Namespace, Name: name}, pod)
	})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// setSleepytime edits sd's spec.sleepytime, as kubectl edit would.
func setSleepytime(t *testing.T, sd *dilov1.SimpleDeployment, seconds int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(sd), sd); err != nil {
			return err
		}
		sd.Spec.Sleepytime = ptr.To(intstr.FromInt32(seconds))
		return env.Client.Update(context.Background(), sd)
	})
	if err != nil {
		t.Fatal(err)
	}
}
