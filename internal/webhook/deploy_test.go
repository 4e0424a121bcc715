package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dilo-operator/dilo/internal/testenv"
)

// kustomize renders config/<dir> (testenv.Kustomize).
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// one returns the only object of kind in objs.
func one(t *testing.T, objs []*unstructured.Unstructured, kind string, match func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && (match == nil || match(o)) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

func str(t *testing.T, o map[string]any, fields ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(o, fields...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, o map[string]any, fields ...string) []any {
	t.Helper()
	l, _, err := unstructured.NestedSlice(o, fields...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestDefaultKustomization checks what `kubectl apply -k config/default` installs: the
// webhook configurations call the webhook Service, trust the CA of the Certificate
// cert-manager issues for that Service's DNS names, and the manager serves with that
// Certificate's Secret, mounted where --webhook-cert-path says.
func TestDefaultKustomization(t *testing.T) {
	objs := kustomize(t, "default")
	const namespace = "dilo-system"
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && ns != namespace {
			t.Errorf("%s %s is in namespace %q, want %q", o.GetKind(), o.GetName(), ns, namespace)
		}
		if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" && !strings.HasPrefix(o.GetName(), "dilo-") {
			t.Errorf("%s %s lacks the dilo- name prefix", o.GetKind(), o.GetName())
		}
	}
	one(t, objs, "Namespace", func(o *unstructured.Unstructured) bool { return o.GetName() == namespace })

	cert := one(t, objs, "Certificate", nil)
	issuer := one(t, objs, "Issuer", nil)
	if got := str(t, cert.Object, "spec", "issuerRef", "name"); got != issuer.GetName() {
		t.Errorf("Certificate's issuerRef.name = %q, want the Issuer %q", got, issuer.GetName())
	}
	if _, selfSigned, _ := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); !selfSigned {
		t.Errorf("Issuer %s is not self-signed", issuer.GetName())
	}

	// Both webhook configurations: CA from the Certificate, calls to the webhook Service.
	wantCA := cert.GetNamespace() + "/" + cert.GetName()
	var svcName, svcNamespace string
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		wc := one(t, objs, kind, nil)
		if got := wc.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != wantCA {
			t.Errorf("%s cert-manager.io/inject-ca-from = %q, want %q", kind, got, wantCA)
		}
		webhooks := list(t, wc.Object, "webhooks")
		if len(webhooks) == 0 {
			t.Fatalf("%s has no webhooks", kind)
		}
		for _, webhook := range webhooks {
			w := webhook.(map[string]any)
			name, ns := str(t, w, "clientConfig", "service", "name"), str(t, w, "clientConfig", "service", "namespace")
			if svcName == "" {
				svcName, svcNamespace = name, ns
			}
			if name != svcName || ns != svcNamespace {
				t.Errorf("%s webhook %s calls Service %s/%s, want %s/%s", kind, w["name"], ns, name, svcNamespace, svcName)
			}
			if str(t, w, "failurePolicy") != "Fail" || str(t, w, "sideEffects") != "None" {
				t.Errorf("%s webhook %s: failurePolicy %v, sideEffects %v; want Fail and None", kind, w["name"], w["failurePolicy"], w["sideEffects"])
			}
		}
	}
	svc := one(t, objs, "Service", func(o *unstructured.Unstructured) bool {
		return o.GetName() == svcName && o.GetNamespace() == svcNamespace
	})

	// The Certificate is for the webhook Service's DNS names.
	wantDNS := []any{svcName + "." + svcNamespace + ".svc", svcName + "." + svcNamespace + ".svc.cluster.local"}
	if diff := cmp.Diff(wantDNS, list(t, cert.Object, "spec", "dnsNames")); diff != "" {
		t.Errorf("Certificate dnsNames (-want +got):\n%s", diff)
	}

	// The manager Deployment: selected by the webhook Service, serving on its target
	// port, with the Certificate's Secret mounted at --webhook-cert-path.
	deploy := one(t, objs, "Deployment", nil)
	podLabels, _, _ := unstructured.NestedStringMap(deploy.Object, "spec", "template", "metadata", "labels")
	selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	for k, v := range selector {
		if podLabels[k] != v {
			t.Errorf("webhook Service selects %s=%s, which the manager's pods lack (%v)", k, v, podLabels)
		}
	}
	containers := list(t, deploy.Object, "spec", "template", "spec", "containers")
	manager := containers[0].(map[string]any)
	targetPort := list(t, svc.Object, "spec", "ports")[0].(map[string]any)["targetPort"]
	if !slices.ContainsFunc(list(t, manager, "ports"), func(port any) bool {
		p := port.(map[string]any)
		return p["name"] == targetPort && fmt.Sprint(p["containerPort"]) == "9443"
	}) {
		t.Errorf("the manager has no container port %v on 9443, the webhook Service's target", targetPort)
	}
	var certPath string
	for _, a := range list(t, manager, "args") {
		if p, ok := strings.CutPrefix(a.(string), "--webhook-cert-path="); ok {
			certPath = p
		}
	}
	if certPath == "" {
		t.Fatalf("the manager has no --webhook-cert-path argument: %v", manager["args"])
	}
	secretName := str(t, cert.Object, "spec", "secretName")
	var volume string
	for _, vol := range list(t, deploy.Object, "spec", "template", "spec", "volumes") {
		v := vol.(map[string]any)
		if str(t, v, "secret", "secretName") == secretName {
			volume = v["name"].(string)
		}
	}
	if volume == "" {
		t.Fatalf("no volume of the Deployment holds the Certificate's Secret %q", secretName)
	}
	if !slices.ContainsFunc(list(t, manager, "volumeMounts"), func(mount any) bool {
		m := mount.(map[string]any)
		return m["name"] == volume && m["mountPath"] == certPath && m["readOnly"] == true
	}) {
		t.Errorf("the manager does not mount volume %s read-only at %s (--webhook-cert-path)", volume, certPath)
	}

	// The manager runs as its ServiceAccount, bound to the generated manager-role.
	sa := str(t, deploy.Object, "spec", "template", "spec", "serviceAccountName")
	one(t, objs, "ServiceAccount", func(o *unstructured.Unstructured) bool { return o.GetName() == sa })
	binding := one(t, objs, "ClusterRoleBinding", func(o *unstructured.Unstructured) bool {
		return str(t, o.Object, "roleRef", "name") == "dilo-manager-role"
	})
	subject := list(t, binding.Object, "subjects")[0].(map[string]any)
	if subject["name"] != sa || subject["namespace"] != namespace {
		t.Errorf("manager-role is bound to %v/%v, want %s/%s", subject["namespace"], subject["name"], namespace, sa)
	}
}

// TestDefaultKustomizationApplies dry-runs, server-side, what config/default installs
// (but cert-manager's objects, whose CRDs envtest lacks) on a real API server, so that
// every field of every object is checked against its schema.
func TestDefaultKustomizationApplies(t *testing.T) {
	env := startSuite(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dilo-system"}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, o := range kustomize(t, "default") {
		if o.GroupVersionKind().Group != "cert-manager.io" && o.GetKind() != "Namespace" {
			list.Items = append(list.Items, *o)
		}
	}
	dryRunApply(t, env, list, "config/default")
}

// dryRunApply runs kubectl apply --server-side --dry-run=server of list on env, with
// extra kubectl arguments, failing t with kubectl's output if the API server refuses it.
func dryRunApply(t *testing.T, env *testenv.Env, list *unstructured.UnstructuredList, what string, args ...string) {
	t.Helper()
	manifest, err := list.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.AdminKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--kubeconfig", kubeconfig, "apply", "--server-side", "--dry-run=server", "-f", "-"}, args...)
	cmd := exec.Command(filepath.Join(env.Assets, "kubectl"), args...)
	cmd.Stdin = bytes.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kubectl apply --dry-run=server of %s: %v\n%s", what, err, out)
	}
}

// TestSamplesKustomization checks that config/samples renders the tutorial's two
// samples.
func TestSamplesKustomization(t *testing.T) {
	var got []string
	for _, o := range kustomize(t, "samples") {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"LoadTest/example-02", "SimpleDeployment/example-01"}, got); diff != "" {
		t.Errorf("config/samples renders (-want +got):\n%s", diff)
	}
}

// TestNetworkPolicyKustomizationApplies dry-runs, server-side, config/networkpolicy in a
// namespace: the per-namespace egress and live-ingress policies and the quota a
// platform team applies.
func TestNetworkPolicyKustomizationApplies(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	var kinds []string
	for _, o := range kustomize(t, "networkpolicy") {
		list.Items = append(list.Items, *o)
		kinds = append(kinds, o.GetKind())
	}
	slices.Sort(kinds)
	if diff := cmp.Diff([]string{"NetworkPolicy", "NetworkPolicy", "ResourceQuota"}, kinds); diff != "" {
		t.Errorf("config/networkpolicy renders (-want +got):\n%s", diff)
	}
	dryRunApply(t, env, list, "config/networkpolicy", "-n", ns)
}
