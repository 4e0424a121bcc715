//go:build scale

package scale

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

const (
	// rssLoadTests LoadTests of rssReplicas pods each are what the manager holds.
	rssLoadTests = 1000
	rssReplicas  = 2
	// rssGoalMiB is the goal for the manager's peak resident memory.
	rssGoalMiB = 64
)

// TestManagerRSS runs the real manager binary against 1000 LoadTests of 2 replicas and
// reads its peak resident memory (VmHWM) once every LoadTest has a state, twice: a cold
// start that creates the 2000 pods, then a restart against the 1000 LoadTests and 2000
// pods with their status cleared; goal: both peaks at most 64 MiB.
func TestManagerRSS(t *testing.T) {
	env, dir, bin, kubeconfig := managerHarness(t)
	ctx := context.Background()
	ns := namespace(t, env, "rss")
	if err := createAll(ctx, env.Client, rssLoadTests, 8, func(i int) client.Object {
		return loadTest(ns, fmt.Sprintf("lt-%d", i), rssReplicas)
	}); err != nil {
		t.Fatal(err)
	}

	cold := managerPeak(t, env, bin, kubeconfig, ns, rssLoadTests*rssReplicas, filepath.Join(dir, "cold.log"))
	fmt.Printf("rss cold start: %d LoadTests, created %d pods in %.1fs, peak %.1f MiB load=%s\n",
		rssLoadTests, rssLoadTests*rssReplicas, cold.took.Seconds(), cold.mib, loadAverage())

	// Clear every state: the restarted manager reconciles each LoadTest again, its
	// pods already there.
	clear := client.RawPatch(types.MergePatchType, []byte(`{"status":{"state":null}}`))
	if err := forEach(ctx, rssLoadTests, 8, func(ctx context.Context, i int) error {
		return env.Client.Status().Patch(ctx, loadTest(ns, fmt.Sprintf("lt-%d", i), rssReplicas), clear)
	}); err != nil {
		t.Fatal(err)
	}
	restart := managerPeak(t, env, bin, kubeconfig, ns, rssLoadTests*rssReplicas, filepath.Join(dir, "restart.log"))
	fmt.Printf("rss restart: %d LoadTests and %d pods reconciled in %.1fs, peak %.1f MiB load=%s\n",
		rssLoadTests, rssLoadTests*rssReplicas, restart.took.Seconds(), restart.mib, loadAverage())

	peak := max(cold.mib, restart.mib)
	fmt.Printf("rss: manager binary, %d LoadTests × %d pods: cold=%.1f restart=%.1f rss_mib=%.1f (goal ≤ %d)\n",
		rssLoadTests, rssReplicas, cold.mib, restart.mib, peak, rssGoalMiB)
	if peak > rssGoalMiB {
		t.Errorf("the manager's peak RSS was %.1f MiB; goal ≤ %d MiB", peak, rssGoalMiB)
	}
}

// TestManagerRSSLargeLoadTests is the attack on the manager's memory: LoadTests as
// large as the webhook accepts (64 KiB encoded, half of it kubectl's last-applied copy,
// much of the rest podTemplate annotations that go on every pod). The goal is the
// manager's memory limit in config/manager, 256 MiB, with room to spare.
func TestManagerRSSLargeLoadTests(t *testing.T) {
	const loadTests, replicas, goalMiB = 500, 2, 128
	env, dir, bin, kubeconfig := managerHarness(t)
	ns := namespace(t, env, "rss-large")
	var size int
	if err := createAll(context.Background(), env.Client, loadTests, 8, func(i int) client.Object {
		lt := loadTest(ns, fmt.Sprintf("big-%d", i), replicas)
		notes := map[string]string{}
		for k := range 7 {
			notes[fmt.Sprintf("note-%d", k)] = strings.Repeat(string(rune('a'+k)), 4000)
		}
		lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{Annotations: notes}}
		applied, _ := json.Marshal(lt)
		lt.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(applied)}
		b, _ := json.Marshal(lt)
		size = len(b)
		return lt
	}); err != nil {
		t.Fatal(err)
	}
	if size > dilov1.MaxEncodedBytes {
		t.Fatalf("the LoadTests are %d bytes, more than the webhook accepts", size)
	}
	run := managerPeak(t, env, bin, kubeconfig, ns, loadTests*replicas, filepath.Join(dir, "large.log"))
	fmt.Printf("rss large: %d LoadTests of %d bytes and %d pods in %.1fs: rss_mib=%.1f (goal ≤ %d) load=%s\n",
		loadTests, size, loadTests*replicas, run.took.Seconds(), run.mib, goalMiB, loadAverage())
	if run.mib > goalMiB {
		t.Errorf("the manager's peak RSS was %.1f MiB; goal ≤ %d MiB", run.mib, goalMiB)
	}
}

// managerHarness starts the control plane of the RSS benchmarks and builds the manager
// binary: the control plane, a scratch directory, the binary and an admin kubeconfig.
func managerHarness(t *testing.T) (env *testenv.Env, dir, bin, kubeconfig string) {
	t.Helper()
	env = jobControlPlane(t)
	dir = t.TempDir()
	bin = buildManager(t, dir)
	kubeconfig, err := env.AdminKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return env, dir, bin, kubeconfig
}

// buildManager builds the manager binary into dir and returns its path.
// SCALE_MANAGER_PKG measures another build of the manager (a candidate change).
func buildManager(t *testing.T, dir string) string {
	t.Helper()
	return build(t, dir, cmp.Or(os.Getenv("SCALE_MANAGER_PKG"), "./cmd/manager"))
}

// managerRun is what one run of the manager binary measured.
type managerRun struct {
	took time.Duration
	mib  float64
}

// managerPeak runs the manager binary until every LoadTest of ns has a state and their
// pods (wantPods of them) exist, and returns how long that took and its peak RSS.
func managerPeak(t *testing.T, env *testenv.Env, bin, kubeconfig, ns string, wantPods int, logPath string) managerRun {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--agent-image="+testImage)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "ENABLE_WEBHOOKS=false")
	cmd.Stdout, cmd.Stderr = log, log
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start the manager: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()

	in := client.InNamespace(ns)
	err = testenv.Eventually(context.Background(), 4*time.Minute, func(ctx context.Context) error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("the manager exited: %v (log %s)", err, logPath)
		default:
		}
		var lts dilov1.LoadTestList
		if err := env.Client.List(ctx, &lts, in); err != nil {
			return err
		}
		unset := 0
		for _, lt := range lts.Items {
			if lt.Status.State == "" {
				unset++
			}
		}
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, in, client.MatchingLabels{dilov1.LabelManagedBy: dilov1.ManagedByDiLO}); err != nil {
			return err
		}
		if unset > 0 || len(pods.Items) < wantPods {
			time.Sleep(time.Second) // listing 1000 LoadTests and 2000 pods is not free
			return fmt.Errorf("%d LoadTests without a state, %d pods", unset, len(pods.Items))
		}
		return nil
	})
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the last pod events and status patches
	st, err := procStatus(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("rss manager now: VmRSS=%dMiB RssAnon=%dMiB RssFile=%dMiB (peak VmHWM=%dMiB)\n",
		st["VmRSS"]/1024, st["RssAnon"]/1024, st["RssFile"]/1024, st["VmHWM"]/1024)
	return managerRun{took: took, mib: float64(st["VmHWM"]) / 1024}
}

// procStatus reads the memory figures of /proc/<pid>/status, in KiB, by name
// (VmHWM is the peak resident set size).
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kib := map[string]int64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, v, ok := strings.Cut(s.Text(), ":")
		v = strings.TrimSpace(v)
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			kib[name] = n
		}
	}
	if _, ok := kib["VmHWM"]; !ok {
		return nil, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return kib, s.Err()
}
