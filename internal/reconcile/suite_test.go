package reconcile

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// env is the control plane the integration tests share: kube-apiserver, etcd and
// kube-controller-manager's garbage collector. Each test has its own namespace and
// its own manager, watching only that namespace.
var env *testenv.Env

const (
	testImage = "registry.example/dilo:test"
	// wait bounds every wait for the controllers or the garbage collector.
	wait = 30 * time.Second
)

func TestMain(m *testing.M) {
	if os.Getenv("DILO_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	var err error
	if env, err = testenv.Start(testenv.Options{GarbageCollector: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// manager is a running manager with DiLO's controllers.
type manager struct {
	stop func()
}

// startManager runs DiLO's controllers, as cmd/manager registers them (the cache holds
// only DiLO's pods), for namespace ns until the test ends or stop is called.
func startManager(t *testing.T, ns string) *manager {
	t.Helper()
	return startManagerWith(t, ns, nil)
}

// startManagerWith is startManager with the LoadTest reconciler changed by mod first.
func startManagerWith(t *testing.T, ns string, mod func(*LoadTestReconciler)) *manager {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{ns: {}},
			ByObject:          map[client.Object]cache.ByObject{&corev1.Pod{}: PodCache(), &dilov1.LoadTest{}: LoadTestCache()},
		},
		// Every test runs its own manager with the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("failed to create a manager: %v", err)
	}
	lr := &LoadTestReconciler{AgentImage: testImage, StartDelay: 2 * time.Second}
	if mod != nil {
		mod(lr)
	}
	if err := lr.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&SimpleDeploymentReconciler{AgentImage: testImage}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	m := &manager{stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager failed: %v", err)
			}
		})
	}}
	t.Cleanup(m.stop)
	return m
}

// setup gives a test its namespace, with a Service "web" (ports http 80 and admin 9090),
// and a manager.
func setup(t *testing.T) (context.Context, string, *manager) {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	ns, err := env.CreateNamespace(ctx, nsPrefix(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	createService(t, ns, "web", corev1.ServiceTypeClusterIP)
	return ctx, ns, startManager(t, ns)
}

// nsPrefix turns a test name into a namespace name prefix.
func nsPrefix(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b[:min(len(b), 40)]), "-")
}

func createService(t *testing.T, ns, name string, typ corev1.ServiceType) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			{Name: "admin", Port: 9090, Protocol: corev1.ProtocolTCP},
		}},
	}
	if typ == corev1.ServiceTypeExternalName {
		svc.Spec = corev1.ServiceSpec{Type: typ, ExternalName: "example.com"}
	}
	if err := env.Client.Create(context.Background(), svc); err != nil {
		t.Fatalf("failed to create Service: %v", err)
	}
}

// createLoadTest creates a LoadTest sending GET / to the Service "web", changed by mod.
func createLoadTest(t *testing.T, ns, name string, replicas int32, mod func(*dilov1.LoadTest)) *dilov1.LoadTest {
	t.Helper()
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: dilov1.LoadTestSpec{Replicas: replicas, Test: dilov1.TestSpec{
			ServiceName: "web", Path: "/", Repeat: ptr.To[int32](100),
		}},
	}
	if mod != nil {
		mod(lt)
	}
	if err := env.Client.Create(context.Background(), lt); err != nil {
		t.Fatalf("failed to create LoadTest: %v", err)
	}
	return lt
}

// waitFor polls the LoadTest until cond holds and returns it.
func waitFor(t *testing.T, lt *dilov1.LoadTest, what string, cond func(*dilov1.LoadTest) bool) *dilov1.LoadTest {
	t.Helper()
	got := &dilov1.LoadTest{}
	err := testenv.Eventually(context.Background(), wait, func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lt), got); err != nil {
			return err
		}
		if !cond(got) {
			return fmt.Errorf("LoadTest %s is not %s: status %+v", lt.Name, what, got.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitState waits for the LoadTest's current run to be in state.
func waitState(t *testing.T, lt *dilov1.LoadTest, state dilov1.State) *dilov1.LoadTest {
	t.Helper()
	return waitFor(t, lt, string(state), func(got *dilov1.LoadTest) bool {
		return got.Status.State == state && got.Status.ObservedGeneration == got.Generation
	})
}

// waitFailed waits for the run to fail and checks the Failed condition's reason and
// that its message contains want.
func waitFailed(t *testing.T, lt *dilov1.LoadTest, reason, want string) *dilov1.LoadTest {
	t.Helper()
	got := waitState(t, lt, dilov1.StateFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionFailed)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason || !strings.Contains(c.Message, want) {
		t.Fatalf("Failed condition %+v, want True, reason %s, message containing %q", c, reason, want)
	}
	if got.Status.CompletionTime == nil {
		t.Errorf("failed run has no completionTime")
	}
	return got
}

// runPods lists the pods of the LoadTest's run, by name.
func runPods(t *testing.T, lt *dilov1.LoadTest, run int64) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	sel := client.MatchingLabels{dilov1.LabelLoadTest: lt.Name}
	if run > 0 {
		sel[dilov1.LabelRun] = fmt.Sprint(run)
	}
	if err := env.Client.List(context.Background(), &list, client.InNamespace(lt.Namespace), sel); err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// waitPods waits until the run has n pods and returns them.
func waitPods(t *testing.T, lt *dilov1.LoadTest, run int64, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		if pods = runPods(t, lt, run); len(pods) != n {
			return fmt.Errorf("%d pods of run %d, want %d", len(pods), run, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// setPodStatus changes a pod's status through the status subresource, as a kubelet would.
func setPodStatus(t *testing.T, name, ns string, change func(*corev1.PodStatus)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
			return err
		}
		change(&pod.Status)
		return env.Client.Status().Update(context.Background(), pod)
	})
	if err != nil {
		t.Fatalf("failed to update the status of pod %s: %v", name, err)
	}
}

func running(st *corev1.PodStatus) {
	st.Phase = corev1.PodRunning
	st.ContainerStatuses = []corev1.ContainerStatus{{
		Name: agentContainer, Image: testImage, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
	}}
}

func ended(phase corev1.PodPhase, reason string, code int32, msg string) func(*corev1.PodStatus) {
	return func(st *corev1.PodStatus) {
		st.Phase = phase
		st.ContainerStatuses = []corev1.ContainerStatus{{
			Name: agentContainer, Image: testImage,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, Message: msg, StartedAt: metav1.Now(), FinishedAt: metav1.Now(),
			}},
		}}
	}
}

func succeeded(msg string) func(*corev1.PodStatus) {
	return ended(corev1.PodSucceeded, "Completed", 0, msg)
}

// runAll sets every pod Running.
func runAll(t *testing.T, pods []corev1.Pod) {
	t.Helper()
	for _, p := range pods {
		setPodStatus(t, p.Name, p.Namespace, running)
	}
}

// waitStartAt waits until every pod carries the same start-at annotation and returns it.
func waitStartAt(t *testing.T, lt *dilov1.LoadTest, run int64) string {
	t.Helper()
	var at string
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		values := map[string]bool{}
		for _, p := range runPods(t, lt, run) {
			values[p.Annotations[dilov1.AnnotationStartAt]] = true
		}
		if len(values) != 1 || values[""] {
			return fmt.Errorf("start-at annotations: %v", values)
		}
		for v := range values {
			at = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// waitGone waits until no pod of the LoadTest (any run) is left but those in keep.
func waitGone(t *testing.T, lt *dilov1.LoadTest, keep ...string) {
	t.Helper()
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		var left []string
		for _, p := range runPods(t, lt, 0) {
			if !slices.Contains(keep, p.Name) {
				left = append(left, p.Name)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("pods still there: %v", left)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitEvents waits until the LoadTest's Events include every reason in reasons.
func waitEvents(t *testing.T, obj client.Object, reasons ...string) {
	t.Helper()
	err := testenv.Eventually(context.Background(), wait, func(ctx context.Context) error {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Regarding.UID == obj.GetUID() {
				seen[e.Reason] = true
			}
		}
		for _, r := range reasons {
			if !seen[r] {
				return fmt.Errorf("no %s Event for %s; seen %v", r, obj.GetName(), seen)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// consistently fails the test if cond fails at any of its checks, every 50ms for d:
// an assertion that something does not happen, not a synchronisation.
func consistently(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err := cond(); err != nil {
			t.Fatal(err)
		}
	}
}

// deleteAndWait deletes obj and waits until it is gone.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	err := testenv.Eventually(context.Background(), wait, func(ctx context.Context) error {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s still exists (%v)", obj.GetName(), err)
	})
	if err != nil {
		t.Fatal(err)
	}
}
