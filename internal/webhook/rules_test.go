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
	abort := func(window *int32) *dilov1.ThresholdAbort { return &dilov1.ThresholdAbort{WindowSeconds: window} }
	const noLimit = "spec.thresholds.abort: Forbidden: checks the limits while the run executes, but none is set: " +
		"set at least one of spec.thresholds.maxErrorRatio, spec.thresholds.maxP50, spec.thresholds.maxP90 and spec.thresholds.maxP99, or remove abort"
	shortWindow := func(n int) []string {
		return []string{fmt.Sprintf("spec.thresholds.abort.windowSeconds: a window of %ds holds only one or two of the manager's reads of the agents (every few seconds): "+
			"a single late read can break a limit and stop a healthy run; 10s or more is safer (unset: 30s)", n)}
	}
	tests := []struct {
		name         string
		th           *dilov1.Thresholds
		want         []string
		wantWarnings []string
	}{
		{"none", nil, nil, nil},
		{"all fine", &dilov1.Thresholds{MaxErrorRatio: "0.01", MaxP50: dur(time.Millisecond), MaxP90: dur(time.Second), MaxP99: dur(time.Minute)}, nil, nil},
		{"zero ratio", &dilov1.Thresholds{MaxErrorRatio: "0"}, nil, nil},
		{"one", &dilov1.Thresholds{MaxErrorRatio: "1.000"}, nil, nil},
		{"above one", &dilov1.Thresholds{MaxErrorRatio: "1.5"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "1.5": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"negative", &dilov1.Thresholds{MaxErrorRatio: "-0.1"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "-0.1": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"exponent", &dilov1.Thresholds{MaxErrorRatio: "1e-3"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "1e-3": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"NaN", &dilov1.Thresholds{MaxErrorRatio: "NaN"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "NaN": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"trailing point", &dilov1.Thresholds{MaxErrorRatio: "0."}, []string{`spec.thresholds.maxErrorRatio: Invalid value: "0.": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"leading point", &dilov1.Thresholds{MaxErrorRatio: ".5"}, []string{`spec.thresholds.maxErrorRatio: Invalid value: ".5": must be a decimal from 0 to 1, such as "0.01"`}, nil},
		{"every problem at once", &dilov1.Thresholds{MaxErrorRatio: "2", MaxP50: dur(0), MaxP99: dur(-time.Second)}, []string{
			`spec.thresholds.maxErrorRatio: Invalid value: "2": must be a decimal from 0 to 1, such as "0.01"`,
			`spec.thresholds.maxP50: Invalid value: "0s": must be a positive duration, such as "250ms"`,
			`spec.thresholds.maxP99: Invalid value: "-1s": must be a positive duration, such as "250ms"`,
		}, nil},
		{"abort with a limit", &dilov1.Thresholds{MaxErrorRatio: "0.01", Abort: abort(nil)}, nil, nil},
		{"abort with a latency limit and a window", &dilov1.Thresholds{MaxP90: dur(time.Second), Abort: abort(ptr(int32(60)))}, nil, nil},
		{"abort without any limit", &dilov1.Thresholds{Abort: abort(nil)}, []string{noLimit}, nil},
		{"abort without any limit, a short window: the error alone", &dilov1.Thresholds{Abort: abort(ptr(int32(5)))}, []string{noLimit}, nil},
		{"abort over 5s: a warning", &dilov1.Thresholds{MaxP99: dur(time.Second), Abort: abort(ptr(int32(5)))}, nil, shortWindow(5)},
		{"abort over 9s: a warning", &dilov1.Thresholds{MaxP99: dur(time.Second), Abort: abort(ptr(int32(9)))}, nil, shortWindow(9)},
		{"abort over 10s: fine", &dilov1.Thresholds{MaxP99: dur(time.Second), Abort: abort(ptr(int32(10)))}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warnings := validateThresholds(tt.th, field.NewPath("spec", "thresholds"))
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("validateThresholds() errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("validateThresholds() warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateBaseline(t *testing.T) {
	p99 := &dilov1.Baseline{MaxP99IncreasePercent: ptr(int32(10))}
	named := func(name string) *dilov1.Baseline {
		return &dilov1.Baseline{LoadTest: name, MaxRequestsPerSecondDecreasePercent: ptr(int32(5))}
	}
	tests := []struct {
		name    string
		th      *dilov1.Thresholds
		history *int32
		want    []string
	}{
		{"no thresholds", nil, nil, nil},
		{"no baseline", &dilov1.Thresholds{MaxErrorRatio: "0.01"}, nil, nil},
		{"the previous run", &dilov1.Thresholds{Baseline: p99}, nil, nil},
		{"another LoadTest", &dilov1.Thresholds{Baseline: named("checkout-nightly")}, nil, nil},
		{"another LoadTest, no history of this one", &dilov1.Thresholds{Baseline: named("checkout-nightly")}, ptr(int32(0)), nil},
		{"no limit", &dilov1.Thresholds{Baseline: &dilov1.Baseline{LoadTest: "a"}}, nil, []string{
			"spec.thresholds.baseline: Forbidden: compares the run with a baseline, but sets no limit: set at least one of " +
				"spec.thresholds.baseline.maxP50IncreasePercent, spec.thresholds.baseline.maxP90IncreasePercent, " +
				"spec.thresholds.baseline.maxP99IncreasePercent and spec.thresholds.baseline.maxRequestsPerSecondDecreasePercent, or remove baseline"}},
		{"not a name", &dilov1.Thresholds{Baseline: named("Checkout_Nightly")}, nil, []string{
			`spec.thresholds.baseline.loadTest: Invalid value: "Checkout_Nightly": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"the previous run without a history", &dilov1.Thresholds{Baseline: p99}, ptr(int32(0)), []string{
			"spec.historyLimit: Invalid value: 0: spec.thresholds.baseline compares each run with the previous one, which the history must keep: " +
				"set historyLimit to 1 or more, or spec.thresholds.baseline.loadTest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &dilov1.LoadTestSpec{Thresholds: tt.th, HistoryLimit: tt.history}
			if diff := cmp.Diff(tt.want, messages(validateBaseline(spec, field.NewPath("spec")))); diff != "" {
				t.Errorf("validateBaseline() errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		timeZone *string
		want     []string
	}{
		{"no schedule", "", nil, nil},
		{"five fields", "0 2 * * 1-5", nil, nil},
		{"a descriptor", "@daily", nil, nil},
		{"every", "@every 90m", nil, nil},
		{"in a time zone", "0 2 * * *", ptr("Europe/Paris"), nil},
		{"a time zone without a schedule", "", ptr("America/New_York"), nil},
		{"six fields", "0 0 2 * * *", nil, []string{
			`spec.schedule: Invalid value: "0 0 2 * * *": expected exactly 5 fields, found 6: [0 0 2 * * *]`}},
		{"out of range", "0 25 * * *", nil, []string{
			`spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25`}},
		{"unknown descriptor", "@fortnightly", nil, []string{
			`spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly`}},
		{"TZ= in the schedule", "TZ=Europe/Paris 0 2 * * *", nil, []string{
			`spec.schedule: Invalid value: "TZ=Europe/Paris 0 2 * * *": must not set a time zone (TZ= or CRON_TZ=): set spec.timeZone instead`}},
		{"CRON_TZ= in the schedule", "CRON_TZ=UTC @daily", ptr("UTC"), []string{
			`spec.schedule: Invalid value: "CRON_TZ=UTC @daily": must not set a time zone (TZ= or CRON_TZ=): set spec.timeZone instead`}},
		{"unknown time zone", "@daily", ptr("Mars/Olympus_Mons"), []string{
			`spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone: unknown time zone Mars/Olympus_Mons`}},
		{"unknown time zone without a schedule", "", ptr("Mars/Olympus_Mons"), []string{
			`spec.timeZone: Invalid value: "Mars/Olympus_Mons": unknown time zone: unknown time zone Mars/Olympus_Mons`}},
		{"the manager's time zone", "@daily", ptr("Local"), []string{
			`spec.timeZone: Invalid value: "Local": must be an IANA time zone name such as "Europe/Paris", or unset for UTC`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &dilov1.LoadTestSpec{Schedule: tt.schedule, TimeZone: tt.timeZone}
			if diff := cmp.Diff(tt.want, messages(validateSchedule(spec, field.NewPath("spec")))); diff != "" {
				t.Errorf("validateSchedule() errors (-want +got):\n%s", diff)
			}
		})
	}
	ttl := &dilov1.LoadTestSpec{Schedule: "@daily", TTLSecondsAfterFinished: ptr(int32(60)), TTLDeletesLoadTest: true}
	want := []string{"spec.ttlDeletesLoadTest: Forbidden: deletes the LoadTest once its first run ended, which would end spec.schedule: remove ttlDeletesLoadTest, or the schedule"}
	if diff := cmp.Diff(want, messages(validateSchedule(ttl, field.NewPath("spec")))); diff != "" {
		t.Errorf("validateSchedule() of a schedule whose TTL deletes the LoadTest (-want +got):\n%s", diff)
	}
}

func TestValidateStopAnnotation(t *testing.T) {
	lt := func(stop ...string) *dilov1.LoadTest {
		l := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Annotations: map[string]string{"note": "n"}}}
		if len(stop) > 0 {
			l.Annotations[dilov1.AnnotationStop] = stop[0]
		}
		return l
	}
	long := strings.Repeat("x", 257)
	tooLong := []string{"metadata.annotations[example.org/stop]: Too long: may not be more than 256 bytes: any new value stops the run, " +
		`such as the time of the request (kubectl annotate loadtest NAME example.org/stop="$(date -Is)" --overwrite)`}
	tests := []struct {
		name     string
		old, new *dilov1.LoadTest // old nil: a create
		want     []string
	}{
		{"create without", nil, lt(), nil},
		{"create with a time", nil, lt("2026-12-02T10:00:00+00:00"), nil},
		{"create with 256 bytes", nil, lt(strings.Repeat("x", 256)), nil},
		{"create with 257 bytes", nil, lt(long), tooLong},
		{"set", lt(), lt("now"), nil},
		{"set too long", lt(), lt(long), tooLong},
		{"changed to too long", lt("a"), lt(long), tooLong},
		{"too long, unchanged: stored while the webhook was off, never blocks an edit", lt(long), lt(long), nil},
		{"removed", lt(long), lt(), nil},
		{"empty", lt(), lt(""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateStopAnnotation(tt.old, tt.new))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateStopAnnotation() (-want +got):\n%s", diff)
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
		{"Reject: changing only historyLimit is allowed", loadTest(reject, dilov1.StateExecuting, 5), func() *dilov1.LoadTest {
			lt := loadTest(reject, dilov1.StateExecuting, 5)
			lt.Spec.HistoryLimit = ptr(int32(3))
			return lt
		}(), nil},
		{"Reject: historyLimit and more is not", loadTest(reject, dilov1.StatePending, 5), func() *dilov1.LoadTest {
			lt := loadTest(reject, dilov1.StatePending, 6)
			lt.Spec.HistoryLimit = ptr(int32(3))
			return lt
		}(), denied("pending", "spec.replicas")},
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

// secretKey is a value source of key of Secret name.
func secretKey(name, key string) *dilov1.ValueSource {
	return &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: name, Key: key}}
}

// configMapKey is a value source of key of ConfigMap name.
func configMapKey(name, key string) *dilov1.ValueSource {
	return &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: name, Key: key}}
}

func TestValidateHeaders(t *testing.T) {
	const f = "spec.test.requests[1].headers"
	h := func(name, value string) dilov1.Header { return dilov1.Header{Name: name, Value: ptr(value)} }
	agentOwned := "is set by the agent, which owns the framing and connection headers (Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade)"
	tests := []struct {
		name    string
		headers []dilov1.Header
		want    []string
	}{
		{"none", nil, nil},
		{"valid", []dilov1.Header{
			h("Content-Type", "application/json"), h("X-Trace", "a b\tc"), h("X-Empty", ""), h("User-Agent", "dilo-test/1"),
			{Name: "Authorization", ValueFrom: secretKey("api-token", "token")},
			{Name: "X-Tenant", ValueFrom: configMapKey("tenants.v1", "tenant_id")},
		}, nil},
		{"CR LF in a value", []dilov1.Header{h("X-A", "1\r\nX-Injected: 1")}, []string{
			f + "[0].value: Invalid value: must not contain CR or LF (byte 1): they would end the header and could inject others"}},
		{"bare LF in a value", []dilov1.Header{h("X-A", "1\nb")}, []string{
			f + "[0].value: Invalid value: must not contain CR or LF (byte 1): they would end the header and could inject others"}},
		{"NUL in a value", []dilov1.Header{h("X-A", "a\x00")}, []string{
			f + "[0].value: Invalid value: must not contain control characters (byte 1 is 0x00)"}},
		{"a space at the end of a value", []dilov1.Header{h("X-A", "a ")}, []string{
			f + "[0].value: Invalid value: must not start or end with a space or tab (byte 1): recipients strip them"}},
		{"a value too long", []dilov1.Header{h("X-A", strings.Repeat("a", dilov1.MaxHeaderValueLength+1))}, []string{
			f + "[0].value: Too long: may not be more than 8192 bytes"}},
		{"agent-owned names, in any case", []dilov1.Header{h("Host", "evil.example"), h("content-length", "0"), h("Transfer-Encoding", "chunked")}, []string{
			f + `[0].name: Forbidden: "Host" ` + agentOwned,
			f + `[1].name: Forbidden: "content-length" ` + agentOwned,
			f + `[2].name: Forbidden: "Transfer-Encoding" ` + agentOwned,
		}},
		{"a name that is no token", []dilov1.Header{h("X Trace", "1"), h("X-A:", "1"), h("", "1")}, []string{
			f + "[0].name: Invalid value: \"X Trace\": must be an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~), but byte 1 is ' '",
			f + "[1].name: Invalid value: \"X-A:\": must be an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~), but byte 3 is ':'",
			f + `[2].name: Invalid value: "": must not be empty`,
		}},
		{"a name too long", []dilov1.Header{h(strings.Repeat("X", dilov1.MaxHeaderNameLength+1), "1")}, []string{
			f + "[0].name: Too long: may not be more than 256 bytes"}},
		{"the same name twice, in another case", []dilov1.Header{h("X-A", "1"), h("X-B", "2"), {Name: "x-a", ValueFrom: secretKey("s", "k")}}, []string{
			f + `[2].name: Duplicate value: "x-a": ` + f + `[0].name names this header too (header names are case-insensitive): set each header once`}},
		{"value and valueFrom", []dilov1.Header{{Name: "X-A", Value: ptr("1"), ValueFrom: secretKey("s", "k")}}, []string{
			f + "[0].valueFrom: Forbidden: must not be set with value: exactly one of value and valueFrom must be set"}},
		{"neither value nor valueFrom", []dilov1.Header{{Name: "X-A"}}, []string{
			f + "[0].value: Required value: exactly one of value and valueFrom (a key of a Secret or ConfigMap) must be set"}},
		{"valueFrom of a Secret and a ConfigMap", []dilov1.Header{{Name: "X-A", ValueFrom: &dilov1.ValueSource{
			SecretKeyRef: &dilov1.KeyRef{Name: "s", Key: "k"}, ConfigMapKeyRef: &dilov1.KeyRef{Name: "c", Key: "k"}}}}, []string{
			f + "[0].valueFrom.configMapKeyRef: Forbidden: must not be set with secretKeyRef: exactly one of secretKeyRef and configMapKeyRef must be set"}},
		{"valueFrom of neither", []dilov1.Header{{Name: "X-A", ValueFrom: &dilov1.ValueSource{}}}, []string{
			f + "[0].valueFrom.secretKeyRef: Required value: exactly one of secretKeyRef and configMapKeyRef must be set"}},
		{"valueFrom with names the API server refuses", []dilov1.Header{{Name: "X-A", ValueFrom: secretKey("Api_Token", "a/b")}}, []string{
			f + `[0].valueFrom.secretKeyRef.name: Invalid value: "Api_Token": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			f + `[0].valueFrom.secretKeyRef.key: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
		}},
		{"too many", func() []dilov1.Header {
			var hs []dilov1.Header
			for i := range dilov1.MaxHeaders + 1 {
				hs = append(hs, h(fmt.Sprintf("X-%d", i), "1"))
			}
			return hs
		}(), []string{f + ": Too many: 33: must have at most 32 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateHeaders(tt.headers, field.NewPath("spec", "test", "requests").Index(1).Child("headers")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateHeaders() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateBody(t *testing.T) {
	const f = "spec.test.body"
	warnGET := []string{f + ": the request's method is GET: DiLO sends the body, but many servers ignore a body on GET or HEAD, and some refuse the request; POST, PUT and PATCH are the methods for a body"}
	tests := []struct {
		name         string
		body         *dilov1.Body
		method       string
		want, wantWs []string
	}{
		{name: "none", method: "GET"},
		{name: "text", body: &dilov1.Body{Text: ptr(`{"id": 1}`)}, method: "POST"},
		{name: "empty text", body: &dilov1.Body{Text: ptr("")}, method: "PUT"},
		{name: "from a ConfigMap", body: &dilov1.Body{ValueFrom: configMapKey("payloads", "order.json")}, method: "PATCH"},
		{name: "the longest text, in characters", body: &dilov1.Body{Text: ptr(strings.Repeat("é", dilov1.MaxInlineBodyLength))}, method: "POST"},
		{name: "text too long", body: &dilov1.Body{Text: ptr(strings.Repeat("é", dilov1.MaxInlineBodyLength+1))}, method: "POST", want: []string{
			f + ".text: Too long: may not be more than 16384 characters: put a larger body (up to 1 MiB) in a ConfigMap and read it with valueFrom"}},
		{name: "text and valueFrom", body: &dilov1.Body{Text: ptr("x"), ValueFrom: secretKey("s", "k")}, method: "POST", want: []string{
			f + ".valueFrom: Forbidden: must not be set with text: exactly one of text and valueFrom must be set"}},
		{name: "neither", body: &dilov1.Body{}, method: "POST", want: []string{
			f + ".text: Required value: exactly one of text and valueFrom (a key of a Secret or ConfigMap) must be set"}},
		{name: "a bad key", body: &dilov1.Body{ValueFrom: configMapKey("payloads", "")}, method: "POST", want: []string{
			f + `.valueFrom.configMapKeyRef.key: Invalid value: "": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`}},
		{name: "GET", body: &dilov1.Body{Text: ptr("x")}, method: "GET", wantWs: warnGET},
		{name: "no method: GET", body: &dilov1.Body{Text: ptr("x")}, wantWs: warnGET},
		{name: "HEAD", body: &dilov1.Body{Text: ptr("x")}, method: "HEAD", wantWs: []string{
			f + ": the request's method is HEAD: DiLO sends the body, but many servers ignore a body on GET or HEAD, and some refuse the request; POST, PUT and PATCH are the methods for a body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warnings := validateBody(tt.body, tt.method, field.NewPath("spec", "test", "body"))
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("validateBody() errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWs, warnings); diff != "" {
				t.Errorf("validateBody() warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateRequestMix(t *testing.T) {
	mix := []dilov1.Request{{Name: "a", Path: "/"}}
	tests := []struct {
		name string
		test dilov1.TestSpec
		want []string
	}{
		{"a single request", dilov1.TestSpec{Method: "POST", Path: "/", Body: &dilov1.Body{Text: ptr("x")}}, nil},
		{"a mix", dilov1.TestSpec{Requests: mix}, nil},
		{"path and requests", dilov1.TestSpec{Path: "/", Requests: mix}, []string{
			"spec.test.path: Forbidden: must not be set with requests: exactly one of path (a single request) and requests (a weighted mix) must be set"}},
		{"method and body with requests", dilov1.TestSpec{Method: "POST", Body: &dilov1.Body{Text: ptr("x")}, Requests: mix}, []string{
			"spec.test.method: Forbidden: must not be set with requests: each request of the mix has its own method",
			"spec.test.body: Forbidden: must not be set with requests: each request of the mix has its own body",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateRequestMix(&tt.test, field.NewPath("spec", "test")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateRequestMix() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateRequests(t *testing.T) {
	const f = "spec.test.requests"
	req := func(name, method, path string, weight int32) dilov1.Request {
		return dilov1.Request{Name: name, Method: method, Path: path, Weight: ptr(weight)}
	}
	tests := []struct {
		name         string
		reqs         []dilov1.Request
		want, wantWs []string
	}{
		{name: "a three-request mix", reqs: []dilov1.Request{
			req("list-items", "GET", "/items?page=1", 8),
			{Name: "get-item", Path: "/items/1"}, // method and weight defaulted later, or by the schema
			{Name: "create-order", Method: "POST", Path: "/orders", Weight: ptr(int32(1)),
				Headers: []dilov1.Header{{Name: "Content-Type", Value: ptr("application/json")}},
				Body:    &dilov1.Body{ValueFrom: configMapKey("payloads", "order.json")}},
		}},
		{name: "the same name twice", reqs: []dilov1.Request{req("a", "GET", "/", 1), req("b", "GET", "/", 1), req("a", "POST", "/", 1)}, want: []string{
			f + `[2].name: Duplicate value: "a": ` + f + `[0].name has this name too: each request needs its own, under which its results are reported`}},
		{name: "a name that is no DNS label", reqs: []dilov1.Request{req("Get_Items", "GET", "/", 1)}, want: []string{
			f + `[0].name: Invalid value: "Get_Items": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{name: "bad method and path", reqs: []dilov1.Request{req("a", "GET", "/", 1), req("b", "TRACE", "//evil.example/x", 1)}, want: []string{
			f + `[1].method: Unsupported value: "TRACE": supported values: "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"`,
			f + `[1].path: Invalid value: "//evil.example/x": must not start with "//": servers and proxies may read what follows as a host name`,
		}},
		{name: "a path with CR LF", reqs: []dilov1.Request{req("a", "GET", "/a\r\nX: 1", 1)}, want: []string{
			f + `[0].path: Invalid value: "/a\r\nX: 1": must not contain CR or LF (byte 2): they end the HTTP request line, so the path could inject headers or a second request`}},
		{name: "weights out of range", reqs: []dilov1.Request{req("a", "GET", "/", 0), req("b", "GET", "/", dilov1.MaxWeight+1)}, want: []string{
			f + "[0].weight: Invalid value: 0: must be from 1 to 1000: the request's share of the mix, relative to the other requests' weights",
			f + "[1].weight: Invalid value: 1001: must be from 1 to 1000: the request's share of the mix, relative to the other requests' weights",
		}},
		{name: "a request's headers and body", reqs: []dilov1.Request{{Name: "a", Method: "GET", Path: "/",
			Headers: []dilov1.Header{{Name: "Host", Value: ptr("x")}}, Body: &dilov1.Body{Text: ptr("x")}}},
			want:   []string{f + `[0].headers[0].name: Forbidden: "Host" is set by the agent, which owns the framing and connection headers (Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade)`},
			wantWs: []string{f + "[0].body: the request's method is GET: DiLO sends the body, but many servers ignore a body on GET or HEAD, and some refuse the request; POST, PUT and PATCH are the methods for a body"}},
		{name: "too many", reqs: func() []dilov1.Request {
			var rs []dilov1.Request
			for i := range dilov1.MaxRequests + 1 {
				rs = append(rs, req(fmt.Sprintf("r%d", i), "GET", "/", 1))
			}
			return rs
		}(), want: []string{f + ": Too many: 17: must have at most 16 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warnings := validateRequests(tt.reqs, field.NewPath("spec", "test", "requests"))
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("validateRequests() errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWs, warnings); diff != "" {
				t.Errorf("validateRequests() warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateTLS(t *testing.T) {
	insecure := []string{"spec.test.tls.insecureSkipVerify: the Service's certificate is not checked: the traffic is encrypted, but whatever answers at the Service's address gets the requests, " +
		"headers read from Secrets included; set tls.ca to the bundle of the CA that signed the Service's certificate instead"}
	tests := []struct {
		name         string
		tls          *dilov1.TLS
		protocol     string
		want, wantWs []string
	}{
		{name: "none"},
		{name: "HTTP/1.1 in cleartext", protocol: "HTTP/1.1"},
		{name: "a CA from a ConfigMap", tls: &dilov1.TLS{CA: configMapKey("trust-bundle", "ca.crt")}, protocol: "HTTP/2"},
		{name: "a CA from a Secret", tls: &dilov1.TLS{CA: secretKey("web-tls", "ca.crt")}},
		{name: "insecureSkipVerify", tls: &dilov1.TLS{InsecureSkipVerify: true}, protocol: "HTTP/2", wantWs: insecure},
		{name: "HTTP/2 in cleartext", protocol: "HTTP/2", want: []string{
			`spec.test.protocol: Invalid value: "HTTP/2": needs tls: HTTP/2 is negotiated over TLS (ALPN), and DiLO does not send it in cleartext (h2c); set tls.ca, or tls.insecureSkipVerify: true`}},
		{name: "an unknown protocol", protocol: "HTTP/3", want: []string{`spec.test.protocol: Unsupported value: "HTTP/3": supported values: "HTTP/1.1", "HTTP/2"`}},
		{name: "ca and insecureSkipVerify", tls: &dilov1.TLS{CA: secretKey("web-tls", "ca.crt"), InsecureSkipVerify: true}, want: []string{
			"spec.test.tls.insecureSkipVerify: Forbidden: must not be true with ca: exactly one of ca and insecureSkipVerify: true must be set"}},
		{name: "neither", tls: &dilov1.TLS{}, want: []string{
			"spec.test.tls.ca: Required value: exactly one of ca (the CA bundle the Service's certificate must chain to) and insecureSkipVerify: true must be set"}},
		{name: "a bad ca", tls: &dilov1.TLS{CA: &dilov1.ValueSource{}}, want: []string{
			"spec.test.tls.ca.secretKeyRef: Required value: exactly one of secretKeyRef and configMapKeyRef must be set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warnings := validateTLS(tt.tls, tt.protocol, field.NewPath("spec", "test"))
			if diff := cmp.Diff(tt.want, messages(errs)); diff != "" {
				t.Errorf("validateTLS() errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWs, warnings); diff != "" {
				t.Errorf("validateTLS() warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateLoad(t *testing.T) {
	const f = "spec.test."
	rate := func(d, r int32) dilov1.Stage { return dilov1.Stage{DurationSeconds: d, TotalRate: ptr(r)} }
	conns := func(d, c int32) dilov1.Stage { return dilov1.Stage{DurationSeconds: d, TotalConcurrency: ptr(c)} }
	spec := func(replicas int32, change func(*dilov1.TestSpec)) *dilov1.LoadTestSpec {
		s := &dilov1.LoadTestSpec{Replicas: replicas, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}}
		change(&s.Test)
		return s
	}
	tests := []struct {
		name string
		spec *dilov1.LoadTestSpec
		want []string
	}{
		{"each pod's fields", spec(3, func(t *dilov1.TestSpec) {
			t.Rate, t.DurationSeconds, t.Concurrency = ptr(int32(10)), ptr(int32(60)), ptr(int32(4))
		}), nil},
		{"totals, one each", spec(3, func(t *dilov1.TestSpec) {
			t.TotalRate, t.DurationSeconds, t.TotalConcurrency = ptr(int32(3)), ptr(int32(60)), ptr(int32(3))
		}), nil},
		{"totals at one pod's maxima", spec(3, func(t *dilov1.TestSpec) {
			t.TotalRate, t.DurationSeconds, t.TotalConcurrency = ptr(int32(3*dilov1.MaxRate)), ptr(int32(60)), ptr(int32(3*dilov1.MaxConcurrency))
		}), nil},
		{"rate and totalRate", spec(3, func(t *dilov1.TestSpec) {
			t.Rate, t.TotalRate, t.DurationSeconds = ptr(int32(10)), ptr(int32(30)), ptr(int32(60))
		}), []string{
			f + "totalRate: Forbidden: must not be set with rate: rate is each pod's and totalRate the whole test's; set one of them"}},
		{"totals below replicas", spec(5, func(t *dilov1.TestSpec) {
			t.TotalRate, t.DurationSeconds, t.TotalConcurrency = ptr(int32(4)), ptr(int32(60)), ptr(int32(2))
		}), []string{
			f + "totalRate: Invalid value: 4: must be at least spec.replicas (5): it is split across the pods, and each pod gets at least 1 request per second",
			f + "totalConcurrency: Invalid value: 2: must be at least spec.replicas (5): it is split across the pods, and each pod gets at least 1 connection",
		}},
		{"totals above one pod's maxima", spec(3, func(t *dilov1.TestSpec) {
			t.TotalRate, t.DurationSeconds, t.TotalConcurrency = ptr(int32(3*dilov1.MaxRate+1)), ptr(int32(60)), ptr(int32(3*dilov1.MaxConcurrency+1))
		}), []string{
			f + "totalRate: Invalid value: 300001: split across 3 replicas, it asks 100001 requests per second of one pod, more than the 100000 one pod sends (spec.test.rate's maximum): add replicas",
			f + "totalConcurrency: Invalid value: 3001: split across 3 replicas, it asks 1001 connections of one pod, more than the 1000 one pod sends (spec.test.concurrency's maximum): add replicas",
		}},
		{"replicas out of range count as one", spec(0, func(t *dilov1.TestSpec) { t.TotalConcurrency = ptr(int32(1)) }), nil},
		{"stages of totalRate, ramping up and down", spec(4, func(t *dilov1.TestSpec) {
			t.TotalConcurrency = ptr(int32(400))
			t.Stages = []dilov1.Stage{rate(60, 100), rate(300, 4000), rate(0, 2), rate(60, 0)}
		}), nil},
		{"stages of totalConcurrency", spec(4, func(t *dilov1.TestSpec) {
			t.Concurrency = ptr(int32(1))
			t.Stages = []dilov1.Stage{conns(60, 4), conns(300, 400), conns(60, 0)}
		}), nil},
		{"stages with rate, totalRate and durationSeconds; repeat ignored", spec(4, func(t *dilov1.TestSpec) {
			t.Rate, t.TotalRate, t.DurationSeconds, t.Repeat = ptr(int32(1)), ptr(int32(4)), ptr(int32(60)), ptr(int32(100))
			t.Stages = []dilov1.Stage{rate(60, 100)}
		}), []string{
			f + "totalRate: Forbidden: must not be set with rate: rate is each pod's and totalRate the whole test's; set one of them",
			f + "rate: Forbidden: must not be set with stages, which say how much load to send and for how long",
			f + "totalRate: Forbidden: must not be set with stages, which say how much load to send and for how long",
			f + "durationSeconds: Forbidden: must not be set with stages, which say how much load to send and for how long",
		}},
		{"stages of both kinds", spec(4, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{rate(60, 100), conns(60, 8), rate(60, 10)} }), []string{
			f + "stages[1].totalConcurrency: Invalid value: 8: spec.test.stages[0] sets totalRate: every stage must set totalRate (open model), or every stage totalConcurrency (closed model)"}},
		{"a stage with both targets, and one with none", spec(4, func(t *dilov1.TestSpec) {
			t.Stages = []dilov1.Stage{{DurationSeconds: 60, TotalRate: ptr(int32(1)), TotalConcurrency: ptr(int32(4))}, {DurationSeconds: 60}, conns(60, 8)}
		}), []string{
			f + "stages[0].totalConcurrency: Forbidden: must not be set with totalRate: exactly one of totalRate and totalConcurrency must be set",
			f + "stages[1].totalRate: Required value: exactly one of totalRate (open model) and totalConcurrency (closed model) must be set",
		}},
		{"stages of no time", spec(4, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{rate(0, 100), rate(0, 10)} }), []string{
			f + "stages: Invalid value: 0: must last 1 to 86400 seconds in total"}},
		{"stages of more than a day", spec(4, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{rate(86400, 100), rate(1, 10)} }), []string{
			f + "stages: Invalid value: 86401: must last 1 to 86400 seconds in total"}},
		{"negative durations and targets", spec(4, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{rate(-1, 100), rate(60, -10)} }), []string{
			f + "stages[0].durationSeconds: Invalid value: -1: must be from 0 to 86400",
			f + "stages[1].totalRate: Invalid value: -10: must not be negative",
		}},
		{"stages of totalConcurrency that never give every pod a connection", spec(4, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{conns(60, 2), conns(60, 3), conns(60, 0)} }), []string{
			f + "stages[1].totalConcurrency: Invalid value: 3: the stages' largest totalConcurrency must be at least spec.replicas (4): it is split across the pods, and each pod needs at least 1 connection at the peak"}},
		{"stages above one pod's maxima", spec(2, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{rate(60, 200001), rate(60, 5)} }), []string{
			f + "stages[0].totalRate: Invalid value: 200001: split across 2 replicas, it asks 100001 requests per second of one pod, more than the 100000 one pod sends (spec.test.rate's maximum): add replicas"}},
		{"stages of connections above one pod's maxima", spec(2, func(t *dilov1.TestSpec) { t.Stages = []dilov1.Stage{conns(60, 5), conns(60, 2001)} }), []string{
			f + "stages[1].totalConcurrency: Invalid value: 2001: split across 2 replicas, it asks 1001 connections of one pod, more than the 1000 one pod sends (spec.test.concurrency's maximum): add replicas"}},
		{"totalConcurrency with stages of totalConcurrency", spec(2, func(t *dilov1.TestSpec) {
			t.TotalConcurrency, t.Stages = ptr(int32(10)), []dilov1.Stage{conns(60, 10)}
		}), []string{
			f + "totalConcurrency: Forbidden: must not be set with stages of totalConcurrency, which say how many connections there are over time"}},
		{"too many stages", spec(2, func(t *dilov1.TestSpec) {
			for range dilov1.MaxStages + 1 {
				t.Stages = append(t.Stages, rate(1, 10))
			}
		}), []string{f + "stages: Too many: 33: must have at most 32 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(validateLoad(tt.spec, field.NewPath("spec", "test")))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("validateLoad() (-want +got):\n%s", diff)
			}
		})
	}
}

// everyReference is a test that reads a Secret or ConfigMap wherever one may be read,
// some of them more than once.
func everyReference() *dilov1.TestSpec {
	return &dilov1.TestSpec{
		Headers: []dilov1.Header{
			{Name: "X-Plain", Value: ptr("1")},
			{Name: "Authorization", ValueFrom: secretKey("api-token", "token")},
		},
		Body: &dilov1.Body{ValueFrom: configMapKey("payloads", "default.json")},
		Requests: []dilov1.Request{
			{Name: "a", Headers: []dilov1.Header{{Name: "X-Tenant", ValueFrom: configMapKey("payloads", "tenant")}}},
			{Name: "b", Body: &dilov1.Body{ValueFrom: secretKey("api-token", "body")}},
			{Name: "c", Body: &dilov1.Body{Text: ptr("x")}},
		},
		TLS: &dilov1.TLS{CA: configMapKey("trust-bundle", "ca.crt")},
	}
}

// refStrings is refs as "resource/name key at path", for diffs.
func refStrings(refs []reference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, fmt.Sprintf("%s/%s %s at %s", r.resource, r.name, r.key, r.path))
	}
	return out
}

func TestReferences(t *testing.T) {
	refs := references(everyReference(), field.NewPath("spec", "test"))
	want := []string{
		"secrets/api-token token at spec.test.headers[1].valueFrom.secretKeyRef",
		"configmaps/payloads default.json at spec.test.body.valueFrom.configMapKeyRef",
		"configmaps/payloads tenant at spec.test.requests[0].headers[0].valueFrom.configMapKeyRef",
		"secrets/api-token body at spec.test.requests[1].body.valueFrom.secretKeyRef",
		"configmaps/trust-bundle ca.crt at spec.test.tls.ca.configMapKeyRef",
	}
	if diff := cmp.Diff(want, refStrings(refs)); diff != "" {
		t.Errorf("references() (-want +got):\n%s", diff)
	}
	want = []string{
		"secrets/api-token token at spec.test.headers[1].valueFrom.secretKeyRef",
		"configmaps/payloads default.json at spec.test.body.valueFrom.configMapKeyRef",
		"configmaps/trust-bundle ca.crt at spec.test.tls.ca.configMapKeyRef",
	}
	if diff := cmp.Diff(want, refStrings(objects(refs))); diff != "" {
		t.Errorf("objects() (-want +got):\n%s", diff)
	}
	if refs := references(&dilov1.TestSpec{Path: "/", Headers: []dilov1.Header{{Name: "X-A", Value: ptr("1")}}}, field.NewPath("spec", "test")); refs != nil {
		t.Errorf("references() of a test without any = %v, want none", refStrings(refs))
	}
}

func TestReferenceForbidden(t *testing.T) {
	r := references(everyReference(), field.NewPath("spec", "test"))[0]
	got := referenceForbidden("mallory", "team-a", r).Error()
	want := `spec.test.headers[1].valueFrom.secretKeyRef: Forbidden: user "mallory" may not get secrets "api-token" in namespace "team-a", so may not have DiLO read it either`
	if got != want {
		t.Errorf("referenceForbidden() = %q; want %q", got, want)
	}
}

func TestWarnMissingReferences(t *testing.T) {
	refs := references(everyReference(), field.NewPath("spec", "test"))
	secret, payloads, bundle := object{"secrets", "api-token"}, object{"configmaps", "payloads"}, object{"configmaps", "trust-bundle"}
	const suffix = ": a run that starts before it does fails with reason ReferenceNotFound"
	tests := []struct {
		name string
		read map[object]found
		want []string
	}{
		{"nothing read", nil, nil},
		{"all there", map[object]found{
			secret:   {exists: true},
			payloads: {exists: true, keys: map[string]bool{"default.json": true, "tenant": true}},
			bundle:   {exists: true, keys: map[string]bool{"ca.crt": true}},
		}, nil},
		{"none there: one warning each, at its first reference", map[object]found{secret: {}, payloads: {}, bundle: {}}, []string{
			`spec.test.headers[1].valueFrom.secretKeyRef: Secret "api-token" in namespace "team-a" does not exist` + suffix,
			`spec.test.body.valueFrom.configMapKeyRef: ConfigMap "payloads" in namespace "team-a" does not exist` + suffix,
			`spec.test.tls.ca.configMapKeyRef: ConfigMap "trust-bundle" in namespace "team-a" does not exist` + suffix,
		}},
		{"ConfigMaps without the keys", map[object]found{
			payloads: {exists: true, keys: map[string]bool{"default.json": true}},
			bundle:   {exists: true, keys: map[string]bool{}},
		}, []string{
			`spec.test.requests[0].headers[0].valueFrom.configMapKeyRef: ConfigMap "payloads" in namespace "team-a" has no key "tenant": a run that starts before it has fails with reason ReferenceNotFound`,
			`spec.test.tls.ca.configMapKeyRef: ConfigMap "trust-bundle" in namespace "team-a" has no key "ca.crt": a run that starts before it has fails with reason ReferenceNotFound`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := warnMissingReferences("team-a", refs, tt.read)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnMissingReferences() (-want +got):\n%s", diff)
			}
		})
	}
}
