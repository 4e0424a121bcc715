//go:build scale

// Package scale holds DiLO's scale and speed benchmarks (DiLO issue 7): pod creation
// throughput against the Job controller, the latency the admission webhooks add, and
// the manager's peak memory. Each prints its figures and fails when its goal is
// missed. They run only with the build tag `scale` (`make bench-scale`), never as
// part of `go test ./...`.
//
// Tuning, all optional: SCALE_QPS and SCALE_BURST (the client rate limit of both DiLO
// and kube-controller-manager in the throughput benchmark, default 100 and 200),
// SCALE_ROUNDS (throughput rounds, default 2), SCALE_LOADTESTS (throughput objects per
// phase, default 500), SCALE_MANAGER_PKG (the manager package the memory benchmark
// builds, default ./cmd/manager, to measure a candidate change).
package scale

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/reconcile"
	"github.com/dilo-operator/dilo/internal/testenv"
)

const testImage = "registry.example/dilo:scale"

// controlPlane is the API server with kube-controller-manager's Job controller and
// garbage collector that the throughput and memory benchmarks share, started by the
// first of them and stopped by TestMain.
var controlPlane struct {
	once sync.Once
	err  error
	env  *testenv.Env
}

// stoppers are the control planes to stop when the benchmarks end.
var (
	stoppersMu sync.Mutex
	stoppers   []*testenv.Env
)

func TestMain(m *testing.M) {
	if os.Getenv("DILO_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	code := m.Run()
	for _, e := range stoppers {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop a control plane:", err)
		}
	}
	os.Exit(code)
}

// start starts a control plane that TestMain stops.
func start(opts testenv.Options) (*testenv.Env, error) {
	e, err := testenv.Start(opts)
	if err != nil {
		return nil, err
	}
	stoppersMu.Lock()
	defer stoppersMu.Unlock()
	stoppers = append(stoppers, e)
	return e, nil
}

// qps is the client rate limit DiLO and kube-controller-manager both get.
func qps() (float32, int) {
	return float32(envInt("SCALE_QPS", 100)), envInt("SCALE_BURST", 200)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// jobControlPlane returns the shared control plane with the Job controller.
func jobControlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	controlPlane.once.Do(func() {
		q, b := qps()
		controlPlane.env, controlPlane.err = start(testenv.Options{
			GarbageCollector: true,
			Controllers:      []string{"job-controller"},
			ControllerManagerArgs: []string{
				fmt.Sprintf("--kube-api-qps=%g", q),
				fmt.Sprintf("--kube-api-burst=%d", b),
			},
		})
	})
	if controlPlane.err != nil {
		t.Fatal(controlPlane.err)
	}
	return controlPlane.env
}

// startDiLO runs DiLO's controllers in process, registered as cmd/manager registers
// them (the cache holds only DiLO's pods), on cfg, until the returned stop is called.
func startDiLO(t *testing.T, env *testenv.Env, cfg *rest.Config) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: reconcile.PodCache()}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("failed to create a manager: %v", err)
	}
	if err := (&reconcile.LoadTestReconciler{AgentImage: testImage}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&reconcile.SimpleDeploymentReconciler{AgentImage: testImage}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager failed: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// namespace creates a namespace with the ServiceAccount "default" (Job pods need it;
// no controller creates it here) and the Service "web" that LoadTests target.
func namespace(t *testing.T, env *testenv.Env, prefix string) string {
	t.Helper()
	ctx := context.Background()
	ns, err := env.CreateNamespace(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			},
		},
	} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("failed to create %T: %v", obj, err)
		}
	}
	return ns
}

// loadTest is a LoadTest of replicas pods against the Service "web", complete without
// the defaulting webhook.
func loadTest(ns, name string, replicas int32) *dilov1.LoadTest {
	return &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: dilov1.LoadTestSpec{Replicas: replicas, Test: dilov1.TestSpec{
			ServiceName: "web", Path: "/", Method: "GET", Repeat: ptr.To[int32](100),
		}},
	}
}

// createAll creates n objects made by newObj with workers goroutines and returns the
// first error.
func createAll(ctx context.Context, c client.Client, n, workers int, newObj func(i int) client.Object) error {
	return forEach(ctx, n, workers, func(ctx context.Context, i int) error {
		if err := c.Create(ctx, newObj(i)); err != nil {
			return fmt.Errorf("failed to create object %d: %w", i, err)
		}
		return nil
	})
}

// forEach calls fn for 0 to n-1 on workers goroutines and returns the first error.
func forEach(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	next := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// percentile returns the p-th percentile (0–100) of sorted, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadAverage is the machine's 1-minute load average, for the report.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) == 0 {
		return "?"
	}
	var one string
	fmt.Sscan(string(b), &one)
	return one
}

// build builds the command pkg (tag scale) into dir and returns the binary's path. It
// builds as the image's binaries are built (static, trimmed, stripped), so that what
// is measured, its memory above all, is what ships: a cgo build maps libc too.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-tags", "scale", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build %s: %v\n%s", pkg, err, out)
	}
	return bin
}
