package webhook

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

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
	historyLimit := func(n int32) func(*dilov1.LoadTest) {
		return func(l *dilov1.LoadTest) { l.Spec.HistoryLimit = &n }
	}
	stop := func(v string) func(*dilov1.LoadTest) {
		return func(l *dilov1.LoadTest) { l.Annotations = map[string]string{dilov1.AnnotationStop: v} }
	}
	abortWithout := func(l *dilov1.LoadTest) { l.Spec.Thresholds = &dilov1.Thresholds{Abort: &dilov1.ThresholdAbort{}} }
	long := strings.Repeat("x", 300)
	tooLong := `metadata.annotations[example.org/stop]: Too long: may not be more than 256 bytes: any new value stops the run, ` +
		`such as the time of the request (kubectl annotate loadtest NAME example.org/stop="$(date -Is)" --overwrite)`
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
		{name: "update, only historyLimit while Reject and executing, although invalid now", old: lt("missing", 11, reject, running),
			new: lt("missing", 11, reject, running, historyLimit(2))},
		{name: "update, a stop while Reject and executing", old: lt("nginx", 1, reject, running), new: lt("nginx", 1, reject, running, stop("2026-12-02T10:00:00Z"))},
		{name: "update, a stop too long, spec unchanged", old: lt("nginx", 1, running), new: lt("nginx", 1, running, stop(long)),
			wantErr: `LoadTest.example.org "x" is invalid: ` + tooLong},
		{name: "update, a stop too long and a spec edit: every error", old: lt("nginx", 1), new: lt("nginx", 11, stop(long)),
			wantErr: `LoadTest.example.org "x" is invalid: [` + tooLong + `, ` +
				`spec.replicas: Invalid value: 11: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)]`},
		{name: "update, a stop too long but unchanged", old: lt("nginx", 1, stop(long)), new: lt("nginx", 1, stop(long), func(l *dilov1.LoadTest) { l.Labels = map[string]string{"a": "b"} })},
		{name: "create, a stop too long", new: lt("nginx", 1, stop(long)), wantErr: `LoadTest.example.org "x" is invalid: ` + tooLong},
		{name: "create, abort without a limit", new: lt("nginx", 1, abortWithout), wantErr: `LoadTest.example.org "x" is invalid: ` +
			`spec.thresholds.abort: Forbidden: checks the limits while the run executes, but none is set: set at least one of spec.thresholds.maxErrorRatio, ` +
			`spec.thresholds.maxP50, spec.thresholds.maxP90 and spec.thresholds.maxP99, or remove abort`},
		{name: "create, abort over a short window", new: lt("nginx", 1, func(l *dilov1.LoadTest) {
			l.Spec.Thresholds = &dilov1.Thresholds{MaxErrorRatio: "0.1", Abort: &dilov1.ThresholdAbort{WindowSeconds: ptr(int32(5))}}
		}), wantWarnings: []string{"spec.thresholds.abort.windowSeconds: a window of 5s holds only one or two of the manager's reads of the agents (every few seconds): " +
			"a single late read can break a limit and stop a healthy run; 10s or more is safer (unset: 30s)"}},
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

// recordingReader is a client.Reader that records the type of every object read.
type recordingReader struct {
	client.Reader
	read []string // "Type namespace/name"
}

func (r *recordingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.read = append(r.read, fmt.Sprintf("%T %s", obj, key))
	return r.Reader.Get(ctx, key, obj, opts...)
}

// TestLoadTestValidatorReferences checks the glue of the Secret and ConfigMap
// references: one access review per object, as the requesting user; a denial at the
// first field naming an object the user may not get, which is then not read; Secrets
// read as metadata only; warnings for the missing ones the user may get.
func TestLoadTestValidatorReferences(t *testing.T) {
	objs := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "nginx-1", Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "nginx", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-token", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("s3cret")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin-token", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("r00t")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "payloads", Namespace: "ns"}, Data: map[string]string{"order.json": "{}"}},
	).Build()
	var reviews []string
	rights := func(_ context.Context, user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, error) {
		reviews = append(reviews, fmt.Sprintf("%s %s %s %s/%s", user.Username, attrs.Verb, attrs.Resource, attrs.Namespace, attrs.Name))
		return attrs.Name != "admin-token", nil
	}
	refs := &recordingReader{Reader: objs}
	v := &LoadTestValidator{Services: objs, References: refs, Policy: testPolicy(), Rights: rights}
	ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Namespace: "ns", UserInfo: authenticationv1.UserInfo{Username: "mallory"}}})
	lt := func(headers ...dilov1.Header) *dilov1.LoadTest {
		l := &dilov1.LoadTest{
			ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"},
			Spec: dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{ServiceName: "nginx", Requests: []dilov1.Request{
				{Name: "order", Method: "POST", Path: "/orders", Body: &dilov1.Body{ValueFrom: configMapKey("payloads", "order.json")}},
				{Name: "cancel", Method: "POST", Path: "/cancel", Body: &dilov1.Body{ValueFrom: configMapKey("payloads", "cancel.json")}},
			}, Headers: headers}},
		}
		l.Default()
		return l
	}
	header := func(name string, vs *dilov1.ValueSource) dilov1.Header {
		return dilov1.Header{Name: name, ValueFrom: vs}
	}
	tests := []struct {
		name         string
		lt           *dilov1.LoadTest
		wantErr      string
		wantWarnings []string
		wantReviews  []string
		wantRead     []string
	}{
		{name: "objects the user may get, one missing and one without a key",
			lt: lt(header("Authorization", secretKey("api-token", "token")), header("X-Again", secretKey("api-token", "other")), header("X-Gone", secretKey("gone", "k"))),
			wantWarnings: []string{
				`spec.test.headers[2].valueFrom.secretKeyRef: Secret "gone" in namespace "ns" does not exist: a run that starts before it does fails with reason ReferenceNotFound`,
				`spec.test.requests[1].body.valueFrom.configMapKeyRef: ConfigMap "payloads" in namespace "ns" has no key "cancel.json": a run that starts before it has fails with reason ReferenceNotFound`,
			},
			wantReviews: []string{"mallory get secrets ns/api-token", "mallory get secrets ns/gone", "mallory get configmaps ns/payloads"},
			wantRead:    []string{"*v1.PartialObjectMetadata ns/api-token", "*v1.PartialObjectMetadata ns/gone", "*v1.ConfigMap ns/payloads"},
		},
		{name: "a Secret the user may not get: denied, and never read",
			lt: lt(header("Authorization", secretKey("admin-token", "token"))),
			wantErr: `LoadTest.example.org "x" is invalid: spec.test.headers[0].valueFrom.secretKeyRef: Forbidden: ` +
				`user "mallory" may not get secrets "admin-token" in namespace "ns", so may not have DiLO read it either`,
			wantWarnings: []string{`spec.test.requests[1].body.valueFrom.configMapKeyRef: ConfigMap "payloads" in namespace "ns" has no key "cancel.json": a run that starts before it has fails with reason ReferenceNotFound`},
			wantReviews:  []string{"mallory get secrets ns/admin-token", "mallory get configmaps ns/payloads"},
			wantRead:     []string{"*v1.ConfigMap ns/payloads"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reviews, refs.read = nil, nil
			warnings, err := v.ValidateCreate(ctx, tt.lt)
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
			if diff := cmp.Diff(tt.wantReviews, reviews); diff != "" {
				t.Errorf("access reviews (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRead, refs.read); diff != "" {
				t.Errorf("objects read (-want +got):\n%s", diff)
			}
		})
	}
}
