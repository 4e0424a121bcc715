// Package chart checks dist/chart, the Helm chart `make generate` writes from
// config/default with kubebuilder's helm/v2-alpha plugin (hack/chart.sh): helm lint
// passes; rendered with its defaults, it holds what dist/install.yaml holds, object for
// object; its values (image, replicas, resources, CRDs, cert-manager, metrics,
// Prometheus) change what they say; and the API server accepts what it renders, with
// cert-manager's CRDs installed (a server-side dry run on the pinned kube-apiserver).
//
// HELM names the helm binary (`hack/helm.sh | tail -1` builds the pinned one); without
// it every test here is skipped. The dry run also needs KUBEBUILDER_ASSETS, as every
// integration test does (`make test` sets it).
package chart_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/dilo-operator/dilo/internal/testenv"
)

// release and namespace are the names dist/install.yaml's objects carry: a release
// named after the chart takes the chart's name as its prefix, as config/default's
// namePrefix does.
const (
	release   = "dilo"
	namespace = "dilo-system"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "dist", "chart")

// helmBinary returns $HELM, skipping t when it is unset.
func helmBinary(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Skip("HELM is not set: export HELM=$(hack/helm.sh | tail -1) to test the Helm chart")
	}
	return helm
}

// run runs a command and returns its standard output, failing t with its standard
// error when it fails.
func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// template renders the chart as release in ns, with --set values.
func template(t *testing.T, release, ns string, set ...string) []byte {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", ns}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, nil, helmBinary(t), args...)
}

// decode returns the objects of a stream of YAML documents.
func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding manifests: %v", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		// Through unstructured's own decoding, so that integers stay int64.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatalf("decoding manifests: %v", err)
		}
		objs = append(objs, u)
	}
}

// render decodes template's output.
func render(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	return decode(t, template(t, release, namespace, set...))
}

// key names o by kind, namespace and name.
func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// keys returns the sorted keys of objs.
func keys(objs []*unstructured.Unstructured) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, key(o))
	}
	slices.Sort(ks)
	return ks
}

// find returns the object of kind named name in objs, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// ofKind returns the objects of kind in objs.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	return found
}

// manager returns the manager's Deployment and its container, failing t without them.
func manager(t *testing.T, objs []*unstructured.Unstructured) (*unstructured.Unstructured, map[string]any) {
	t.Helper()
	d := find(objs, "Deployment", "dilo-controller-manager")
	if d == nil {
		t.Fatalf("no Deployment dilo-controller-manager in %v", keys(objs))
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if c := c.(map[string]any); c["name"] == "manager" {
			return d, c
		}
	}
	t.Fatalf("Deployment dilo-controller-manager has no container named manager")
	return nil, nil
}

// args returns a container's arguments.
func args(c map[string]any) []string {
	var as []string
	for _, a := range c["args"].([]any) {
		as = append(as, a.(string))
	}
	return as
}

// TestLint runs helm lint --strict on the chart.
func TestLint(t *testing.T) {
	run(t, nil, helmBinary(t), "lint", "--strict", chartDir)
}

// managedBy are the labels that say who installed an object (kustomize, or Helm and
// which release of which chart): they differ by design between the two installs.
var managedBy = []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart"}

// normalized returns a copy of o without what legitimately differs between Helm's and
// kustomize's rendering: the managed-by labels, the annotation that keeps CRDs on helm
// uninstall, and the order of the manager's flags (the chart lists the ones its values
// set first).
func normalized(o *unstructured.Unstructured) *unstructured.Unstructured {
	o = o.DeepCopy()
	trim := func(fields ...string) {
		for _, f := range [][]string{append(slices.Clone(fields), "labels"), append(slices.Clone(fields), "annotations")} {
			m, _, _ := unstructured.NestedStringMap(o.Object, f...)
			for _, k := range append(slices.Clone(managedBy), "helm.sh/resource-policy") {
				delete(m, k)
			}
			if len(m) == 0 {
				unstructured.RemoveNestedField(o.Object, f...)
			} else {
				_ = unstructured.SetNestedStringMap(o.Object, m, f...)
			}
		}
	}
	trim("metadata")
	if o.GetKind() == "Deployment" {
		trim("spec", "template", "metadata")
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if as, ok := c.(map[string]any)["args"].([]any); ok {
				slices.SortFunc(as, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
			}
		}
		_ = unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers")
	}
	return o
}

// TestDefaultsMatchInstallYAML compares the chart rendered with its defaults with
// dist/install.yaml, which `make dist` renders from config/default: the same objects
// (but the Namespace, which `helm install --create-namespace` makes), and each the same
// but for who manages it. A change to config/ that reaches one and not the other fails.
func TestDefaultsMatchInstallYAML(t *testing.T) {
	chart := render(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "dist", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var install []*unstructured.Unstructured
	for _, o := range decode(t, data) {
		if o.GetKind() != "Namespace" {
			install = append(install, o)
		}
	}
	if diff := cmp.Diff(keys(install), keys(chart)); diff != "" {
		t.Fatalf("objects of dist/install.yaml (-) and of the chart's defaults (+):\n%s", diff)
	}
	for _, want := range install {
		got := find(chart, want.GetKind(), want.GetName())
		if diff := cmp.Diff(normalized(want).Object, normalized(got).Object); diff != "" {
			t.Errorf("%s: dist/install.yaml (-) and the chart's defaults (+) differ:\n%s", key(want), diff)
		}
	}
}

// TestValues checks that the values an admin sets change what the chart renders.
func TestValues(t *testing.T) {
	defaults := keys(render(t))
	// without returns the defaults' objects but those whose key contains one of parts.
	without := func(parts ...string) []string {
		return slices.DeleteFunc(slices.Clone(defaults), func(k string) bool {
			return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(k, p) })
		})
	}
	cases := []struct {
		name  string
		set   []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{{
		name: "image, replicas and resources",
		set: []string{"manager.image.repository=registry.example/dilo", "manager.image.tag=v1.2.3",
			"manager.replicas=3", "manager.resources.limits.memory=1Gi"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			d, c := manager(t, objs)
			replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
			memory, _, _ := unstructured.NestedString(c, "resources", "limits", "memory")
			got := []any{c["image"], replicas, memory}
			if diff := cmp.Diff([]any{"registry.example/dilo:v1.2.3", int64(3), "1Gi"}, got); diff != "" {
				t.Errorf("image, replicas, memory limit (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "no CRDs",
		set:  []string{"crd.enabled=false"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if diff := cmp.Diff(without("CustomResourceDefinition "), keys(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "no cert-manager",
		set:  []string{"certManager.enabled=false"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if diff := cmp.Diff(without("Certificate ", "Issuer "), keys(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
				for _, o := range ofKind(objs, kind) {
					if v, ok := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; ok {
						t.Errorf("%s still has cert-manager.io/inject-ca-from: %s", key(o), v)
					}
				}
			}
			_, c := manager(t, objs)
			for _, a := range args(c) {
				if strings.HasPrefix(a, "--webhook-cert-path") {
					t.Errorf("the manager still has %s", a)
				}
			}
		},
	}, {
		name: "no metrics",
		set:  []string{"metrics.enabled=false"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			// The metrics Service goes, and with it the roles that authorise its callers.
			if diff := cmp.Diff(without("/dilo-controller-manager-metrics-service", "/dilo-metrics-"), keys(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			if _, c := manager(t, objs); !slices.Contains(args(c), "--metrics-bind-address=0") {
				t.Errorf("the manager's args %q lack --metrics-bind-address=0", args(c))
			}
		},
	}, {
		name: "Prometheus",
		set:  []string{"prometheus.enabled=true"},
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			monitors := ofKind(objs, "ServiceMonitor")
			svc := find(objs, "Service", "dilo-controller-manager-metrics-service")
			if len(monitors) != 1 || svc == nil {
				t.Fatalf("want a ServiceMonitor and the metrics Service, got %v", keys(objs))
			}
			selector, _, _ := unstructured.NestedStringMap(monitors[0].Object, "spec", "selector", "matchLabels")
			for k, v := range selector {
				if svc.GetLabels()[k] != v {
					t.Errorf("the ServiceMonitor selects %s=%s, the metrics Service has labels %v", k, v, svc.GetLabels())
				}
			}
			endpoints, _, _ := unstructured.NestedSlice(monitors[0].Object, "spec", "endpoints")
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			if len(endpoints) != 1 || len(ports) != 1 || endpoints[0].(map[string]any)["port"] != ports[0].(map[string]any)["name"] {
				t.Errorf("the ServiceMonitor scrapes %v, the metrics Service's ports are %v", endpoints, ports)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, render(t, tc.set...))
		})
	}
}

// TestServerSideDryRun applies what the chart renders to a real kube-apiserver with
// kubectl apply --server-side --dry-run=server, after installing cert-manager's CRDs
// (the Certificate and Issuer need them): with the defaults, and as another release in
// another namespace with the optional parts switched the other way.
func TestServerSideDryRun(t *testing.T) {
	helmBinary(t)
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	kubeconfig, err := env.AdminKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(t *testing.T, stdin []byte, args ...string) []byte {
		t.Helper()
		// A discovery cache of its own, so that no run sees another's API groups.
		args = append([]string{"--kubeconfig", kubeconfig, "--cache-dir", t.TempDir()}, args...)
		return run(t, stdin, filepath.Join(env.Assets, "kubectl"), args...)
	}

	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "hack", "certmanager", "cert-manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crds := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	names := []string{"--for=condition=Established", "--timeout=60s"}
	for _, o := range decode(t, data) {
		if o.GetKind() == "CustomResourceDefinition" {
			crds.Items = append(crds.Items, *o)
			names = append(names, "crd/"+o.GetName())
		}
	}
	manifest, err := json.Marshal(crds)
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, manifest, "apply", "--server-side", "-f", "-")
	kubectl(t, nil, append([]string{"wait"}, names...)...)

	cases := []struct {
		name, release, namespace string
		set                      []string
	}{
		{name: "defaults", release: release, namespace: namespace},
		{name: "options", release: "loadtesting", namespace: "perf", set: []string{
			"crd.enabled=false", "certManager.enabled=false", "metrics.enabled=false",
			"networkPolicy.enabled=true", "rbac.namespaced=true",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kubectl(t, nil, "create", "namespace", tc.namespace)
			out := kubectl(t, template(t, tc.release, tc.namespace, tc.set...), "apply", "--server-side", "--dry-run=server", "-f", "-")
			t.Logf("%s", out)
		})
	}
}
