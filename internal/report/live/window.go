package live

import (
	"fmt"
	"time"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/histogram"
)

// ringSlots is how many slots the ring splits its span into: windows shorter
// than a slot are merged into one, so that memory does not depend on how
// often the manager reads (a 30-second span keeps every 2-second read apart;
// a 3600-second one merges them into slots of about 2 minutes).
const ringSlots = 32

// Window is the pods' figures, merged, over the span From to To of the run.
type Window struct {
	From, To         time.Time
	Requests, Errors int64
	// Latency is the merged histogram of the responses in the span, never nil,
	// the caller's own. Its counts are exact; its Min and Max are bounds (see
	// histogram.Sub), so a percentile in its highest bucket may read up to that
	// bucket's top.
	Latency *histogram.Histogram
}

// Length is the window's length.
func (w Window) Length() time.Duration { return w.To.Sub(w.From) }

// ProgressWindow is the window as status.progress.window shows it.
func (w Window) ProgressWindow() v1.ProgressWindow {
	return v1.ProgressWindow{
		Seconds:           seconds(w.Length()),
		Requests:          w.Requests,
		Errors:            w.Errors,
		ErrorRatio:        report.ErrorRatio(w.Errors, w.Requests),
		RequestsPerSecond: report.RequestsPerSecond(w.Requests, w.Length()),
		Latency:           report.PercentilesOf(w.Latency),
	}
}

// Last merges the windows that lie wholly within the last d before the end
// of the last window: its From is the oldest such window's start, its To the
// last window's end, so it spans at most d, and less by up to one read
// interval (or, for a window of the Tracker longer than 32 reads, by up to a
// 32nd of it: the ring merges shorter windows). d is capped at the window the
// Tracker was created with; with none kept, before any window, or for d <= 0,
// it is an empty window at the last window's end. After Restore, only the
// windows closed since count.
func (t *Tracker) Last(d time.Duration) Window {
	return t.ring.last(d, t.windowEnd)
}

// CheckAbort judges spec.thresholds' limits on the live figures when
// spec.thresholds.abort is set; it returns the reason to stop the run and
// true at the first breach. The rules:
//   - the window judged is the last windowSeconds (AbortWindow) before the
//     last window's end (see Last), merged across all pods, but never reaching
//     back into the warm-up of delaySeconds from the send start: nothing is
//     judged before the pods have sent for delaySeconds, and right after it,
//     or early in the run, the window is shorter;
//   - a window shorter than asked is judged as it is, once it is at least half
//     the asked length: long enough that a few slow requests at the start of a
//     run cannot stop it, short enough that a breach is caught in time. So the
//     first check comes half a window after the delay;
//   - there are no windows before every pod has been read once (see Observe),
//     nor, after Restore, before every pod has been read again;
//   - every limit of th is compared by report.CheckThresholds, the same rule as
//     the final check, and reads as it does. A window without responses breaks
//     no latency limit (its percentiles are 0), one without requests no error
//     ratio.
//
// The message names the window and the values, e.g. "over the last 30s: p99
// 812ms exceeds maxP99 500ms; error ratio 0.0500 exceeds maxErrorRatio 0.01".
func CheckAbort(th *v1.Thresholds, t *Tracker) (message string, broken bool) {
	window := AbortWindow(th)
	if window == 0 {
		return "", false
	}
	// No window reaches into the warm-up: before the delay has passed there
	// is nothing to judge, and right after it the window is short.
	w := t.Last(min(window, t.windowEnd.Sub(t.sendStart.Add(abortDelay(th)))))
	if w.Length() < window/2 {
		return "", false
	}
	res := v1.Results{
		Requests: w.Requests, Errors: w.Errors, ErrorRatio: report.ErrorRatio(w.Errors, w.Requests),
		Latency: report.LatencyOf(w.Latency),
	}
	msg, ok := report.CheckThresholds(th, res)
	if ok {
		return "", false
	}
	return fmt.Sprintf("over the last %s: %s", w.Length().Round(100*time.Millisecond), msg), true
}

// AbortWindow is the sliding window spec.thresholds.abort asks to judge:
// windowSeconds, v1.DefaultAbortWindowSeconds when unset, at most MaxWindow;
// 0 when th or th.Abort is nil. It is the window to give New and Restore.
func AbortWindow(th *v1.Thresholds) time.Duration {
	if th == nil || th.Abort == nil {
		return 0
	}
	seconds := int32(v1.DefaultAbortWindowSeconds)
	if th.Abort.WindowSeconds != nil {
		seconds = *th.Abort.WindowSeconds
	}
	return min(max(time.Duration(seconds)*time.Second, 0), MaxWindow)
}

// abortDelay is spec.thresholds.abort.delaySeconds, 0 when unset.
func abortDelay(th *v1.Thresholds) time.Duration {
	if th == nil || th.Abort == nil || th.Abort.DelaySeconds == nil {
		return 0
	}
	return max(time.Duration(*th.Abort.DelaySeconds)*time.Second, 0)
}

// ring holds the most recent windows covering its span, oldest first, each
// histogram binary-encoded.
type ring struct {
	span  time.Duration // the longest window it serves; 0 keeps nothing
	slots []slot
}

// slot is one or more consecutive windows, merged.
type slot struct {
	from, to         time.Time
	requests, errors int64
	hist             []byte // as Histogram.AppendBinary writes it
}

// push adds a closed window: merged into the newest slot when that one is
// shorter than a slot and w follows it, appended otherwise; then the slots
// that started more than span before w's end are dropped, as no Last can
// reach them.
func (r *ring) push(w Window) {
	if r.span == 0 {
		return
	}
	if n := len(r.slots); n > 0 {
		newest := &r.slots[n-1]
		if newest.to.Equal(w.From) && newest.to.Sub(newest.from) < r.span/ringSlots {
			var h histogram.Histogram
			if err := h.UnmarshalBinary(newest.hist); err == nil && h.Merge(w.Latency) == nil {
				newest.to = w.To
				newest.requests += w.Requests
				newest.errors += w.Errors
				newest.hist, _ = h.AppendBinary(newest.hist[:0])
				r.evict(w.To)
				return
			}
		}
	}
	enc, _ := w.Latency.AppendBinary(nil)
	r.slots = append(r.slots, slot{from: w.From, to: w.To, requests: w.Requests, errors: w.Errors, hist: enc})
	r.evict(w.To)
}

// evict drops the slots that start more than span before end.
func (r *ring) evict(end time.Time) {
	cutoff := end.Add(-r.span)
	drop := 0
	for drop < len(r.slots) && r.slots[drop].from.Before(cutoff) {
		drop++
	}
	n := copy(r.slots, r.slots[drop:])
	clear(r.slots[n:])
	r.slots = r.slots[:n]
}

// last merges the slots that lie wholly within the d before end: at most
// span, as push keeps no older slot.
func (r *ring) last(d time.Duration, end time.Time) Window {
	w := Window{From: end, To: end, Latency: histogram.New(histogram.DefaultPrecision)}
	if d <= 0 {
		return w
	}
	cutoff := end.Add(-d)
	for i := len(r.slots) - 1; i >= 0; i-- {
		s := r.slots[i]
		if s.from.Before(cutoff) || s.to.After(end) {
			break
		}
		var h histogram.Histogram
		if err := h.UnmarshalBinary(s.hist); err != nil {
			break // unreachable: the ring encoded it
		}
		if err := w.Latency.Merge(&h); err != nil {
			break
		}
		w.From = s.from
		w.Requests += s.requests
		w.Errors += s.errors
	}
	return w
}
