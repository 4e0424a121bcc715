package plugin

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
)

// This file turns statuses into the lines a watch prints. A status line is
//
//	  23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)
//
// how long the pods have been sending (status.progress.elapsedSeconds, blank before any
// live figures), the state, and what the run is doing: its figures so far once there are
// some. Numbers are the API's as they are (requestsPerSecond and errorRatio are decimals
// the manager already rounded); durations go through report.RoundDuration.

// indent lines up a note with the state column of the status lines.
const indent = "       "

// dur is a latency as DiLO shows every latency: three significant digits, "23.7ms".
func dur(d time.Duration) string { return report.RoundDuration(d).String() }

// statusLine is the line a watch prints for lt's current run.
func statusLine(lt *dilov1.LoadTest) string {
	st := &lt.Status
	elapsed := ""
	if st.Progress != nil {
		elapsed = (time.Duration(st.Progress.ElapsedSeconds) * time.Second).String()
	}
	state := string(st.State)
	if st.Stopping != nil && !ended(st.State) {
		state = "stopping"
	}
	return strings.TrimRight(fmt.Sprintf("%5s  %-9s  %s", elapsed, state, doing(lt)), " ")
}

// doing says what a run in its state is doing, for its status line.
func doing(lt *dilov1.LoadTest) string {
	st := &lt.Status
	switch {
	case ended(st.State) && st.Results != nil:
		return resultsFigures(st.Results)
	case st.Progress != nil:
		if st.State == dilov1.StateExecuting && liveProgressDown(st) != nil {
			return "no live figures"
		}
		return progressFigures(st.Progress)
	case ended(st.State):
		return "no requests sent"
	case st.State == dilov1.StatePending && queued(st) != nil:
		return "queued"
	case st.State == dilov1.StatePending:
		return fmt.Sprintf("starting %d pods (%d active)", replicas(lt), st.Active)
	case st.SendStartTime == nil:
		return fmt.Sprintf("%d pods, waiting for all to run (synchronised start)", replicas(lt))
	}
	return fmt.Sprintf("sending from %s, no live figures yet", st.SendStartTime.UTC().Format(time.TimeOnly+"Z"))
}

// replicas is how many pods the current run has: its children, or spec.replicas before
// status names them.
func replicas(lt *dilov1.LoadTest) int {
	if n := len(lt.Status.Children); n > 0 {
		return n
	}
	return int(lt.Spec.Replicas)
}

// progressFigures are a run's live figures: so far, and the last window's p99.
func progressFigures(p *dilov1.Progress) string {
	s := fmt.Sprintf("requests %d  rps %s  errors %s  p99 %s", p.Requests, p.RequestsPerSecond, p.ErrorRatio, dur(p.Latency.P99.Duration))
	if p.Window != nil {
		s += fmt.Sprintf(" (window %s)", dur(p.Window.Latency.P99.Duration))
	}
	return s
}

// resultsFigures are a run's final figures, as progressFigures shows the live ones.
func resultsFigures(r *dilov1.Results) string {
	return fmt.Sprintf("requests %d  rps %s  errors %s  p99 %s", r.Requests, r.RequestsPerSecond, r.ErrorRatio, dur(r.Latency.P99.Duration))
}

// noteOf is a line about the run that its status line has no room for: why it is being
// stopped, what it waits for in its namespace's queue, why it has no live figures. A
// watch prints it once, when it appears or changes.
func noteOf(st *dilov1.LoadTestStatus) string {
	if ended(st.State) {
		return ""
	}
	if st.Stopping != nil {
		return fmt.Sprintf("stopping (%s): %s", st.Stopping.Reason, st.Stopping.Message)
	}
	if c := queued(st); c != nil && st.State == dilov1.StatePending {
		return "queued: " + c.Message
	}
	if c := liveProgressDown(st); c != nil && st.State == dilov1.StateExecuting {
		return fmt.Sprintf("no live figures (%s): %s", c.Reason, c.Message)
	}
	return ""
}

// queued is the Queued condition while it is True.
func queued(st *dilov1.LoadTestStatus) *metav1.Condition {
	return conditionIs(st, dilov1.ConditionQueued, metav1.ConditionTrue)
}

// liveProgressDown is the LiveProgress condition while it is False.
func liveProgressDown(st *dilov1.LoadTestStatus) *metav1.Condition {
	return conditionIs(st, dilov1.ConditionLiveProgress, metav1.ConditionFalse)
}

func conditionIs(st *dilov1.LoadTestStatus, typ string, status metav1.ConditionStatus) *metav1.Condition {
	if c := meta.FindStatusCondition(st.Conditions, typ); c != nil && c.Status == status {
		return c
	}
	return nil
}

// verdict is what a watch prints once the run ended: how it ended, its main figures,
// and where to look next.
func verdict(lt *dilov1.LoadTest) []string {
	st := &lt.Status
	var lines []string
	if st.State == dilov1.StateFinished {
		lines = append(lines, fmt.Sprintf("finished: run %d of loadtest %q", st.Run, lt.Name))
	} else {
		reason, message := failure(st)
		lines = append(lines, fmt.Sprintf("failed: run %d of loadtest %q, reason %s: %s", st.Run, lt.Name, reason, message))
	}
	if r := st.Results; r != nil {
		lines = append(lines, fmt.Sprintf("results: %d requests, %d errors (ratio %s), %s rps, p50 %s, p90 %s, p99 %s, max %s",
			r.Requests, r.Errors, r.ErrorRatio, r.RequestsPerSecond,
			dur(r.Latency.P50.Duration), dur(r.Latency.P90.Duration), dur(r.Latency.P99.Duration), dur(r.Latency.Max.Duration)))
		lines = append(lines, fmt.Sprintf("`kubectl dilo results %s -n %s` shows them in full (codes, errors by class, by request)", lt.Name, lt.Namespace))
	} else {
		lines = append(lines, "no results: the run ended before its pods reported any")
	}
	return lines
}

// recordVerdict is verdict for a run seen ended only in its history record r, once run
// current had replaced it.
func recordVerdict(name string, current int64, r *dilov1.RunRecord) []string {
	how := fmt.Sprintf("finished: run %d of loadtest %q", r.Run, name)
	if r.State != dilov1.StateFinished {
		how = fmt.Sprintf("failed: run %d of loadtest %q, reason %s", r.Run, name, r.Reason)
	}
	return []string{
		fmt.Sprintf("%s (from status.history: run %d has started since)", how, current),
		fmt.Sprintf("results: %d requests, error ratio %s, %s rps, p50 %s, p99 %s",
			r.Requests, orDash(r.ErrorRatio), orDash(r.RequestsPerSecond), durOrDash(durationOf(r.P50)), durOrDash(durationOf(r.P99))),
	}
}
