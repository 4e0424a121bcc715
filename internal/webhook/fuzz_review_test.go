package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// This file fuzzes the admission webhooks end to end over HTTP, as the API server
// calls them: AdmissionReview bodies POSTed to the handlers controller-runtime builds
// for Setup, decoded by controller-runtime, then judged by DiLO's defaulter and
// validators. fuzz_test.go fuzzes the rules behind them directly.

// FuzzAdmissionReview POSTs arbitrary bodies to the mutating and validating LoadTest
// webhooks and the SimpleDeployment validator. Each answers HTTP 200 with exactly one
// AdmissionReview and never panics; an undecodable body gets allowed=false, code 400
// and no uid, a decoded one its request's uid; every AdmissionReview encoding/json can
// read (with a group/version for apiVersion), re-encoded, decodes, and is answered in
// its own version; and whenever the mutating webhook allows, its JSON Patch
// applies to the request's object and gives the object DiLO's defaulting gives, which
// the mutating webhook leaves alone and the validating webhook denies for no reason it
// would not deny the unpatched object for. `make fuzz` runs it; `go test` runs the seeds.
func FuzzAdmissionReview(f *testing.F) {
	loadTest, simpleDeployment := sampleObject(f, "example-02.yaml"), sampleObject(f, "example-01.yaml")
	running := setJSON(f, loadTest, map[string]any{
		"spec":   map[string]any{"updatePolicy": "Reject"},
		"status": map[string]any{"state": "executing"},
	})
	create := reviewBody(f, "admission.k8s.io/v1", "c1", admissionv1.Create, loadTest, nil)
	sdCreate := reviewBody(f, "admission.k8s.io/v1", "s1", admissionv1.Create, simpleDeployment, nil)
	yamlCreate, err := yaml.JSONToYAML(create)
	if err != nil {
		f.Fatal(err)
	}
	for _, body := range [][]byte{
		create,
		reviewBody(f, "admission.k8s.io/v1", "u1", admissionv1.Update, setJSON(f, running, map[string]any{"spec": map[string]any{"replicas": 3}}), running),
		reviewBody(f, "admission.k8s.io/v1", "u2", admissionv1.Update, setJSON(f, running, map[string]any{"spec": map[string]any{"updatePolicy": "Restart"}}), running),
		reviewBody(f, "admission.k8s.io/v1", "d1", admissionv1.Delete, nil, loadTest),
		reviewBody(f, "admission.k8s.io/v1", "c2", admissionv1.Create, setJSON(f, loadTest, map[string]any{
			"metadata": map[string]any{"namespace": "default", "creationTimestamp": nil},
			"spec": map[string]any{"updatePolicy": "", "test": map[string]any{"method": "get", "port": "http", "path": "/search?q=%20x", "repeat": nil},
				"thresholds":  map[string]any{"maxErrorRatio": "0.01", "maxP99": "250ms"},
				"podTemplate": map[string]any{"spec": map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "1000m"}, "limits": map[string]any{"cpu": "1"}}}}},
			"unknown": 1,
		}), nil),
		reviewBody(f, "admission.k8s.io/v1", "c3", admissionv1.Create, setJSON(f, loadTest, map[string]any{
			"spec": map[string]any{"replicas": 0, "test": map[string]any{"method": "poſt", "serviceName": "missing", "path": "//x y"}},
		}), nil),
		reviewBody(f, "admission.k8s.io/v1", "c4", admissionv1.Create, setJSON(f, loadTest, map[string]any{
			"spec": map[string]any{"test": map[string]any{"method": nil, "path": nil, "repeat": nil, "protocol": "HTTP/2",
				"headers": []any{map[string]any{"name": "Authorization", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "api-token", "key": "token"}}}},
				"requests": []any{
					map[string]any{"name": "list", "path": "/items", "weight": 3},
					map[string]any{"name": "order", "method": "post", "path": "/orders", "body": map[string]any{"valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "payloads", "key": "order.json"}}}},
				},
				"tls":    map[string]any{"insecureSkipVerify": true},
				"stages": []any{map[string]any{"durationSeconds": 60, "totalRate": 100}, map[string]any{"durationSeconds": 60, "totalRate": 0}}}},
		}), nil),
		reviewBody(f, "admission.k8s.io/v1", "c5", admissionv1.Create, setJSON(f, loadTest, map[string]any{
			"spec": map[string]any{"test": map[string]any{"totalRate": 2, "totalConcurrency": 1,
				"headers":  []any{map[string]any{"name": "Host", "value": "evil\r\nX: 1"}, map[string]any{"name": "x-a", "value": "1", "valueFrom": map[string]any{}}},
				"requests": []any{map[string]any{"name": "a", "path": "//x"}, map[string]any{"name": "a", "path": "/", "weight": 0}},
				"stages":   []any{map[string]any{"durationSeconds": 0, "totalRate": 1}, map[string]any{"durationSeconds": 0, "totalConcurrency": 1}}}},
		}), nil),
		reviewBody(f, "admission.k8s.io/v1beta1", "b1", admissionv1.Create, setJSON(f, loadTest, map[string]any{"spec": map[string]any{"test": map[string]any{"method": nil}}}), nil),
		reviewBody(f, "", "e1", admissionv1.Connect, loadTest, nil),
		sdCreate,
		reviewBody(f, "admission.k8s.io/v1", "s2", admissionv1.Update,
			setJSON(f, simpleDeployment, map[string]any{"spec": map[string]any{"sleepytime": "86401"}}), simpleDeployment),
		yamlCreate,
		create[:len(create)/2],
		sdCreate[:len(sdCreate)-1],
		{}, []byte("null"), []byte("{}"), []byte("[]"), []byte("\xff\xfe{"), []byte(`{"request":null}`),
		[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"n1","operation":"CREATE"}}`),
		[]byte(`{"request":{"uid":"n2","operation":"CREATE","object":"x"}}`),
		[]byte(`{"request":{"uid":7}}`),
		[]byte(`{"REQUEST":{"UID":"n3","operation":"CREATE","object":{"apiVersion":"example.org/v1","kind":"LoadTest","spec":{"replicas":1e400}}}}`),
	} {
		f.Add(body)
	}

	hooks := newReviewHooks(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		hooks.check(t, body)

		// Whatever encoding/json reads as an AdmissionReview, written back in its
		// canonical form, must reach the handlers with the uid encoding/json read;
		// but for an apiVersion that is no group/version, which apimachinery refuses.
		var ar admissionv1.AdmissionReview
		if json.Unmarshal(body, &ar) != nil {
			return
		}
		if _, err := schema.ParseGroupVersion(ar.APIVersion); err != nil {
			return
		}
		canonical, err := json.Marshal(&ar)
		if err != nil {
			t.Fatalf("failed to re-encode %+v: %v", ar, err)
		}
		var uid types.UID
		if ar.Request != nil {
			uid = ar.Request.UID
		}
		// Only the decoding here: checkDefaulting ran on body, mostly the same object.
		for hook, res := range hooks.postAll(t, canonical) {
			switch {
			case res.request == nil:
				t.Fatalf("%s: could not decode the canonical AdmissionReview %s: %s", hook.path, canonical, res.review.Response.Result.Message)
			case res.request.UID != uid:
				t.Fatalf("%s: decoded uid %q from %s, want %q", hook.path, res.request.UID, canonical, uid)
			}
			// controller-runtime answers in the AdmissionReview version it was called
			// with, admission.k8s.io/v1 when the body does not say.
			want := ar.TypeMeta
			if want == (metav1.TypeMeta{}) {
				want = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
			}
			if want.Kind == "AdmissionReview" && strings.HasPrefix(want.APIVersion, "admission.k8s.io/v1") && res.review.TypeMeta != want {
				t.Fatalf("%s: answered %+v to %+v", hook.path, res.review.TypeMeta, want)
			}
		}
	})
}

// TestAdmissionReviewTutorialSample checks that FuzzAdmissionReview's properties are
// not vacuous for the tutorial's LoadTest: the mutating webhook, called (its
// matchCondition spares the API server the call), defaults it with a patch, and the
// validating webhook allows the patched object.
func TestAdmissionReviewTutorialSample(t *testing.T) {
	hooks := newReviewHooks(t)
	results := hooks.check(t, reviewBody(t, "admission.k8s.io/v1", "c1", admissionv1.Create, sampleObject(t, "example-02.yaml"), nil))
	mutated := results[hooks.mutate].review.Response
	if !mutated.Allowed || len(mutated.Patch) == 0 {
		t.Fatalf("the mutating webhook answered %+v, want allowed with a patch", mutated)
	}
	patched, err := applyJSONPatch(results[hooks.mutate].request.Object.Raw, mutated.Patch)
	if err != nil {
		t.Fatal(err)
	}
	if res := hooks.validate.post(t, reviewBody(t, "admission.k8s.io/v1", "c2", admissionv1.Create, patched, nil)); !res.review.Response.Allowed {
		t.Fatalf("the validating webhook denied the defaulted tutorial LoadTest: %+v", res.review.Response.Result)
	}
}

// reviewHooks are DiLO's three admission webhooks as Setup has controller-runtime
// build them, over a fake cache holding the Service the tutorial LoadTest names.
type reviewHooks struct {
	mutate, validate, simpleDeployment *reviewHook
	decoder                            admission.Decoder
}

// reviewHook is one webhook's HTTP handler, which remembers the request it decoded.
type reviewHook struct {
	path    string
	handler http.Handler
	inner   admission.Handler
	decoded *admission.Request
}

// reviewResult is a webhook's answer to one body, and the request it decoded from
// the body (nil when it could not).
type reviewResult struct {
	review  admissionv1.AdmissionReview
	request *admission.Request
}

func newReviewHooks(tb testing.TB) *reviewHooks {
	s := scheme.New()
	services := fake.NewClientBuilder().WithScheme(s).WithObjects(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "nginx-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "nginx", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}}},
	).Build()
	// What ctrl.NewWebhookManagedBy(...).WithDefaulter(...).WithValidator(...) builds.
	return &reviewHooks{
		mutate:           newReviewHook(tb, "/mutate-example-org-v1-loadtest", admission.WithDefaulter[*dilov1.LoadTest](s, LoadTestDefaulter{})),
		validate:         newReviewHook(tb, "/validate-example-org-v1-loadtest", admission.WithValidator[*dilov1.LoadTest](s, &LoadTestValidator{Services: services, Policy: testPolicy()})),
		simpleDeployment: newReviewHook(tb, "/validate-example-org-v1-simpledeployment", admission.WithValidator[*dilov1.SimpleDeployment](s, SimpleDeploymentValidator{})),
		decoder:          admission.NewDecoder(s),
	}
}

// newReviewHook serves wh as the webhook server does, but lets panics through to
// the fuzzer rather than answering 500 (the manager's default).
func newReviewHook(tb testing.TB, path string, wh *admission.Webhook) *reviewHook {
	h := &reviewHook{path: path, inner: wh.Handler}
	wh.Handler = admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		h.decoded = &req
		return h.inner.Handle(ctx, req)
	})
	handler, err := admission.StandaloneWebhook(wh.WithRecoverPanic(false), admission.StandaloneOptions{Logger: logr.Discard()})
	if err != nil {
		tb.Fatal(err)
	}
	h.handler = handler
	return h
}

// check POSTs body to every webhook, and checks the mutating webhook's patch when
// it allows. It returns each webhook's result.
func (hs *reviewHooks) check(t *testing.T, body []byte) map[*reviewHook]reviewResult {
	results := hs.postAll(t, body)
	if res := results[hs.mutate]; res.request != nil && res.review.Response.Allowed && res.request.Operation != admissionv1.Delete {
		hs.checkDefaulting(t, res.request, res.review.Response)
	}
	return results
}

// postAll POSTs body to every webhook and returns each webhook's result.
func (hs *reviewHooks) postAll(t *testing.T, body []byte) map[*reviewHook]reviewResult {
	results := map[*reviewHook]reviewResult{}
	for _, h := range []*reviewHook{hs.mutate, hs.validate, hs.simpleDeployment} {
		results[h] = h.post(t, body)
	}
	return results
}

// post POSTs body to h as the API server does and checks the envelope of the answer.
func (h *reviewHook) post(t *testing.T, body []byte) reviewResult {
	h.decoded = nil
	req := httptest.NewRequest(http.MethodPost, h.path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200", h.path, rec.Code)
	}

	res := reviewResult{request: h.decoded}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res.review); err != nil {
		t.Fatalf("%s: answered %q, not an AdmissionReview: %v", h.path, rec.Body.String(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: answered %q, more than one AdmissionReview", h.path, rec.Body.String())
	}
	r := res.review.Response
	switch {
	case r == nil || r.Result == nil:
		t.Fatalf("%s: answered %q, without a response or its result", h.path, rec.Body.String())
	case r.Allowed && r.Result.Code != http.StatusOK:
		t.Fatalf("%s: allowed with code %d", h.path, r.Result.Code)
	case !r.Allowed && (r.Result.Code < 400 || r.Result.Code > 599):
		t.Fatalf("%s: denied with code %d: %s", h.path, r.Result.Code, r.Result.Message)
	case (r.Patch == nil) != (r.PatchType == nil), !r.Allowed && r.Patch != nil:
		t.Fatalf("%s: answered allowed=%t, patchType %v, patch %q", h.path, r.Allowed, r.PatchType, r.Patch)
	}
	if res.request == nil {
		// controller-runtime could not decode the AdmissionReview: Errored(400), which it
		// writes without a uid (and without apiVersion and kind).
		if r.Allowed || r.Result.Code != http.StatusBadRequest || r.UID != "" || r.Result.Message == "" || len(r.Warnings) > 0 {
			t.Fatalf("%s: answered %+v to a body it could not decode, want allowed=false, code 400 and no uid", h.path, r)
		}
	} else if r.UID != res.request.UID {
		t.Fatalf("%s: answered uid %q to request %q", h.path, r.UID, res.request.UID)
	}
	return res
}

// checkDefaulting checks the patch with which the mutating webhook allowed req: it
// applies to req's object, and gives the LoadTest that dilov1.LoadTest.Default gives,
// which the mutating webhook then leaves as it is, and which the validating webhook
// denies for none but the reasons it denies the unpatched object for.
func (hs *reviewHooks) checkDefaulting(t *testing.T, req *admission.Request, r *admissionv1.AdmissionResponse) {
	original := &dilov1.LoadTest{}
	if err := hs.decoder.Decode(*req, original); err != nil {
		t.Fatalf("the mutating webhook allowed an object it cannot decode: %v", err)
	}
	patched := req.Object.Raw
	if r.Patch != nil {
		if *r.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("patch type %q", *r.PatchType)
		}
		var err error
		if patched, err = applyJSONPatch(req.Object.Raw, r.Patch); err != nil {
			t.Fatalf("the patch %s does not apply to %s: %v", r.Patch, req.Object.Raw, err)
		}
	}
	got := &dilov1.LoadTest{}
	if err := hs.decoder.DecodeRaw(runtime.RawExtension{Raw: patched}, got); err != nil {
		t.Fatalf("the patched object %s does not decode: %v", patched, err)
	}
	want := original.DeepCopy()
	want.Default()
	// Through JSON both, for what JSON loses (sub-second creation timestamps).
	if got, want := hs.roundTrip(t, got), hs.roundTrip(t, want); !equality.Semantic.DeepEqual(got, want) {
		t.Fatalf("patching %s with %s gives another object than defaulting (-defaulted +patched):\n%s",
			req.Object.Raw, r.Patch, cmp.Diff(want, got))
	}

	again := hs.mutate.post(t, reviewBody(t, "admission.k8s.io/v1", "again", admissionv1.Create, patched, nil, req.Namespace))
	if resp := again.review.Response; !resp.Allowed || resp.Patch != nil {
		t.Fatalf("the mutating webhook answered %+v to its own patched object %s, want allowed without a patch", resp, patched)
	}
	before := denials(hs.validate.post(t, reviewBody(t, "admission.k8s.io/v1", "before", admissionv1.Create, req.Object.Raw, nil, req.Namespace)))
	after := denials(hs.validate.post(t, reviewBody(t, "admission.k8s.io/v1", "after", admissionv1.Create, patched, nil, req.Namespace)))
	for _, d := range after {
		if !slices.Contains(before, d) {
			t.Fatalf("the validating webhook denies the defaulted object %s for %q, but not %s before defaulting (its denials: %q)",
				patched, d, req.Object.Raw, before)
		}
	}
}

// roundTrip is lt written as JSON and decoded again.
func (hs *reviewHooks) roundTrip(t *testing.T, lt *dilov1.LoadTest) *dilov1.LoadTest {
	t.Helper()
	raw, err := json.Marshal(lt)
	if err != nil {
		t.Fatal(err)
	}
	out := &dilov1.LoadTest{}
	if err := hs.decoder.DecodeRaw(runtime.RawExtension{Raw: raw}, out); err != nil {
		t.Fatalf("failed to decode %s: %v", raw, err)
	}
	return out
}

// denials lists the reasons a validating webhook denied for, "field type" each, or
// none when it allowed.
func denials(res reviewResult) []string {
	r := res.review.Response
	if r.Allowed {
		return nil
	}
	if r.Result.Details == nil || len(r.Result.Details.Causes) == 0 {
		return []string{fmt.Sprintf("code %d %s", r.Result.Code, r.Result.Message)}
	}
	var out []string
	for _, c := range r.Result.Details.Causes {
		out = append(out, c.Field+" "+string(c.Type))
	}
	return out
}

// reviewBody is an AdmissionReview for op on object (and oldObject) in namespace
// "default", unless namespace says, with no more than DiLO's webhooks read: the
// fuzzer minimizes every input it finds interesting in time quadratic in its length.
func reviewBody(tb testing.TB, apiVersion string, uid types.UID, op admissionv1.Operation, object, oldObject []byte, namespace ...string) []byte {
	tb.Helper()
	ns := "default"
	if len(namespace) > 0 {
		ns = namespace[0]
	}
	type request struct {
		UID       types.UID             `json:"uid"`
		Namespace string                `json:"namespace"`
		Operation admissionv1.Operation `json:"operation"`
		Object    json.RawMessage       `json:"object,omitempty"`
		OldObject json.RawMessage       `json:"oldObject,omitempty"`
	}
	review := struct {
		metav1.TypeMeta `json:",inline"`
		Request         request `json:"request"`
	}{Request: request{UID: uid, Namespace: ns, Operation: op, Object: object, OldObject: oldObject}}
	if apiVersion != "" {
		review.TypeMeta = metav1.TypeMeta{APIVersion: apiVersion, Kind: "AdmissionReview"}
	}
	body, err := json.Marshal(&review)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// sampleObject is config/samples/name as JSON.
func sampleObject(tb testing.TB, name string) []byte {
	tb.Helper()
	y, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", name))
	if err != nil {
		tb.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// setJSON is obj with changes merged in, member by member (a null sets null).
func setJSON(tb testing.TB, obj []byte, changes map[string]any) []byte {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(obj, &doc); err != nil {
		tb.Fatal(err)
	}
	var merge func(dst, src map[string]any)
	merge = func(dst, src map[string]any) {
		for k, v := range src {
			sub, isMap := v.(map[string]any)
			switch existing, ok := dst[k].(map[string]any); {
			case isMap && ok:
				merge(existing, sub)
			default:
				dst[k] = v
			}
		}
	}
	merge(doc, changes)
	out, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// applyJSONPatch applies an RFC 6902 JSON Patch of add, remove and replace
// operations, the ones controller-runtime's patches are made of, to the JSON doc,
// with the library the API server applies webhook patches with (negative array
// indices, a non-standard extension, refused).
func applyJSONPatch(doc, patch []byte) ([]byte, error) {
	ops, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, fmt.Errorf("not a JSON Patch: %w", err)
	}
	for i, op := range ops {
		if kind := op.Kind(); kind != "add" && kind != "remove" && kind != "replace" {
			return nil, fmt.Errorf("operation %d: op %q", i, kind)
		}
	}
	opts := jsonpatch.NewApplyOptions()
	opts.SupportNegativeIndices = false
	return ops.ApplyWithOptions(doc, opts)
}
