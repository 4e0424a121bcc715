package main

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestNamespacedRoleMatchesGenerated: the Role config/namespaced gives the manager in each
// watched namespace grants what the ClusterRole generated from the +kubebuilder:rbac markers
// grants, no more, no less (run `make generate`, then copy its rules when this fails).
func TestNamespacedRoleMatchesGenerated(t *testing.T) {
	var generated rbacv1.ClusterRole
	readManifest(t, "../../config/rbac/role.yaml", &generated)
	var namespaced rbacv1.Role
	readManifest(t, "../../config/namespaced/namespace-rbac/role.yaml", &namespaced)
	if namespaced.Kind != "Role" || len(namespaced.Rules) == 0 {
		t.Fatalf("config/namespaced's role is a %s with %d rules; want a Role with rules", namespaced.Kind, len(namespaced.Rules))
	}
	if diff := cmp.Diff(generated.Rules, namespaced.Rules); diff != "" {
		t.Errorf("config/namespaced/namespace-rbac/role.yaml's rules differ from config/rbac/role.yaml's (-generated +namespaced):\n%s", diff)
	}
}

func readManifest(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
