package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Integration tests of headers, bodies, mixes of requests, TLS, totals and stages: what
// a kubectl user is told, by the CRD schema or by the webhook, for each bad input.

// mix is a valid three-request mix as a user would write it.
func mix() []dilov1.Request {
	return []dilov1.Request{
		{Name: "list-items", Path: "/items?page=1", Weight: ptr(int32(8))},
		{Name: "get-item", Path: "/items/42", Weight: ptr(int32(3))},
		{Name: "create-order", Method: "POST", Path: "/orders",
			Headers: []dilov1.Header{{Name: "Content-Type", Value: ptr("application/json")}},
			Body:    &dilov1.Body{ValueFrom: &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "payloads", Key: "order.json"}}}},
	}
}

// header is an inline header.
func header(name, value string) dilov1.Header { return dilov1.Header{Name: name, Value: ptr(value)} }

// fromSecret is a header read from key of Secret name.
func fromSecret(header, name, key string) dilov1.Header {
	return dilov1.Header{Name: header, ValueFrom: &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: name, Key: key}}}
}

// wantDenied fails t unless err is an Invalid error one of whose causes is at path
// and says msg ("" for any message).
func wantDenied(t *testing.T, err error, path, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the request was allowed; want it denied at %s", path)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("error reason = %q, want Invalid: %v", apierrors.ReasonForError(err), err)
	}
	var causes []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		if c.Field == path && (msg == "" || c.Message == msg) {
			return
		}
		causes = append(causes, c.Field+": "+c.Message)
	}
	t.Errorf("no cause at %s saying %q; the causes:\n%s", path, msg, strings.Join(causes, "\n"))
}

func TestHeaders(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()

	injected := loadTest(ns, "injected")
	injected.Spec.Test.Headers = []dilov1.Header{header("X-Ok", "1"), header("X-Trace", "1\r\nX-Injected: 1")}
	err := c.Create(ctx, injected)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "injected",
		"spec.test.headers[1].value: Invalid value: must not contain CR or LF (byte 1): they would end the header and could inject others"))

	owned := loadTest(ns, "owned")
	owned.Spec.Test.Headers = []dilov1.Header{header("Host", "evil.example"), header("content-length", "0"), header("Transfer-Encoding", "chunked")}
	err = c.Create(ctx, owned)
	for i, name := range []string{`"Host"`, `"content-length"`, `"Transfer-Encoding"`} {
		wantDenied(t, err, fmt.Sprintf("spec.test.headers[%d].name", i), "Forbidden: "+name+
			" is set by the agent, which owns the framing and connection headers (Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade)")
	}

	// In a request of a mix, with a name that is no token and one set twice.
	inMix := loadTest(ns, "in-mix")
	inMix.Spec.Test.Path, inMix.Spec.Test.Requests = "", mix()
	inMix.Spec.Test.Requests[1].Headers = []dilov1.Header{header("X-A", "1"), header("X Trace", "1"), header("x-a", "2")}
	err = c.Create(ctx, inMix)
	wantDenied(t, err, "spec.test.requests[1].headers[1].name",
		"Invalid value: \"X Trace\": must be an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~), but byte 1 is ' '")
	wantDenied(t, err, "spec.test.requests[1].headers[2].name",
		`Duplicate value: "x-a": spec.test.requests[1].headers[0].name names this header too (header names are case-insensitive): set each header once`)

	// The schema's rule: exactly one of value and valueFrom.
	both := loadTest(ns, "both")
	both.Spec.Test.Headers = []dilov1.Header{fromSecret("Authorization", "api-token", "token")}
	both.Spec.Test.Headers[0].Value = ptr("Bearer x")
	wantDenied(t, c.Create(ctx, both), "spec.test.headers[0]", "")
}

func TestRequestMix(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()
	withMix := func(name string, change func([]dilov1.Request)) *dilov1.LoadTest {
		lt := loadTest(ns, name)
		lt.Spec.Test.Path, lt.Spec.Test.Requests = "", mix()
		change(lt.Spec.Test.Requests)
		return lt
	}

	// What the schema's pattern lets through, the webhook catches, in requests too.
	err := c.Create(ctx, withMix("bad-path", func(r []dilov1.Request) { r[1].Path = "//evil.example/x" }))
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "bad-path",
		`spec.test.requests[1].path: Invalid value: "//evil.example/x": must not start with "//": servers and proxies may read what follows as a host name`))
	err = c.Create(ctx, withMix("crlf-path", func(r []dilov1.Request) { r[2].Path = "/a\r\nX-Injected: 1" }))
	wantDenied(t, err, "spec.test.requests[2].path", "")

	// The list's map key: the API server refuses the duplicate before any webhook.
	err = c.Create(ctx, withMix("dup-names", func(r []dilov1.Request) { r[2].Name = "list-items" }))
	wantDenied(t, err, "spec.test.requests[2]", `Duplicate value: {"name":"list-items"}`)

	// The schema's rule: exactly one of path and requests.
	both := withMix("both", func([]dilov1.Request) {})
	both.Spec.Test.Path = "/"
	wantDenied(t, c.Create(ctx, both), "spec.test.path",
		"Required value: exactly one of path (a single request) and requests (a weighted mix) must be set")
	neither := loadTest(ns, "neither")
	neither.Spec.Test.Path = ""
	wantDenied(t, c.Create(ctx, neither), "spec.test.path", "")
}

func TestBodyOnGETWarns(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	lt := loadTest(ns, "get-with-body")
	lt.Spec.Test.Body = &dilov1.Body{Text: ptr(`{"q": "x"}`)}
	mustCreate(t, c, lt)
	want := []string{"spec.test.body: the request's method is GET: DiLO sends the body, but many servers ignore a body on GET or HEAD, " +
		"and some refuse the request; POST, PUT and PATCH are the methods for a body"}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestTLS(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()

	insecure := loadTest(ns, "insecure")
	insecure.Spec.Test.TLS, insecure.Spec.Test.Protocol = &dilov1.TLS{InsecureSkipVerify: true}, "HTTP/2"
	mustCreate(t, c, insecure)
	want := []string{"spec.test.tls.insecureSkipVerify: the Service's certificate is not checked: the traffic is encrypted, " +
		"but whatever answers at the Service's address gets the requests, headers read from Secrets included; " +
		"set tls.ca to the bundle of the CA that signed the Service's certificate instead"}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	// The schema's rules: HTTP/2 needs tls, and tls needs one way to trust the Service.
	cleartext := loadTest(ns, "h2c")
	cleartext.Spec.Test.Protocol = "HTTP/2"
	wantDenied(t, c.Create(ctx, cleartext), "spec.test.protocol", "Required value: HTTP/2 is negotiated over TLS (ALPN): set tls")
	untrusting := loadTest(ns, "untrusting")
	untrusting.Spec.Test.TLS = &dilov1.TLS{}
	wantDenied(t, c.Create(ctx, untrusting), "spec.test.tls", "")
}

func TestTotalsAndStages(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()
	rate := func(d, r int32) dilov1.Stage { return dilov1.Stage{DurationSeconds: d, TotalRate: ptr(r)} }

	few := loadTest(ns, "few")
	few.Spec.Replicas = 5
	few.Spec.Test.TotalRate, few.Spec.Test.DurationSeconds, few.Spec.Test.TotalConcurrency = ptr(int32(4)), ptr(int32(60)), ptr(int32(3))
	err := c.Create(ctx, few)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "few",
		"spec.test.totalRate: Invalid value: 4: must be at least spec.replicas (5): it is split across the pods, and each pod gets at least 1 request per second",
		"spec.test.totalConcurrency: Invalid value: 3: must be at least spec.replicas (5): it is split across the pods, and each pod gets at least 1 connection"))

	// The manager's --max-rate-per-loadtest (100000 by default) bounds the totals too.
	many := loadTest(ns, "many")
	many.Spec.Test.TotalRate, many.Spec.Test.DurationSeconds = ptr(int32(100_001)), ptr(int32(60))
	err = c.Create(ctx, many)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "many",
		"spec.test.totalRate: Invalid value: 100001: 100001 requests/s, more than the 100000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)"))
	// And a total that is within it, but more than one pod can take.
	busy := loadTest(ns, "busy")
	busy.Spec.Test.TotalConcurrency = ptr(int32(2001))
	err = c.Create(ctx, busy)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "busy",
		"spec.test.totalConcurrency: Invalid value: 2001: split across 2 replicas, it asks 1001 connections of one pod, more than the 1000 one pod sends (spec.test.concurrency's maximum): add replicas"))

	// The schema's rule on the list: every stage of one kind.
	mixed := loadTest(ns, "mixed")
	mixed.Spec.Test.Stages = []dilov1.Stage{rate(60, 100), {DurationSeconds: 60, TotalConcurrency: ptr(int32(10))}}
	wantDenied(t, c.Create(ctx, mixed), "spec.test.stages",
		"Invalid value: every stage must set totalRate (open model), or every stage totalConcurrency (closed model)")

	// The manager's limit applies to the stages' peak.
	peak := loadTest(ns, "peak")
	peak.Spec.Test.Stages = []dilov1.Stage{rate(60, 1000), rate(60, 100_001), rate(60, 0)}
	err = c.Create(ctx, peak)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "peak",
		"spec.test.stages[1].totalRate: Invalid value: 100001: 100001 requests/s, more than the 100000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)"))
}

// TestReferencesNeedGetRights: a LoadTest author must not have DiLO read, and send to a
// Service, a Secret or ConfigMap they may not read themselves. The users are
// impersonated: mallory may create LoadTests, paula may also get Secret api-token and
// ConfigMap payloads.
func TestReferencesNeedGetRights(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()
	mustCreate(t, env.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-token", Namespace: ns}, StringData: map[string]string{"token": "Bearer s3cret"}})
	mustCreate(t, env.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "payloads", Namespace: ns}, Data: map[string]string{"order.json": `{"item": 42}`}})
	mallory := asUser(t, env, ns, "mallory", loadTestRights)
	paula := asUser(t, env, ns, "paula", loadTestRights,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"api-token", "missing"}, Verbs: []string{"get"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"payloads"}, Verbs: []string{"get"}})
	reading := func(name string) *dilov1.LoadTest {
		lt := loadTest(ns, name)
		lt.Spec.Test.Path, lt.Spec.Test.Requests = "", mix()
		lt.Spec.Test.Headers = []dilov1.Header{header("X-Plain", "1"), fromSecret("Authorization", "api-token", "token")}
		lt.Spec.Test.Requests[0].Headers = []dilov1.Header{fromSecret("X-Again", "api-token", "token")}
		return lt
	}

	err := mallory.Create(ctx, reading("mallorys"))
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "mallorys",
		`spec.test.headers[1].valueFrom.secretKeyRef: Forbidden: user "mallory" may not get secrets "api-token" in namespace "`+ns+`", so may not have DiLO read it either`,
		`spec.test.requests[2].body.valueFrom.configMapKeyRef: Forbidden: user "mallory" may not get configmaps "payloads" in namespace "`+ns+`", so may not have DiLO read it either`))
	// Whether a Secret exists is not told to someone who may not get it.
	probe := loadTest(ns, "probe")
	probe.Spec.Test.Headers = []dilov1.Header{fromSecret("Authorization", "no-such-secret", "token")}
	err = mallory.Create(ctx, probe)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "probe",
		`spec.test.headers[0].valueFrom.secretKeyRef: Forbidden: user "mallory" may not get secrets "no-such-secret" in namespace "`+ns+`", so may not have DiLO read it either`))

	paulas := reading("paulas")
	if err := paula.Create(ctx, paulas); err != nil {
		t.Fatalf("paula, who may get the Secret and the ConfigMap: %v", err)
	}
	// An edit of paula's LoadTest by mallory makes DiLO read them for mallory: denied.
	edited := &dilov1.LoadTest{}
	if err := mallory.Get(ctx, client.ObjectKeyFromObject(paulas), edited); err != nil {
		t.Fatal(err)
	}
	edited.Spec.Replicas = 3
	err = mallory.Update(ctx, edited)
	wantDenied(t, err, "spec.test.headers[1].valueFrom.secretKeyRef",
		`Forbidden: user "mallory" may not get secrets "api-token" in namespace "`+ns+`", so may not have DiLO read it either`)
}

// TestRealisticLoadTest: headers (one from a Secret), a JSON POST body from a
// ConfigMap, a three-request mix, HTTPS with a CA from a ConfigMap and stages of
// totalRate are admitted, and stored as defaulted; references to what does not exist
// yet are admitted with a warning.
func TestRealisticLoadTest(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	ctx := context.Background()
	lt := func(name string) *dilov1.LoadTest {
		lt := loadTest(ns, name)
		lt.Spec.Replicas = 4
		lt.Spec.Test.Path, lt.Spec.Test.Requests = "", mix()
		lt.Spec.Test.Headers = []dilov1.Header{header("Accept", "application/json"), header("User-Agent", "shop-load/1.0"), fromSecret("Authorization", "api-token", "token")}
		lt.Spec.Test.TLS = &dilov1.TLS{CA: &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "trust-bundle", Key: "ca.crt"}}}
		lt.Spec.Test.Protocol = "HTTP/2"
		lt.Spec.Test.TotalConcurrency = ptr(int32(200))
		lt.Spec.Test.Stages = []dilov1.Stage{
			{DurationSeconds: 60, TotalRate: ptr(int32(400))},
			{DurationSeconds: 300, TotalRate: ptr(int32(400))},
			{DurationSeconds: 30, TotalRate: ptr(int32(0))},
		}
		return lt
	}

	early := lt("early")
	mustCreate(t, c, early)
	suffix := ": a run that starts before it does fails with reason ReferenceNotFound"
	want := []string{
		fmt.Sprintf(`spec.test.headers[2].valueFrom.secretKeyRef: Secret "api-token" in namespace %q does not exist`, ns) + suffix,
		fmt.Sprintf(`spec.test.requests[2].body.valueFrom.configMapKeyRef: ConfigMap "payloads" in namespace %q does not exist`, ns) + suffix,
		fmt.Sprintf(`spec.test.tls.ca.configMapKeyRef: ConfigMap "trust-bundle" in namespace %q does not exist`, ns) + suffix,
	}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings without the Secret and ConfigMaps (-want +got):\n%s", diff)
	}

	mustCreate(t, env.Client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-token", Namespace: ns}, StringData: map[string]string{"token": "Bearer s3cret"}})
	mustCreate(t, env.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "payloads", Namespace: ns}, Data: map[string]string{"order.json": `{"item": 42, "quantity": 1}`}})
	mustCreate(t, env.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "trust-bundle", Namespace: ns}, Data: map[string]string{"bundle.pem": "-----BEGIN CERTIFICATE-----"}})
	shop := lt("shop")
	mustCreate(t, c, shop)
	want = []string{fmt.Sprintf(`spec.test.tls.ca.configMapKeyRef: ConfigMap "trust-bundle" in namespace %q has no key "ca.crt": `+
		`a run that starts before it has fails with reason ReferenceNotFound`, ns)}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings with the Secret and ConfigMaps (-want +got):\n%s", diff)
	}

	got := &dilov1.LoadTest{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(shop), got); err != nil {
		t.Fatal(err)
	}
	wantTest := lt("shop").Spec.Test
	wantTest.Requests[0].Method, wantTest.Requests[1].Method = "GET", "GET"
	wantTest.Requests[2].Weight = ptr(int32(1))
	wantTest.Concurrency, wantTest.TimeoutSeconds = ptr(int32(dilov1.DefaultConcurrency)), ptr(int32(dilov1.DefaultTimeoutSeconds))
	wantTest.Repeat = ptr(int32(dilov1.DefaultRepeat)) // ignored with stages, and defaulted, so that adding stages later needs no edit of it
	if diff := cmp.Diff(wantTest, got.Spec.Test); diff != "" {
		t.Errorf("stored test (-want +got):\n%s", diff)
	}
}
