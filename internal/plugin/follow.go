package plugin

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// This file decides, from the statuses a watch sees one after another, which run it
// follows, what it prints and when it is over. It does no I/O: watch.go feeds it.

// want says which run a watch follows. The first status that shows that run pins it:
// from then on the watch follows that run number alone.
type want struct {
	// Generation: the run current once DiLO's manager has acted on this generation of
	// the spec (status.observedGeneration at least Generation). After a spec edit that is
	// the new run the edit started, or the same run when the edit changed only fields
	// that never restart one (updatePolicy, the TTL fields, historyLimit); for an
	// unchanged spec, the current run.
	Generation int64
	// Rerun, when set: the run the manager started for this value of the
	// example.org/rerun annotation: status.lastHandledRerun equals it and status.run is
	// no longer FromRun, the run current when the annotation was set.
	Rerun   string
	FromRun int64
}

// follower follows one run of one LoadTest through the statuses a watch sees.
type follower struct {
	name string
	want want
	// run is the run followed, once a status showed it; 0 until then.
	run int64
	// state is the followed run's state last seen (for a timeout's message).
	state dilov1.State
	// line and note are the status line and the note printed last: a watch prints one
	// line per change, not one per event.
	line, note string
	// waiting is the waiting line printed last.
	waiting string
}

// step is what one status means to a watch: the lines to print now and, once the run
// ended (or was replaced, or deleted), that the watch is over with exit code code.
type step struct {
	lines []string
	done  bool
	code  int
}

// followRunNumber is a follower of run, already known (stop --wait: the run asked to
// stop).
func followRunNumber(name string, run int64) follower {
	return follower{name: name, run: run}
}

// followWanted is a follower of the run w names, once a status shows it.
func followWanted(name string, w want) follower {
	return follower{name: name, want: w}
}

// started reports whether st shows the run w asks for, and which run that is.
func (w want) started(st *dilov1.LoadTestStatus) (int64, bool) {
	if st.Run == 0 || st.State == "" {
		return 0, false
	}
	if w.Rerun != "" {
		return st.Run, st.LastHandledRerun == w.Rerun && st.Run != w.FromRun
	}
	return st.Run, st.ObservedGeneration >= w.Generation
}

// waitingFor is the line printed while the run w asks for has not started.
func (w want) waitingFor(st *dilov1.LoadTestStatus) string {
	if w.Rerun != "" {
		return fmt.Sprintf("waiting for DiLO's manager to start a new run for example.org/rerun=%s (run %d is current)", w.Rerun, st.Run)
	}
	if st.ObservedGeneration == 0 {
		return "waiting for DiLO's manager to start a run (the LoadTest has no status yet)"
	}
	if st.State == dilov1.StateScheduled && st.Run == 0 {
		if st.NextScheduleTime != nil {
			return fmt.Sprintf("scheduled: waiting for the schedule's first tick, at %s", st.NextScheduleTime.UTC().Format(time.RFC3339))
		}
		return "scheduled: waiting for the schedule's first tick"
	}
	return fmt.Sprintf("waiting for DiLO's manager to act on generation %d of the spec (it has seen generation %d)",
		w.Generation, st.ObservedGeneration)
}

// observe is the follower after seeing lt (nil: the LoadTest was deleted), and what to
// do about it.
func (f follower) observe(lt *dilov1.LoadTest) (follower, step) {
	if lt == nil {
		return f, step{done: true, code: exitError,
			lines: []string{fmt.Sprintf("loadtest %q was deleted", f.name)}}
	}
	st := &lt.Status
	var s step
	if f.run == 0 {
		run, ok := f.want.started(st)
		if !ok {
			if w := f.want.waitingFor(st); w != f.waiting {
				f.waiting = w
				s.lines = append(s.lines, w)
			}
			return f, s
		}
		f.run = run
		s.lines = append(s.lines, fmt.Sprintf("run %d of loadtest %q in namespace %q (Ctrl-C stops watching, not the run):",
			run, lt.Name, lt.Namespace))
	}
	if st.Run != f.run {
		// The run may have ended before another replaced it, unseen (a watch resumed
		// after a while): its history record says how.
		if r := recordOf(st, f.run); r != nil && ended(r.State) && r.Reason != dilov1.ReasonReplaced {
			code, _ := exitCodeFor(r.State)
			return f, step{done: true, code: code, lines: append(s.lines, recordVerdict(f.name, st.Run, r)...)}
		}
		return f, step{done: true, code: exitRunFailed, lines: append(s.lines, fmt.Sprintf(
			"run %d was replaced by run %d before it ended (a spec edit or a rerun): `kubectl dilo watch %s` follows the new one",
			f.run, st.Run, f.name))}
	}
	f.state = st.State
	if n := noteOf(st); n != f.note {
		f.note = n
		if n != "" {
			s.lines = append(s.lines, indent+n)
		}
	}
	if l := statusLine(lt); l != f.line {
		f.line = l
		s.lines = append(s.lines, l)
	}
	if code, ended := exitCodeFor(st.State); ended {
		s.done, s.code = true, code
		s.lines = append(s.lines, verdict(lt)...)
	}
	return f, s
}

// recordOf is run's record in status.history; nil when it has none.
func recordOf(st *dilov1.LoadTestStatus, run int64) *dilov1.RunRecord {
	for i := range st.History {
		if st.History[i].Run == run {
			return &st.History[i]
		}
	}
	return nil
}

// exitCodeFor is the exit code a run's state means once it ended, and whether it ended:
// 0 finished, 1 failed.
func exitCodeFor(state dilov1.State) (int, bool) {
	switch state {
	case dilov1.StateFinished:
		return exitOK, true
	case dilov1.StateFailed:
		return exitRunFailed, true
	}
	return 0, false
}

// ended reports whether a run in state has ended.
func ended(state dilov1.State) bool {
	_, ok := exitCodeFor(state)
	return ok
}

// failure is why a failed run failed: its Failed condition's reason and message, or,
// without one, the reason it was being stopped for.
func failure(st *dilov1.LoadTestStatus) (reason, message string) {
	if c := meta.FindStatusCondition(st.Conditions, dilov1.ConditionFailed); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason, c.Message
	}
	if st.Stopping != nil {
		return st.Stopping.Reason, st.Stopping.Message
	}
	return "Unknown", "the LoadTest has no Failed condition"
}
