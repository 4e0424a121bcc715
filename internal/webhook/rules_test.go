package webhook

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
)

func ptr[T any](v T) *T { return &v }

// messages is errs as the lines kubectl prints, for diffs.
func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestValidateMethod(t *testing.T) {
	tests := []struct {
		method string
		want   []string
	}{
		{"GET", nil},
		{"OPTIONS", nil},
		{"", nil}, // the default, GET
		{"get", []string{`spec.test.method: Unsupported value: "get": supported values: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"`}},
		{"TRACE", []string{`spec.test.method: Unsupported value: "TRACE": supported values: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"`}},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET", []string{`spec.test.method: Unsupported value: "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET": supported values: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"`}},
	}
	for _, tt := range tests {
		got := messages(validateMethod(tt.method, field.NewPath("spec", "test", "method")))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("validateMethod(%q) (-want +got):\n%s", tt.method, diff)
		}
	}
}

func TestValidateRequestPath(t *testing.T) {
	const f = "spec.test.path: "
	tests := []struct {
		name, path string
		want       []string
	}{
		{"root", "/", nil},
		{"path and query", "/search?q=x&page=2", nil},
		{"every character RFC 3986 allows", "/az-AZ_09.~!$&'()*+,;=:@/?/x", nil},
		{"percent-escapes", "/caf%C3%A9?q=a%20b%0A", nil},
		{"dot segments are the server's business", "/a/../b", nil},
		{"a path that merely looks like a URL", "/http://x", nil},
		{"empty", "", []string{f + `Required value: an absolute path such as "/" or "/search?q=x"`}},
		{"too long", "/" + strings.Repeat("a", dilov1.MaxPathLength), []string{f + "Too long: may not be more than 2048 bytes"}},
		{"CRLF header injection", "/a\r\nX-Injected: 1", []string{f + `Invalid value: "/a\r\nX-Injected: 1": must not contain CR or LF (byte 2): they end the HTTP request line, so the path could inject headers or a second request`}},
		{"bare LF", "/a\nb", []string{f + `Invalid value: "/a\nb": must not contain CR or LF (byte 2): they end the HTTP request line, so the path could inject headers or a second request`}},
		{"request smuggling with a second request line", "/ HTTP/1.1\r\nHost: a\r\n\r\nGET /admin", []string{f + `Invalid value: "/ HTTP/1.1\r\nHost: a\r\n\r\nGET /admin": must not contain spaces or tabs (byte 1): they end the request target, so the rest would be read as the HTTP version or a smuggled request; percent-encode a space as %20`}},
		{"HTTP version smuggling without CRLF", "/x HTTP/1.0", []string{f + `Invalid value: "/x HTTP/1.0": must not contain spaces or tabs (byte 2): they end the request target, so the rest would be read as the HTTP version or a smuggled request; percent-encode a space as %20`}},
		{"tab", "/a\tb", []string{f + `Invalid value: "/a\tb": must not contain spaces or tabs (byte 2): they end the request target, so the rest would be read as the HTTP version or a smuggled request; percent-encode a space as %20`}},
		{"NUL", "/a\x00", []string{f + `Invalid value: "/a\x00": must not contain control characters (byte 2 is 0x00)`}},
		{"DEL", "/a\x7f", []string{f + `Invalid value: "/a\x7f": must not contain control characters (byte 2 is 0x7f)`}},
		{"non-ASCII", "/café", []string{f + `Invalid value: "/café": must be ASCII (byte 4 is 0xc3): percent-encode the UTF-8 bytes of other characters, e.g. "é" as %C3%A9`}},
		{"absolute-form URL", "http://evil.example/", []string{f + `Invalid value: "http://evil.example/": must be an absolute path starting with "/" (origin-form): DiLO sends only to spec.test.serviceName, so absolute URLs ("http://host/...") and "*" are not allowed`}},
		{"asterisk-form", "*", []string{f + `Invalid value: "*": must be an absolute path starting with "/" (origin-form): DiLO sends only to spec.test.serviceName, so absolute URLs ("http://host/...") and "*" are not allowed`}},
		{"relative", "index.html", []string{f + `Invalid value: "index.html": must be an absolute path starting with "/" (origin-form): DiLO sends only to spec.test.serviceName, so absolute URLs ("http://host/...") and "*" are not allowed`}},
		{"authority-looking", "//evil.example/x", []string{f + `Invalid value: "//evil.example/x": must not start with "//": servers and proxies may read what follows as a host name`}},
		{"backslash authority trick", `/\evil.example`, []string{f + `Invalid value: "/\\evil.example": must not contain "\\" (byte 1), which RFC 3986 does not allow in a path or query: percent-encode it as %5C`}},
		{"fragment", "/a#top", []string{f + `Invalid value: "/a#top": must not contain a fragment ("#" at byte 2): fragments are never sent to servers; percent-encode a literal "#" as %23`}},
		{"braces", "/q?x={}", []string{f + `Invalid value: "/q?x={}": must not contain "{" (byte 5), which RFC 3986 does not allow in a path or query: percent-encode it as %7B`}},
		{"lone percent", "/100%", []string{f + `Invalid value: "/100%": has a malformed percent-escape at byte 4: "%" must be followed by two hex digits; write a literal "%" as %25`}},
		{"bad percent-escape", "/a%zz", []string{f + `Invalid value: "/a%zz": has a malformed percent-escape at byte 2: "%" must be followed by two hex digits; write a literal "%" as %25`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateRequestPath(tt.path, field.NewPath("spec", "test", "path")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateRequestPath(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestValidateThresholds(t *testing.T) {
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	tests := []struct {
		name string
		th   *dilov1.Thresholds
		want []string
	}{
		{"none", nil, nil},
		{"all fine", &dilov1.Thresholds{MaxErrorRatio: "0.01", MaxP50: dur(time.Millisecond), MaxP90: dur(time.Second), MaxP99: dur(time.Minute)}, nil},
		{"zero ratio", &dilov1.Thresholds{MaxErrorRatio: "0"}, nil},
		{"one", &dilov1.Thresholds{MaxErrorRatio: "1.000"}, nil},
		{"above one", &dilov1.Thresholds{MaxErrorRatio: "1.5"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "1.5": must be a decimal from 0 to 1, such as "0.01"`}},
		{"negative", &dilov1.Thresholds{MaxErrorRatio: "-0.1"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "-0.1": must be a decimal from 0 to 1, such as "0.01"`}},
		{"exponent", &dilov1.Thresholds{MaxErrorRatio: "1e-3"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "1e-3": must be a decimal from 0 to 1, such as "0.01"`}},
		{"NaN", &dilov1.Thresholds{MaxErrorRatio: "NaN"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "NaN": must be a decimal from 0 to 1, such as "0.01"`}},
		{"trailing point", &dilov1.Thresholds{MaxErrorRatio: "0."}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "0.": must be a decimal from 0 to 1, such as "0.01"`}},
		{"leading point", &dilov1.Thresholds{MaxErrorRatio: ".5"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: ".5": must be a decimal from 0 to 1, such as "0.01"`}},
		{"every problem at once", &dilov1.Thresholds{MaxErrorRatio: "2", MaxP50: dur(0), MaxP99: dur(-time.Second)}, []string{
			`spec.thresholds.maxErrorRatio: Invalid value: "2": must be a decimal from 0 to 1, such as "0.01"`,
			`spec.thresholds.maxP50: Invalid value: "0s": must be a positive duration, such as "250ms"`,
			`spec.thresholds.maxP99: Invalid value: "-1s": must be a positive duration, such as "250ms"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateThresholds(tt.th, field.NewPath("spec", "thresholds")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateThresholds() (-want +got):\n%s", diff)
			}
		})
	}
}

func service(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec:       corev1.ServiceSpec{Ports: ports},
	}
}

func TestServiceNotFound(t *testing.T) {
	got := serviceNotFound("team-a", "nginx", field.NewPath("spec", "test", "serviceName")).Error()
	want := `spec.test.serviceName: Not found: "nginx": no Service with this name in namespace "team-a": create the Service first, or set spec.test.serviceName to a Service of this namespace`
	if got != want {
		t.Errorf("serviceNotFound() = %q; want %q", got, want)
	}
}

func TestValidateEncodedSize(t *testing.T) {
	small := []byte(`{"metadata":{"name":"x"},"spec":{"replicas":1}}`)
	big := fmt.Sprintf(`{"metadata":{"name":"x"},"spec":{"replicas":1,"podTemplate":{"spec":{"affinity":{"nodeAffinity":%q}}}}}`, strings.Repeat("a", 70_000))
	if errs := validateEncodedSize(small); len(errs) > 0 {
		t.Errorf("validateEncodedSize(small) = %v; want none", errs)
	}
	got := messages(validateEncodedSize([]byte(big)))
	want := []string{fmt.Sprintf(`spec.podTemplate.spec.affinity.nodeAffinity: Invalid value: "<70002 bytes>": the LoadTest is %d bytes encoded, and DiLO accepts at most 65536: this is its largest part`, len(big))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("validateEncodedSize(big) (-want +got):\n%s", diff)
	}
}

func TestValidateServicePort(t *testing.T) {
	svc := service("nginx", corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Port: 8443})
	num, name := intstr.FromInt32, intstr.FromString
	tests := []struct {
		name string
		port *intstr.IntOrString
		want []string
	}{
		{"unset: the first port", nil, nil},
		{"by number", ptr(num(80)), nil},
		{"by number, unnamed port", ptr(num(8443)), nil},
		{"by name", ptr(name("http")), nil},
		{"unknown number", ptr(num(8080)), []string{`spec.test.port: Not found: 8080: Service "nginx" has no port 8080 (kubectl get service nginx lists its ports)`}},
		{"unknown name", ptr(name("metrics")), []string{`spec.test.port: Not found: "metrics": Service "nginx" has no port named "metrics" (kubectl get service nginx lists its ports)`}},
		{"empty name never matches an unnamed port", ptr(name("")), []string{`spec.test.port: Not found: "": Service "nginx" has no port named "" (kubectl get service nginx lists its ports)`}},
		{"target port is not a Service port", ptr(num(0)), []string{`spec.test.port: Not found: 0: Service "nginx" has no port 0 (kubectl get service nginx lists its ports)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateServicePort(tt.port, svc, field.NewPath("spec", "test", "port")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateServicePort() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWarnNoReadyEndpoints(t *testing.T) {
	slice := func(ready ...*bool) discoveryv1.EndpointSlice {
		es := discoveryv1.EndpointSlice{}
		for _, r := range ready {
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: r}})
		}
		return es
	}
	warning := []string{`spec.test.serviceName: Service "nginx" in namespace "team-a" has no ready endpoints yet: the load test's requests will fail until the Service's pods are ready`}
	tests := []struct {
		name   string
		slices []discoveryv1.EndpointSlice
		want   []string
	}{
		{"no slices", nil, warning},
		{"an empty slice", []discoveryv1.EndpointSlice{slice()}, warning},
		{"not ready", []discoveryv1.EndpointSlice{slice(ptr(false), ptr(false))}, warning},
		{"one ready in the second slice", []discoveryv1.EndpointSlice{slice(ptr(false)), slice(ptr(false), ptr(true))}, nil},
		{"ready unset means ready", []discoveryv1.EndpointSlice{slice(nil)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := warnNoReadyEndpoints("team-a", service("nginx"), tt.slices)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnNoReadyEndpoints() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateEditWhileRunning(t *testing.T) {
	loadTest := func(policy dilov1.UpdatePolicy, state dilov1.State, replicas int32) *dilov1.LoadTest {
		return &dilov1.LoadTest{
			ObjectMeta: metav1.ObjectMeta{Name: "example-02", Namespace: "team-a"},
			Spec: dilov1.LoadTestSpec{Replicas: replicas, UpdatePolicy: policy,
				Test: dilov1.TestSpec{Method: "GET", ServiceName: "nginx", Path: "/", Repeat: ptr(int32(10))}},
			Status: dilov1.LoadTestStatus{State: state},
		}
	}
	const (
		restart, reject = dilov1.UpdatePolicyRestart, dilov1.UpdatePolicyReject
	)
	denied := func(state, fields string) []string {
		return []string{"spec: Forbidden: the run is " + state + " and spec.updatePolicy is Reject, so " + fields +
			" cannot change until the run ends; to restart the test with this edit, first change only spec.updatePolicy to Restart " +
			`(kubectl patch loadtest example-02 -n team-a --type=merge -p '{"spec":{"updatePolicy":"Restart"}}'), then edit again; ` +
			"or delete and re-create the LoadTest"}
	}
	tests := []struct {
		name     string
		old, new *dilov1.LoadTest
		want     []string
	}{
		{"Restart while executing: allowed, the controller restarts", loadTest(restart, dilov1.StateExecuting, 5), loadTest(restart, dilov1.StateExecuting, 6), nil},
		{"Reject while executing", loadTest(reject, dilov1.StateExecuting, 5), loadTest(reject, dilov1.StateExecuting, 6), denied("executing", "spec.replicas")},
		{"Reject while pending", loadTest(reject, dilov1.StatePending, 5), loadTest(reject, dilov1.StatePending, 6), denied("pending", "spec.replicas")},
		{"Reject lists every changed field", loadTest(reject, dilov1.StateExecuting, 5), func() *dilov1.LoadTest {
			lt := loadTest(reject, dilov1.StateExecuting, 6)
			lt.Spec.Test.Path, lt.Spec.Test.Concurrency = "/x", ptr(int32(3))
			return lt
		}(), denied("executing", "spec.replicas, spec.test.concurrency, spec.test.path")},
		{"Reject: changing only updatePolicy is allowed", loadTest(reject, dilov1.StateExecuting, 5), loadTest(restart, dilov1.StateExecuting, 5), nil},
		{"Reject: changing updatePolicy and more is not", loadTest(reject, dilov1.StateExecuting, 5), loadTest(restart, dilov1.StateExecuting, 6), denied("executing", "spec.replicas")},
		{"Restart to Reject with an edit: the stored policy rules", loadTest(restart, dilov1.StateExecuting, 5), loadTest(reject, dilov1.StateExecuting, 6), nil},
		{"Reject after the run finished: allowed, a new run", loadTest(reject, dilov1.StateFinished, 5), loadTest(reject, dilov1.StateFinished, 6), nil},
		{"Reject after the run failed: allowed, a new run", loadTest(reject, dilov1.StateFailed, 5), loadTest(reject, dilov1.StateFailed, 6), nil},
		{"Reject before any run: allowed", loadTest(reject, "", 5), loadTest(reject, "", 6), nil},
		{"Reject, spec unchanged", loadTest(reject, dilov1.StateExecuting, 5), loadTest(reject, dilov1.StateExecuting, 5), nil},
		{"Reject: changing only the TTL fields is allowed", loadTest(reject, dilov1.StateExecuting, 5), func() *dilov1.LoadTest {
			lt := loadTest(reject, dilov1.StateExecuting, 5)
			lt.Spec.TTLSecondsAfterFinished, lt.Spec.TTLDeletesLoadTest = ptr(int32(60)), true
			return lt
		}(), nil},
		{"Reject: the pod template is not", loadTest(reject, dilov1.StateExecuting, 5), func() *dilov1.LoadTest {
			lt := loadTest(reject, dilov1.StateExecuting, 5)
			lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{NodeSelector: map[string]string{"pool": "load"}}}
			return lt
		}(), denied("executing", "spec.podTemplate")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateEditWhileRunning(tt.old, tt.new))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateEditWhileRunning() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateSleepytime(t *testing.T) {
	msg := "must be a whole number of seconds from 0 to 86400, such as 120 or \"120\""
	num, str := intstr.FromInt32, intstr.FromString
	tests := []struct {
		name string
		s    *intstr.IntOrString
		want []string
	}{
		{"unset", nil, nil},
		{"tutorial's string", ptr(str("120")), nil},
		{"number", ptr(num(120)), nil},
		{"zero", ptr(num(0)), nil},
		{"string zero", ptr(str("0")), nil},
		{"max", ptr(num(dilov1.MaxSleepytime)), nil},
		{"max string", ptr(str("86400")), nil},
		{"leading zeros", ptr(str("00120")), nil},
		{"too big", ptr(num(dilov1.MaxSleepytime + 1)), []string{"spec.sleepytime: Invalid value: 86401: " + msg}},
		{"negative", ptr(num(-1)), []string{"spec.sleepytime: Invalid value: -1: " + msg}},
		{"too big string", ptr(str("86401")), []string{`spec.sleepytime: Invalid value: "86401": ` + msg}},
		{"overflowing string", ptr(str("99999999999999999999999")), []string{`spec.sleepytime: Invalid value: "99999999999999999999999": ` + msg}},
		{"letters", ptr(str("12a")), []string{`spec.sleepytime: Invalid value: "12a": ` + msg + ", written with digits only"}},
		{"sign", ptr(str("-5")), []string{`spec.sleepytime: Invalid value: "-5": ` + msg + ", written with digits only"}},
		{"plus", ptr(str("+5")), []string{`spec.sleepytime: Invalid value: "+5": ` + msg + ", written with digits only"}},
		{"space", ptr(str(" 5")), []string{`spec.sleepytime: Invalid value: " 5": ` + msg + ", written with digits only"}},
		{"shell injection", ptr(str("1; rm -rf /")), []string{`spec.sleepytime: Invalid value: "1; rm -rf /": ` + msg + ", written with digits only"}},
		{"duration", ptr(str("2m")), []string{`spec.sleepytime: Invalid value: "2m": ` + msg + ", written with digits only"}},
		{"empty", ptr(str("")), []string{`spec.sleepytime: Invalid value: "": ` + msg + ", written with digits only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateSleepytime(tt.s, field.NewPath("spec", "sleepytime")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateSleepytime() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePodTemplate(t *testing.T) {
	p := field.NewPath("spec", "podTemplate")
	// Only the field and the kind of error: the messages are apimachinery's.
	fields := func(errs field.ErrorList) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Field+": "+e.Type.String())
		}
		return out
	}
	tests := []struct {
		name string
		pt   *dilov1.AgentPodTemplate
		want []string
	}{
		{"unset", nil, nil},
		{"valid", &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{Labels: map[string]string{"team": "perf"}, Annotations: map[string]string{"sidecar.istio.io/inject": "false"}},
			Spec: dilov1.AgentPodSpec{NodeSelector: map[string]string{"pool": "load"}, Resources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}},
		}, nil},
		{"bad label, annotation and nodeSelector", &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{Labels: map[string]string{"team": "a b"}, Annotations: map[string]string{"bad key": "x"}},
			Spec:     dilov1.AgentPodSpec{NodeSelector: map[string]string{"-pool": "load"}},
		}, []string{
			"spec.podTemplate.metadata.labels: Invalid value",
			"spec.podTemplate.metadata.annotations: Invalid value",
			"spec.podTemplate.spec.nodeSelector: Invalid value",
		}},
		{"claims and requests above limits", &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{
			Claims:   []corev1.ResourceClaim{{Name: "gpu"}},
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
		}}}, []string{
			"spec.podTemplate.spec.resources.claims: Forbidden",
			"spec.podTemplate.spec.resources.requests[memory]: Invalid value",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fields(validatePodTemplate(tt.pt, p))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validatePodTemplate() (-want +got):\n%s", diff)
			}
		})
	}
}

// testPolicy is the policy of the unit tests: the default one, with 10 replicas at most.
func testPolicy() policy.Policy {
	p := policy.Default()
	p.MaxReplicas = 10
	return p
}
