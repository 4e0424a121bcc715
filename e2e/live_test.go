//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// openLoadTest is a LoadTest of replicas pods sending GETs of path at totalRate
// requests per second in all, for seconds.
func openLoadTest(ns, name string, replicas int32, path string, totalRate, seconds int32) *dilov1.LoadTest {
	return &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: dilov1.LoadTestSpec{
			Replicas: replicas,
			Test: dilov1.TestSpec{ServiceName: "nginx", Path: path, TotalRate: ptr(totalRate),
				DurationSeconds: ptr(seconds), Concurrency: ptr[int32](8)},
		},
	}
}

// liveSample is one reading of a run's status.progress while it executes.
type liveSample struct {
	observed time.Time
	requests int64
	rps      float64
}

// watchProgress polls lt until its run ends and returns the distinct live progress
// readings it saw (by observedTime) and the LoadTest as it ended.
func watchProgress(t *testing.T, lt *dilov1.LoadTest, timeout time.Duration) ([]liveSample, *dilov1.LoadTest) {
	t.Helper()
	var samples []liveSample
	var cur *dilov1.LoadTest
	eventually(t, timeout, "LoadTest "+lt.Name+" to end", func() (bool, string) {
		cur = get(t, lt)
		st := cur.Status
		if p := st.Progress; p != nil && !p.Final && st.State == dilov1.StateExecuting &&
			(len(samples) == 0 || p.ObservedTime.After(samples[len(samples)-1].observed)) {
			rps, _ := strconv.ParseFloat(p.RequestsPerSecond, 64)
			samples = append(samples, liveSample{p.ObservedTime.Time, p.Requests, rps})
		}
		return st.State == dilov1.StateFinished || st.State == dilov1.StateFailed,
			fmt.Sprintf("state %s, %d live readings", st.State, len(samples))
	})
	return samples, cur
}

// TestLiveProgress runs a 60-second open-model test at 100 requests per second over two
// pods: status.progress follows it, its requests rising and its rate within 10% of 100
// at least three times before it ends; `kubectl get ld` shows the live columns; the run
// ends with final figures in progress, its timeline in a ConfigMap (the windows adding up
// to the live totals) and its summary in the history.
func TestLiveProgress(t *testing.T) {
	ns := newNamespace(t)
	lt := openLoadTest(ns, "live", 2, "/", 100, 60)
	create(t, lt)
	waitState(t, lt, dilov1.StateExecuting, 2*time.Minute)
	eventually(t, time.Minute, "live progress", func() (bool, string) {
		p := get(t, lt).Status.Progress
		return p != nil && p.Requests > 0, fmt.Sprintf("progress %+v", p)
	})
	table, err := kubectl(t, "", "get", "ld", "-n", ns, "live")
	if rows := strings.Split(strings.TrimSpace(table), "\n"); err != nil || len(rows) != 2 || len(strings.Fields(rows[1])) != 9 {
		t.Errorf("kubectl get ld: %v; want a row with every column filled:\n%s", err, table)
	}
	t.Logf("kubectl get ld during the run:\n%s", table)

	samples, end := watchProgress(t, lt, 3*time.Minute)
	near := 0
	for i, s := range samples {
		if i > 0 && s.requests < samples[i-1].requests {
			t.Errorf("live requests went down: %+v then %+v", samples[i-1], s)
		}
		if math.Abs(s.rps-100) <= 10 {
			near++
		}
	}
	t.Logf("%d live readings, %d within 10%% of 100 requests/s", len(samples), near)
	if near < 3 {
		t.Errorf("%d live readings within 10%% of 100 requests/s; want at least 3: %+v", near, samples)
	}
	if end.Status.State != dilov1.StateFinished {
		t.Fatalf("run ended %s: %+v", end.Status.State, end.Status.Conditions)
	}
	p, res := end.Status.Progress, end.Status.Results
	if p == nil || !p.Final || p.Requests != res.Requests || p.ErrorRatio != res.ErrorRatio || p.Latency.P99 != res.Latency.P99 {
		t.Errorf("final progress %+v; want the results' figures (%+v)", p, res)
	}
	if res.StartSkew == nil {
		t.Errorf("results without startSkew: %+v", res)
	} else {
		t.Logf("start skew across 2 pods: %v", res.StartSkew.Duration)
	}
	if h := end.Status.History; len(h) != 1 || h[0].Run != end.Status.Run || h[0].Requests != res.Requests ||
		h[0].State != dilov1.StateFinished || h[0].Timeline == "" {
		t.Errorf("history %+v; want one record of run %d with %d requests and a timeline", h, end.Status.Run, res.Requests)
	}

	// The poller writes the timeline a last time at its first read after the run ended.
	last := samples[len(samples)-1].requests
	var windows int
	var sum int64
	eventually(t, 30*time.Second, "the timeline's last write", func() (bool, string) {
		windows, sum = timelineOf(t, ns, fmt.Sprintf("live-timeline-%d", end.Status.Run))
		return sum >= last, fmt.Sprintf("%d windows, %d requests", windows, sum)
	})
	if windows < 10 || sum < last || sum > res.Requests {
		t.Errorf("timeline: %d windows, %d requests; want at least 10 windows, from the last live reading's %d to the results' %d",
			windows, sum, last, res.Requests)
	}
}

// TestStopKeepsResults stops a 60-second run after 20 s with the example.org/stop
// annotation: it ends failed, reason Stopped, within seconds, with partial results; no
// pod still sends; and after a spec edit its summary is still in the history.
func TestStopKeepsResults(t *testing.T) {
	ns := newNamespace(t)
	lt := openLoadTest(ns, "stopped", 2, "/", 100, 60)
	create(t, lt)
	eventually(t, 2*time.Minute, "the run to send for 20 s", func() (bool, string) {
		cur := get(t, lt)
		p := cur.Status.Progress
		return p != nil && p.ElapsedSeconds >= 20, fmt.Sprintf("state %s, progress %+v", cur.Status.State, p)
	})
	stopAt := time.Now()
	if out, err := kubectl(t, "", "annotate", "ld", "-n", ns, "stopped", dilov1.AnnotationStop+"="+stopAt.Format(time.RFC3339), "--overwrite"); err != nil {
		t.Fatalf("kubectl annotate: %v\n%s", err, out)
	}
	waitFailure(t, lt, dilov1.ReasonStopped, dilov1.AnnotationStop)
	end := get(t, lt)
	if took := end.Status.CompletionTime.Sub(stopAt); took > 20*time.Second {
		t.Errorf("the run ended %v after the stop; want within 20 s", took)
	}
	res := end.Status.Results
	if res == nil || res.Requests < 1500 || res.Requests > 4500 {
		t.Fatalf("results %+v; want the 2000 to 4000 requests of about 20 to 40 s at 100/s", res)
	}
	if end.Status.Succeeded != 2 {
		t.Errorf("%d pods succeeded; want both, stopped cleanly", end.Status.Succeeded)
	}
	served := servedByTarget(t, ns)
	time.Sleep(3 * time.Second) // a gap to compare against, not synchronisation
	if again := servedByTarget(t, ns); fmt.Sprint(again) != fmt.Sprint(served) {
		t.Errorf("the target was still sent requests after the run ended: %v, then %v", served, again)
	}

	cur := get(t, lt)
	cur.Spec.Test.TotalRate = ptr[int32](50)
	cur.Spec.Test.DurationSeconds = ptr[int32](5)
	if err := k8s.Update(ctx(t), cur); err != nil {
		t.Fatalf("failed to edit the spec: %v", err)
	}
	next := waitState(t, cur, dilov1.StateFinished, 3*time.Minute)
	h := next.Status.History
	if len(h) != 2 || h[0].Run != end.Status.Run || h[0].Reason != dilov1.ReasonStopped || h[0].Requests != res.Requests ||
		h[1].Run != next.Status.Run || h[1].State != dilov1.StateFinished {
		t.Errorf("history %+v; want the stopped run %d (%d requests), then the finished run %d", h, end.Status.Run, res.Requests, next.Status.Run)
	}
}

// TestLiveThresholdAborts: the target turns slow 10 s into a 60-second run; a p99
// threshold checked live over 10-s windows stops the run well before its end, failed,
// ThresholdBroken, the message naming the window.
func TestLiveThresholdAborts(t *testing.T) {
	ns := newNamespace(t)
	lt := openLoadTest(ns, "aborted", 2, "/slow?ms=400&after=10", 40, 60)
	lt.Spec.Test.Concurrency = ptr[int32](40)
	lt.Spec.Thresholds = &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: 200 * time.Millisecond},
		Abort: &dilov1.ThresholdAbort{WindowSeconds: ptr[int32](10), DelaySeconds: ptr[int32](5)}}
	create(t, lt)
	waitFailure(t, lt, dilov1.ReasonThresholdBroken, "over the last", "p99", "maxP99 200ms")
	end := get(t, lt)
	if sent := end.Status.CompletionTime.Sub(end.Status.SendStartTime.Time); sent > 40*time.Second {
		t.Errorf("the run ended %v after it started sending; want well before its 60 s", sent)
	}
	if end.Status.Results == nil || end.Status.Results.Requests == 0 {
		t.Errorf("no partial results: %+v", end.Status.Results)
	}
}

// TestLiveProgressAcrossManagerRestart kills the manager while a run sends: live progress
// resumes under the new leader, and the final totals are what the agents sent, once.
func TestLiveProgressAcrossManagerRestart(t *testing.T) {
	disruptsManager(t)
	ns := newNamespace(t)
	lt := openLoadTest(ns, "restarted", 2, "/", 100, 40)
	create(t, lt)
	var before *dilov1.Progress
	eventually(t, 2*time.Minute, "the run to send for 12 s", func() (bool, string) {
		cur := get(t, lt)
		before = cur.Status.Progress
		return before != nil && before.ElapsedSeconds >= 12, fmt.Sprintf("state %s, progress %+v", cur.Status.State, before)
	})
	killManager(t)
	waitLeader(t, time.Minute)
	eventually(t, time.Minute, "live progress to resume", func() (bool, string) {
		cur := get(t, lt)
		p := cur.Status.Progress
		return p != nil && (p.Final || p.Requests > before.Requests && p.ObservedTime.After(before.ObservedTime.Time)),
			fmt.Sprintf("progress %+v, before the kill %+v", p, before)
	})
	end := waitState(t, lt, dilov1.StateFinished, 2*time.Minute)
	var served int64
	for _, n := range servedByTarget(t, ns) {
		served += n
	}
	if res := end.Status.Results; res.Requests != 4000 || served != res.Requests || end.Status.Progress.Requests != res.Requests {
		t.Errorf("results %d requests, progress %d, the target served %d; want 4000 of each", res.Requests, end.Status.Progress.Requests, served)
	}
	if _, sum := timelineOf(t, ns, fmt.Sprintf("restarted-timeline-%d", end.Status.Run)); sum > 4000 {
		t.Errorf("the timeline's windows hold %d requests, more than the 4000 sent: counted twice", sum)
	}
}

// timelineOf reads a run's timeline ConfigMap: how many windows it has, and the requests
// they hold in all.
func timelineOf(t *testing.T, ns, name string) (windows int, requests int64) {
	t.Helper()
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		t.Fatalf("the run's timeline: %v", err)
	}
	var tl struct {
		Requests []int64 `json:"requests"`
	}
	if err := json.Unmarshal([]byte(cm.Data["timeline.json"]), &tl); err != nil {
		t.Fatalf("timeline.json: %v\n%s", err, cm.Data["timeline.json"])
	}
	for _, n := range tl.Requests {
		requests += n
	}
	return len(tl.Requests), requests
}

// TestStartSkew runs 20 pods that open the start gate together and measures how far
// apart their first requests came, from the target's side (when each pod's first request
// reached it) and from the agents' (results.startSkew, by their clocks). The goal is
// startSkewGoal (measured 2.8-8.0 ms from the target on a 2-core node); the test fails
// past twice that, so that a loaded machine does not fail it but a regression does.
func TestStartSkew(t *testing.T) {
	const pods = 20
	ns := newNamespace(t)
	lt := openLoadTest(ns, "skew", pods, "/", 20*pods, 5)
	lt.Spec.Test.Concurrency = ptr[int32](2)
	// Twenty pods on a small node: each asks for little, so that all are scheduled.
	lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}}
	create(t, lt)
	end := waitState(t, lt, dilov1.StateFinished, 4*time.Minute)

	agents := map[string]string{} // pod IP -> pod name
	var list corev1.PodList
	if err := k8s.List(ctx(t), &list, client.InNamespace(ns), client.MatchingLabels(dilov1.RunLabels("skew", end.Status.Run))); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Items {
		agents[p.Status.PodIP] = p.Name
	}
	var first, last time.Time
	seen := 0
	for _, target := range podsOf(t, ns, "app=dilo-target") {
		raw, err := clientset.CoreV1().Pods(ns).ProxyGet("http", target, "8080", "/record/clients", nil).DoRaw(ctx(t))
		if err != nil {
			t.Fatalf("failed to ask the target %s when each client came: %v", target, err)
		}
		var clients map[string]time.Time
		if err := json.Unmarshal(raw, &clients); err != nil {
			t.Fatalf("target %s answered %q: %v", target, raw, err)
		}
		for ip, at := range clients {
			if _, ok := agents[ip]; !ok {
				continue
			}
			seen++
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
	}
	if seen != pods {
		t.Fatalf("the target saw %d of the %d agent pods (%v)", seen, pods, agents)
	}
	server := last.Sub(first)
	res := end.Status.Results
	if res == nil || res.StartSkew == nil {
		t.Fatalf("results without startSkew: %+v", res)
	}
	t.Logf("start skew across %d pods: %v seen by the target, %v by the agents' clocks", pods, server, res.StartSkew.Duration)
	if server > 2*startSkewGoal || res.StartSkew.Duration > 2*startSkewGoal {
		t.Errorf("start skew %v (target) and %v (agents); the goal is %v", server, res.StartSkew.Duration, startSkewGoal)
	}
}

// startSkewGoal is how far apart, at most, the pods of a run may send their first requests.
const startSkewGoal = 10 * time.Millisecond
