package reconcile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// TestLoadTestValues: a run that reads a Secret or ConfigMap key fails before any pod
// exists when it is missing; once it exists, the pods read it from a projected file,
// and no value is in the pod or its plan.
func TestLoadTestValues(t *testing.T) {
	ctx, ns, _ := setup(t)
	const secretValue = "Bearer s3cr3t-never-in-a-pod"
	mix := func(lt *dilov1.LoadTest) {
		lt.Spec.Test.Path = ""
		lt.Spec.Test.Headers = []dilov1.Header{{Name: "Authorization", ValueFrom: &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: "token", Key: "value"}}}}
		lt.Spec.Test.Requests = []dilov1.Request{
			{Name: "list", Weight: ptr.To[int32](4), Path: "/items"},
			{Name: "order", Method: "POST", Path: "/orders", Body: &dilov1.Body{ValueFrom: &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "orders", Key: "order.json"}}}},
		}
	}
	lt := createLoadTest(t, ns, "values", 2, mix)
	got := waitFailed(t, lt, dilov1.ReasonReferenceNotFound, "Secret "+ns+"/token (spec.test.headers[0].valueFrom) does not exist")
	if pods := runPods(t, lt, got.Status.Run); len(pods) != 0 {
		t.Errorf("%d pods created for a run whose Secret is missing", len(pods))
	}

	create := func(obj client.Object) {
		t.Helper()
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "token"}, StringData: map[string]string{"value": secretValue}})
	create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"}, Data: map[string]string{"other.json": "{}"}})
	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Test.TimeoutSeconds = ptr.To[int32](5) })
	waitFailed(t, lt, dilov1.ReasonReferenceNotFound, "ConfigMap "+ns+`/orders (spec.test.requests[1].body.valueFrom) has no key "order.json"`)

	patchLoadTest(t, lt, func(lt *dilov1.LoadTest) { lt.Spec.Test.Requests[1].Body.ValueFrom.ConfigMapKeyRef.Key = "other.json" })
	pods := waitPods(t, lt, 3, 2)
	for _, p := range pods {
		if doc, _ := json.Marshal(p); strings.Contains(string(doc), "s3cr3t") {
			t.Errorf("pod %s holds the Secret's value", p.Name)
		}
		plan, err := runplan.Parse([]byte(p.Annotations[dilov1.AnnotationRunPlan]))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]runplan.Header{{Name: "Authorization", File: valuesDir + "/0"}}, plan.Headers); diff != "" {
			t.Errorf("pod %s plan headers (-want +got):\n%s", p.Name, diff)
		}
		var mounted bool
		for _, m := range p.Spec.Containers[0].VolumeMounts {
			mounted = mounted || m.Name == "values" && m.MountPath == valuesDir && m.ReadOnly
		}
		if !mounted {
			t.Errorf("pod %s does not mount the values volume: %+v", p.Name, p.Spec.Containers[0].VolumeMounts)
		}
	}
}
