package plugin

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestFollower feeds a follower the statuses a watch would see, one after another, and
// checks what it prints, whether it is over after each, and the exit code it ends with.
func TestFollower(t *testing.T) {
	header := func(run int) string {
		return `run ` + strconv.Itoa(run) + ` of loadtest "web" in namespace "ns" (Ctrl-C stops watching, not the run):`
	}
	gen := func(g int64) func(*dilov1.LoadTest) { return func(lt *dilov1.LoadTest) { lt.Generation = g } }
	observed := func(g int64) func(*dilov1.LoadTest) {
		return func(lt *dilov1.LoadTest) { lt.Status.ObservedGeneration = g }
	}
	rerunHandled := func(v string) func(*dilov1.LoadTest) {
		return func(lt *dilov1.LoadTest) { lt.Status.LastHandledRerun = v }
	}
	type event struct {
		lt    *dilov1.LoadTest // nil: deleted
		lines []string
	}
	cases := []struct {
		name     string
		f        follower
		events   []event
		wantDone bool
		wantCode int
	}{{
		name: "a run from its start to finished",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web"), []string{"waiting for DiLO's manager to start a run (the LoadTest has no status yet)"}},
			{newLoadTest("web"), nil},
			{newLoadTest("web", pending(1)), []string{header(1), "       pending    starting 2 pods (0 active)"}},
			{newLoadTest("web", pending(1)), nil},
			{newLoadTest("web", executing(1)), []string{"       executing  sending from 12:00:05Z, no live figures yet"}},
			{newLoadTest("web", executing(1), withProgress(2, 200)), []string{"   2s  executing  requests 200  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)"}},
			{newLoadTest("web", executing(1), withProgress(2, 200)), nil},
			{newLoadTest("web", executing(1), withProgress(23, 2310)), []string{"  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)"}},
			{newLoadTest("web", finished(1)), append([]string{"  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms"},
				verdict(newLoadTest("web", finished(1)))...)},
		},
		wantDone: true, wantCode: exitOK,
	}, {
		name: "a failed run exits 1",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", pending(1)), []string{header(1), "       pending    starting 2 pods (0 active)"}},
			{newLoadTest("web", failedWith(1, dilov1.ReasonServiceNotFound, "no Service target")), []string{
				"       failed     no requests sent",
				`failed: run 1 of loadtest "web", reason ServiceNotFound: no Service target`,
				"no results: the run ended before its pods reported any",
			}},
		},
		wantDone: true, wantCode: exitRunFailed,
	}, {
		name: "a run that already ended: its verdict at once",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", finished(1)), append([]string{header(1), "  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms"},
				verdict(newLoadTest("web", finished(1)))...)},
		},
		wantDone: true, wantCode: exitOK,
	}, {
		name: "a scheduled LoadTest: its first tick, then that run",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", scheduledAt(t0.Add(time.Minute))), []string{
				"scheduled: waiting for the schedule's first tick, at 2026-03-01T12:01:00Z"}},
			{newLoadTest("web", scheduledAt(t0.Add(time.Minute))), nil},
			{newLoadTest("web", pending(1)), []string{header(1), "       pending    starting 2 pods (0 active)"}},
		},
	}, {
		name: "after a spec edit: not the old run, the one for the new generation",
		f:    followWanted("web", want{Generation: 2}),
		events: []event{
			{newLoadTest("web", finished(1), gen(2)), []string{
				"waiting for DiLO's manager to act on generation 2 of the spec (it has seen generation 1)"}},
			{newLoadTest("web", gen(2), pending(2)), []string{header(2), "       pending    starting 2 pods (0 active)"}},
		},
	}, {
		name: "an edit that keeps the run: the same run, once observed",
		f:    followWanted("web", want{Generation: 3}),
		events: []event{
			{newLoadTest("web", gen(3), executing(2), observed(2)), []string{
				"waiting for DiLO's manager to act on generation 3 of the spec (it has seen generation 2)"}},
			{newLoadTest("web", gen(3), executing(2), observed(3)), []string{header(2), "       executing  sending from 12:00:05Z, no live figures yet"}},
		},
	}, {
		name: "after a rerun: the new run, not the old one nor one before the value was handled",
		f:    followWanted("web", want{Rerun: "2026-03-01T12:01:00.123456789Z", FromRun: 2}),
		events: []event{
			{newLoadTest("web", finished(2)), []string{
				"waiting for DiLO's manager to start a new run for example.org/rerun=2026-03-01T12:01:00.123456789Z (run 2 is current)"}},
			// An older value handled: still the old run.
			{newLoadTest("web", finished(2), rerunHandled("2026-03-01T11:00:00Z")), nil},
			// The value handled, the run not changed yet: keep waiting.
			{newLoadTest("web", finished(2), rerunHandled("2026-03-01T12:01:00.123456789Z")), nil},
			{newLoadTest("web", pending(3), rerunHandled("2026-03-01T12:01:00.123456789Z")), []string{header(3), "       pending    starting 2 pods (0 active)"}},
			{newLoadTest("web", finished(3), rerunHandled("2026-03-01T12:01:00.123456789Z")), append([]string{"  30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms"},
				verdict(newLoadTest("web", finished(3)))...)},
		},
		wantDone: true, wantCode: exitOK,
	}, {
		name: "the run followed is replaced before it ended",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", executing(1)), []string{header(1), "       executing  sending from 12:00:05Z, no live figures yet"}},
			{newLoadTest("web", gen(2), pending(2)), []string{
				"run 1 was replaced by run 2 before it ended (a spec edit or a rerun): `kubectl dilo watch web` follows the new one"}},
		},
		wantDone: true, wantCode: exitRunFailed,
	}, {
		name: "the run followed ended unseen, then was replaced: its history record's verdict",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", executing(1)), []string{header(1), "       executing  sending from 12:00:05Z, no live figures yet"}},
			{newLoadTest("web", gen(2), pending(2), withHistory(record(1, "50.00"))), []string{
				`finished: run 1 of loadtest "web" (from status.history: run 2 has started since)`,
				"results: 1000 requests, error ratio 0, 50.00 rps, p50 2ms, p99 10ms"}},
		},
		wantDone: true, wantCode: exitOK,
	}, {
		name: "the run followed replaced, recorded so",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", executing(1)), []string{header(1), "       executing  sending from 12:00:05Z, no live figures yet"}},
			{newLoadTest("web", gen(2), pending(2), withHistory(func() dilov1.RunRecord {
				r := record(1, "50.00")
				r.State, r.Reason = dilov1.StateExecuting, dilov1.ReasonReplaced
				return r
			}())), []string{
				"run 1 was replaced by run 2 before it ended (a spec edit or a rerun): `kubectl dilo watch web` follows the new one"}},
		},
		wantDone: true, wantCode: exitRunFailed,
	}, {
		name: "stop --wait: the run given, its stop noted once",
		f:    followRunNumber("web", 4),
		events: []event{
			{newLoadTest("web", executing(4), withProgress(10, 1000), stopping), []string{
				indent + "stopping (Stopped): stopped by example.org/stop=2026-03-01T12:00:15Z",
				"  10s  stopping   requests 1000  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)"}},
			{newLoadTest("web", executing(4), withProgress(12, 1200), stopping), []string{
				"  12s  stopping   requests 1200  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)"}},
			{newLoadTest("web", failedWith(4, dilov1.ReasonStopped, "stopped"), withProgress(12, 1200)), []string{
				"  12s  failed     requests 1200  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)",
				`failed: run 4 of loadtest "web", reason Stopped: stopped`,
				"no results: the run ended before its pods reported any"}},
		},
		wantDone: true, wantCode: exitRunFailed,
	}, {
		name: "the LoadTest deleted",
		f:    followWanted("web", want{Generation: 1}),
		events: []event{
			{newLoadTest("web", executing(1)), []string{header(1), "       executing  sending from 12:00:05Z, no live figures yet"}},
			{nil, []string{`loadtest "web" was deleted`}},
		},
		wantDone: true, wantCode: exitError,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			var s step
			for i, ev := range tc.events {
				if s.done {
					t.Fatalf("over after event %d of %d", i, len(tc.events))
				}
				f, s = f.observe(ev.lt)
				if diff := cmp.Diff(ev.lines, s.lines); diff != "" {
					t.Errorf("event %d: lines (-want +got):\n%s", i, diff)
				}
			}
			if s.done != tc.wantDone || s.code != tc.wantCode {
				t.Errorf("done %v, code %d; want done %v, code %d", s.done, s.code, tc.wantDone, tc.wantCode)
			}
		})
	}
}

func stopping(lt *dilov1.LoadTest) {
	lt.Status.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonStopped, Message: "stopped by example.org/stop=2026-03-01T12:00:15Z"}
}

func TestExitCodeFor(t *testing.T) {
	cases := []struct {
		state     dilov1.State
		wantCode  int
		wantEnded bool
	}{
		{"", 0, false},
		{dilov1.StatePending, 0, false},
		{dilov1.StateExecuting, 0, false},
		{dilov1.StateFinished, exitOK, true},
		{dilov1.StateFailed, exitRunFailed, true},
	}
	for _, tc := range cases {
		code, ended := exitCodeFor(tc.state)
		if code != tc.wantCode || ended != tc.wantEnded {
			t.Errorf("exitCodeFor(%q) = %d, %v; want %d, %v", tc.state, code, ended, tc.wantCode, tc.wantEnded)
		}
	}
}
