package webhook

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// TestLoadTestValidator checks the glue: which rules run on create and update, with
// the Services read from a (fake) cache, and the Invalid error they make.
func TestLoadTestValidator(t *testing.T) {
	services := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "nginx-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "nginx", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "idle", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "idle"}, Ports: []corev1.ServicePort{{Port: 80}}}},
	).Build()
	v := &LoadTestValidator{Services: services, Policy: testPolicy()}
	lt := func(service string, replicas int32, change ...func(*dilov1.LoadTest)) *dilov1.LoadTest {
		l := &dilov1.LoadTest{
			ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"},
			Spec:       dilov1.LoadTestSpec{Replicas: replicas, Test: dilov1.TestSpec{ServiceName: service, Path: "/"}},
		}
		l.Default()
		for _, c := range change {
			c(l)
		}
		return l
	}
	running := func(l *dilov1.LoadTest) { l.Status.State = dilov1.StateExecuting }
	reject := func(l *dilov1.LoadTest) { l.Spec.UpdatePolicy = dilov1.UpdatePolicyReject }
	deleting := func(l *dilov1.LoadTest) { l.DeletionTimestamp = &metav1.Time{} }
	tests := []struct {
		name         string
		old, new     *dilov1.LoadTest // old nil: a create
		wantErr      string
		wantWarnings []string
	}{
		{name: "create", new: lt("nginx", 1)},
		{name: "create, Service without endpoints", new: lt("idle", 1), wantWarnings: []string{
			`spec.test.serviceName: Service "idle" in namespace "ns" has no ready endpoints yet: the load test's requests will fail until the Service's pods are ready`}},
		{name: "create, every error at once", new: lt("missing", 11), wantErr: `LoadTest.example.org "x" is invalid: [` +
			`spec.replicas: Invalid value: 11: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas), ` +
			`spec.test.serviceName: Not found: "missing": no Service with this name in namespace "ns": create the Service first, or set spec.test.serviceName to a Service of this namespace]`},
		{name: "update, spec unchanged although invalid now", old: lt("missing", 11), new: lt("missing", 11, func(l *dilov1.LoadTest) { l.Labels = map[string]string{"a": "b"} })},
		{name: "update, only updatePolicy although invalid now", old: lt("missing", 11, reject, running), new: lt("missing", 11, running)},
		{name: "update of an object being deleted", old: lt("missing", 11), new: lt("missing", 12, deleting)},
		{name: "update, spec edit checks the spec", old: lt("nginx", 1), new: lt("nginx", 11), wantErr: `LoadTest.example.org "x" is invalid: ` +
			`spec.replicas: Invalid value: 11: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)`},
		{name: "update, Reject while executing", old: lt("nginx", 1, reject, running), new: lt("nginx", 2, reject, running), wantErr: `LoadTest.example.org "x" is invalid: ` +
			`spec: Forbidden: the run is executing and spec.updatePolicy is Reject, so spec.replicas cannot change until the run ends; ` +
			`to restart the test with this edit, first change only spec.updatePolicy to Restart (kubectl patch loadtest x -n ns --type=merge -p '{"spec":{"updatePolicy":"Restart"}}'), ` +
			`then edit again; or delete and re-create the LoadTest`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				warnings []string
				err      error
			)
			if tt.old == nil {
				warnings, err = v.ValidateCreate(context.Background(), tt.new)
			} else {
				warnings, err = v.ValidateUpdate(context.Background(), tt.old, tt.new)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, []string(warnings)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
