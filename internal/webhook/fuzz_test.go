package webhook

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/httpfield"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// FuzzValidateLoadTest defaults and validates (create, and update from a running
// run) LoadTests built from arbitrary inputs. It never panics, defaulting is
// idempotent, every denial is an Invalid error, and nothing that could break the
// request line is ever allowed. `make fuzz` runs it; `go test` runs the seeds.
func FuzzValidateLoadTest(f *testing.F) {
	f.Add("GET", "/", "nginx", "", int32(0), int32(5), "", int64(0), "Restart", "executing", int32(5), "", "")
	f.Add("get", "/search?q=x&page=2", "nginx", "http", int32(0), int32(1), "0.01", int64(time.Second), "Reject", "executing", int32(2), "X-Trace", "a b")
	f.Add("poſt", "/a\r\nX-Injected: 1", "nginx", "", int32(80), int32(10), "1.5", int64(-1), "Reject", "pending", int32(10), "X-A", "1\r\nX-Injected: 1")
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET", "/ HTTP/1.1\r\nHost: a\r\n\r\nGET /admin", "external", "", int32(8080), int32(11), "NaN", int64(0), "", "finished", int32(1), "Host", "evil.example")
	f.Add("DELETE", "//evil.example/x", "missing", "metrics", int32(0), int32(-1), "1e-3", int64(0), "Reject", "failed", int32(0), "Transfer-Encoding", "chunked")
	f.Add("OPTIONS", "http://evil.example/", "nginx", "", int32(0), int32(1000), ".5", int64(1), "Bogus", "", int32(3), "X Trace", " x")
	f.Add("HEAD", "/caf\xc3\xa9%zz#x\x00\x7f\\{", "nginx", "", int32(-80), int32(2), "0.", int64(0), "Reject", "executing", int32(2), "content-length", "\x00")

	services := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nginx"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}},
	).Build()
	v := &LoadTestValidator{Services: services, Policy: testPolicy()}

	f.Fuzz(func(t *testing.T, method, path, serviceName, portName string, portNumber, replicas int32,
		maxErrorRatio string, maxP99 int64, policy, state string, oldReplicas int32, headerName, headerValue string) {
		lt := &dilov1.LoadTest{
			ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Namespace: "ns"},
			Spec: dilov1.LoadTestSpec{
				Replicas:     replicas,
				UpdatePolicy: dilov1.UpdatePolicy(policy),
				Test:         dilov1.TestSpec{Method: method, Path: path, ServiceName: serviceName},
			},
		}
		switch {
		case portName != "":
			lt.Spec.Test.Port = ptr(intstr.FromString(portName))
		case portNumber != 0:
			lt.Spec.Test.Port = ptr(intstr.FromInt32(portNumber))
		}
		if headerName != "" || headerValue != "" {
			// Once for the test, once for a request of a mix of the same path and method.
			h := []dilov1.Header{{Name: headerName, Value: &headerValue}}
			lt.Spec.Test.Headers = h
			if len(headerValue)%2 == 1 {
				lt.Spec.Test.Requests = []dilov1.Request{{Name: "r", Method: method, Path: path, Headers: h}}
				lt.Spec.Test.Method, lt.Spec.Test.Path = "", ""
			}
		}
		if maxErrorRatio != "" || maxP99 != 0 {
			lt.Spec.Thresholds = &dilov1.Thresholds{MaxErrorRatio: maxErrorRatio, MaxP99: &metav1.Duration{Duration: time.Duration(maxP99)}}
		}

		lt.Default()
		twice := lt.DeepCopy()
		twice.Default()
		if !equality.Semantic.DeepEqual(lt, twice) {
			t.Fatalf("defaulting is not idempotent: %+v then %+v", lt.Spec, twice.Spec)
		}
		if strings.ContainsAny(lt.Spec.Test.Method, "abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("defaulted method %q still has lower-case ASCII letters", lt.Spec.Test.Method)
		}

		_, err := v.ValidateCreate(context.Background(), lt)
		checkLoadTestVerdict(t, lt, err)

		old := lt.DeepCopy()
		old.Spec.Replicas = oldReplicas
		old.Status.State = dilov1.State(state)
		_, err = v.ValidateUpdate(context.Background(), old, lt)
		if !equality.Semantic.DeepEqual(old.Spec, lt.Spec) {
			checkLoadTestVerdict(t, lt, err)
		}
	})
}

// checkLoadTestVerdict fails t when err is not nil or Invalid, or when lt was
// allowed although it breaks a rule that must hold whatever the schema says.
func checkLoadTestVerdict(t *testing.T, lt *dilov1.LoadTest, err error) {
	t.Helper()
	if err != nil {
		if !apierrors.IsInvalid(err) {
			t.Fatalf("denial %v is not an Invalid status error", err)
		}
		return
	}
	test := lt.Spec.Test
	path, method := test.Path, test.Method
	if len(test.Requests) > 0 {
		path, method = test.Requests[0].Path, test.Requests[0].Method
	}
	for _, hs := range [][]dilov1.Header{test.Headers, requestHeaders(test.Requests)} {
		for _, h := range hs {
			if httpfield.CheckName(h.Name) != "" || h.Value != nil && httpfield.CheckValue(*h.Value) != "" {
				t.Fatalf("allowed header %q: %q, which could break the request or is the agent's", h.Name, *h.Value)
			}
		}
	}
	switch {
	case !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//"):
		t.Fatalf("allowed path %q, which is not origin-form", path)
	case strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' || r == '\\' }):
		t.Fatalf("allowed path %q, which could break the request line", path)
	case lt.Spec.Replicas < 1 || lt.Spec.Replicas > 10:
		t.Fatalf("allowed replicas %d", lt.Spec.Replicas)
	case lt.Spec.Test.ServiceName != "nginx":
		t.Fatalf("allowed Service %q, which is missing or ExternalName", lt.Spec.Test.ServiceName)
	}
	if !validMethod(method) {
		t.Fatalf("allowed method %q", method)
	}
}

// requestHeaders are the headers of every request of reqs.
func requestHeaders(reqs []dilov1.Request) []dilov1.Header {
	var hs []dilov1.Header
	for _, r := range reqs {
		hs = append(hs, r.Headers...)
	}
	return hs
}

func validMethod(m string) bool {
	for _, ok := range dilov1.Methods {
		if m == ok {
			return true
		}
	}
	return false
}

// FuzzValidateSimpleDeployment checks validateSleepytime against a second,
// independent reading of the rule: digits only, from 0 to MaxSleepytime.
func FuzzValidateSimpleDeployment(f *testing.F) {
	for _, s := range []string{"120", "0", "00000", "86400", "86401", "99999999999999999999", "", "12a", "-1", "+1", " 1", "1; reboot", "١٢٠"} {
		f.Add(s, int32(0), true)
	}
	for _, n := range []int32{0, 120, dilov1.MaxSleepytime, dilov1.MaxSleepytime + 1, -1, -2147483648, 2147483647} {
		f.Add("", n, false)
	}
	v := SimpleDeploymentValidator{}
	f.Fuzz(func(t *testing.T, s string, n int32, isString bool) {
		sd := &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Namespace: "ns"}}
		var want bool
		if isString {
			sd.Spec.Sleepytime = ptr(intstr.FromString(s))
			digits := s != "" && strings.Trim(s, "0123456789") == ""
			trimmed := strings.TrimLeft(s, "0")
			value, _ := strconv.Atoi("0" + trimmed)
			want = digits && len(trimmed) <= 5 && value <= dilov1.MaxSleepytime
		} else {
			sd.Spec.Sleepytime = ptr(intstr.FromInt32(n))
			want = n >= 0 && n <= dilov1.MaxSleepytime
		}
		_, err := v.ValidateCreate(context.Background(), sd)
		if err != nil && !apierrors.IsInvalid(err) {
			t.Fatalf("denial %v is not an Invalid status error", err)
		}
		if got := err == nil; got != want {
			t.Fatalf("sleepytime %s: allowed=%t, want %t (%v)", sd.Spec.Sleepytime.String(), got, want, err)
		}
	})
}
