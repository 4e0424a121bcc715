package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/progress"
	"github.com/dilo-operator/dilo/internal/report/live"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestWatchFinished follows a run from before the manager saw it to its end: one line
// per status, the verdict, exit code 0.
func TestWatchFinished(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	r := start(t, ns, "watch", "web")
	r.printed(t, "waiting for DiLO's manager to start a run (the LoadTest has no status yet)")
	setStatus(t, ns, "web", pending(1))
	r.printed(t, "       pending    starting 2 pods (0 active)")
	setStatus(t, ns, "web", executing(1), withProgress(23, 2310))
	r.printed(t, "  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)")
	setStatus(t, ns, "web", finished(1))
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	want := []string{
		"waiting for DiLO's manager to start a run (the LoadTest has no status yet)",
		`run 1 of loadtest "web" in namespace "` + ns + `" (Ctrl-C stops watching, not the run):`,
		"       pending    starting 2 pods (0 active)",
		"  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)",
		"  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms",
		`finished: run 1 of loadtest "web"`,
		"results: 3000 requests, 3 errors (ratio 0.0010), 100.05 rps, p50 2.2ms, p90 6.61ms, p99 12.9ms, max 40.1ms",
		"`kubectl dilo results web -n " + ns + "` shows them in full (codes, errors by class, by request)",
	}
	if diff := cmp.Diff(want, lines(r.stdout.String())); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

// TestWatchFailed follows a run that fails: the reason and message, exit code 1.
func TestWatchFailed(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", executing(1), withProgress(2, 200))
	r := start(t, ns, "watch", "web")
	r.printed(t, "   2s  executing  requests 200  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)")
	setStatus(t, ns, "web", failedWith(1, dilov1.ReasonThresholdBroken, "p99 812ms exceeds maxP99 500ms"))
	if code := r.wait(t); code != exitRunFailed {
		t.Fatalf("exit code %d, want 1; stdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	r.printed(t, `failed: run 1 of loadtest "web", reason ThresholdBroken: p99 812ms exceeds maxP99 500ms`)
	if r.stderr.String() != "" {
		t.Errorf("stderr %q, want none: the verdict says it all", r.stderr.String())
	}
}

// TestWatchErrors checks a watch that ends before the run does: no such LoadTest and
// --timeout (exit code 2), Ctrl-C (130).
func TestWatchErrors(t *testing.T) {
	_, ns := cluster(t)
	_, stderr, code := dilo(t, ns, "watch", "missing")
	want := `error: loadtest "missing" not found in namespace "` + ns + `": ` + "`kubectl get ld -n " + ns + "` lists the LoadTests there\n"
	if code != exitError || stderr != want {
		t.Errorf("watch missing: exit code %d, stderr %q; want 2, %q", code, stderr, want)
	}

	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", executing(1))
	_, stderr, code = dilo(t, ns, "watch", "web", "--timeout", "500ms")
	want = `error: timed out after 500ms: run 1 of loadtest "web" is executing; it goes on (` + "`kubectl dilo stop web` stops it)\n"
	if code != exitError || stderr != want {
		t.Errorf("watch --timeout: exit code %d, stderr %q; want 2, %q", code, stderr, want)
	}

	r := start(t, ns, "watch", "web")
	r.printed(t, "       executing  sending from 12:00:05Z, no live figures yet")
	r.interrupt()
	want = `stopped watching: run 1 of loadtest "web" is executing; it goes on (` + "`kubectl dilo stop web` stops it)\n"
	if code := r.wait(t); code != exitInterrupted || r.stderr.String() != want {
		t.Errorf("watch interrupted: exit code %d, stderr %q; want 130, %q", code, r.stderr.String(), want)
	}

	// Interrupted before the watch began: while reading the LoadTest.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut strings.Builder
	code = Main(ctx, []string{"watch", "web", "--kubeconfig", kubeconfig, "-n", ns}, nil, &out, &errOut)
	if code != exitInterrupted || errOut.String() != "interrupted\n" {
		t.Errorf("watch interrupted at once: exit code %d, stderr %q; want 130, %q", code, errOut.String(), "interrupted\n")
	}
}

// TestRun applies a file (creating the LoadTest with kubectl-dilo's field manager),
// follows its run, then applies it unchanged (no new run: the current one, already
// ended) and changed (a new generation).
func TestRun(t *testing.T) {
	_, ns := cluster(t)
	file := filepath.Join(t.TempDir(), "web.yaml")
	manifest := "apiVersion: example.org/v1\nkind: LoadTest\nmetadata:\n  name: web\nspec:\n  replicas: 2\n" +
		"  test:\n    serviceName: target\n    path: /\n"
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, ns, "run", "-f", file)
	r.printed(t, `loadtest "web" in namespace "`+ns+`" created`)
	lt := &dilov1.LoadTest{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web"}, lt); err != nil {
		t.Fatal(err)
	}
	if len(lt.ManagedFields) == 0 || lt.ManagedFields[0].Manager != "kubectl-dilo" || lt.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("managedFields %+v, want an Apply by kubectl-dilo", lt.ManagedFields)
	}
	if lt.Spec.Replicas != 2 || lt.Spec.Test.ServiceName != "target" {
		t.Errorf("spec %+v, want the file's", lt.Spec)
	}
	r.printed(t, "waiting for DiLO's manager to start a run (the LoadTest has no status yet)")
	setStatus(t, ns, "web", finished(1))
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit code %d, want 0; stdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	r.printed(t, `finished: run 1 of loadtest "web"`)

	stdout, stderr, code := dilo(t, ns, "run", "-f", file)
	if code != exitOK {
		t.Fatalf("run -f again: exit code %d, stderr %s", code, stderr)
	}
	if want := `loadtest "web" in namespace "` + ns + `" unchanged: the same spec starts no new run; following its current run, 1 (finished). ` +
		"`kubectl dilo rerun web` starts a new run of the same spec"; lines(stdout)[0] != want {
		t.Errorf("run -f again said %q, want %q", lines(stdout)[0], want)
	}
	if !strings.Contains(stdout, `finished: run 1 of loadtest "web"`) {
		t.Errorf("run -f again did not print the current run's verdict:\n%s", stdout)
	}

	if err := os.WriteFile(file, []byte(strings.Replace(manifest, "replicas: 2", "replicas: 3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = dilo(t, ns, "run", "-f", file, "--watch=false")
	if want := `loadtest "web" in namespace "` + ns + "\" configured (generation 2)\n"; code != exitOK || stdout != want {
		t.Errorf("run -f changed: exit code %d, stdout %q, stderr %q; want 0, %q", code, stdout, stderr, want)
	}
}

// TestStop checks stop sets example.org/stop to now, and leaves an ended run alone;
// with --wait it follows the run to its (failed) end.
func TestStop(t *testing.T) {
	_, ns := cluster(t)
	inZone(t, time.FixedZone("UTC+1", 3600))
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", executing(1))
	before := time.Now()
	stdout, stderr, code := dilo(t, ns, "stop", "web")
	after := time.Now()
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %s", code, stderr)
	}
	v := annotation(t, ns, "web", dilov1.AnnotationStop)
	inWindow(t, v, time.RFC3339, before, after, time.Second)
	if !strings.HasPrefix(stdout, `asked run 1 of loadtest "web" (executing) to stop: example.org/stop=`+v+"\n") {
		t.Errorf("stdout %q", stdout)
	}

	// --wait: the manager ends the run failed, reason Stopped, with partial results.
	r := start(t, ns, "stop", "web", "--wait")
	r.printed(t, "       executing  sending from 12:00:05Z, no live figures yet")
	setStatus(t, ns, "web", finished(1), func(lt *dilov1.LoadTest) {
		lt.Status.State = dilov1.StateFailed
		lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionFailed, Status: metav1.ConditionTrue, Reason: dilov1.ReasonStopped,
			Message: "stopped by example.org/stop=" + v, LastTransitionTime: metav1.Time{Time: t0}}}
	})
	if code := r.wait(t); code != exitRunFailed {
		t.Fatalf("stop --wait: exit code %d, want 1; stderr:\n%s", code, r.stderr.String())
	}
	r.printed(t, `failed: run 1 of loadtest "web", reason Stopped: stopped by example.org/stop=`+v)

	// An ended run: nothing to stop, nothing written.
	v = annotation(t, ns, "web", dilov1.AnnotationStop)
	setStatus(t, ns, "web", finished(1))
	stdout, _, code = dilo(t, ns, "stop", "web")
	if want := "run 1 of loadtest \"web\" already ended (finished): nothing to stop\n"; code != exitOK || stdout != want {
		t.Errorf("stop of an ended run: exit code %d, stdout %q; want 0, %q", code, stdout, want)
	}
	if got := annotation(t, ns, "web", dilov1.AnnotationStop); got != v {
		t.Errorf("stop of an ended run changed the annotation from %q to %q", v, got)
	}
}

// TestRerun checks rerun sets example.org/rerun to now, with nanoseconds, and with
// --watch follows the run the manager starts for that value, not the one before.
func TestRerun(t *testing.T) {
	_, ns := cluster(t)
	inZone(t, time.FixedZone("UTC+1", 3600))
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", finished(1))
	before := time.Now()
	stdout, stderr, code := dilo(t, ns, "rerun", "web")
	after := time.Now()
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %s", code, stderr)
	}
	v := annotation(t, ns, "web", dilov1.AnnotationRerun)
	inWindow(t, v, time.RFC3339Nano, before, after, time.Nanosecond)
	if !strings.HasPrefix(stdout, `asked for a new run of loadtest "web", replacing run 1 (finished): example.org/rerun=`+v+"\n") {
		t.Errorf("stdout %q", stdout)
	}

	r := start(t, ns, "rerun", "web", "--watch")
	var v2 string
	eventually(t, "rerun --watch sets a new value", func() bool {
		v2 = annotation(t, ns, "web", dilov1.AnnotationRerun)
		return v2 != v
	})
	r.printed(t, "waiting for DiLO's manager to start a new run for example.org/rerun="+v2+" (run 1 is current)")
	handled := func(v string) func(*dilov1.LoadTest) {
		return func(lt *dilov1.LoadTest) { lt.Status.LastHandledRerun = v }
	}
	// The value before handled, then this one with the old run still current: neither is
	// the new run.
	setStatus(t, ns, "web", finished(1), handled(v))
	if lt := setStatus(t, ns, "web", finished(1), handled(v2)); lt.Status.LastHandledRerun != v2 {
		t.Fatal("the API server dropped status.lastHandledRerun: config/crd/bases lacks it; run `make generate`")
	}
	setStatus(t, ns, "web", pending(2), handled(v2))
	r.printed(t, `run 2 of loadtest "web" in namespace "`+ns+`" (Ctrl-C stops watching, not the run):`)
	setStatus(t, ns, "web", finished(2), handled(v2))
	if code := r.wait(t); code != exitOK {
		t.Fatalf("rerun --watch: exit code %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	r.printed(t, `finished: run 2 of loadtest "web"`)
	if strings.Contains(r.stdout.String(), "run 1 of") {
		t.Errorf("rerun --watch followed the old run:\n%s", r.stdout.String())
	}
}

// eventually waits until cond holds, failing the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestResults checks -o json and -o yaml give back status.results as the API holds
// them, --run a history record, and the table its figures.
func TestResults(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", executing(2), withProgress(23, 2310))
	_, stderr, code := dilo(t, ns, "results", "web")
	if code != exitError || !strings.Contains(stderr, `run 2 of loadtest "web" in namespace "`+ns+`" has no results yet: it is executing`) {
		t.Errorf("results of a run going: exit code %d, stderr %q", code, stderr)
	}

	lt := setStatus(t, ns, "web", finished(2), withHistory(record(1, "50.00")), func(lt *dilov1.LoadTest) {
		lt.Status.Results.ByRequest = []dilov1.RequestResults{{Name: "get", Requests: 3000, Errors: 3, ErrorRatio: "0.0010",
			Codes: map[string]int64{"200": 2998}, ErrorsByClass: map[string]int64{"timeout": 2}, Latency: lt.Status.Results.Latency}}
	})
	for _, output := range []string{"json", "yaml"} {
		stdout, stderr, code := dilo(t, ns, "results", "web", "-o", output)
		if code != exitOK {
			t.Fatalf("-o %s: exit code %d, stderr %s", output, code, stderr)
		}
		var got dilov1.Results
		if err := yaml.UnmarshalStrict([]byte(stdout), &got); err != nil {
			t.Fatalf("-o %s: %v\n%s", output, err, stdout)
		}
		if diff := cmp.Diff(*lt.Status.Results, got); diff != "" {
			t.Errorf("-o %s (-status.results +printed):\n%s", output, diff)
		}
	}

	stdout, stderr, code := dilo(t, ns, "results", "web", "--run", "1", "-o", "json")
	var rec dilov1.RunRecord
	if code != exitOK || json.Unmarshal([]byte(stdout), &rec) != nil {
		t.Fatalf("--run 1: exit code %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	if diff := cmp.Diff(lt.Status.History[0], rec); diff != "" {
		t.Errorf("--run 1 -o json (-status.history[0] +printed):\n%s", diff)
	}

	stdout, _, code = dilo(t, ns, "results", "web")
	if code != exitOK || !strings.Contains(stdout, "\nRequests:         3000\n") || !strings.Contains(stdout, "\nget      3000") {
		t.Errorf("results table: exit code %d:\n%s", code, stdout)
	}

	_, stderr, code = dilo(t, ns, "results", "web", "--run", "7")
	if want := `error: loadtest "web" in namespace "` + ns + `" has no run 7: status.history has runs 1; the current run is 2` + "\n"; code != exitError || stderr != want {
		t.Errorf("--run 7: exit code %d, stderr %q; want 2, %q", code, stderr, want)
	}
}

// TestCompare compares a history record with the current run, in JSON.
func TestCompare(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", finished(2), withHistory(record(1, "50.00")))
	stdout, stderr, code := dilo(t, ns, "compare", "web:1", "web", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %s", code, stderr)
	}
	var got comparison
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var metrics []string
	for _, r := range got.Rows {
		metrics = append(metrics, r.Metric)
	}
	if diff := cmp.Diff([]string{"requests", "requests/s", "error ratio", "p50", "p99"}, metrics); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if got.A.Run != 1 || got.A.Current || got.B.Run != 2 || !got.B.Current || got.Rows[0].ChangePercent == nil || *got.Rows[0].ChangePercent != 200 {
		t.Errorf("comparison %+v", got)
	}
}

// TestLogs checks logs selects the run's pods by its labels: with no pods it says
// why; with pods of two runs it reads the current run's alone. envtest has no kubelet:
// their pods are bound to a node that does not exist, whose logs the API server
// cannot fetch, so each read fails naming its pod.
func TestLogs(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", executing(1))
	_, stderr, code := dilo(t, ns, "logs", "web")
	if code != exitError || !strings.Contains(stderr, `run 1 of loadtest "web" in namespace "`+ns+`" has no pods`) {
		t.Errorf("no pods: exit code %d, stderr %q", code, stderr)
	}

	for _, name := range []string{"web-1-0", "web-1-1", "web-2-0"} {
		run, replica, _ := strings.Cut(strings.TrimPrefix(name, "web-"), "-")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: dilov1.RunLabels("web", map[string]int64{"1": 1, "2": 2}[run])},
			Spec:       corev1.PodSpec{NodeName: "gone", Containers: []corev1.Container{{Name: "agent", Image: "registry.example/dilo:test"}}},
		}
		pod.Labels[dilov1.LabelReplica] = replica
		if err := env.Client.Create(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, code = dilo(t, ns, "logs", "web")
	got := lines(stderr)
	if code != exitError || len(got) != 3 || !strings.HasPrefix(got[0], "error: [web-1-0] ") || !strings.HasPrefix(got[1], "error: [web-1-1] ") ||
		got[2] != "error: could not read the logs of 2 of 2 pods" {
		t.Errorf("exit code %d, stderr %q; want 2 and an error about web-1-0 and web-1-1 each", code, stderr)
	}
}

// TestRunSeveral applies a file of two LoadTests and follows both runs at once: each
// line prefixed with its LoadTest's name, the exit code the worst of the two.
func TestRunSeveral(t *testing.T) {
	_, ns := cluster(t)
	file := filepath.Join(t.TempDir(), "two.yaml")
	doc := "apiVersion: example.org/v1\nkind: LoadTest\nmetadata:\n  name: %s\nspec:\n  replicas: 2\n  test:\n    serviceName: target\n    path: /\n"
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(doc, "%s", "a")+"---\n"+strings.ReplaceAll(doc, "%s", "b")), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, ns, "run", "-f", file)
	r.printed(t, "[b] waiting for DiLO's manager to start a run (the LoadTest has no status yet)")
	setStatus(t, ns, "a", failedWith(1, dilov1.ReasonServiceNotFound, "no Service target"))
	r.printed(t, `[a] failed: run 1 of loadtest "a", reason ServiceNotFound: no Service target`)
	setStatus(t, ns, "b", finished(1))
	if code := r.wait(t); code != exitRunFailed {
		t.Fatalf("exit code %d, want 1; stdout:\n%s\nstderr:\n%s", code, r.stdout.String(), r.stderr.String())
	}
	r.printed(t, `[b] finished: run 1 of loadtest "b"`)
	for _, l := range lines(r.stdout.String())[2:] {
		if !strings.HasPrefix(l, "[a] ") && !strings.HasPrefix(l, "[b] ") {
			t.Errorf("line %q has no prefix", l)
		}
	}
}

// inZone makes loc the local time zone for the test, so that an instant written in
// local time rather than UTC shows.
func inZone(t *testing.T, loc *time.Location) {
	local := time.Local
	time.Local = loc
	t.Cleanup(func() { time.Local = local })
}

// TestReport writes the page of a finished run, with its timeline ConfigMap and pods
// whose logs cannot be read (envtest has no kubelet: each is left out with a warning),
// then of a run of its history to stdout, then compares both as one page.
func TestReport(t *testing.T) {
	_, ns := cluster(t)
	createLoadTest(t, ns, "web")
	setStatus(t, ns, "web", finished(2), withHistory(record(1, "50.00")), func(lt *dilov1.LoadTest) {
		lt.Status.RunSpecHash = "h" // record(1)'s: run 1 ran the current spec
	})
	tl := live.Timeline{SendStart: t0.Add(5 * time.Second), Stride: 1, Entries: []live.Entry{
		{Start: 0, Length: 2 * time.Second, Observations: 1, Requests: 200, P50: 2 * time.Millisecond, P90: 6 * time.Millisecond, P99: 12 * time.Millisecond},
		{Start: 2 * time.Second, Length: 2 * time.Second, Observations: 1, Requests: 201, Errors: 1, P50: 2 * time.Millisecond, P90: 7 * time.Millisecond, P99: 13 * time.Millisecond},
	}}
	doc, err := tl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: dilov1.TimelineName("web", 2), Labels: dilov1.RunLabels("web", 2)},
		Data:       map[string]string{progress.KeyTimeline: string(doc)},
	}); err != nil {
		t.Fatal(err)
	}
	for replica := range 2 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: dilov1.PodName("web", 2, int32(replica)), Namespace: ns, Labels: dilov1.RunLabels("web", 2)},
			Spec:       corev1.PodSpec{NodeName: "gone", Containers: []corev1.Container{{Name: "agent", Image: "registry.example/dilo:test"}}},
		}
		pod.Labels[dilov1.LabelReplica] = strconv.Itoa(replica)
		if err := env.Client.Create(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
	}

	file := filepath.Join(t.TempDir(), "web-2.html")
	stdout, stderr, code := dilo(t, ns, "report", "web", "-o", file)
	if code != exitOK || stdout != "" {
		t.Fatalf("report: exit code %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	got := lines(stderr)
	want := "wrote " + file + ": run 2 of " + ns + "/web, finished: results, timeline, spec, no latency spectrum nor pods (no result document could be read from the logs of its 2 pods)"
	if len(got) != 3 || !strings.HasPrefix(got[0], "warning: pod web-2-0 left out of the report: its log could not be read: ") ||
		!strings.HasPrefix(got[1], "warning: pod web-2-1 left out of the report: its log could not be read: ") || got[2] != want {
		t.Errorf("report: stderr\n%s\nwant a warning for web-2-0 and web-2-1, then %q", stderr, want)
	}
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<dd data-field="requests">3000</dd>`, `<dd data-field="requestsPerSecond">100.05</dd>`, `<dd data-field="errorRatio">0.0010</dd>`,
		`<dd data-field="p99">12.9ms</dd>`, `<dd data-field="max">40.1ms</dd>`, `data-field="reason">Finished<`,
		`id="timeline-plot"`, "<svg", "serviceName: target",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	stdout, stderr, code = dilo(t, ns, "report", "web:1")
	want = "wrote stdout: run 1 of " + ns + "/web, finished: no results (a run of status.history keeps a summary only), no timeline, spec, " +
		"no latency spectrum nor pods (the run's pods are gone: " + podsGone + ")\n"
	if code != exitOK || stderr != want {
		t.Errorf("report web:1: exit code %d, stderr %q; want 0, %q", code, stderr, want)
	}
	if !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.Contains(stdout, "# status.history keeps no spec: this is the LoadTest&#39;s current spec, which run 1") {
		t.Errorf("report web:1 printed no page of run 1 with the current spec:\n%.2000s", stdout)
	}

	file = filepath.Join(t.TempDir(), "compare.html")
	stdout, stderr, code = dilo(t, ns, "compare", "web:1", "web", "-o", "html", "--output-file", file)
	if code != exitOK || stdout != "" || !strings.HasSuffix(stderr, "wrote "+file+": A run 1 of "+ns+"/web, finished: no results (a run of status.history keeps a summary only), "+
		"no latency spectrum nor pods (the run's pods are gone: "+podsGone+"); B run 2 of "+ns+"/web, finished: results, "+
		"no latency spectrum nor pods (no result document could be read from the logs of its 2 pods)\n") {
		t.Fatalf("compare -o html: exit code %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	page, err = os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>web run 1 vs web run 2 — DiLO report</title>", `<td data-run="b">3000</td>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the comparison lacks %s", want)
		}
	}

	_, stderr, code = dilo(t, ns, "report", "missing")
	if want := `error: loadtest "missing" not found in namespace "` + ns + `": ` + "`kubectl get ld -n " + ns + "` lists the LoadTests there\n"; code != exitError || stderr != want {
		t.Errorf("report missing: exit code %d, stderr %q; want 2, %q", code, stderr, want)
	}
	_, stderr, code = dilo(t, ns, "report", "web:1", "-o", filepath.Join(t.TempDir(), "no", "such", "dir.html"))
	if code != exitError || !strings.HasPrefix(stderr, "error: failed to write the page: open ") {
		t.Errorf("report to a missing directory: exit code %d, stderr %q", code, stderr)
	}
}
