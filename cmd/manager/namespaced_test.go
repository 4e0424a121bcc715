package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// namespacedWait bounds every wait for the manager.
const namespacedWait = 15 * time.Second

// TestNamespacedOverlay runs the manager as config/namespaced deploys it, on a real API
// server (envtest, no kubelet, webhooks off), holding exactly the rights the overlay
// gives its ServiceAccount: every Role, RoleBinding, ClusterRole and ClusterRoleBinding
// `kubectl kustomize config/namespaced` renders, applied for real, and a rest.Config
// impersonating that ServiceAccount. The manager is the binary's (newManager) with the
// flags of the overlay's Deployment (--leader-elect and --watch-namespaces=team-a,team-b
// among them); only its probe and metrics ports are random and the webhooks off.
//
// It checks that the manager is elected and its cache syncs without a single request
// forbidden, that LoadTests in team-a and team-b run (run 1 pending or executing, their
// pods created, their Events recorded) and a SimpleDeployment in team-b gets its pod, while a LoadTest
// in the unwatched namespace "other" stays untouched. And, so that the test can fail,
// that the same identity is refused pods cluster-wide and in "other", and a cache built
// without --watch-namespaces (cacheOptions(nil)) gets its list of pods forbidden.
func TestNamespacedOverlay(t *testing.T) {
	if os.Getenv("DILO_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	objs, err := testenv.Kustomize("namespaced")
	if err != nil {
		t.Fatal(err)
	}
	env := startEnv(t, testenv.Options{})
	ctx := t.Context()

	// The overlay's Deployment: its flags, and the ServiceAccount it runs as.
	deploy := onlyObject(t, objs, "Deployment")
	o := deploymentOptions(t, deploy)
	saName, _, _ := unstructured.NestedString(deploy.Object, "spec", "template", "spec", "serviceAccountName")
	system := deploy.GetNamespace()
	watched, err := parseWatchNamespaces(o.watchNamespaces)
	if err != nil || !slices.Equal(watched, []string{"team-a", "team-b"}) {
		t.Fatalf("config/namespaced's --watch-namespaces=%q (%v); want team-a,team-b", o.watchNamespaces, err)
	}
	o.probeAddr, o.metricsAddr = ":0", ":0"
	o.enableWebhooks = false
	o.leaderElectionNamespace = system // what the pod reads from its ServiceAccount's mount

	// The watched namespaces must exist before the overlay's Roles; "other" is not watched.
	for _, ns := range append(watched, "other") {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	applied := applyIdentity(t, env, objs)
	t.Logf("Applied from config/namespaced: %s", strings.Join(applied, ", "))

	// Work in every namespace, there before the manager starts.
	lts := map[string]*dilov1.LoadTest{}
	for _, ns := range []string{"team-a", "team-b", "other"} {
		lts[ns] = createRun(t, env, ns)
	}
	sd := &dilov1.SimpleDeployment{ObjectMeta: metav1.ObjectMeta{Name: "sd", Namespace: "team-b"}}
	if err := env.Client.Create(ctx, sd); err != nil {
		t.Fatal(err)
	}

	// The manager, as the overlay's ServiceAccount.
	var refused forbidden
	cfg := impersonate(env.Config, system, saName, &refused)
	start := time.Now()
	mgr, err := newManager(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager failed: %v", err)
		}
	})
	// wait polls cond until it holds, failing at once if the manager stopped, and names
	// the refused requests when it gives up.
	wait := func(what string, cond func(context.Context) error) {
		t.Helper()
		err := testenv.Eventually(ctx, namespacedWait, func(ctx context.Context) error {
			select {
			case err := <-done:
				done <- err
				return fmt.Errorf("manager stopped: %v", err)
			default:
			}
			return cond(ctx)
		})
		if err != nil {
			t.Fatalf("%s: %v; requests forbidden: %v", what, err, refused.all())
		}
	}

	wait("leader election", func(context.Context) error {
		select {
		case <-mgr.Elected():
			return nil
		default:
			return fmt.Errorf("not elected")
		}
	})
	for _, ns := range watched {
		lt := lts[ns]
		wait("LoadTest "+ns+"/"+lt.Name+" handled", func(ctx context.Context) error {
			got := &dilov1.LoadTest{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lt), got); err != nil {
				return err
			}
			// Pending, and executing once every pod exists (no kubelet runs them).
			if st := got.Status.State; st != dilov1.StatePending && st != dilov1.StateExecuting || got.Status.Run != 1 {
				return fmt.Errorf("status %+v, want run 1 pending or executing", got.Status)
			}
			if n := len(podsOf(ctx, t, env, ns)); n != int(lt.Spec.Replicas) {
				return fmt.Errorf("%d pods, want %d", n, lt.Spec.Replicas)
			}
			return nil
		})
		wait("RunStarted Event of "+ns+"/"+lt.Name, func(ctx context.Context) error {
			var list eventsv1.EventList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return err
			}
			if !slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool { return e.Reason == "RunStarted" }) {
				return fmt.Errorf("no RunStarted Event among %d", len(list.Items))
			}
			return nil
		})
	}
	wait("SimpleDeployment team-b/sd's pod", func(ctx context.Context) error {
		got := &dilov1.SimpleDeployment{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sd), got); err != nil {
			return err
		}
		if len(got.Status.Children) != 1 {
			return fmt.Errorf("status %+v, want one child", got.Status)
		}
		return nil
	})
	wait("the cache's informers synced", func(ctx context.Context) error {
		for _, obj := range []client.Object{&dilov1.LoadTest{}, &dilov1.SimpleDeployment{}, &corev1.Pod{}} {
			inf, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false))
			if err != nil {
				return err
			}
			if !inf.HasSynced() {
				return fmt.Errorf("the %T informer has not synced", obj)
			}
		}
		return nil
	})
	t.Logf("Watched namespaces handled %s after the manager started", time.Since(start).Round(time.Millisecond))

	// "other" was there as early as team-a and team-b: a manager watching it would have
	// handled it by now. It stays untouched for a while longer.
	other := lts["other"]
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		got := &dilov1.LoadTest{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(other), got); err != nil {
			t.Fatal(err)
		}
		if got.Status.State != "" || len(podsOf(ctx, t, env, "other")) > 0 {
			t.Fatalf("LoadTest other/%s was handled (status %+v), but other is not watched", other.Name, got.Status)
		}
	}
	if r := refused.all(); len(r) > 0 {
		t.Errorf("config/namespaced's RBAC refused the manager %d requests: %v", len(r), r)
	}

	// The negative control: the same identity has no rights beyond the overlay's.
	c, err := client.New(impersonate(env.Config, system, saName, nil), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"", "other", "team-a"} {
		err := c.List(ctx, &corev1.PodList{}, client.InNamespace(ns))
		if want := ns == "team-a"; want != (err == nil) || err != nil && !apierrors.IsForbidden(err) {
			t.Errorf("listing the pods of namespace %q as the ServiceAccount: %v; want allowed only in team-a, forbidden elsewhere", ns, err)
		}
	}
	// A cache of every namespace, what the manager has without --watch-namespaces: its
	// list of pods is forbidden, so its informer never syncs.
	var unrestricted forbidden
	allNS, err := cache.New(impersonate(env.Config, system, saName, &unrestricted), withScheme(cacheOptions(nil), env))
	if err != nil {
		t.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go func() { _ = allNS.Start(cacheCtx) }()
	pods, err := allNS.GetInformer(ctx, &corev1.Pod{}, cache.BlockUntilSynced(false))
	if err != nil {
		t.Fatal(err)
	}
	listForbidden := func() bool {
		return slices.Contains(unrestricted.all(), "GET /api/v1/pods")
	}
	err = testenv.Eventually(ctx, namespacedWait, func(context.Context) error {
		if !listForbidden() && !pods.HasSynced() {
			return fmt.Errorf("the list of pods of every namespace neither forbidden nor synced: forbidden %v", unrestricted.all())
		}
		return nil
	})
	if err != nil || pods.HasSynced() || !listForbidden() {
		t.Errorf("a cache of every namespace as the ServiceAccount: synced %t, forbidden %v (%v); want its list of pods forbidden",
			pods.HasSynced(), unrestricted.all(), err)
	}
}

// deploymentOptions parses the manager container's arguments of the Deployment deploy
// with the manager's own flags.
func deploymentOptions(t *testing.T, deploy *unstructured.Unstructured) options {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	var args []string
	for _, c := range containers {
		if c := c.(map[string]any); c["name"] == "manager" {
			args, _, _ = unstructured.NestedStringSlice(c, "args")
		}
	}
	var o options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	bindFlags(fs, &o)
	if err := fs.Parse(args); err != nil || len(args) == 0 {
		t.Fatalf("the manager container's arguments %q: %v", args, err)
	}
	return o
}

// startEnv starts a control plane for one test, stopped when it ends.
func startEnv(t *testing.T, opts testenv.Options) *testenv.Env {
	t.Helper()
	env, err := testenv.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	return env
}

// applyIdentity creates the Namespaces, ServiceAccounts and RBAC objects of objs, and
// returns their kinds and names.
func applyIdentity(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var applied []string
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
		default:
			continue
		}
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("failed to create %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		applied = append(applied, o.GetKind()+" "+strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/"))
	}
	return applied
}

// onlyObject returns the only object of kind in objs.
func onlyObject(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

// createRun creates in ns a Service "web" and a LoadTest of two replicas sending GET / to it.
func createRun(t *testing.T, env *testenv.Env, ns string) *dilov1.LoadTest {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "run", Namespace: ns},
		Spec: dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{
			ServiceName: "web", Path: "/", Repeat: ptr.To[int32](100),
		}},
	}
	for _, obj := range []client.Object{svc, lt} {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	return lt
}

// podsOf lists the pods of namespace ns that DiLO created.
func podsOf(ctx context.Context, t *testing.T, env *testenv.Env, ns string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.HasLabels{dilov1.LabelLoadTest}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// impersonate returns admin with the identity of ServiceAccount ns/name, as the API
// server authenticates a pod's token, recording into refused (if not nil) every request
// answered 403 Forbidden.
func impersonate(admin *rest.Config, ns, name string, refused *forbidden) *rest.Config {
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	if refused != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripper(func(req *http.Request) (*http.Response, error) {
				resp, err := rt.RoundTrip(req)
				if err == nil && resp.StatusCode == http.StatusForbidden {
					refused.add(req)
				}
				return resp, err
			})
		})
	}
	return cfg
}

// withScheme sets the scheme of o to env's.
func withScheme(o cache.Options, env *testenv.Env) cache.Options {
	o.Scheme = env.Scheme
	return o
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// forbidden collects the requests the API server refused, each once.
type forbidden struct {
	mu       sync.Mutex
	requests []string
}

// add records req as its method and path, "?watch" added for a watch.
func (f *forbidden) add(req *http.Request) {
	request := req.Method + " " + req.URL.Path
	if req.URL.Query().Get("watch") == "true" {
		request += "?watch"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.requests, request) {
		f.requests = append(f.requests, request)
	}
}

func (f *forbidden) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
