package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func stopAt(v string) podOpt {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[dilov1.AnnotationStopAt] = v
	}
}

// TestTakeStopRequest: a new annotation value is recorded whatever the state, and
// stops a going run only; a value handled before, or none, does nothing; a run
// stopping already keeps its stop.
func TestTakeStopRequest(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	threshold := &dilov1.Stopping{Reason: dilov1.ReasonThresholdBroken, Message: "p99 over 1s", Time: metav1.Time{Time: now.Add(-time.Second)}}
	user := &dilov1.Stopping{Reason: dilov1.ReasonStopped, Message: `stopped by the LoadTest's example.org/stop annotation ("t1")`, Time: metav1.Time{Time: now}}
	for _, tc := range []struct {
		name         string
		annotation   *string
		state        dilov1.State
		handled      string
		stopping     *dilov1.Stopping
		wantHandled  string
		wantStopping *dilov1.Stopping
		wantIgnored  bool
	}{
		{name: "no annotation", state: dilov1.StateExecuting},
		{name: "empty: nothing", annotation: ptr.To(""), state: dilov1.StateExecuting},
		{name: "new, executing: stop", annotation: ptr.To("t1"), state: dilov1.StateExecuting, wantHandled: "t1", wantStopping: user},
		{name: "new, pending: stop", annotation: ptr.To("t1"), state: dilov1.StatePending, handled: "t0", wantHandled: "t1", wantStopping: user},
		{name: "handled before: nothing", annotation: ptr.To("t1"), state: dilov1.StateExecuting, handled: "t1", wantHandled: "t1"},
		{name: "new, finished: recorded, ignored", annotation: ptr.To("t1"), state: dilov1.StateFinished, wantHandled: "t1", wantIgnored: true},
		{name: "new, failed: recorded, ignored", annotation: ptr.To("t1"), state: dilov1.StateFailed, handled: "t0", wantHandled: "t1", wantIgnored: true},
		{name: "new, stopping already: the first stop stays", annotation: ptr.To("t1"), state: dilov1.StateExecuting, stopping: threshold,
			wantHandled: "t1", wantStopping: threshold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := &dilov1.LoadTest{Status: dilov1.LoadTestStatus{State: tc.state, LastHandledStop: tc.handled, Stopping: tc.stopping.DeepCopy()}}
			if tc.annotation != nil {
				lt.Annotations = map[string]string{dilov1.AnnotationStop: *tc.annotation}
			}
			s := &runScope{lt: lt, now: now}
			if _, err := (&LoadTestReconciler{}).takeStopRequest(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if lt.Status.LastHandledStop != tc.wantHandled || s.stopIgnored != tc.wantIgnored {
				t.Errorf("lastHandledStop %q, ignored %v; want %q, %v", lt.Status.LastHandledStop, s.stopIgnored, tc.wantHandled, tc.wantIgnored)
			}
			if diff := cmp.Diff(tc.wantStopping, lt.Status.Stopping); diff != "" {
				t.Errorf("stopping (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideStop(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 500, time.UTC)
	names := []string{"p-0", "p-1", "p-2"}
	stopping := &dilov1.Stopping{Reason: dilov1.ReasonStopped, Time: metav1.Time{Time: now}}
	sent := &metav1.Time{Time: now.Add(-time.Minute)}
	const gate = "2026-12-02T09:59:00Z"
	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
		sent *metav1.Time
		want stopDecision
	}{{
		name: "pending, no pod: at once",
		want: stopDecision{AtOnce: true},
	}, {
		name: "pods not all running, gate closed: at once",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodPending), testPod("p-2", corev1.PodRunning)},
		want: stopDecision{AtOnce: true},
	}, {
		name: "gate open, its instant not come: at once",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning), testPod("p-2", corev1.PodRunning)},
		sent: &metav1.Time{Time: now.Add(2 * time.Second)},
		want: stopDecision{AtOnce: true},
	}, {
		name: "sending: every running pod told stopping.time, to the nanosecond",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning), testPod("p-2", corev1.PodRunning)},
		sent: sent,
		want: stopDecision{At: "2026-12-02T10:00:00.0000005Z", Missing: names},
	}, {
		name: "sendStartTime not recorded, a pod's start-at says the gate opened",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning, startAt(gate)), testPod("p-2", corev1.PodRunning)},
		want: stopDecision{At: "2026-12-02T10:00:00.0000005Z", Missing: names},
	}, {
		name: "told halfway: the same instant on the rest, ended and deleted pods left alone",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning, stopAt("2026-12-02T09:59:59.25Z")),
			testPod("p-2", corev1.PodSucceeded)},
		sent: sent,
		want: stopDecision{At: "2026-12-02T09:59:59.25Z", Missing: []string{"p-0"}, Told: true},
	}, {
		name: "a pod being deleted is not told",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, deleting()), testPod("p-1", corev1.PodRunning), testPod("p-2", corev1.PodRunning)},
		sent: sent,
		want: stopDecision{At: "2026-12-02T10:00:00.0000005Z", Missing: []string{"p-1", "p-2"}},
	}, {
		name: "all told, running: nothing to do",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, stopAt("x")), testPod("p-1", corev1.PodRunning, stopAt("x")), testPod("p-2", corev1.PodRunning, stopAt("x"))},
		sent: sent,
		want: stopDecision{At: "x", Told: true},
	}, {
		name: "all ended before any was told: complete",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodSucceeded), testPod("p-1", corev1.PodSucceeded), testPod("p-2", corev1.PodSucceeded)},
		sent: sent,
		want: stopDecision{At: "2026-12-02T10:00:00.0000005Z", Complete: true},
	}, {
		name: "all ended after being told: not complete",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodSucceeded, stopAt("x")), testPod("p-1", corev1.PodSucceeded), testPod("p-2", corev1.PodSucceeded)},
		sent: sent,
		want: stopDecision{At: "x", Told: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := decideStop(stopObservation{Stopping: stopping, SendStart: tc.sent, Names: names, Pods: podMap(tc.pods...), Now: now})
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("decideStop (-want +got):\n%s", diff)
			}
			if !got.AtOnce {
				if _, err := time.Parse(time.RFC3339, got.At); err != nil && got.At != "x" {
					t.Errorf("stop-at %q is not RFC 3339: %v", got.At, err)
				}
			}
		})
	}
}

func TestStoppedFailure(t *testing.T) {
	stop := &dilov1.Stopping{Reason: dilov1.ReasonStopped, Message: `stopped by the LoadTest's example.org/stop annotation ("t1")`}
	res := &dilov1.Results{Requests: 1200, ErrorRatio: "0.0100", Latency: dilov1.Latency{P99: metav1.Duration{Duration: 20 * time.Millisecond}}}
	const totals = "1200 requests, error ratio 0.0100, p99 20ms"
	for _, tc := range []struct {
		name     string
		stop     *dilov1.Stopping
		res      *dilov1.Results
		f        *failure
		complete bool
		want     *failure
	}{
		{name: "partial results", stop: stop, res: res,
			want: &failure{dilov1.ReasonStopped, stop.Message + "; its pods sent " + totals + " before they stopped"}},
		{name: "a final threshold broken: not judged", stop: stop, res: res, f: &failure{dilov1.ReasonThresholdBroken, "p99 over 10ms"},
			want: &failure{dilov1.ReasonStopped, stop.Message + "; its pods sent " + totals + " before they stopped"}},
		{name: "a live threshold: its reason and message", res: res, f: &failure{dilov1.ReasonThresholdBroken, "final check"},
			stop: &dilov1.Stopping{Reason: dilov1.ReasonThresholdBroken, Message: "error ratio 0.2 over the last 30s exceeds maxErrorRatio 0.1"},
			want: &failure{dilov1.ReasonThresholdBroken, "error ratio 0.2 over the last 30s exceeds maxErrorRatio 0.1; its pods sent " + totals + " before they stopped"}},
		{name: "ended before the stop took effect", stop: stop, res: res, complete: true,
			want: &failure{dilov1.ReasonStopped, stop.Message + "; its pods had all ended before the stop took effect, so these are the whole run's results: " + totals}},
		{name: "unreadable results keep their reason", stop: stop, f: &failure{dilov1.ReasonResultUnreadable, "pod p-1: bad"},
			want: &failure{dilov1.ReasonResultUnreadable, "pod p-1: bad"}},
		{name: "TLS failures keep their reason", stop: stop, res: res, f: &failure{dilov1.ReasonTLSFailed, "x509"},
			want: &failure{dilov1.ReasonTLSFailed, "x509"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, stoppedFailure(tc.stop, tc.res, tc.f, tc.complete)); diff != "" {
				t.Errorf("stoppedFailure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunRecord(t *testing.T) {
	start, end := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC))
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	results := &dilov1.Results{Requests: 300, RequestsPerSecond: "100.0", ErrorRatio: "0.0500",
		Latency: dilov1.Latency{P50: metav1.Duration{Duration: 10 * time.Millisecond}, P90: metav1.Duration{Duration: 20 * time.Millisecond}, P99: metav1.Duration{Duration: 40 * time.Millisecond}}}
	progress := &dilov1.Progress{Requests: 120, RequestsPerSecond: "60.0", ErrorRatio: "0.0000",
		Latency: dilov1.Percentiles{P50: metav1.Duration{Duration: 5 * time.Millisecond}, P90: metav1.Duration{Duration: 7 * time.Millisecond}, P99: metav1.Duration{Duration: 9 * time.Millisecond}}}
	cond := func(typ, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: dilov1.ConditionQueued, Reason: dilov1.ReasonAdmitted}, {Type: typ, Status: metav1.ConditionTrue, Reason: reason}}
	}
	for _, tc := range []struct {
		name     string
		st       dilov1.LoadTestStatus
		timeline string
		want     dilov1.RunRecord
	}{{
		name: "finished, with results and a timeline",
		st: dilov1.LoadTestStatus{Run: 3, RunSpecHash: "h3", State: dilov1.StateFinished, StartTime: &start, CompletionTime: &end,
			Results: results, Progress: progress, Conditions: cond(dilov1.ConditionComplete, dilov1.ReasonFinished)},
		timeline: "lt-timeline-3",
		want: dilov1.RunRecord{Run: 3, RunSpecHash: "h3", StartTime: &start, CompletionTime: &end, State: dilov1.StateFinished,
			Reason: dilov1.ReasonFinished, Requests: 300, RequestsPerSecond: "100.0", ErrorRatio: "0.0500",
			P50: dur(10 * time.Millisecond), P90: dur(20 * time.Millisecond), P99: dur(40 * time.Millisecond), Timeline: "lt-timeline-3"},
	}, {
		name: "failed without results: its last progress",
		st: dilov1.LoadTestStatus{Run: 4, RunSpecHash: "h4", State: dilov1.StateFailed, StartTime: &start, CompletionTime: &end,
			Progress: progress, Conditions: cond(dilov1.ConditionFailed, dilov1.ReasonDeadlineExceeded)},
		want: dilov1.RunRecord{Run: 4, RunSpecHash: "h4", StartTime: &start, CompletionTime: &end, State: dilov1.StateFailed,
			Reason: dilov1.ReasonDeadlineExceeded, Requests: 120, RequestsPerSecond: "60.0", ErrorRatio: "0.0000",
			P50: dur(5 * time.Millisecond), P90: dur(7 * time.Millisecond), P99: dur(9 * time.Millisecond)},
	}, {
		name: "replaced while executing",
		st:   dilov1.LoadTestStatus{Run: 5, RunSpecHash: "h5", State: dilov1.StateExecuting, StartTime: &start, Progress: progress},
		want: dilov1.RunRecord{Run: 5, RunSpecHash: "h5", StartTime: &start, State: dilov1.StateExecuting, Reason: dilov1.ReasonReplaced,
			Requests: 120, RequestsPerSecond: "60.0", ErrorRatio: "0.0000", P50: dur(5 * time.Millisecond), P90: dur(7 * time.Millisecond), P99: dur(9 * time.Millisecond)},
	}, {
		name: "replaced while pending: no figures",
		st:   dilov1.LoadTestStatus{Run: 6, RunSpecHash: "h6", State: dilov1.StatePending, StartTime: &start},
		want: dilov1.RunRecord{Run: 6, RunSpecHash: "h6", StartTime: &start, State: dilov1.StatePending, Reason: dilov1.ReasonReplaced},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := runRecord(&tc.st, tc.timeline)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("runRecord (-want +got):\n%s", diff)
			}
			if got.StartTime == tc.st.StartTime {
				t.Errorf("the record shares the status' startTime")
			}
		})
	}
}

func TestRecordAndPruneHistory(t *testing.T) {
	rec := func(run int64, reason string) dilov1.RunRecord {
		return dilov1.RunRecord{Run: run, RunSpecHash: "h", State: dilov1.StateFinished, Reason: reason}
	}
	runs := func(h []dilov1.RunRecord) []string {
		var out []string
		for _, r := range h {
			out = append(out, r.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		history    []dilov1.RunRecord
		add        *dilov1.RunRecord
		limit      int
		want       []string
		wantPruned bool
	}{
		{name: "first record", add: ptr.To(rec(1, "a")), limit: 10, want: []string{"a"}},
		{name: "appended last", history: []dilov1.RunRecord{rec(1, "a"), rec(2, "b")}, add: ptr.To(rec(4, "c")), limit: 10, want: []string{"a", "b", "c"}},
		{name: "the same run again: replaced in place", history: []dilov1.RunRecord{rec(1, "a"), rec(2, "b")}, add: ptr.To(rec(1, "A")), limit: 10,
			want: []string{"A", "b"}},
		{name: "over the limit: the oldest pruned", history: []dilov1.RunRecord{rec(1, "a"), rec(2, "b"), rec(3, "c")}, add: ptr.To(rec(4, "d")), limit: 3,
			want: []string{"b", "c", "d"}, wantPruned: true},
		{name: "limit lowered", history: []dilov1.RunRecord{rec(1, "a"), rec(2, "b"), rec(3, "c")}, limit: 1, want: []string{"c"}, wantPruned: true},
		{name: "limit 0: none kept", history: []dilov1.RunRecord{rec(1, "a")}, add: ptr.To(rec(2, "b")), limit: 0, wantPruned: true},
		{name: "at the limit: nothing pruned", history: []dilov1.RunRecord{rec(1, "a"), rec(2, "b")}, limit: 2, want: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runs(tc.history)
			h := tc.history
			if tc.add != nil {
				h = recordRun(h, *tc.add)
			}
			got, pruned := pruneHistory(h, tc.limit)
			if diff := cmp.Diff(tc.want, runs(got)); diff != "" || pruned != tc.wantPruned {
				t.Errorf("history (-want +got):\n%s; pruned %v, want %v", diff, pruned, tc.wantPruned)
			}
			if diff := cmp.Diff(before, runs(tc.history)); diff != "" {
				t.Errorf("the history given changed (-before +after):\n%s", diff)
			}
		})
	}
	if got := historyLimit(&dilov1.LoadTestSpec{}); got != dilov1.DefaultHistoryLimit {
		t.Errorf("historyLimit unset = %d, want %d", got, dilov1.DefaultHistoryLimit)
	}
	if got := historyLimit(&dilov1.LoadTestSpec{HistoryLimit: ptr.To[int32](0)}); got != 0 {
		t.Errorf("historyLimit 0 = %d, want 0", got)
	}
}

func TestStaleTimelines(t *testing.T) {
	lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "lt", UID: "lt-uid"},
		Status: dilov1.LoadTestStatus{Run: 7, History: []dilov1.RunRecord{{Run: 3}, {Run: 5}}}}
	cm := func(run, owner string) metav1.PartialObjectMetadata {
		m := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "lt-timeline-" + run, Labels: map[string]string{dilov1.LabelRun: run}}}
		if owner != "" {
			m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.org/v1", Kind: "LoadTest", Name: "lt", UID: types.UID(owner)}}
		}
		return m
	}
	got := staleTimelines(lt, []metav1.PartialObjectMetadata{
		cm("1", "lt-uid"), cm("3", "lt-uid"), cm("5", "lt-uid"), cm("6", "lt-uid"), cm("7", "lt-uid"),
		cm("2", "other-uid"), cm("4", ""), cm("x", "lt-uid"),
	})
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"lt-timeline-1", "lt-timeline-6"}, names); diff != "" {
		t.Errorf("stale timelines (-want +got):\n%s", diff)
	}
}

func TestFinalProgress(t *testing.T) {
	sent := &metav1.Time{Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	end := sent.Add(90*time.Second + 700*time.Millisecond)
	res := &dilov1.Results{Pods: 3, Requests: 300, Errors: 15, ErrorRatio: "0.0500", RequestsPerSecond: "3.3",
		Latency: dilov1.Latency{P50: metav1.Duration{Duration: time.Millisecond}, P90: metav1.Duration{Duration: 2 * time.Millisecond},
			P99: metav1.Duration{Duration: 3 * time.Millisecond}, Max: metav1.Duration{Duration: time.Second}}}
	want := &dilov1.Progress{ObservedTime: metav1.Time{Time: end}, ElapsedSeconds: 90, Pods: 3, Requests: 300, Errors: 15,
		ErrorRatio: "0.0500", RequestsPerSecond: "3.3", Final: true,
		Latency: dilov1.Percentiles{P50: metav1.Duration{Duration: time.Millisecond}, P90: metav1.Duration{Duration: 2 * time.Millisecond}, P99: metav1.Duration{Duration: 3 * time.Millisecond}}}
	if diff := cmp.Diff(want, finalProgress(res, sent, end)); diff != "" {
		t.Errorf("finalProgress (-want +got):\n%s", diff)
	}
	want.ElapsedSeconds = 0
	if diff := cmp.Diff(want, finalProgress(res, nil, end)); diff != "" {
		t.Errorf("finalProgress without sendStartTime (-want +got):\n%s", diff)
	}
}

// TestGateOpened: the StartGateOpened Event belongs to the reconcile that recorded
// status.sendStartTime, and to no later one.
func TestGateOpened(t *testing.T) {
	sent := &metav1.Time{Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	scope := func(before, after *metav1.Time, newRun bool) *runScope {
		return &runScope{newRun: newRun,
			before: &dilov1.LoadTest{Status: dilov1.LoadTestStatus{SendStartTime: before}},
			lt:     &dilov1.LoadTest{Status: dilov1.LoadTestStatus{SendStartTime: after}}}
	}
	for _, tc := range []struct {
		name string
		s    *runScope
		want bool
	}{
		{"not open", scope(nil, nil, false), false},
		{"opened now", scope(nil, sent, false), true},
		{"open already: a later reconcile", scope(sent, sent, false), false},
		{"a new run: its gate is not open", scope(sent, nil, true), false},
	} {
		if got := gateOpened(tc.s); got != tc.want {
			t.Errorf("%s: gateOpened = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestUserStop: the message names the annotation and its value, bounded.
func TestUserStop(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	got := userStop("2026-12-02T10:00:00+00:00", now)
	want := &dilov1.Stopping{Reason: dilov1.ReasonStopped, Time: metav1.Time{Time: now},
		Message: `stopped by the LoadTest's example.org/stop annotation ("2026-12-02T10:00:00+00:00")`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("userStop (-want +got):\n%s", diff)
	}
	if long := userStop(strings.Repeat("x", 5000), now); len(long.Message) > 1024 {
		t.Errorf("message of %d bytes, want at most 1024", len(long.Message))
	}
}
