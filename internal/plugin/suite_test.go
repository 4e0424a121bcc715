package plugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// The integration tests run the commands in-process against a real kube-apiserver and
// etcd, with no DiLO manager: each test plays the manager, writing the status it would
// write (the status subresource) while the command runs. The control plane starts with
// the first test that needs it, so that the unit tests run without KUBEBUILDER_ASSETS;
// without it, an integration test fails, saying so, rather than skip.

var (
	envOnce    sync.Once
	env        *testenv.Env
	kubeconfig string
	envErr     error
)

// wait bounds every wait for a command's output.
const wait = 30 * time.Second

func TestMain(m *testing.M) {
	// The controller some tests run logs nothing they read.
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if kubeconfig != "" {
		_ = os.RemoveAll(strings.TrimSuffix(kubeconfig, "/kubeconfig"))
	}
	os.Exit(code)
}

// cluster is the shared control plane and an admin kubeconfig for it, with a fresh
// namespace for the test.
func cluster(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	envOnce.Do(func() {
		if env, envErr = testenv.Start(testenv.Options{}); envErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "kubectl-dilo-")
		if err != nil {
			envErr = err
			return
		}
		kubeconfig, envErr = env.AdminKubeconfig(dir)
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	ns, err := env.CreateNamespace(context.Background(), "dilo-plugin")
	if err != nil {
		t.Fatal(err)
	}
	return env, ns
}

// createLoadTest creates a LoadTest named name in ns, with no status.
func createLoadTest(t *testing.T, ns, name string) *dilov1.LoadTest {
	t.Helper()
	lt := newLoadTest(name)
	lt.Namespace, lt.Generation = ns, 0
	if err := env.Client.Create(context.Background(), lt); err != nil {
		t.Fatal(err)
	}
	return lt
}

// setStatus writes, as DiLO's manager would, the status that mods build from nothing.
func setStatus(t *testing.T, ns, name string, mods ...func(*dilov1.LoadTest)) *dilov1.LoadTest {
	t.Helper()
	lt := &dilov1.LoadTest{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, lt); err != nil {
			return err
		}
		lt.Status = dilov1.LoadTestStatus{}
		for _, m := range mods {
			m(lt)
		}
		return env.Client.Status().Update(context.Background(), lt)
	})
	if err != nil {
		t.Fatalf("failed to write the status of %s/%s: %v", ns, name, err)
	}
	return lt
}

// annotation is the LoadTest's annotation key.
func annotation(t *testing.T, ns, name, key string) string {
	t.Helper()
	lt := &dilov1.LoadTest{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, lt); err != nil {
		t.Fatal(err)
	}
	return lt.Annotations[key]
}

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a command running in-process; interrupt cancels its context, as Ctrl-C
// does the binary's.
type running struct {
	stdout, stderr syncBuffer
	code           chan int
	interrupt      context.CancelFunc
}

// start runs kubectl-dilo with args in namespace ns, against the test's cluster.
func start(t *testing.T, ns string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &running{code: make(chan int, 1), interrupt: cancel}
	args = append(args, "--kubeconfig", kubeconfig, "-n", ns)
	go func() { r.code <- Main(ctx, args, strings.NewReader(""), &r.stdout, &r.stderr) }()
	return r
}

// dilo runs kubectl-dilo with args in ns to its end.
func dilo(t *testing.T, ns string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	r := start(t, ns, args...)
	code = r.wait(t)
	return r.stdout.String(), r.stderr.String(), code
}

// wait is the command's exit code, once it ended.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.code:
		return code
	case <-time.After(wait):
		t.Fatalf("still running after %s; stdout:\n%s\nstderr:\n%s", wait, r.stdout.String(), r.stderr.String())
		return 0
	}
}

// printed waits until the command printed a line equal to line.
func (r *running) printed(t *testing.T, line string) {
	t.Helper()
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		for _, l := range strings.Split(r.stdout.String(), "\n") {
			if l == line {
				return nil
			}
		}
		return fmt.Errorf("no line %q", line)
	})
	if err != nil {
		t.Fatalf("%v; stdout:\n%s\nstderr:\n%s", err, r.stdout.String(), r.stderr.String())
	}
}

// lines are s's lines, without the empty one after its last newline.
func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

// inWindow checks that the RFC 3339 instant v was written between from and to, at
// the precision of layout, in UTC.
func inWindow(t *testing.T, v, layout string, from, to time.Time, precision time.Duration) {
	t.Helper()
	at, err := time.Parse(layout, v)
	if err != nil {
		t.Fatalf("%q is not %s: %v", v, layout, err)
	}
	if !strings.HasSuffix(v, "Z") {
		t.Errorf("%q is not in UTC", v)
	}
	if strings.Contains(v, ".") != (layout == time.RFC3339Nano) {
		t.Errorf("%q has the wrong precision for %s", v, layout)
	}
	if at.Before(from.Truncate(precision)) || at.After(to) {
		t.Errorf("%q is not between %s and %s", v, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
}
