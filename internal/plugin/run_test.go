package plugin

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func TestDecodeLoadTests(t *testing.T) {
	const lt = "apiVersion: example.org/v1\nkind: LoadTest\nmetadata:\n  name: %s\nspec:\n  replicas: 1\n"
	doc := func(name string) string { return strings.ReplaceAll(lt, "%s", name) }
	cases := []struct {
		name      string
		data      string
		wantNames []string
		wantErr   string
	}{
		{name: "one", data: doc("a"), wantNames: []string{"a"}},
		{name: "two, with empty documents", data: "---\n" + doc("a") + "---\n---\n" + doc("b"), wantNames: []string{"a", "b"}},
		{name: "JSON", data: `{"apiVersion":"example.org/v1","kind":"LoadTest","metadata":{"name":"j"}}`, wantNames: []string{"j"}},
		{name: "another kind", data: doc("a") + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
			wantErr: "f.yaml: document 2 is a Service (v1), not a LoadTest (example.org/v1): apply it with kubectl apply -f"},
		{name: "another version", data: strings.Replace(doc("a"), "example.org/v1", "example.org/v2", 1),
			wantErr: "f.yaml: document 1 is a LoadTest (example.org/v2), not a LoadTest (example.org/v1)"},
		{name: "no name", data: "apiVersion: example.org/v1\nkind: LoadTest\n", wantErr: "f.yaml: document 1, a LoadTest, has no metadata.name"},
		{name: "empty", data: "---\n", wantErr: "f.yaml holds no LoadTest"},
		{name: "not YAML", data: "a: [", wantErr: "f.yaml: document 1 is not YAML or JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := decodeLoadTests("f.yaml", []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range objs {
				names = append(names, o.GetName())
			}
			if diff := cmp.Diff(tc.wantNames, names); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamespaceFor(t *testing.T) {
	cases := []struct {
		name          string
		own, flag     string
		explicit      bool
		want, wantErr string
	}{
		{name: "the flags' when the file has none", flag: "ctx-ns", want: "ctx-ns"},
		{name: "the file's over the context's", own: "a", flag: "ctx-ns", want: "a"},
		{name: "the file's and -n agree", own: "a", flag: "a", explicit: true, want: "a"},
		{name: "-n against the file's", own: "a", flag: "b", explicit: true,
			wantErr: `the namespace of loadtest "x" in the file, "a", does not match -n "b": pass --namespace=a, or remove it from the file`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetName("x")
			u.SetNamespace(tc.own)
			got, err := namespaceFor(u, tc.flag, tc.explicit)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("namespaceFor = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestApplyOutcome(t *testing.T) {
	gen := func(g int64) func(*dilov1.LoadTest) { return func(lt *dilov1.LoadTest) { lt.Generation = g } }
	cases := []struct {
		name          string
		before, after *dilov1.LoadTest
		want          string
	}{
		{name: "created", after: newLoadTest("web"), want: `loadtest "web" in namespace "ns" created`},
		{name: "configured", before: newLoadTest("web", finished(1)), after: newLoadTest("web", gen(2), finished(1)),
			want: `loadtest "web" in namespace "ns" configured (generation 2)`},
		{name: "unchanged", before: newLoadTest("web", finished(1)), after: newLoadTest("web", finished(1)),
			want: `loadtest "web" in namespace "ns" unchanged: the same spec starts no new run; following its current run, 1 (finished). ` +
				"`kubectl dilo rerun web` starts a new run of the same spec"},
		{name: "unchanged, never run", before: newLoadTest("web"), after: newLoadTest("web"),
			want: `loadtest "web" in namespace "ns" unchanged: the same spec starts no new run; it has no run yet. ` +
				"`kubectl dilo rerun web` starts a new run of the same spec"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, applyOutcome(tc.before, tc.after)); diff != "" {
				t.Errorf("applyOutcome (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyPrefixed(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{name: "lines", in: "a\nb\n", want: "[p] a\n[p] b\n"},
		{name: "a last line without a newline gets one", in: "a\nb", want: "[p] a\n[p] b\n"},
		{name: "empty lines stay", in: "\n\n", want: "[p] \n[p] \n"},
		{name: "nothing", in: "", want: ""},
		{name: "a long line in one piece", in: strings.Repeat("x", 100_000) + "\n", want: "[p] " + strings.Repeat("x", 100_000) + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := copyPrefixed(strings.NewReader(tc.in), "[p] ", &lineWriter{w: &b}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("copyPrefixed (-want +got):\n%s", diff)
			}
		})
	}
}
