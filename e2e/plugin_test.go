//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// plugin is kubectl-dilo, built once for the suite.
var plugin struct {
	once sync.Once
	path string
	err  error
}

// dilo runs kubectl-dilo with args in namespace ns and returns its output (stdout and
// stderr) and exit code.
func dilo(t *testing.T, ns string, args ...string) (string, int) {
	t.Helper()
	plugin.once.Do(func() {
		dir, err := os.MkdirTemp("", "kubectl-dilo-")
		if err != nil {
			plugin.err = err
			return
		}
		plugin.path = filepath.Join(dir, "kubectl-dilo")
		cmd := exec.Command("go", "build", "-o", plugin.path, "./cmd/kubectl-dilo")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			plugin.err = errors.New(string(out))
		}
	})
	if plugin.err != nil {
		t.Fatalf("failed to build kubectl-dilo: %v", plugin.err)
	}
	cmd := exec.CommandContext(ctx(t), plugin.path, append([]string{"-n", ns}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl-dilo %v: %v", args, err)
	}
	return out.String(), 0
}

// writeLoadTest writes lt as YAML into a file of the test's and returns its path.
func writeLoadTest(t *testing.T, lt *dilov1.LoadTest) string {
	t.Helper()
	lt.APIVersion, lt.Kind = dilov1.GroupVersion.String(), "LoadTest"
	b, err := yaml.Marshal(lt)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), lt.Name+".yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPluginRunRerunCompare: `kubectl dilo run -f` applies a LoadTest and follows it to
// finished (exit 0); `rerun --watch` runs the same spec again as run 2; `results -o json`
// is the status' results; `compare` sets the two runs side by side.
func TestPluginRunRerunCompare(t *testing.T) {
	ns := newNamespace(t)
	file := writeLoadTest(t, loadTest(ns, "pl", 2, "/", 50))
	out, code := dilo(t, ns, "run", "-f", file)
	if code != 0 || !strings.Contains(out, "finished") {
		t.Fatalf("run -f: exit %d; want 0 and the verdict:\n%s", code, out)
	}
	t.Logf("kubectl dilo run -f:\n%s", out)

	out, code = dilo(t, ns, "rerun", "pl", "--watch")
	lt := get(t, &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pl"}})
	if code != 0 || lt.Status.Run != 2 || lt.Status.State != dilov1.StateFinished {
		t.Fatalf("rerun --watch: exit %d, run %d %s; want 0 and run 2 finished:\n%s", code, lt.Status.Run, lt.Status.State, out)
	}
	if h := lt.Status.History; len(h) != 2 || h[0].Run != 1 || h[1].Run != 2 {
		t.Errorf("history %+v; want runs 1 and 2", h)
	}

	out, code = dilo(t, ns, "results", "pl", "-o", "json")
	var res dilov1.Results
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("results -o json: exit %d, %v:\n%s", code, err, out)
	}
	if diff := cmp.Diff(*lt.Status.Results, res); diff != "" {
		t.Errorf("results -o json (-status +plugin):\n%s", diff)
	}

	out, code = dilo(t, ns, "compare", "pl:1", "pl:2")
	if code != 0 || !strings.Contains(out, "pl:1") || !strings.Contains(out, "pl:2") || !strings.Contains(out, "requests") {
		t.Errorf("compare pl:1 pl:2: exit %d; want a table of both runs:\n%s", code, out)
	}
	t.Logf("kubectl dilo compare pl:1 pl:2:\n%s", out)
}

// TestPluginVerdicts: `run -f` exits 1 for a run that breaks its thresholds, naming
// the reason; `stop --wait` stops a running test, which ends failed, Stopped (exit 1).
func TestPluginVerdicts(t *testing.T) {
	ns := newNamespace(t)
	bad := loadTest(ns, "slow", 1, "/slow?ms=20", 20)
	bad.Spec.Thresholds = &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: time.Millisecond}}
	out, code := dilo(t, ns, "run", "-f", writeLoadTest(t, bad))
	if code != 1 || !strings.Contains(out, dilov1.ReasonThresholdBroken) {
		t.Errorf("run -f of a run breaking its thresholds: exit %d; want 1 and %s:\n%s", code, dilov1.ReasonThresholdBroken, out)
	}

	long := openLoadTest(ns, "long", 1, "/", 20, 120)
	if out, code := dilo(t, ns, "run", "-f", writeLoadTest(t, long), "--watch=false"); code != 0 {
		t.Fatalf("run -f --watch=false: exit %d:\n%s", code, out)
	}
	eventually(t, 2*time.Minute, "sending", func() (bool, string) {
		p := get(t, long).Status.Progress
		return p != nil && p.Requests > 0, "no live progress yet"
	})
	start := time.Now()
	out, code = dilo(t, ns, "stop", "long", "--wait")
	if code != 1 || !strings.Contains(out, dilov1.ReasonStopped) {
		t.Errorf("stop --wait: exit %d; want 1 and %s:\n%s", code, dilov1.ReasonStopped, out)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("stop --wait took %v", d)
	}
}
