package plugin

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func TestStatusLine(t *testing.T) {
	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		want string
	}{{
		name: "pending",
		lt:   newLoadTest("web", pending(1)),
		want: "       pending    starting 2 pods (0 active)",
	}, {
		name: "queued",
		lt: newLoadTest("web", pending(1), func(lt *dilov1.LoadTest) {
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionQueued, Status: metav1.ConditionTrue, Reason: dilov1.ReasonQueued, Message: "behind ns/a"}}
		}),
		want: "       pending    queued",
	}, {
		name: "executing, before the synchronised start",
		lt:   newLoadTest("web", executing(1), func(lt *dilov1.LoadTest) { lt.Status.SendStartTime = nil }),
		want: "       executing  2 pods, waiting for all to run (synchronised start)",
	}, {
		name: "sending, no live figures yet",
		lt:   newLoadTest("web", executing(1)),
		want: "       executing  sending from 12:00:05Z, no live figures yet",
	}, {
		name: "live figures",
		lt:   newLoadTest("web", executing(1), withProgress(23, 2310)),
		want: "  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)",
	}, {
		name: "live figures without a window",
		lt:   newLoadTest("web", executing(1), withProgress(83, 8300), func(lt *dilov1.LoadTest) { lt.Status.Progress.Window = nil }),
		want: "1m23s  executing  requests 8300  rps 99.80  errors 0.0000  p99 12.3ms",
	}, {
		name: "latency rounded to three digits",
		lt: newLoadTest("web", executing(1), withProgress(2, 200), func(lt *dilov1.LoadTest) {
			lt.Status.Progress.Latency.P99, lt.Status.Progress.Window.Latency.P99 = ms(23.712), ms(0.8504)
		}),
		want: "   2s  executing  requests 200  rps 99.80  errors 0.0000  p99 23.8ms (window 851µs)",
	}, {
		name: "live figures unavailable",
		lt: newLoadTest("web", executing(1), withProgress(23, 2310), func(lt *dilov1.LoadTest) {
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionLiveProgress, Status: metav1.ConditionFalse, Reason: dilov1.ReasonPodsUnreachable}}
		}),
		want: "  23s  executing  no live figures",
	}, {
		name: "stopping",
		lt: newLoadTest("web", executing(1), withProgress(10, 1000), func(lt *dilov1.LoadTest) {
			lt.Status.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonStopped, Message: "asked"}
		}),
		want: "  10s  stopping   requests 1000  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)",
	}, {
		name: "finished: the results' figures",
		lt:   newLoadTest("web", finished(1)),
		want: "  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms",
	}, {
		name: "failed before sending",
		lt:   newLoadTest("web", failedWith(1, dilov1.ReasonServiceNotFound, "no Service target")),
		want: "       failed     no requests sent",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, statusLine(tc.lt)); diff != "" {
				t.Errorf("statusLine (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoteOf(t *testing.T) {
	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		want string
	}{{
		name: "none",
		lt:   newLoadTest("web", executing(1), withProgress(2, 200)),
	}, {
		name: "queued",
		lt: newLoadTest("web", pending(1), func(lt *dilov1.LoadTest) {
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionQueued, Status: metav1.ConditionTrue, Message: "running: ns/a; ahead: ns/b"}}
		}),
		want: "queued: running: ns/a; ahead: ns/b",
	}, {
		name: "admitted is not news",
		lt: newLoadTest("web", executing(1), func(lt *dilov1.LoadTest) {
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionQueued, Status: metav1.ConditionFalse, Reason: dilov1.ReasonAdmitted}}
		}),
	}, {
		name: "stopping wins over the rest",
		lt: newLoadTest("web", executing(1), func(lt *dilov1.LoadTest) {
			lt.Status.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonThresholdBroken, Message: "over the last 30s: p99 812ms exceeds maxP99 500ms"}
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionLiveProgress, Status: metav1.ConditionFalse, Reason: dilov1.ReasonPodsUnreachable}}
		}),
		want: "stopping (ThresholdBroken): over the last 30s: p99 812ms exceeds maxP99 500ms",
	}, {
		name: "no live figures",
		lt: newLoadTest("web", executing(1), func(lt *dilov1.LoadTest) {
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionLiveProgress, Status: metav1.ConditionFalse,
				Reason: dilov1.ReasonPodsUnreachable, Message: "pod web-1-0: connection refused"}}
		}),
		want: "no live figures (PodsUnreachable): pod web-1-0: connection refused",
	}, {
		name: "an ended run has no notes",
		lt: newLoadTest("web", finished(1), func(lt *dilov1.LoadTest) {
			lt.Status.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonStopped}
		}),
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, noteOf(&tc.lt.Status)); diff != "" {
				t.Errorf("noteOf (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		want []string
	}{{
		name: "finished",
		lt:   newLoadTest("web", finished(4)),
		want: []string{
			`finished: run 4 of loadtest "web"`,
			"results: 3000 requests, 3 errors (ratio 0.0010), 100.05 rps, p50 2.2ms, p90 6.61ms, p99 12.9ms, max 40.1ms",
			"`kubectl dilo results web -n ns` shows them in full (codes, errors by class, by request)",
		},
	}, {
		name: "failed without results",
		lt:   newLoadTest("web", failedWith(2, dilov1.ReasonServiceNotFound, `Service "target" not found`)),
		want: []string{
			`failed: run 2 of loadtest "web", reason ServiceNotFound: Service "target" not found`,
			"no results: the run ended before its pods reported any",
		},
	}, {
		name: "stopped, with partial results",
		lt: newLoadTest("web", finished(3), func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateFailed
			lt.Status.Conditions = []metav1.Condition{{Type: dilov1.ConditionFailed, Status: metav1.ConditionTrue,
				Reason: dilov1.ReasonStopped, Message: "stopped by example.org/stop=2026-03-01T12:00:20Z"}}
		}),
		want: []string{
			`failed: run 3 of loadtest "web", reason Stopped: stopped by example.org/stop=2026-03-01T12:00:20Z`,
			"results: 3000 requests, 3 errors (ratio 0.0010), 100.05 rps, p50 2.2ms, p90 6.61ms, p99 12.9ms, max 40.1ms",
			"`kubectl dilo results web -n ns` shows them in full (codes, errors by class, by request)",
		},
	}, {
		name: "failed without a condition: the stop's reason",
		lt: newLoadTest("web", pending(1), func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateFailed
			lt.Status.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonStopped, Message: "asked"}
		}),
		want: []string{
			`failed: run 1 of loadtest "web", reason Stopped: asked`,
			"no results: the run ended before its pods reported any",
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, verdict(tc.lt)); diff != "" {
				t.Errorf("verdict (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResultsTable(t *testing.T) {
	withMix := newLoadTest("web", finished(3), func(lt *dilov1.LoadTest) {
		lt.Status.Results.ByRequest = []dilov1.RequestResults{
			{Name: "get-items", Requests: 2000, Errors: 1, ErrorRatio: "0.0005", Codes: map[string]int64{"200": 1999, "503": 1},
				Latency: dilov1.Latency{P50: ms(2), P90: ms(6), P99: ms(11.04), Max: ms(40.1)}},
			{Name: "post-order", Requests: 1000, Errors: 2, ErrorRatio: "0.0020", Codes: map[string]int64{"200": 998},
				ErrorsByClass: map[string]int64{"timeout": 2}, Latency: dilov1.Latency{P50: ms(3), P90: ms(7), P99: ms(13), Max: ms(20)}},
		}
	})
	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		run  int64
		want string
	}{{
		name: "current run, a mix of requests",
		lt:   withMix,
		want: `Run:              3 of loadtest "web" in namespace "ns"
State:            finished (Finished): every pod succeeded
Started:          2026-03-01T12:00:00Z
Completed:        2026-03-01T12:00:36Z (36s)
Pods:             2
Requests:         3000
Errors:           3
Error ratio:      0.0010
Requests/s:       100.05
p50:              2.2ms
p90:              6.61ms
p99:              12.9ms
max:              40.1ms
Start skew:       1.2ms
Bytes received:   612000
Codes:            200: 2998, 503: 1
Errors by class:  timeout: 2

REQUEST     REQUESTS  ERRORS  ERROR RATIO  P50  P90  P99     MAX     CODES              ERRORS BY CLASS
get-items   2000      1       0.0005       2ms  6ms  11.1ms  40.1ms  200: 1999, 503: 1  -
post-order  1000      2       0.0020       3ms  7ms  13ms    20ms    200: 998           timeout: 2
`,
	}, {
		name: "a history record",
		lt:   newLoadTest("web", finished(3), withHistory(record(1, "50.00"))),
		run:  1,
		want: `Run:          1 of loadtest "web" in namespace "ns", from status.history
State:        finished (Finished)
Started:      2026-03-01T12:00:00Z
Completed:    2026-03-01T12:00:20Z (20s)
Requests:     1000
Error ratio:  0
Requests/s:   50.00
p50:          2ms
p99:          10ms
Timeline:     ConfigMap web-timeline-1
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := runDataOf(tc.lt, tc.run)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.Split(tc.want, "\n"), strings.Split(resultsTable(d), "\n")); diff != "" {
				t.Errorf("resultsTable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoResults(t *testing.T) {
	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		want string
	}{{
		name: "executing",
		lt:   newLoadTest("web", executing(2), withProgress(23, 2310)),
		want: `run 2 of loadtest "web" in namespace "ns" has no results yet: it is executing, so far requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms) (` + "`kubectl dilo watch web` follows it)",
	}, {
		name: "failed without results",
		lt:   newLoadTest("web", failedWith(2, dilov1.ReasonServiceNotFound, "no Service target")),
		want: `run 2 of loadtest "web" in namespace "ns" failed without results (ServiceNotFound: no Service target)`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := runDataOf(tc.lt, 0)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			err = printResults(&b, d, "json")
			if err == nil {
				t.Fatalf("printResults printed %q, want an error", b.String())
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
