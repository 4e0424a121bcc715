package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// rolesWait bounds the wait for kube-controller-manager to aggregate DiLO's roles.
const rolesWait = 30 * time.Second

// aggregateLabel prefixes the labels that select a ClusterRole into a built-in one.
const aggregateLabel = "rbac.authorization.k8s.io/aggregate-to-"

// TestUserRolesCannotForgeResults is the attack on a LoadTest's results by its users: an
// admin who grants a user the built-in edit or admin role in a namespace (which DiLO's
// loadtest-editor is aggregated into) lets them run LoadTests and SimpleDeployments
// there, never write their status, which holds the results and the Complete condition
// `kubectl wait` trusts; the view role (loadtest-viewer) reads them only. The ClusterRoles
// are config/default's (config/namespaced keeps them), applied on a real API server with
// kube-controller-manager's clusterrole-aggregation controller, and each user's requests
// are made as that user (impersonated): alice holds edit, ada admin, victor view.
func TestUserRolesCannotForgeResults(t *testing.T) {
	objs, err := testenv.Kustomize("default")
	if err != nil {
		t.Fatal(err)
	}
	roles := aggregatedRoles(t, objs)
	// config/namespaced drops the manager's ClusterRole only; its users need these as much.
	namespaced, err := testenv.Kustomize("namespaced")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roleNames(aggregatedRoles(t, namespaced)), roleNames(roles); !slices.Equal(got, want) {
		t.Errorf("config/namespaced's aggregated ClusterRoles are %v, want config/default's %v", got, want)
	}

	env := startEnv(t, testenv.Options{Controllers: []string{"clusterrole-aggregation-controller"}})
	ctx := t.Context()
	applied := applyIdentity(t, env, slices.Collect(maps.Values(roles)))
	t.Logf("Applied from config/default: %s", strings.Join(applied, ", "))
	waitAggregated(t, env, roles)

	ns, err := env.CreateNamespace(ctx, "roles")
	if err != nil {
		t.Fatal(err)
	}
	users := []struct {
		name, role string
		write      bool // may create, update and delete LoadTests and SimpleDeployments
	}{
		{"alice", "edit", true},
		{"ada", "admin", true},
		{"victor", "view", false},
	}
	for _, u := range users {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: u.name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: u.role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: u.name}},
		}
		if err := env.Client.Create(ctx, rb); err != nil {
			t.Fatal(err)
		}
	}
	// What a viewer reads, and what every user attacks when they may not create their own.
	existing := []client.Object{newLoadTest(ns, "existing"), newSimpleDeployment(ns, "existing")}
	for _, obj := range existing {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	for _, u := range users {
		t.Run(u.name+"-"+u.role, func(t *testing.T) {
			c := asUser(t, env, u.name)
			targets := existing
			if u.write {
				targets = nil
				for _, obj := range []client.Object{newLoadTest(ns, u.name), newSimpleDeployment(ns, u.name)} {
					if err := c.Create(ctx, obj); err != nil {
						t.Fatalf("%s (%s) creating %T: %v; want allowed", u.name, u.role, obj, err)
					}
					targets = append(targets, obj)
				}
			} else if err := c.Create(ctx, newLoadTest(ns, u.name)); !apierrors.IsForbidden(err) {
				t.Errorf("%s (%s) creating a LoadTest: %v; want Forbidden", u.name, u.role, err)
			}
			if err := c.List(ctx, &dilov1.LoadTestList{}, client.InNamespace(ns)); err != nil {
				t.Errorf("%s (%s) listing LoadTests: %v; want allowed", u.name, u.role, err)
			}
			if err := c.List(ctx, &dilov1.SimpleDeploymentList{}, client.InNamespace(ns)); err != nil {
				t.Errorf("%s (%s) listing SimpleDeployments: %v; want allowed", u.name, u.role, err)
			}
			for _, obj := range targets {
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					t.Fatalf("%s (%s) getting %T %s: %v; want allowed", u.name, u.role, obj, obj.GetName(), err)
				}
				forged, denied := forge(obj), true
				if err := c.Status().Update(ctx, forged); !apierrors.IsForbidden(err) {
					t.Errorf("%s (%s) updating the status of %T %s: %v; want Forbidden", u.name, u.role, obj, obj.GetName(), err)
					denied = false
				}
				if err := c.Status().Patch(ctx, forge(obj), client.MergeFrom(obj)); !apierrors.IsForbidden(err) {
					t.Errorf("%s (%s) patching the status of %T %s: %v; want Forbidden", u.name, u.role, obj, obj.GetName(), err)
					denied = false
				}
				if !u.write || !denied {
					continue
				}
				// The main resource is no way round: the API server drops its status.
				if err := c.Update(ctx, forged); err != nil {
					t.Errorf("%s (%s) updating %T %s: %v; want allowed", u.name, u.role, obj, obj.GetName(), err)
				}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), forged); err != nil {
					t.Fatal(err)
				}
				if st := statusOf(forged); !equality.Semantic.DeepEqual(st, statusOf(obj)) {
					t.Errorf("%s (%s) changed the status of %T %s to %+v through the main resource", u.name, u.role, obj, obj.GetName(), st)
				}
				if err := c.Delete(ctx, obj); err != nil {
					t.Errorf("%s (%s) deleting %T %s: %v; want allowed", u.name, u.role, obj, obj.GetName(), err)
				}
			}
		})
	}
}

// aggregatedRoles returns the ClusterRoles of objs that are aggregated into a built-in
// role, failing unless they are DiLO's editor and viewer.
func aggregatedRoles(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	roles := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		for k := range o.GetLabels() {
			if strings.HasPrefix(k, aggregateLabel) {
				roles[o.GetName()] = o
			}
		}
	}
	if got, want := roleNames(roles), []string{"dilo-loadtest-editor", "dilo-loadtest-viewer"}; !slices.Equal(got, want) {
		t.Fatalf("aggregated ClusterRoles %v, want %v", got, want)
	}
	return roles
}

func roleNames(roles map[string]*unstructured.Unstructured) []string {
	return slices.Sorted(maps.Keys(roles))
}

// waitAggregated waits until every built-in role that one of roles is labelled into
// holds all of its rules: the aggregation controller copies them asynchronously.
func waitAggregated(t *testing.T, env *testenv.Env, roles map[string]*unstructured.Unstructured) {
	t.Helper()
	err := testenv.Eventually(t.Context(), rolesWait, func(ctx context.Context) error {
		for _, u := range roles {
			var ours rbacv1.ClusterRole
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ours); err != nil {
				return err
			}
			for label, v := range ours.Labels {
				builtin, ok := strings.CutPrefix(label, aggregateLabel)
				if !ok || v != "true" {
					continue
				}
				var agg rbacv1.ClusterRole
				if err := env.Client.Get(ctx, client.ObjectKey{Name: builtin}, &agg); err != nil {
					return err
				}
				for _, rule := range ours.Rules {
					if !slices.ContainsFunc(agg.Rules, func(r rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(r, rule) }) {
						return fmt.Errorf("ClusterRole %s lacks %s's rule %+v", builtin, ours.Name, rule)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asUser returns a client of env that makes its requests as the authenticated user name.
func asUser(t *testing.T, env *testenv.Env, name string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newLoadTest(ns, name string) *dilov1.LoadTest {
	return &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{
			ServiceName: "web", Path: "/", Repeat: ptr.To[int32](100),
		}},
	}
}

func newSimpleDeployment(ns, name string) *dilov1.SimpleDeployment {
	return &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

// forge returns a copy of obj whose status claims what only the manager may: a finished
// run with a Complete condition, or a child pod.
func forge(obj client.Object) client.Object {
	switch o := obj.DeepCopyObject().(type) {
	case *dilov1.LoadTest:
		o.Status.State, o.Status.Run = dilov1.StateFinished, 1
		o.Status.Conditions = []metav1.Condition{{
			Type: dilov1.ConditionComplete, Status: metav1.ConditionTrue, Reason: "Forged",
			LastTransitionTime: metav1.Now(),
		}}
		return o
	case *dilov1.SimpleDeployment:
		o.Status.Children = []string{"forged"}
		return o
	default:
		panic(fmt.Sprintf("forge: %T", obj))
	}
}

func statusOf(obj client.Object) any {
	switch o := obj.(type) {
	case *dilov1.LoadTest:
		return o.Status
	case *dilov1.SimpleDeployment:
		return o.Status
	default:
		panic(fmt.Sprintf("statusOf: %T", obj))
	}
}
