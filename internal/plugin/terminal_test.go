package plugin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestWatchInTerminal runs the built kubectl-dilo binary's watch in a tmux pane, a
// terminal as a person has one, against the test's API server with a kubeconfig, plays
// the manager through a run, and reads the pane back: the progress line, the verdict
// and the exit code must be on the screen. TMUX_BIN names tmux (hack/tmux.sh installs
// it and prints its path); without it the test is skipped, and with it it must run.
func TestWatchInTerminal(t *testing.T) {
	tmux := os.Getenv("TMUX_BIN")
	if tmux == "" {
		t.Skip("TMUX_BIN is not set: TMUX_BIN=$(hack/tmux.sh | tail -1) runs this test")
	}
	_, ns := cluster(t)
	bin := filepath.Join(t.TempDir(), "kubectl-dilo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-dilo")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-dilo: %v\n%s", err, out)
	}

	// A server of its own (its socket in the test's directory), without the user's
	// configuration (-f /dev/null): the test starts it, and kills it alone.
	socket := filepath.Join(t.TempDir(), "tmux")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		return string(out), err
	}
	createLoadTest(t, ns, "web")
	shell := fmt.Sprintf("%s watch web -n %s --kubeconfig %s; echo exit=$?; sleep 3600", bin, ns, kubeconfig)
	if out, err := run("new-session", "-d", "-s", "watch", "-x", "200", "-y", "50", shell); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run("kill-server") })

	screen := func(want ...string) {
		t.Helper()
		var last string
		err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
			out, err := run("capture-pane", "-p", "-J", "-t", "watch")
			if err != nil {
				return fmt.Errorf("capture-pane: %v: %s", err, out)
			}
			last = out
			for _, w := range want {
				if !strings.Contains(out, w) {
					return fmt.Errorf("the pane shows no %q", w)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v; the pane:\n%s", err, last)
		}
		t.Logf("the pane:\n%s", last)
	}
	screen("waiting for DiLO's manager to start a run")
	setStatus(t, ns, "web", executing(1), withProgress(23, 2310))
	screen("  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)\n")
	setStatus(t, ns, "web", finished(1))
	screen("\n  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms\n",
		"\nfinished: run 1 of loadtest \"web\"\n",
		"\nresults: 3000 requests, 3 errors (ratio 0.0010), 100.05 rps, p50 2.2ms, p90 6.61ms, p99 12.9ms, max 40.1ms\n",
		"\nexit=0\n")
}
