package plugin

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// The builders below make the LoadTests and statuses the tests feed the plugin: a
// status as DiLO's manager writes it at each step of a run.

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newLoadTest is a LoadTest of 2 replicas, generation 1, with no status, changed by mods.
func newLoadTest(name string, mods ...func(*dilov1.LoadTest)) *dilov1.LoadTest {
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1},
		Spec: dilov1.LoadTestSpec{
			Replicas: 2,
			Test:     dilov1.TestSpec{ServiceName: "target", Path: "/"},
		},
	}
	for _, m := range mods {
		m(lt)
	}
	return lt
}

func ms(f float64) metav1.Duration {
	return metav1.Duration{Duration: time.Duration(f * float64(time.Millisecond))}
}

// pending is run's status just after it started.
func pending(run int64) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		lt.Status.State, lt.Status.Run, lt.Status.ObservedGeneration = dilov1.StatePending, run, lt.Generation
		lt.Status.StartTime = &metav1.Time{Time: t0}
	}
}

// scheduledAt is the status of a LoadTest with a schedule before its first tick, at next.
func scheduledAt(next time.Time) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		lt.Status.State, lt.Status.ObservedGeneration = dilov1.StateScheduled, lt.Generation
		lt.Status.NextScheduleTime = &metav1.Time{Time: next}
	}
}

// executing is run's status once its pods exist, sending from t0+5s.
func executing(run int64) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		pending(run)(lt)
		lt.Status.State = dilov1.StateExecuting
		lt.Status.Active = 2
		lt.Status.Children = []string{dilov1.PodName(lt.Name, run, 0), dilov1.PodName(lt.Name, run, 1)}
		lt.Status.SendStartTime = &metav1.Time{Time: t0.Add(5 * time.Second)}
	}
}

// withProgress adds live progress after elapsed seconds of sending, with a window.
func withProgress(elapsed, requests int64) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		lt.Status.Progress = &dilov1.Progress{
			ObservedTime:   metav1.Time{Time: t0.Add(time.Duration(5+elapsed) * time.Second)},
			ElapsedSeconds: elapsed, Pods: 2, Requests: requests, ErrorRatio: "0.0000", RequestsPerSecond: "99.80",
			Latency: dilov1.Percentiles{P50: ms(2.1), P90: ms(6.5), P99: ms(12.3)},
			Window: &dilov1.ProgressWindow{Seconds: "2", Requests: 200, ErrorRatio: "0.0000", RequestsPerSecond: "100.00",
				Latency: dilov1.Percentiles{P50: ms(2), P90: ms(6), P99: ms(11.9)}},
		}
	}
}

// results is the results a run of 3000 requests, 3 of them failed, ends with.
func results() *dilov1.Results {
	return &dilov1.Results{
		Pods: 2, Requests: 3000, Errors: 3, ErrorRatio: "0.0010", BytesReceived: 612000, RequestsPerSecond: "100.05",
		Codes:         map[string]int64{"200": 2998, "503": 1},
		ErrorsByClass: map[string]int64{"timeout": 2},
		Latency:       dilov1.Latency{P50: ms(2.2), P90: ms(6.61), P99: ms(12.9), Max: ms(40.1)},
		StartSkew:     &metav1.Duration{Duration: 1200 * time.Microsecond},
	}
}

// finished is run's status once it finished with results().
func finished(run int64) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		executing(run)(lt)
		withProgress(30, 3000)(lt)
		lt.Status.Progress.Window, lt.Status.Progress.Final = nil, true
		lt.Status.State, lt.Status.Active, lt.Status.Succeeded = dilov1.StateFinished, 0, 2
		lt.Status.CompletionTime = &metav1.Time{Time: t0.Add(36 * time.Second)}
		lt.Status.Results = results()
		lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionComplete, Status: metav1.ConditionTrue,
			Reason: dilov1.ReasonFinished, Message: "every pod succeeded", LastTransitionTime: metav1.Time{Time: t0.Add(36 * time.Second)}}}
	}
}

// failedWith is run's status once it failed for reason, without results.
func failedWith(run int64, reason, message string) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) {
		pending(run)(lt)
		lt.Status.State = dilov1.StateFailed
		lt.Status.CompletionTime = &metav1.Time{Time: t0.Add(time.Second)}
		lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionFailed, Status: metav1.ConditionTrue,
			Reason: reason, Message: message, LastTransitionTime: metav1.Time{Time: t0.Add(time.Second)}}}
	}
}

// withHistory adds records to status.history.
func withHistory(records ...dilov1.RunRecord) func(*dilov1.LoadTest) {
	return func(lt *dilov1.LoadTest) { lt.Status.History = append(lt.Status.History, records...) }
}

// record is a history record of run, finished with 1000 requests at rps.
func record(run int64, rps string) dilov1.RunRecord {
	p50, p99 := ms(2), ms(10)
	return dilov1.RunRecord{Run: run, RunSpecHash: "h", State: dilov1.StateFinished, Reason: dilov1.ReasonFinished,
		StartTime: &metav1.Time{Time: t0}, CompletionTime: &metav1.Time{Time: t0.Add(20 * time.Second)},
		Requests: 1000, RequestsPerSecond: rps, ErrorRatio: "0", P50: &p50, P99: &p99, Timeline: dilov1.TimelineName("web", run)}
}

func ptrDur(d metav1.Duration) *time.Duration { return &d.Duration }
