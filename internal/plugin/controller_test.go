package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/reconcile"
)

// TestWithTheController holds the commands to the contract of DiLO's real LoadTest
// controller rather than to a test's idea of it: run -f follows the run it starts,
// rerun --watch the run it starts for the annotation (status.lastHandledRerun and a new
// status.run), and stop --wait a run it stops. envtest has no kubelet, so the pods
// never run: the runs wait for their synchronised start until stopped, which ends them
// at once, failed, without results.
func TestWithTheController(t *testing.T) {
	_, ns := cluster(t)
	startController(t, ns)
	if err := env.Client.Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "target", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "target"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: example.org/v1\nkind: LoadTest\nmetadata:\n  name: web\nspec:\n"+
		"  replicas: 2\n  test:\n    serviceName: target\n    path: /\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitingToStart := "       executing  2 pods, waiting for all to run (synchronised start)"

	r := start(t, ns, "run", "-f", file)
	r.printed(t, `run 1 of loadtest "web" in namespace "`+ns+`" (Ctrl-C stops watching, not the run):`)
	r.printed(t, waitingToStart)
	r.interrupt()
	if code := r.wait(t); code != exitInterrupted {
		t.Fatalf("run -f: exit code %d, want 130 (interrupted); stderr:\n%s", code, r.stderr.String())
	}

	r = start(t, ns, "rerun", "web", "--watch")
	r.printed(t, `run 2 of loadtest "web" in namespace "`+ns+`" (Ctrl-C stops watching, not the run):`)
	r.printed(t, waitingToStart)
	r.interrupt()
	if code := r.wait(t); code != exitInterrupted {
		t.Fatalf("rerun --watch: exit code %d, want 130 (interrupted); stderr:\n%s", code, r.stderr.String())
	}

	stdout, stderr, code := dilo(t, ns, "stop", "web", "--wait")
	if code != exitRunFailed {
		t.Fatalf("stop --wait: exit code %d, want 1 (the run ends failed); stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := lines(stdout)
	if !strings.HasPrefix(got[0], `asked run 2 of loadtest "web" (executing) to stop: example.org/stop=`) ||
		!strings.HasPrefix(got[len(got)-2], `failed: run 2 of loadtest "web", reason Stopped: `) {
		t.Errorf("stop --wait printed:\n%s", stdout)
	}

	_, stderr, code = dilo(t, ns, "results", "web")
	if code != exitError || !strings.Contains(stderr, `run 2 of loadtest "web" in namespace "`+ns+`" failed without results (Stopped: `) {
		t.Errorf("results of a run stopped before sending: exit code %d, stderr %q", code, stderr)
	}
}

// startController runs DiLO's LoadTest controller for namespace ns, as cmd/manager
// sets it up (its caches included), until the test ends.
func startController(t *testing.T, ns string) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{ns: {}},
			ByObject:          map[client.Object]cache.ByObject{&corev1.Pod{}: reconcile.PodCache(), &dilov1.LoadTest{}: reconcile.LoadTestCache()},
		},
		// Tests may each run a manager with the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&reconcile.LoadTestReconciler{AgentImage: "registry.example/dilo:test"}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}
