package progress

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	var err error
	if env, err = testenv.Start(testenv.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// agents serves a snapshot per loopback address, as the test sets them.
type agents struct {
	port  int
	mu    sync.Mutex
	snaps map[string]podreport.Report // by IP
	fail  map[string]int              // by IP: the status to answer instead
	reads map[string]int
}

func newAgents(t *testing.T) *agents {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &agents{port: ln.Addr().(*net.TCPAddr).Port, snaps: map[string]podreport.Report{}, fail: map[string]int{}, reads: map[string]int{}}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *agents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip, _, _ := net.SplitHostPort(r.Host)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads[ip]++
	if code := a.fail[ip]; code != 0 {
		http.Error(w, "not today", code)
		return
	}
	snap, ok := a.snaps[ip]
	if !ok || r.URL.Path != "/snapshot" {
		http.NotFound(w, r)
		return
	}
	b, err := snap.EncodeFull()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

// set makes the agent at ip serve a snapshot of requests responses of latency each,
// taken at end.
func (a *agents) set(ip string, start, end time.Time, requests int64, latency time.Duration) {
	h := histogram.New(histogram.DefaultPrecision)
	for range requests {
		h.Record(latency)
	}
	rep := podreport.Report{Version: podreport.Version, Live: true, Start: start, End: end, FirstRequest: start,
		Requests: requests, Latency: h}
	if requests > 0 {
		rep.Codes = map[string]int64{"200": requests}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.snaps[ip] = rep
}

// running creates an executing LoadTest of n pods that started sending at start, its
// pods Running at 127.0.0.<i+1>.
func running(t *testing.T, ns, name string, n int32, start time.Time, th *dilov1.Thresholds) *dilov1.LoadTest {
	t.Helper()
	ctx := context.Background()
	lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: dilov1.LoadTestSpec{Replicas: n, Thresholds: th, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}}}
	if err := env.Client.Create(ctx, lt); err != nil {
		t.Fatal(err)
	}
	lt.Status = dilov1.LoadTestStatus{State: dilov1.StateExecuting, Run: 1, SendStartTime: &metav1.Time{Time: start}}
	if err := env.Client.Status().Update(ctx, lt); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-1-%d", name, i),
				Labels:          map[string]string{dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelLoadTest: name, dilov1.LabelRun: "1"},
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(lt, dilov1.GroupVersion.WithKind("LoadTest"))}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent"}}},
		}
		if err := env.Client.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("127.0.0.%d", i+1)}
		if err := env.Client.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	return lt
}

func newPoller(a *agents) (*Poller, *events.FakeRecorder) {
	rec := events.NewFakeRecorder(10)
	return &Poller{Client: env.Client, APIReader: env.Client, Recorder: rec, Port: a.port,
		TimelineEvery: time.Nanosecond, runs: map[types.NamespacedName]*followed{}}, rec
}

func namespace(t *testing.T) string {
	t.Helper()
	ns, err := env.CreateNamespace(context.Background(), "progress")
	if err != nil {
		t.Fatal(err)
	}
	// The poller follows every namespace's runs: leave none for the next test.
	t.Cleanup(func() {
		if err := env.Client.DeleteAllOf(context.Background(), &dilov1.LoadTest{}, client.InNamespace(ns)); err != nil {
			t.Error(err)
		}
	})
	return ns
}

func get(t *testing.T, lt *dilov1.LoadTest) *dilov1.LoadTest {
	t.Helper()
	cur := &dilov1.LoadTest{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(lt), cur); err != nil {
		t.Fatal(err)
	}
	return cur
}

// TestTickMergesPods: two pods' snapshots are merged into status.progress, the window is
// what changed between two reads, and LiveProgress is True.
func TestTickMergesPods(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	a := newAgents(t)
	start := time.Now().Add(-10 * time.Second).Truncate(time.Second) // as status.sendStartTime keeps it
	lt := running(t, ns, "merged", 2, start, nil)
	p, _ := newPoller(a)

	a.set("127.0.0.1", start, start.Add(4*time.Second), 100, 2*time.Millisecond)
	a.set("127.0.0.2", start, start.Add(4*time.Second), 300, 4*time.Millisecond)
	if n := p.Tick(ctx); n != 2 {
		t.Fatalf("Tick read %d pods, want 2", n)
	}
	got := get(t, lt).Status
	if pr := got.Progress; pr == nil || pr.Requests != 400 || pr.Pods != 2 || pr.ElapsedSeconds != 4 || pr.RequestsPerSecond != "100.00" {
		t.Fatalf("progress %+v; want 400 requests of 2 pods in 4 s", pr)
	}
	if c := meta.FindStatusCondition(got.Conditions, dilov1.ConditionLiveProgress); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("LiveProgress %+v; want True", c)
	}

	a.set("127.0.0.1", start, start.Add(6*time.Second), 150, 2*time.Millisecond)
	a.set("127.0.0.2", start, start.Add(6*time.Second), 400, 4*time.Millisecond)
	p.Tick(ctx)
	pr := get(t, lt).Status.Progress
	if pr.Requests != 550 || pr.Window == nil || pr.Window.Requests != 150 || pr.Window.Seconds != "2.00" {
		t.Errorf("progress %+v, window %+v; want 550 requests, the last 2 s holding 150", pr, pr.Window)
	}
}

// TestTickUnreachable: a pod whose snapshot cannot be read turns LiveProgress False,
// naming it, with one Warning Event; the others' figures stand.
func TestTickUnreachable(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	a := newAgents(t)
	start := time.Now().Add(-10 * time.Second)
	lt := running(t, ns, "walled", 2, start, nil)
	p, rec := newPoller(a)
	a.set("127.0.0.1", start, start.Add(2*time.Second), 10, time.Millisecond)
	a.fail["127.0.0.2"] = http.StatusForbidden
	p.Tick(ctx)
	p.Tick(ctx)
	c := meta.FindStatusCondition(get(t, lt).Status.Conditions, dilov1.ConditionLiveProgress)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != dilov1.ReasonPodsUnreachable || !strings.Contains(c.Message, "walled-1-1") {
		t.Fatalf("LiveProgress %+v; want False, PodsUnreachable, naming walled-1-1", c)
	}
	if n := len(rec.Events); n != 1 {
		t.Errorf("%d Events; want one: %q", n, <-rec.Events)
	} else if e := <-rec.Events; !strings.Contains(e, "LiveProgressUnavailable") {
		t.Errorf("Event %q; want LiveProgressUnavailable", e)
	}
}

// TestTickAborts: a live p99 threshold broken over the window sets status.stopping.
func TestTickAborts(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	a := newAgents(t)
	start := time.Now().Add(-time.Minute)
	th := &dilov1.Thresholds{MaxP99: &metav1.Duration{Duration: 10 * time.Millisecond},
		Abort: &dilov1.ThresholdAbort{WindowSeconds: ptr(int32(10))}}
	lt := running(t, ns, "slow", 1, start, th)
	p, _ := newPoller(a)
	for i, n := range []int64{100, 200, 300, 400} {
		a.set("127.0.0.1", start, start.Add(time.Duration(i+1)*3*time.Second), n, 50*time.Millisecond)
		p.Tick(ctx)
	}
	st := get(t, lt).Status.Stopping
	if st == nil || st.Reason != dilov1.ReasonThresholdBroken || !strings.Contains(st.Message, "p99") {
		t.Fatalf("stopping %+v; want ThresholdBroken on p99", st)
	}
}

// TestTimelineSurvivesRestart: a poller that starts again (the manager restarted) resumes
// from the run's timeline ConfigMap; when the run ends, the timeline's windows hold what
// the pods sent, once.
func TestTimelineSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	a := newAgents(t)
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	lt := running(t, ns, "resumed", 2, start, nil)
	p, _ := newPoller(a)
	for i, n := range []int64{100, 200} {
		at := start.Add(time.Duration(i+1) * 2 * time.Second)
		a.set("127.0.0.1", start, at, n, time.Millisecond)
		a.set("127.0.0.2", start, at, 2*n, time.Millisecond)
		p.Tick(ctx)
	}
	restarted, _ := newPoller(a)
	at := start.Add(10 * time.Second)
	a.set("127.0.0.1", start, at, 500, time.Millisecond)
	a.set("127.0.0.2", start, at, 1000, time.Millisecond)
	restarted.Tick(ctx)
	if pr := get(t, lt).Status.Progress; pr.Requests != 1500 {
		t.Errorf("progress after the restart: %d requests, want 1500", pr.Requests)
	}
	cur := get(t, lt)
	cur.Status.State = dilov1.StateFinished
	if err := env.Client.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	restarted.Tick(ctx) // the run ended: its timeline is written a last time
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: dilov1.TimelineName("resumed", 1)}, &cm); err != nil {
		t.Fatal(err)
	}
	if !metav1.IsControlledBy(&cm, lt) && len(cm.OwnerReferences) != 1 {
		t.Errorf("timeline owners %+v; want the LoadTest", cm.OwnerReferences)
	}
	var tl struct {
		Requests []int64 `json:"requests"`
	}
	if err := json.Unmarshal([]byte(cm.Data[KeyTimeline]), &tl); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, n := range tl.Requests {
		sum += n
	}
	if sum != 1500 || len(tl.Requests) != 3 {
		t.Errorf("timeline windows %v (%d requests); want 3 windows holding the 1500 sent", tl.Requests, sum)
	}
}

func ptr[T any](v T) *T { return &v }

func TestFollows(t *testing.T) {
	start := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	executing := func(change func(*dilov1.LoadTestStatus)) *dilov1.LoadTest {
		lt := &dilov1.LoadTest{Status: dilov1.LoadTestStatus{State: dilov1.StateExecuting, SendStartTime: &metav1.Time{Time: start}}}
		if change != nil {
			change(&lt.Status)
		}
		return lt
	}
	for _, tc := range []struct {
		name string
		lt   *dilov1.LoadTest
		now  time.Time
		want bool
	}{
		{"sending", executing(nil), start.Add(time.Second), true},
		{"at the start instant", executing(nil), start, true},
		{"before the start instant: the agents answer 503", executing(nil), start.Add(-time.Millisecond), false},
		{"gate not open", executing(func(st *dilov1.LoadTestStatus) { st.SendStartTime = nil }), start, false},
		{"final", executing(func(st *dilov1.LoadTestStatus) { st.Progress = &dilov1.Progress{Final: true} }), start.Add(time.Second), false},
		{"ended", executing(func(st *dilov1.LoadTestStatus) { st.State = dilov1.StateFinished }), start.Add(time.Second), false},
	} {
		if got := follows(tc.lt, tc.now); got != tc.want {
			t.Errorf("%s: follows = %v; want %v", tc.name, got, tc.want)
		}
	}
}
