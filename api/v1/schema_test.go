package v1_test

// Integration tests of the generated CRDs: what the API server itself accepts and
// rejects from the schemas alone (no webhook runs here), what `kubectl get` prints and
// what `kubectl explain` says. They need KUBEBUILDER_ASSETS (`make test` sets it).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
	}
	os.Exit(code)
}

// sample reads a manifest from config/samples as an unstructured object.
func sample(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatalf("failed to parse %s: %v", name, err)
	}
	return u
}

func namespace(t *testing.T) string {
	t.Helper()
	ns, err := env.CreateNamespace(context.Background(), "schema")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestTutorialSamplesAreAcceptedUnchanged(t *testing.T) {
	ns := namespace(t)
	for _, name := range []string{"example-01.yaml", "example-02.yaml"} {
		t.Run(name, func(t *testing.T) {
			obj := sample(t, name)
			obj.SetNamespace(ns)
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatalf("the API server rejected the tutorial's sample: %v", err)
			}
		})
	}
}

// TestSchemaRejectsInvalidObjects checks that the API server rejects malformed
// objects on the schema alone, naming the field in the message kubectl prints.
func TestSchemaRejectsInvalidObjects(t *testing.T) {
	ns := namespace(t)
	cases := []struct {
		name   string
		sample string
		edit   func(o map[string]any)
		field  string // the field path in the API server's cause
		says   string // a part of the message the user reads
	}{
		{"replicas 0", "example-02.yaml", set("spec", "replicas", 0), "spec.replicas", "should be greater than or equal to 1"},
		{"replicas -1", "example-02.yaml", set("spec", "replicas", -1), "spec.replicas", "should be greater than or equal to 1"},
		{"replicas five", "example-02.yaml", set("spec", "replicas", "five"), "spec.replicas", "must be of type integer"},
		{"replicas over the cap", "example-02.yaml", set("spec", "replicas", 1001), "spec.replicas", "should be less than or equal to 1000"},
		{"repeat 0", "example-02.yaml", set("spec", "test", "repeat", 0), "spec.test.repeat", "should be greater than or equal to 1"},
		{"method FETCH", "example-02.yaml", set("spec", "test", "method", "FETCH"), "spec.test.method", `Unsupported value: "FETCH"`},
		{"path without slash", "example-02.yaml", set("spec", "test", "path", "no-slash"), "spec.test.path", "should match"},
		{"path with a newline", "example-02.yaml", set("spec", "test", "path", "/a\nHost: evil"), "spec.test.path", "should match"},
		{"path with a space", "example-02.yaml", set("spec", "test", "path", "/a HTTP/1.1"), "spec.test.path", "should match"},
		{"serviceName not a DNS label", "example-02.yaml", set("spec", "test", "serviceName", "Nginx_1"), "spec.test.serviceName", "should match"},
		{"serviceName missing", "example-02.yaml", unset("spec", "test", "serviceName"), "spec.test.serviceName", "Required value"},
		{"rate without duration", "example-02.yaml", set("spec", "test", "rate", 10), "spec.test.durationSeconds", "spec.test.durationSeconds: Required value: must be set when rate is"},
		{"duration without rate", "example-02.yaml", set("spec", "test", "durationSeconds", 10), "spec.test.rate", "spec.test.rate: Required value: must be set when durationSeconds is"},
		{"maxErrorRatio above 1", "example-02.yaml", set("spec", "thresholds", "maxErrorRatio", "1.5"), "spec.thresholds.maxErrorRatio", "should match"},
		{"updatePolicy unknown", "example-02.yaml", set("spec", "updatePolicy", "Sometimes"), "spec.updatePolicy", `Unsupported value: "Sometimes"`},
		{"ttlSecondsAfterFinished negative", "example-02.yaml", set("spec", "ttlSecondsAfterFinished", -1), "spec.ttlSecondsAfterFinished", "should be greater than or equal to 0"},
		{"concurrencyPolicy Allow", "example-02.yaml", set("spec", "concurrencyPolicy", "Allow"), "spec.concurrencyPolicy", `Unsupported value: "Allow"`},
		{"startingDeadlineSeconds negative", "example-02.yaml", set("spec", "startingDeadlineSeconds", -1), "spec.startingDeadlineSeconds", "should be greater than or equal to 0"},
		{"timeZone empty", "example-02.yaml", set("spec", "timeZone", ""), "spec.timeZone", "should be at least 1 chars long"},
		{"podTemplate resources not a quantity", "example-02.yaml", set("spec", "podTemplate", "spec", "resources", "limits", "cpu", "lots"), "spec.podTemplate.spec.resources.limits.cpu", "should match"},
		{"name too long", "example-02.yaml", setName(strings.Repeat("a", 51)), "<nil>", "metadata.name must be at most 50 characters"},
		{"sleepytime abc", "example-01.yaml", set("spec", "sleepytime", "abc"), "spec.sleepytime", "should match"},
		{"sleepytime negative", "example-01.yaml", set("spec", "sleepytime", -1), "spec.sleepytime", "from 0 to 86400"},
		{"sleepytime over a day", "example-01.yaml", set("spec", "sleepytime", "86401"), "spec.sleepytime", "from 0 to 86400"},
		{"sleepytime a fraction", "example-01.yaml", set("spec", "sleepytime", 1.5), "spec.sleepytime", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := sample(t, tc.sample)
			obj.SetNamespace(ns)
			obj.SetName("invalid")
			tc.edit(obj.Object)
			err := env.Client.Create(context.Background(), obj)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want the API server to reject it as Invalid, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("message %q does not say %q", err.Error(), tc.says)
			}
			var fields []string
			for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
				fields = append(fields, c.Field)
			}
			if tc.field != "<nil>" && !slices.Contains(fields, tc.field) {
				t.Errorf("causes name fields %q, want %q among them (message: %s)", fields, tc.field, err)
			}
		})
	}
}

// TestSchemaAcceptsBothSleepytimeForms checks the int-or-string field both ways.
func TestSchemaAcceptsBothSleepytimeForms(t *testing.T) {
	ns := namespace(t)
	for i, v := range []any{120, "120", 0, "86400"} {
		obj := sample(t, "example-01.yaml")
		obj.SetNamespace(ns)
		obj.SetName(fmt.Sprintf("sleepy-%d", i))
		set("spec", "sleepytime", v)(obj.Object)
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Errorf("sleepytime %#v rejected: %v", v, err)
		}
	}
}

// TestPrinterColumns asks for a Table, as `kubectl get` does, and checks its columns.
func TestPrinterColumns(t *testing.T) {
	ns := namespace(t)
	for _, name := range []string{"example-01.yaml", "example-02.yaml"} {
		obj := sample(t, name)
		obj.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		resource string
		want     []string
	}{
		{"loadtests", []string{"Name", "State", "Replicas", "Children", "Requests", "RPS", "Errors", "P99", "Age"}},
		{"simpledeployments", []string{"Name", "Sleepytime", "Children", "Age"}},
	}
	for _, tc := range cases {
		t.Run(tc.resource, func(t *testing.T) {
			table := getTable(t, ns, tc.resource)
			var got []string
			for _, c := range table.ColumnDefinitions {
				got = append(got, c.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			if len(table.Rows) != 1 {
				t.Errorf("want 1 row, got %d", len(table.Rows))
			}
		})
	}
	t.Run("loadtest replicas cell", func(t *testing.T) {
		table := getTable(t, ns, "loadtests")
		if got := table.Rows[0].Cells[2]; got != float64(5) {
			t.Errorf("Replicas cell = %#v, want 5", got)
		}
	})
}

func getTable(t *testing.T, namespace, resource string) metav1.Table {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion = &dilov1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(env.Scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body, err := rc.Get().Namespace(namespace).Resource(resource).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("list %s as a Table: %v", resource, err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	return table
}

// TestKubectlExplain runs the real kubectl against the API server: the field
// descriptions are the user's manual.
func TestKubectlExplain(t *testing.T) {
	kubectl := filepath.Join(env.Assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl is not in KUBEBUILDER_ASSETS (make k8s-bin builds it): %v", err)
	}
	user, err := env.AdminKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		field string
		says  []string
	}{
		{"loadtest.spec.test.repeat", []string{"FIELD: repeat <integer>", "how many requests each pod sends", "defaults it to 100"}},
		{"loadtest.spec.test", []string{"serviceName\t<string> -required-", "path\t<string>", "method\t<string>", "requests\t<[]Object>", "stages\t<[]Object>"}},
		{"loadtest.spec.test.totalRate", []string{"for the test as a whole", "split across the replicas"}},
		{"loadtest.spec.test.rate", []string{"each pod"}},
		{"loadtest.spec.test.concurrency", []string{"each pod sends on"}},
		{"loadtest.spec.test.headers.valueFrom", []string{"never written into the pods' spec"}},
		{"ld.spec.replicas", []string{"how many load-generator pods"}},
		{"simpledeployment.spec.sleepytime", []string{"string of digits"}},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			out, err := exec.Command(kubectl, "--kubeconfig", user, "explain", tc.field).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl explain %s: %v\n%s", tc.field, err, out)
			}
			for _, s := range tc.says {
				if !strings.Contains(string(out), s) {
					t.Errorf("kubectl explain %s does not say %q:\n%s", tc.field, s, out)
				}
			}
		})
	}
}

func set(path ...any) func(map[string]any) {
	value := path[len(path)-1]
	keys := make([]string, len(path)-1)
	for i := range keys {
		keys[i] = path[i].(string)
	}
	if i, ok := value.(int); ok {
		value = int64(i) // unstructured holds JSON numbers as int64 or float64
	}
	return func(o map[string]any) {
		if err := unstructured.SetNestedField(o, value, keys...); err != nil {
			panic(err)
		}
	}
}

func unset(keys ...string) func(map[string]any) {
	return func(o map[string]any) { unstructured.RemoveNestedField(o, keys...) }
}

func setName(name string) func(map[string]any) {
	return func(o map[string]any) { o["metadata"].(map[string]any)["name"] = name }
}
