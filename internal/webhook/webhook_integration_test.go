package webhook_test

// Integration tests: a real kube-apiserver (testenv) calls the webhooks of a
// controller-runtime manager started here, over TLS, exactly as in a cluster. Each
// test asserts the message a kubectl user gets. No controller runs: tests that need a
// run going set status.state through the status subresource themselves.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/testenv"
	"github.com/dilo-operator/dilo/internal/webhook"
)

// maxReplicas is the --max-replicas of the tests' manager.
const maxReplicas = 10

// suite is the control plane and the manager serving the webhooks, started once by
// the first integration test and stopped by TestMain.
var suite struct {
	once   sync.Once
	err    error
	env    *testenv.Env
	cache  client.Reader // the manager's cache, which the validator reads
	cancel context.CancelFunc
	done   chan error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if suite.cancel != nil {
		suite.cancel()
		<-suite.done
	}
	if suite.env != nil {
		if err := suite.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
		}
	}
	os.Exit(code)
}

// startSuite starts the control plane with DiLO's webhook configurations and a
// manager serving the webhooks where they point, and waits until it serves.
func startSuite(t *testing.T) *testenv.Env {
	t.Helper()
	suite.once.Do(func() { suite.err = startSuiteOnce() })
	if suite.err != nil {
		t.Fatal(suite.err)
	}
	return suite.env
}

func startSuiteOnce() error {
	env, err := testenv.Start(testenv.Options{Webhooks: true})
	if err != nil {
		return err
	}
	suite.env = env
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          env.WebhookServer(),
	})
	if err != nil {
		return fmt.Errorf("failed to create the manager: %w", err)
	}
	pol := policy.Default()
	pol.MaxReplicas = maxReplicas
	if err := webhook.Setup(mgr, webhook.Options{Policy: pol}); err != nil {
		return err
	}
	suite.cache = mgr.GetClient()
	ctx, cancel := context.WithCancel(context.Background())
	suite.cancel, suite.done = cancel, make(chan error, 1)
	go func() { suite.done <- mgr.Start(ctx) }()
	started := mgr.GetWebhookServer().StartedChecker()
	return testenv.Eventually(ctx, 30*time.Second, func(context.Context) error { return started(nil) })
}

// warnings records the admission warnings the API server sends a client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// userClient is a client as kubectl would be, recording the warnings it gets.
func userClient(t *testing.T, env *testenv.Env) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// namespace creates a namespace for one test.
func namespace(t *testing.T, env *testenv.Env) string {
	t.Helper()
	ns, err := env.CreateNamespace(context.Background(), "webhook")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// createService creates a ClusterIP Service with one port (80, "http") and, when
// ready, an EndpointSlice with one ready endpoint, and waits until the manager's
// cache holds them.
func createService(t *testing.T, env *testenv.Env, ns, name string, ready bool) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	mustCreate(t, env.Client, svc)
	if ready {
		es := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{
				// As the EndpointSlice controller labels the slices it makes from the selector.
				discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
		}
		mustCreate(t, env.Client, es)
		waitCached(t, es)
	}
	waitCached(t, svc)
}

// waitCached waits until the manager's cache holds obj.
func waitCached(t *testing.T, obj client.Object) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	into := obj.DeepCopyObject().(client.Object)
	if err := testenv.Eventually(context.Background(), 10*time.Second, func(ctx context.Context) error {
		return suite.cache.Get(ctx, key, into)
	}); err != nil {
		t.Fatalf("the manager's cache never saw %T %s: %v", obj, key, err)
	}
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("failed to create %T %s: %v", obj, obj.GetName(), err)
	}
}

// sample reads a manifest of config/samples into obj, in namespace ns.
func sample[T client.Object](t *testing.T, file, ns string, obj T) T {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(obj); err != nil {
		t.Fatalf("failed to decode %s: %v", file, err)
	}
	obj.SetNamespace(ns)
	return obj
}

// loadTest is a valid LoadTest against Service nginx, as a user would write it.
func loadTest(ns, name string) *dilov1.LoadTest {
	return &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{ServiceName: "nginx", Path: "/"}},
	}
}

// denied is the message of the StatusError a validating webhook's denial gives a
// Go client: the API server prefixes the webhook's name.
func denied(webhookName, kind, name string, causes ...string) string {
	msg := fmt.Sprintf("admission webhook %q denied the request: %s.example.org %q is invalid: ", webhookName, kind, name)
	if len(causes) == 1 {
		return msg + causes[0]
	}
	return msg + "[" + strings.Join(causes, ", ") + "]"
}

// kubectlMessage is what kubectl prints for an Invalid error: "The KIND "NAME" is
// invalid: " and the causes (kubectl's cmdutil.CheckErr), one per line when several.
func kubectlMessage(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return "not an API status with details: " + fmt.Sprint(err)
	}
	d := status.Status().Details
	prefix := fmt.Sprintf("The %s %q is invalid: ", d.Kind, d.Name)
	if len(d.Causes) == 1 {
		return prefix + d.Causes[0].Field + ": " + d.Causes[0].Message
	}
	var b strings.Builder
	b.WriteString(prefix + "\n")
	for _, c := range d.Causes {
		fmt.Fprintf(&b, "* %s: %s\n", c.Field, c.Message)
	}
	return b.String()
}

// wantError fails t unless err is an Invalid StatusError with exactly msg.
func wantError(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the request was allowed; want it denied with:\n%s", msg)
	}
	if !apierrors.IsInvalid(err) {
		t.Errorf("error reason = %q, want Invalid (HTTP 422): %v", apierrors.ReasonForError(err), err)
	}
	if diff := cmp.Diff(msg, err.Error()); diff != "" {
		t.Errorf("error message (-want +got):\n%s", diff)
	}
}

// TestDefaultsAreStored checks the stored defaults, and that the API server calls the
// mutating webhook only when there is something for it to do (its matchCondition):
// the CRD's schema defaults concurrency, timeoutSeconds and updatePolicy itself.
func TestDefaultsAreStored(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	stored := func(method string, repeat int32) dilov1.LoadTestSpec {
		return dilov1.LoadTestSpec{
			Replicas:     2,
			UpdatePolicy: dilov1.UpdatePolicyRestart,
			Test: dilov1.TestSpec{
				Method: method, ServiceName: "nginx", Path: "/",
				Repeat: ptr(repeat), Concurrency: ptr(int32(dilov1.DefaultConcurrency)),
				TimeoutSeconds: ptr(int32(dilov1.DefaultTimeoutSeconds)),
			},
		}
	}
	for _, tc := range []struct {
		name          string
		method        string
		repeat        *int32
		want          dilov1.LoadTestSpec
		wantMutations float64 // calls of the mutating webhook
	}{
		// The schema allows only upper case: the defaulter must fix it first.
		{"method in lower case", "get", ptr(int32(5)), stored("GET", 5), 1},
		{"method missing", "", ptr(int32(5)), stored("GET", 5), 1},
		{"repeat missing", "POST", nil, stored("POST", dilov1.DefaultRepeat), 1},
		{"nothing for the webhook", "HEAD", ptr(int32(5)), stored("HEAD", 5), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := loadTest(ns, strings.ReplaceAll(tc.name, " ", "-"))
			lt.Spec.Test.Method, lt.Spec.Test.Repeat = tc.method, tc.repeat
			before := webhookRequests(t, "/mutate-example-org-v1-loadtest")
			mustCreate(t, c, lt)
			if got := webhookRequests(t, "/mutate-example-org-v1-loadtest") - before; got != tc.wantMutations {
				t.Errorf("the mutating webhook was called %v times, want %v", got, tc.wantMutations)
			}
			got := &dilov1.LoadTest{}
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(lt), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Spec); diff != "" {
				t.Errorf("stored spec (-want +got):\n%s", diff)
			}
			if w := warns.take(); len(w) != 0 {
				t.Errorf("warnings = %q, want none: the Service has a ready endpoint", w)
			}
		})
	}
}

// TestMalformedSpecGetsSchemaErrors checks that a spec the webhooks could not decode
// (a missing test, a value of the wrong type) is judged by the CRD's schema, whose
// errors name the field, rather than by the webhook's JSON decoder: the mutating
// webhook's matchCondition leaves such objects alone.
func TestMalformedSpecGetsSchemaErrors(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string
	}{
		{"no test", map[string]any{"replicas": int64(1)}, "spec.test: Required value"},
		{"test a string", map[string]any{"replicas": int64(1), "test": "x"},
			`spec.test: Invalid value: "string": spec.test in body must be of type object`},
		{"method a number", map[string]any{"replicas": int64(1), "test": map[string]any{"serviceName": "nginx", "path": "/", "method": int64(5)}},
			`spec.test.method: Invalid value: "integer": spec.test.method in body must be of type string`},
		{"repeat a string", map[string]any{"replicas": int64(1), "test": map[string]any{"serviceName": "nginx", "path": "/", "repeat": "x"}},
			`spec.test.repeat: Invalid value: "string": spec.test.repeat in body must be of type integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "example.org/v1", "kind": "LoadTest",
				"metadata": map[string]any{"name": "malformed", "namespace": ns}, "spec": tc.spec,
			}}
			err := env.Client.Create(context.Background(), u)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "admission webhook") {
				t.Errorf("create: %v\nwant the schema's Invalid error with %q", err, tc.want)
			}
		})
	}
}

// webhookRequests is how many requests the webhook server has served on path, from
// controller-runtime's controller_runtime_webhook_requests_total.
func webhookRequests(t *testing.T, path string) float64 {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == path {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func TestTutorialSample(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)

	err := c.Create(context.Background(), sample(t, "example-02.yaml", ns, &dilov1.LoadTest{}))
	cause := fmt.Sprintf(`spec.test.serviceName: Not found: "nginx": no Service with this name in namespace %q: `+
		`create the Service first, or set spec.test.serviceName to a Service of this namespace`, ns)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "example-02", cause))
	if diff := cmp.Diff(`The LoadTest "example-02" is invalid: `+cause, kubectlMessage(err)); diff != "" {
		t.Errorf("kubectl's message (-want +got):\n%s", diff)
	}

	createService(t, env, ns, "nginx", true)
	mustCreate(t, c, sample(t, "example-02.yaml", ns, &dilov1.LoadTest{}))
}

// TestTutorialSampleWithKubectl runs the tutorial's command, kubectl apply -f
// example-02.yaml, and checks what the user reads.
func TestTutorialSampleWithKubectl(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	kubeconfig, err := env.AdminKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	apply := func() (string, error) {
		cmd := exec.Command(filepath.Join(env.Assets, "kubectl"), "--kubeconfig", kubeconfig, "-n", ns,
			"apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "samples", "example-02.yaml"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := apply()
	want := fmt.Sprintf(`The LoadTest "example-02" is invalid: spec.test.serviceName: Not found: "nginx": `+
		`no Service with this name in namespace %q: create the Service first, or set spec.test.serviceName to a Service of this namespace`+"\n", ns)
	if err == nil {
		t.Errorf("kubectl apply succeeded without Service nginx:\n%s", out)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("kubectl apply without Service nginx (-want +got):\n%s", diff)
	}

	createService(t, env, ns, "nginx", false)
	out, err = apply()
	want = fmt.Sprintf(`Warning: spec.test.serviceName: Service "nginx" in namespace %q has no ready endpoints yet: `+
		`the load test's requests will fail until the Service's pods are ready`+"\n"+
		"loadtest.example.org/example-02 created\n", ns)
	if err != nil {
		t.Errorf("kubectl apply with Service nginx: %v", err)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("kubectl apply with Service nginx (-want +got):\n%s", diff)
	}
}

func TestExternalNameServiceIsRejected(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"},
	}
	mustCreate(t, env.Client, svc)
	waitCached(t, svc)

	err := c.Create(context.Background(), loadTest(ns, "relay"))
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "relay", fmt.Sprintf(
		`spec.test.serviceName: Invalid value: "nginx": Service "nginx" in namespace %q is of type ExternalName: `+
			`DiLO sends load only to Services inside the cluster, never to outside hosts`, ns)))
}

func TestServiceWithoutReadyEndpointsWarns(t *testing.T) {
	env := startSuite(t)
	c, warns := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", false)

	mustCreate(t, c, loadTest(ns, "early"))
	want := []string{fmt.Sprintf(`spec.test.serviceName: Service "nginx" in namespace %q has no ready endpoints yet: `+
		`the load test's requests will fail until the Service's pods are ready`, ns)}
	if diff := cmp.Diff(want, warns.take()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestServicePortMustExist(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	byName := loadTest(ns, "by-name")
	byName.Spec.Test.Port = ptr(intstr.FromString("http"))
	mustCreate(t, c, byName)

	wrong := loadTest(ns, "wrong-port")
	wrong.Spec.Test.Port = ptr(intstr.FromInt32(8080))
	err := c.Create(context.Background(), wrong)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "wrong-port",
		`spec.test.port: Not found: 8080: Service "nginx" has no port 8080 (kubectl get service nginx lists its ports)`))
}

func TestReplicasCap(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	ok := loadTest(ns, "at-cap")
	ok.Spec.Replicas = maxReplicas
	mustCreate(t, c, ok)

	over := loadTest(ns, "over-cap")
	over.Spec.Replicas = maxReplicas + 1
	err := c.Create(context.Background(), over)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "over-cap",
		`spec.replicas: Invalid value: 11: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)`))
}

func TestRequestPath(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)

	// The schema rejects CR and LF before validating webhooks run; the webhook
	// rejects them too (TestWebhookServerItself), whatever the schema.
	injected := loadTest(ns, "injected")
	injected.Spec.Test.Path = "/a\r\nX-Injected: 1"
	err := c.Create(context.Background(), injected)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.test.path") {
		t.Errorf("a path with CR LF: got %v, want an Invalid error naming spec.test.path", err)
	}

	// What the schema's pattern lets through, the webhook catches.
	for _, tt := range []struct{ name, path, cause string }{
		{"authority", "//evil.example/x", `spec.test.path: Invalid value: "//evil.example/x": must not start with "//": servers and proxies may read what follows as a host name`},
		{"backslash", `/\evil.example`, `spec.test.path: Invalid value: "/\\evil.example": must not contain "\\" (byte 1), which RFC 3986 does not allow in a path or query: percent-encode it as %5C`},
		{"fragment", "/a#b", `spec.test.path: Invalid value: "/a#b": must not contain a fragment ("#" at byte 2): fragments are never sent to servers; percent-encode a literal "#" as %23`},
	} {
		lt := loadTest(ns, tt.name)
		lt.Spec.Test.Path = tt.path
		err := c.Create(context.Background(), lt)
		wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", tt.name, tt.cause))
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)

	lt := loadTest(ns, "all-wrong")
	lt.Spec.Replicas = 50
	lt.Spec.Test.Path = "//x"
	lt.Spec.Thresholds = &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: -time.Second}}
	err := c.Create(context.Background(), lt)
	causes := []string{
		`spec.replicas: Invalid value: 50: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)`,
		`spec.test.path: Invalid value: "//x": must not start with "//": servers and proxies may read what follows as a host name`,
		`spec.thresholds.maxP99: Invalid value: "-1s": must be a positive duration, such as "250ms"`,
		fmt.Sprintf(`spec.test.serviceName: Not found: "nginx": no Service with this name in namespace %q: `+
			`create the Service first, or set spec.test.serviceName to a Service of this namespace`, ns),
	}
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "all-wrong", causes...))
	want := "The LoadTest \"all-wrong\" is invalid: \n* " + strings.Join(causes, "\n* ") + "\n"
	if diff := cmp.Diff(want, kubectlMessage(err)); diff != "" {
		t.Errorf("kubectl's message (-want +got):\n%s", diff)
	}
}

// running creates lt and marks its run as state through the status subresource, as
// the controller would.
func running(t *testing.T, c client.Client, lt *dilov1.LoadTest, state dilov1.State) *dilov1.LoadTest {
	t.Helper()
	mustCreate(t, c, lt)
	lt.Status.State = state
	if err := c.Status().Update(context.Background(), lt); err != nil {
		t.Fatalf("failed to set status.state=%s: %v", state, err)
	}
	return lt
}

// edit applies change to the latest lt and updates it.
func edit(c client.Client, lt *dilov1.LoadTest, change func(*dilov1.LoadTest)) error {
	latest := &dilov1.LoadTest{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(lt), latest); err != nil {
		return err
	}
	change(latest)
	return c.Update(context.Background(), latest)
}

func TestUpdatePolicy(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	moreReplicas := func(lt *dilov1.LoadTest) { lt.Spec.Replicas++ }

	t.Run("Restart: a spec edit while executing is allowed", func(t *testing.T) {
		lt := running(t, c, loadTest(ns, "restart"), dilov1.StateExecuting)
		if err := edit(c, lt, moreReplicas); err != nil {
			t.Errorf("edit: %v", err)
		}
	})

	forbidden := func(name, state, fields string) string {
		return denied("vloadtest-v1.example.org", "LoadTest", name, "spec: Forbidden: the run is "+state+
			" and spec.updatePolicy is Reject, so "+fields+" cannot change until the run ends; "+
			"to restart the test with this edit, first change only spec.updatePolicy to Restart "+
			`(kubectl patch loadtest `+name+` -n `+ns+` --type=merge -p '{"spec":{"updatePolicy":"Restart"}}'), then edit again; `+
			"or delete and re-create the LoadTest")
	}
	for _, state := range []dilov1.State{dilov1.StateExecuting, dilov1.StatePending} {
		t.Run("Reject while "+string(state), func(t *testing.T) {
			name := "reject-" + string(state)
			lt := loadTest(ns, name)
			lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject
			running(t, c, lt, state)

			err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.Replicas++; lt.Spec.Test.Path = "/other" })
			wantError(t, err, forbidden(name, string(state), "spec.replicas, spec.test.path"))

			err = edit(c, lt, func(lt *dilov1.LoadTest) {
				lt.Spec.Replicas++
				lt.Spec.UpdatePolicy = dilov1.UpdatePolicyRestart
			})
			wantError(t, err, forbidden(name, string(state), "spec.replicas"))

			if err := edit(c, lt, func(lt *dilov1.LoadTest) {
				lt.Labels = map[string]string{"team": "a"}
				lt.Annotations = map[string]string{"note": "labels and annotations are always editable"}
			}); err != nil {
				t.Errorf("label and annotation edit: %v", err)
			}
			if err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.UpdatePolicy = dilov1.UpdatePolicyRestart }); err != nil {
				t.Errorf("changing only updatePolicy: %v", err)
			}
			if err := edit(c, lt, moreReplicas); err != nil {
				t.Errorf("spec edit once updatePolicy is Restart: %v", err)
			}
		})
	}

	for _, state := range []dilov1.State{dilov1.StateFinished, dilov1.StateFailed} {
		t.Run("Reject after the run "+string(state)+": an edit starts a new run", func(t *testing.T) {
			lt := loadTest(ns, "reject-"+string(state))
			lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject
			running(t, c, lt, state)
			if err := edit(c, lt, moreReplicas); err != nil {
				t.Errorf("edit: %v", err)
			}
		})
	}

	t.Run("metadata and updatePolicy edits pass even when the Service is gone", func(t *testing.T) {
		lt := running(t, c, loadTest(ns, "orphan"), dilov1.StateExecuting)
		if err := env.Client.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
		if err := testenv.Eventually(context.Background(), 10*time.Second, func(ctx context.Context) error {
			err := suite.cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: "nginx"}, &corev1.Service{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return errors.New("still cached")
		}); err != nil {
			t.Fatal(err)
		}
		if err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Finalizers = append(lt.Finalizers, "example.org/test") }); err != nil {
			t.Errorf("adding a finalizer: %v", err)
		}
		if err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Finalizers = nil }); err != nil {
			t.Errorf("removing the finalizer: %v", err)
		}
		if err := edit(c, lt, func(lt *dilov1.LoadTest) { lt.Spec.UpdatePolicy = dilov1.UpdatePolicyReject }); err != nil {
			t.Errorf("changing only updatePolicy: %v", err)
		}
		err := edit(c, lt, moreReplicas)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.test.serviceName: Not found") {
			t.Errorf("a spec edit once the Service is gone: got %v, want spec.test.serviceName: Not found", err)
		}
	})
}

func TestSimpleDeployment(t *testing.T) {
	env := startSuite(t)
	c, _ := userClient(t, env)
	ns := namespace(t, env)

	mustCreate(t, c, sample(t, "example-01.yaml", ns, &dilov1.SimpleDeployment{}))

	// The schema rejects these before the webhook runs; the webhook rejects them
	// too (TestWebhookServerItself).
	for i, bad := range []intstr.IntOrString{intstr.FromString("12a"), intstr.FromInt32(dilov1.MaxSleepytime + 1), intstr.FromString("-1")} {
		sd := &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: "bad-" + strconv.Itoa(i), Namespace: ns}}
		sd.Spec.Sleepytime = &bad
		err := c.Create(context.Background(), sd)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.sleepytime") {
			t.Errorf("sleepytime %s: got %v, want an Invalid error naming spec.sleepytime", bad.String(), err)
		}
	}
}

// TestWebhookServerItself sends the webhook server, over TLS as the API server does,
// what the CRD schema would stop before it: the webhooks must hold on their own.
func TestWebhookServerItself(t *testing.T) {
	env := startSuite(t)
	wo := env.WebhookOptions
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(wo.LocalServingCAData)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	review := func(path string, obj runtime.Object) *admissionv1.AdmissionResponse {
		t.Helper()
		raw, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: "1", Operation: admissionv1.Create, Namespace: "default", Name: "x",
				Object: runtime.RawExtension{Raw: raw},
			},
		})
		url := fmt.Sprintf("https://%s%s", net.JoinHostPort(wo.LocalServingHost, strconv.Itoa(wo.LocalServingPort)), path)
		resp, err := httpClient.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Response
	}

	lt := loadTest("default", "x")
	lt.TypeMeta = metav1.TypeMeta{APIVersion: "example.org/v1", Kind: "LoadTest"}
	lt.Spec.Test.Method = "GET"
	lt.Spec.Test.Path = "/a\r\nX-Injected: 1"
	resp := review("/validate-example-org-v1-loadtest", lt)
	if resp.Allowed || !strings.Contains(resp.Result.Message,
		`spec.test.path: Invalid value: "/a\r\nX-Injected: 1": must not contain CR or LF (byte 2)`) {
		t.Errorf("a path with CR LF: allowed=%t, message %q", resp.Allowed, resp.Result.Message)
	}

	// What the schema's rules refuse of the new fields, the webhook refuses on its own.
	lt = loadTest("default", "x")
	lt.TypeMeta = metav1.TypeMeta{APIVersion: "example.org/v1", Kind: "LoadTest"}
	lt.Spec.Test.Requests = []dilov1.Request{{Name: "a", Method: "GET", Path: "/"}, {Name: "a", Method: "GET", Path: "/b"}}
	lt.Spec.Test.Headers = []dilov1.Header{{Name: "X-A", Value: ptr("1\r\nX-Injected: 1")}, {Name: "X-B"}}
	lt.Spec.Test.Stages = []dilov1.Stage{{DurationSeconds: 60, TotalRate: ptr(int32(10))}, {DurationSeconds: 60, TotalConcurrency: ptr(int32(10))}}
	lt.Spec.Test.Protocol = "HTTP/2"
	resp = review("/validate-example-org-v1-loadtest", lt)
	for _, want := range []string{
		"spec.test.path: Forbidden: must not be set with requests: exactly one of path (a single request) and requests (a weighted mix) must be set",
		`spec.test.requests[1].name: Duplicate value: "a"`,
		"spec.test.headers[0].value: Invalid value: must not contain CR or LF (byte 1)",
		"spec.test.headers[1].value: Required value: exactly one of value and valueFrom",
		`spec.test.protocol: Invalid value: "HTTP/2": needs tls`,
		"spec.test.stages[1].totalConcurrency: Invalid value: 10: spec.test.stages[0] sets totalRate: every stage must set totalRate (open model), or every stage totalConcurrency (closed model)",
	} {
		if resp.Allowed || !strings.Contains(resp.Result.Message, want) {
			t.Errorf("new fields past the schema: allowed=%t, message %q; want it to hold %q", resp.Allowed, resp.Result.Message, want)
		}
	}

	sd := &dilov1.SimpleDeployment{TypeMeta: metav1.TypeMeta{APIVersion: "example.org/v1", Kind: "SimpleDeployment"}, ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}
	sd.Spec.Sleepytime = ptr(intstr.FromString("1; reboot"))
	resp = review("/validate-example-org-v1-simpledeployment", sd)
	want := `SimpleDeployment.example.org "x" is invalid: spec.sleepytime: Invalid value: "1; reboot": must be a whole number of seconds from 0 to 86400, such as 120 or "120", written with digits only`
	if resp.Allowed || resp.Result.Message != want {
		t.Errorf("sleepytime \"1; reboot\": allowed=%t, message %q, want %q", resp.Allowed, resp.Result.Message, want)
	}
}

func ptr[T any](v T) *T { return &v }
