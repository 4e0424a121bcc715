package v1_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

func TestLoadTestDefault(t *testing.T) {
	full := dilov1.TestSpec{Method: "GET", ServiceName: "nginx", Path: "/", Repeat: ptr.To(int32(100)), Concurrency: ptr.To(int32(1)), TimeoutSeconds: ptr.To(int32(10))}
	tests := []struct {
		name string
		in   dilov1.LoadTestSpec
		want dilov1.LoadTestSpec
	}{{
		name: "everything left out",
		in:   dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{ServiceName: "nginx", Path: "/"}},
		want: dilov1.LoadTestSpec{Replicas: 1, Test: full, UpdatePolicy: dilov1.UpdatePolicyRestart},
	}, {
		name: "lower-case method upper-cased",
		in:   dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{Method: "pOst", ServiceName: "nginx", Path: "/"}},
		want: dilov1.LoadTestSpec{Replicas: 1, Test: func() dilov1.TestSpec { t := full; t.Method = "POST"; return t }(), UpdatePolicy: dilov1.UpdatePolicyRestart},
	}, {
		name: "only ASCII is upper-cased: the long s stays, for the validator to reject",
		in:   dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{Method: "poſt", ServiceName: "nginx", Path: "/"}},
		want: dilov1.LoadTestSpec{Replicas: 1, Test: func() dilov1.TestSpec { t := full; t.Method = "POſT"; return t }(), UpdatePolicy: dilov1.UpdatePolicyRestart},
	}, {
		name: "the CRD schema's defaults only: method and repeat still filled in",
		in: dilov1.LoadTestSpec{Replicas: 1, UpdatePolicy: dilov1.UpdatePolicyRestart, Test: dilov1.TestSpec{
			ServiceName: "nginx", Path: "/", Concurrency: ptr.To(int32(1)), TimeoutSeconds: ptr.To(int32(10))}},
		want: dilov1.LoadTestSpec{Replicas: 1, Test: full, UpdatePolicy: dilov1.UpdatePolicyRestart},
	}, {
		name: "values given are kept",
		in: dilov1.LoadTestSpec{Replicas: 3, UpdatePolicy: dilov1.UpdatePolicyReject, Test: dilov1.TestSpec{
			Method: "HEAD", ServiceName: "nginx", Path: "/x", Repeat: ptr.To(int32(7)), Concurrency: ptr.To(int32(2)), TimeoutSeconds: ptr.To(int32(30))}},
		want: dilov1.LoadTestSpec{Replicas: 3, UpdatePolicy: dilov1.UpdatePolicyReject, Test: dilov1.TestSpec{
			Method: "HEAD", ServiceName: "nginx", Path: "/x", Repeat: ptr.To(int32(7)), Concurrency: ptr.To(int32(2)), TimeoutSeconds: ptr.To(int32(30))}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.in.DeepCopy()
			lt := &dilov1.LoadTest{Spec: tt.in} // shares tt.in's pointers
			lt.Default()
			if diff := cmp.Diff(tt.want, lt.Spec); diff != "" {
				t.Errorf("Default() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*before, tt.in); diff != "" {
				t.Errorf("Default() changed what a shallow copy shares with the original (-before +after):\n%s", diff)
			}
			again := lt.DeepCopy()
			again.Default()
			if diff := cmp.Diff(lt.Spec, again.Spec); diff != "" {
				t.Errorf("Default() is not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestRunSpec(t *testing.T) {
	test := dilov1.TestSpec{Method: "GET", ServiceName: "nginx", Path: "/", Repeat: ptr.To(int32(10))}
	template := &dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{Labels: map[string]string{"team": "a"}}}
	tests := []struct {
		name string
		in   dilov1.LoadTestSpec
		want dilov1.LoadTestSpec
	}{{
		name: "nothing to leave out",
		in:   dilov1.LoadTestSpec{Replicas: 2, Test: test},
		want: dilov1.LoadTestSpec{Replicas: 2, Test: test},
	}, {
		name: "updatePolicy and the TTL fields left out",
		in: dilov1.LoadTestSpec{Replicas: 2, Test: test, UpdatePolicy: dilov1.UpdatePolicyReject,
			TTLSecondsAfterFinished: ptr.To(int32(60)), TTLDeletesLoadTest: true},
		want: dilov1.LoadTestSpec{Replicas: 2, Test: test},
	}, {
		name: "the schedule fields left out",
		in: dilov1.LoadTestSpec{Replicas: 2, Test: test, Schedule: "@daily", TimeZone: ptr.To("Europe/Paris"),
			StartingDeadlineSeconds: ptr.To(int64(60)), ConcurrencyPolicy: dilov1.ConcurrencyPolicyReplace, Suspend: ptr.To(true)},
		want: dilov1.LoadTestSpec{Replicas: 2, Test: test},
	}, {
		name: "everything else kept",
		in: dilov1.LoadTestSpec{Replicas: 2, Test: test, DeadlineSeconds: ptr.To(int64(600)), PodTemplate: template,
			Thresholds: &dilov1.Thresholds{MaxErrorRatio: "0.01"}, UpdatePolicy: dilov1.UpdatePolicyRestart},
		want: dilov1.LoadTestSpec{Replicas: 2, Test: test, DeadlineSeconds: ptr.To(int64(600)), PodTemplate: template,
			Thresholds: &dilov1.Thresholds{MaxErrorRatio: "0.01"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.in.DeepCopy()
			if diff := cmp.Diff(tt.want, dilov1.RunSpec(tt.in)); diff != "" {
				t.Errorf("RunSpec() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*before, tt.in); diff != "" {
				t.Errorf("RunSpec() changed its argument (-before +after):\n%s", diff)
			}
		})
	}
}

func TestServicePort(t *testing.T) {
	svc := func(ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Ports: ports}}
	}
	http := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}
	unnamed := corev1.ServicePort{Port: 8443}
	num, name := intstr.FromInt32, intstr.FromString
	type result struct {
		Port  int32
		Found bool
	}
	tests := []struct {
		name string
		svc  *corev1.Service
		want *intstr.IntOrString
		out  result
	}{
		{"unset: the first port", svc(http, unnamed), nil, result{80, true}},
		{"unset: an unnamed only port", svc(unnamed), nil, result{8443, true}},
		{"unset, no ports", svc(), nil, result{}},
		{"by number", svc(http, unnamed), ptr.To(num(80)), result{80, true}},
		{"by number, unnamed port", svc(http, unnamed), ptr.To(num(8443)), result{8443, true}},
		{"by name", svc(unnamed, http), ptr.To(name("http")), result{80, true}},
		{"unknown number", svc(http, unnamed), ptr.To(num(8080)), result{}},
		{"a target port is not a Service port", svc(http), ptr.To(num(8080)), result{}},
		{"unknown name", svc(http, unnamed), ptr.To(name("metrics")), result{}},
		{`port "" never matches an unnamed port`, svc(unnamed), ptr.To(name("")), result{}},
		{`port "" never matches an unnamed port among named ones`, svc(http, unnamed), ptr.To(name("")), result{}},
		{"a number as a string is a name", svc(http), ptr.To(name("80")), result{}},
		{"by name, no ports", svc(), ptr.To(name("http")), result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, found := dilov1.ServicePort(tt.svc, tt.want)
			if diff := cmp.Diff(tt.out, result{port, found}); diff != "" {
				t.Errorf("ServicePort() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSleepSeconds(t *testing.T) {
	num, str := intstr.FromInt32, intstr.FromString
	type result struct {
		Seconds int
		Error   string
	}
	tests := []struct {
		name    string
		s       *intstr.IntOrString
		want    result
		wantErr error
	}{
		{"unset", nil, result{0, ""}, nil},
		{"number", ptr.To(num(120)), result{120, ""}, nil},
		{"tutorial's string", ptr.To(str("120")), result{120, ""}, nil},
		{"zero", ptr.To(num(0)), result{0, ""}, nil},
		{"string zero", ptr.To(str("0")), result{0, ""}, nil},
		{"max", ptr.To(num(dilov1.MaxSleepytime)), result{dilov1.MaxSleepytime, ""}, nil},
		{"max string", ptr.To(str("86400")), result{dilov1.MaxSleepytime, ""}, nil},
		{"leading zeros", ptr.To(str("00120")), result{120, ""}, nil},
		{"too big", ptr.To(num(dilov1.MaxSleepytime + 1)), result{0, "spec.sleepytime 86401 is not a whole number of seconds from 0 to 86400"}, dilov1.ErrSleepytimeOutOfRange},
		{"negative", ptr.To(num(-1)), result{0, "spec.sleepytime -1 is not a whole number of seconds from 0 to 86400"}, dilov1.ErrSleepytimeOutOfRange},
		{"too big string", ptr.To(str("86401")), result{0, `spec.sleepytime "86401" is not a whole number of seconds from 0 to 86400`}, dilov1.ErrSleepytimeOutOfRange},
		{"overflowing string", ptr.To(str("99999999999999999999999")), result{0, `spec.sleepytime "99999999999999999999999" is not a whole number of seconds from 0 to 86400`}, dilov1.ErrSleepytimeOutOfRange},
		{"letters", ptr.To(str("12a")), result{0, `spec.sleepytime "12a" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
		{"sign", ptr.To(str("-5")), result{0, `spec.sleepytime "-5" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
		{"plus, which strconv.Atoi would take", ptr.To(str("+5")), result{0, `spec.sleepytime "+5" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
		{"space", ptr.To(str(" 5")), result{0, `spec.sleepytime " 5" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
		{"digits of another script", ptr.To(str("١٢٠")), result{0, `spec.sleepytime "١٢٠" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
		{"empty", ptr.To(str("")), result{0, `spec.sleepytime "" is not written with digits only`}, dilov1.ErrSleepytimeNotDigits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := dilov1.SimpleDeploymentSpec{Sleepytime: tt.s}.SleepSeconds()
			got := result{Seconds: n}
			if err != nil {
				got.Error = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SleepSeconds() (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("SleepSeconds() error %v does not wrap %v", err, tt.wantErr)
			}
		})
	}
}

// loadTestSchema is the generated CRD's schema of spec, read as the API server reads
// it: the markers' literals, which Go code cannot name.
func loadTestSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "example.org_loadtests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec map[string]any `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("failed to parse the LoadTest CRD: %v", err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == dilov1.GroupVersion.Version {
			return v.Schema.OpenAPIV3Schema.Properties.Spec
		}
	}
	t.Fatalf("the LoadTest CRD has no version %s", dilov1.GroupVersion.Version)
	return nil
}

// property is the schema of the property at path under schema, as JSON would decode it.
func property(t *testing.T, schema map[string]any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		props, _ := schema["properties"].(map[string]any)
		next, ok := props[p].(map[string]any)
		if !ok {
			t.Fatalf("the LoadTest CRD has no property spec.%s", strings.Join(path, "."))
		}
		schema = next
	}
	return schema
}

// TestCRDMethodEnumIsMethods: the enum marker on spec.test.method is a literal, so
// this is what keeps it and dilov1.Methods, which the webhook checks, the same list.
func TestCRDMethodEnumIsMethods(t *testing.T) {
	var got []string
	for _, v := range property(t, loadTestSchema(t), "test", "method")["enum"].([]any) {
		got = append(got, v.(string))
	}
	if diff := cmp.Diff(dilov1.Methods, got); diff != "" {
		t.Errorf("the CRD's enum of spec.test.method is not dilov1.Methods (-Methods +CRD):\n%s", diff)
	}
}

// TestCRDDefaultsAgreeWithDefault: the schema applies its default markers before any
// webhook runs; they must be the values LoadTest.Default fills in.
func TestCRDDefaultsAgreeWithDefault(t *testing.T) {
	schema := loadTestSchema(t)
	lt := &dilov1.LoadTest{}
	lt.Default()
	defaulted, err := json.Marshal(lt.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(defaulted, &want); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{{"updatePolicy"}, {"test", "concurrency"}, {"test", "timeoutSeconds"}} {
		def, ok := property(t, schema, path...)["default"]
		if !ok {
			t.Errorf("the CRD has no default for spec.%s", strings.Join(path, "."))
			continue
		}
		var v any = want
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		if diff := cmp.Diff(v, def); diff != "" {
			t.Errorf("the CRD's default of spec.%s is not LoadTest.Default's (-Default +CRD):\n%s", strings.Join(path, "."), diff)
		}
	}
}

// TestValueRefs: each distinct key once, in the order the spec names them, with the
// first field naming it.
func TestValueRefs(t *testing.T) {
	secret := &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: "token", Key: "value"}}
	ca := &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "trust", Key: "ca.crt"}}
	test := dilov1.TestSpec{
		TLS:     &dilov1.TLS{CA: ca},
		Headers: []dilov1.Header{{Name: "X-A", Value: ptr.To("1")}, {Name: "Authorization", ValueFrom: secret}},
		Requests: []dilov1.Request{{Name: "a", Path: "/", Headers: []dilov1.Header{{Name: "X-Key", ValueFrom: secret}},
			Body: &dilov1.Body{ValueFrom: &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: "token", Key: "body"}}}}},
	}
	want := []dilov1.ValueRef{
		{Secret: true, Name: "token", Key: "value", Field: "spec.test.headers[1].valueFrom"},
		{Secret: true, Name: "token", Key: "body", Field: "spec.test.requests[0].body.valueFrom"},
		{Name: "trust", Key: "ca.crt", Field: "spec.test.tls.ca"},
	}
	if diff := cmp.Diff(want, test.ValueRefs()); diff != "" {
		t.Errorf("ValueRefs (-want +got):\n%s", diff)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer message", 10, "a longe…"},
		{"ééééé", 8, "éé…"}, // never half a rune
	} {
		if got := dilov1.Truncate(tc.s, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("Truncate(%q, %d) = %q; want %q, at most %d bytes", tc.s, tc.n, got, tc.want, tc.n)
		}
	}
}
