package webhook_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// Attacks by a user who may create LoadTests but not pods: DiLO must not shape pods for
// them beyond what the cluster's policy opens to every LoadTest author.

// asUser is a client of env acting as user, who gets in ns the rules given.
func asUser(t *testing.T, env *testenv.Env, ns, user string, rules ...rbacv1.PolicyRule) client.Client {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user}, Rules: rules}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var loadTestRights = rbacv1.PolicyRule{APIGroups: []string{"example.org"}, Resources: []string{"loadtests"}, Verbs: []string{"get", "create", "update", "patch"}}

func TestPodShapingNeedsPodRights(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	mallory := asUser(t, env, ns, "mallory", loadTestRights)
	paula := asUser(t, env, ns, "paula", loadTestRights,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create"}})
	ctx := context.Background()
	withTemplate := func(name string, pt dilov1.AgentPodTemplate) *dilov1.LoadTest {
		lt := loadTest(ns, name)
		lt.Spec.PodTemplate = &pt
		return lt
	}
	shaping := withTemplate("shaping", dilov1.AgentPodTemplate{
		Metadata: dilov1.AgentPodMetadata{
			Labels:      map[string]string{"role": "db-client"},
			Annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "host-net"},
		},
		Spec: dilov1.AgentPodSpec{
			NodeSelector: map[string]string{"node-role.kubernetes.io/control-plane": ""},
			Tolerations:  []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists}},
			Resources:    &corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
		},
	})
	why := `: user "mallory" may not create pods in namespace "` + ns + `", so may not have DiLO create such pods either`
	err := mallory.Create(ctx, shaping.DeepCopy())
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "shaping",
		"spec.podTemplate.metadata.labels[role]: Forbidden: a label outside the prefixes every LoadTest author may set (none)"+why,
		"spec.podTemplate.metadata.annotations[k8s.v1.cni.cncf.io/networks]: Forbidden: an annotation outside the prefixes every LoadTest author may set (none)"+why,
		"spec.podTemplate.spec.nodeSelector: Forbidden: chooses the nodes the pods run on"+why,
		"spec.podTemplate.spec.tolerations: Forbidden: lets the pods run on tainted nodes"+why,
		"spec.podTemplate.spec.resources.limits[cpu]: Forbidden: must be set (at most 2) by a LoadTest author who may not create pods: resources replace DiLO's defaults as a whole, and without a limit the pods could take a node's whole cpu"+why,
		"spec.podTemplate.spec.resources.limits[memory]: Forbidden: must be set (at most 1Gi) by a LoadTest author who may not create pods: resources replace DiLO's defaults as a whole, and without a limit the pods could take a node's whole memory"+why,
		"spec.podTemplate.spec.resources.limits[nvidia.com/gpu]: Forbidden: only cpu and memory are open to every LoadTest author"+why,
	))

	// What the policy opens to every author passes for mallory too.
	modest := withTemplate("modest", dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}})
	if err := mallory.Create(ctx, modest); err != nil {
		t.Errorf("mallory's LoadTest within the policy: %v", err)
	}

	// Someone who may create pods may have DiLO shape them.
	if err := paula.Create(ctx, shaping); err != nil {
		t.Fatalf("paula, who may create pods: %v", err)
	}
	// An edit of paula's LoadTest by mallory makes DiLO create such pods again: denied.
	edited := &dilov1.LoadTest{}
	if err := mallory.Get(ctx, client.ObjectKeyFromObject(shaping), edited); err != nil {
		t.Fatal(err)
	}
	edited.Spec.Replicas = 3
	if err := mallory.Update(ctx, edited); err == nil || !strings.Contains(err.Error(), `user "mallory" may not create pods`) {
		t.Errorf("mallory's edit of paula's pod-shaping LoadTest: %v; want it denied for mallory's lack of pod rights", err)
	}

	// DiLO's own keys are nobody's, whatever their rights.
	reserved := withTemplate("reserved", dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{
		Labels: map[string]string{dilov1.LabelSimpleDeployment: "victim"},
	}})
	err = paula.Create(ctx, reserved)
	wantError(t, err, denied("vloadtest-v1.example.org", "LoadTest", "reserved",
		"spec.podTemplate.metadata.labels[example.org/simpledeployment]: Forbidden: keys under example.org/ are DiLO's to set"))
}

// TestObjectsAreBounded: every list and map a LoadTest author fills is bounded, and so
// is the whole object, since the manager caches every LoadTest.
func TestObjectsAreBounded(t *testing.T) {
	env := startSuite(t)
	ns := namespace(t, env)
	createService(t, env, ns, "nginx", true)
	c, _ := userClient(t, env)
	ctx := context.Background()

	many := loadTest(ns, "tolerant")
	many.Spec.PodTemplate = &dilov1.AgentPodTemplate{}
	for range 33 {
		many.Spec.PodTemplate.Spec.Tolerations = append(many.Spec.PodTemplate.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
	}
	err := c.Create(ctx, many)
	if err == nil || !strings.Contains(err.Error(), "spec.podTemplate.spec.tolerations: Too many: 33: must have at most 32 items") {
		t.Errorf("33 tolerations: %v; want the schema's Too many", err)
	}

	big := loadTest(ns, "big")
	big.Spec.PodTemplate = &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: manyValues(8000)}},
		}}},
	}}}}
	err = c.Create(ctx, big)
	if err == nil || !strings.Contains(err.Error(), "spec.podTemplate.spec.affinity") || !strings.Contains(err.Error(), "DiLO accepts at most 65536") {
		t.Errorf("a LoadTest of ~100 KiB: %v; want it refused, naming its largest part", err)
	}
}

// manyValues is n distinct label values.
func manyValues(n int) []string {
	v := make([]string, n)
	for i := range v {
		v[i] = "zone-" + strings.Repeat("x", 5) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26))
	}
	return v
}
