//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestRestrictedPodSecurity runs the tutorial's LoadTest to finished in a namespace that
// enforces the restricted Pod Security Standard: the agent pods pass it for real. A pod
// that breaks the standard is refused there first, so the enforcement is known to be on.
func TestRestrictedPodSecurity(t *testing.T) {
	ns := newLabelledNamespace(t, map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	})
	root := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runs-as-root"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
	err := k8s.Create(ctx(t), root, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a pod breaking the restricted standard: %v; want it refused (violates PodSecurity)", err)
	}

	lt := &dilov1.LoadTest{}
	readYAML(t, "example-02.yaml", lt)
	lt.Namespace = ns
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateFinished, 3*time.Minute)
	if r := lt.Status.Results; r == nil || r.Pods != 5 || r.Requests != 50 || r.Errors != 0 {
		t.Errorf("results %+v; want 5 pods, 50 requests, 0 errors", r)
	}
}
