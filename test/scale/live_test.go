//go:build scale

package scale

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/testenv"
)

const (
	// liveLoadTests running LoadTests of liveReplicas pods are what the manager follows.
	liveLoadTests = 100
	liveReplicas  = 10
	// liveMeasure is how long the manager is measured while it reads them all.
	liveMeasure = 60 * time.Second
)

// TestLiveProgressScale runs the real manager binary against 100 executing LoadTests of
// 10 pods, 1000 agents simulated by one server that serves growing snapshots on a loopback
// address per pod (envtest has no kubelet: the test marks the pods Running at those
// addresses). It reports the manager's peak RSS (goal ≤ 64 MiB), its CPU per second of
// wall time, and the read interval each pod saw.
func TestLiveProgressScale(t *testing.T) {
	env, dir, bin, kubeconfig := managerHarness(t)
	ctx := context.Background()
	ns := namespace(t, env, "live")
	agents := newFakeAgents(t)

	if err := createAll(ctx, env.Client, liveLoadTests, 8, func(i int) client.Object {
		lt := loadTest(ns, fmt.Sprintf("lt-%d", i), liveReplicas)
		lt.Spec.Test.Repeat = nil
		lt.Spec.Test.Rate, lt.Spec.Test.DurationSeconds = ptr.To[int32](10), ptr.To[int32](1800)
		lt.Spec.Thresholds = &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: time.Hour},
			Abort: &dilov1.ThresholdAbort{WindowSeconds: ptr.To[int32](30)}}
		return lt
	}); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "live.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--agent-image="+testImage,
		"--live-interval="+cmp.Or(os.Getenv("SCALE_LIVE_INTERVAL"), "2s"), "--live-port="+strconv.Itoa(agents.port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "ENABLE_WEBHOOKS=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("manager log, last 3000 bytes:\n%s", b[max(0, len(b)-3000):])
		}
	})

	// The pods, once created, run at 127.0.<i/250>.<i%250+1>.
	in := client.InNamespace(ns)
	marked := map[string]bool{}
	err = testenv.Eventually(ctx, 5*time.Minute, func(ctx context.Context) error {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, in); err != nil {
			return err
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			if marked[pod.Name] {
				continue
			}
			pod.Status.Phase = corev1.PodRunning
			pod.Status.PodIP = agents.addrOf(pod.Name)
			pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "agent", Ready: false,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
			if err := env.Client.Status().Update(ctx, pod); err != nil {
				return err
			}
			marked[pod.Name] = true
		}
		if len(marked) < liveLoadTests*liveReplicas {
			time.Sleep(time.Second) // listing 1000 pods is not free
			var first dilov1.LoadTest
			_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lt-0"}, &first)
			return fmt.Errorf("%d pods running; lt-0: state %q, conditions %+v (manager log %s)", len(marked), first.Status.State, first.Status.Conditions, logPath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = testenv.Eventually(ctx, 3*time.Minute, func(ctx context.Context) error {
		var lts dilov1.LoadTestList
		if err := env.Client.List(ctx, &lts, in); err != nil {
			return err
		}
		n := 0
		for _, lt := range lts.Items {
			if lt.Status.Progress != nil {
				n++
			}
		}
		if n < liveLoadTests {
			time.Sleep(time.Second)
			return fmt.Errorf("%d of %d LoadTests have live progress (manager log %s)", n, liveLoadTests, logPath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	before, err := procStatus(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cpu0, wall0 := cpuTime(t, cmd.Process.Pid), time.Now()
	agents.resetReads()
	time.Sleep(liveMeasure) // what is measured: the manager reading for that long
	cpu, wall := cpuTime(t, cmd.Process.Pid)-cpu0, time.Since(wall0)
	st, err := procStatus(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	mean, worst := agents.intervals()
	var lts dilov1.LoadTestList
	if err := env.Client.List(ctx, &lts, in); err != nil {
		t.Fatal(err)
	}
	var lag time.Duration
	for _, lt := range lts.Items {
		if p := lt.Status.Progress; p != nil {
			lag = max(lag, time.Since(p.ObservedTime.Time))
		}
	}
	peak := float64(st["VmHWM"]) / 1024
	fmt.Printf("live: peak before reading %.1f MiB (pods created and started), RSS after reading %.1f MiB\n",
		float64(before["VmHWM"])/1024, float64(st["VmRSS"])/1024)
	fmt.Printf("live: %d LoadTests × %d pods read for %v: rss_mib=%.1f (goal ≤ %d) cpu_per_s=%.3f read_interval_mean=%v read_interval_max=%v status_lag_max=%v load=%s\n",
		liveLoadTests, liveReplicas, wall.Round(time.Second), peak, rssGoalMiB, cpu.Seconds()/wall.Seconds(),
		mean.Round(10*time.Millisecond), worst.Round(10*time.Millisecond), lag.Round(100*time.Millisecond), loadAverage())
	if peak > rssGoalMiB {
		t.Errorf("the manager's peak RSS was %.1f MiB; goal ≤ %d MiB", peak, rssGoalMiB)
	}
	if worst > 15*time.Second {
		t.Errorf("a pod went %v between reads; want at most 15 s", worst)
	}
}

// fakeAgents serves the snapshot of every simulated agent, one loopback address each.
type fakeAgents struct {
	port int
	mu   sync.Mutex
	addr map[string]string // pod name -> IP
	pods map[string]*fakeAgent
}

// fakeAgent is one simulated agent's results so far.
type fakeAgent struct {
	start    time.Time
	requests int64
	hist     *histogram.Histogram
	rnd      *rand.Rand
	reads    []time.Time
}

func newFakeAgents(t *testing.T) *fakeAgents {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgents{port: ln.Addr().(*net.TCPAddr).Port, addr: map[string]string{}, pods: map[string]*fakeAgent{}}
	srv := &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

// addrOf gives each pod its own loopback address.
func (a *fakeAgents) addrOf(pod string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.addr[pod]; ok {
		return ip
	}
	i := len(a.addr)
	ip := fmt.Sprintf("127.0.%d.%d", i/250, i%250+1)
	a.addr[pod] = ip
	return ip
}

// serve answers GET /snapshot with the agent's snapshot: 10 requests per second since
// its first read, their latencies spread over 1 to 50 ms.
func (a *fakeAgents) serve(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	if r.URL.Path != "/snapshot" || !strings.HasPrefix(host, "127.") {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	a.mu.Lock()
	ag := a.pods[host]
	if ag == nil {
		ag = &fakeAgent{start: now.Add(-time.Second), hist: histogram.New(histogram.DefaultPrecision), rnd: rand.New(rand.NewPCG(uint64(len(a.pods)), 1))}
		a.pods[host] = ag
	}
	ag.reads = append(ag.reads, now)
	want := int64(now.Sub(ag.start).Seconds() * 10)
	for ; ag.requests < want; ag.requests++ {
		ag.hist.Record(time.Millisecond + time.Duration(ag.rnd.ExpFloat64()*float64(5*time.Millisecond)))
	}
	rep := podreport.Report{Version: podreport.Version, Live: true, Start: ag.start, End: now, FirstRequest: ag.start,
		Requests: ag.requests, Codes: map[string]int64{"200": ag.requests}, Latency: ag.hist.Clone()}
	if ag.requests == 0 {
		rep.Codes = nil
	}
	a.mu.Unlock()
	b, err := rep.EncodeFull()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (a *fakeAgents) resetReads() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ag := range a.pods {
		ag.reads = ag.reads[:0]
	}
}

// intervals are the mean and longest time between two reads of one agent.
func (a *fakeAgents) intervals() (mean, worst time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var all []time.Duration
	for _, ag := range a.pods {
		for i := 1; i < len(ag.reads); i++ {
			all = append(all, ag.reads[i].Sub(ag.reads[i-1]))
		}
	}
	if len(all) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	return sum / time.Duration(len(all)), slices.Max(all)
}

// cpuTime is the user and system CPU time of process pid so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) start after its ")".
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
