package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

const (
	// CheckpointVersion is the checkpoint document's format version, its "v".
	CheckpointVersion = 1
	// MaxCheckpointLen is the most bytes Checkpoint returns, and what Restore
	// accepts: MaxPods names of MaxPodNameLen bytes, a timeline of
	// MaxTimelineLen and a cumulative document with every histogram bucket and
	// status code (TestCheckpointBound). A ConfigMap holds up to 1 MiB.
	MaxCheckpointLen = 768 << 10
)

// checkpointDoc is the checkpoint's JSON document:
//
//	{"v":1,"sendStart":"2026-11-28T19:00:05Z","pods":["web-3-0","web-3-1"],
//	 "observed":"2026-11-28T19:07:41.204Z",
//	 "cumulative":{"v":2,"start":...,"live":true,"requests":...,"latency":"CAHk..."},
//	 "timeline":{"v":1,...}}
//
// cumulative is a podreport full document (totals only) holding what the
// windows accounted for up to observed, the end of the last window; timeline
// is Timeline.Encode's document.
type checkpointDoc struct {
	V          int             `json:"v"`
	SendStart  time.Time       `json:"sendStart"`
	Pods       []string        `json:"pods"`
	Observed   time.Time       `json:"observed"`
	Cumulative json.RawMessage `json:"cumulative"`
	Timeline   json.RawMessage `json:"timeline"`
}

// Checkpoint is what Restore needs to resume following the run after a
// manager restart, at most MaxCheckpointLen bytes of JSON: the run's send
// start and pods, the end of the last window, the cumulative figures the
// windows accounted for up to it (as a podreport full document: what the pods
// had sent, less what was read but not yet in a window), and the timeline.
// Nothing is lost between two checkpoints: the pods' snapshots are
// cumulative, so after a Restore everything since the checkpoint comes in one
// window. Store it as often as the timeline's resolution over a restart
// matters, e.g. every few reads.
func (t *Tracker) Checkpoint() ([]byte, error) {
	acc, err := t.accounted()
	if err != nil {
		return nil, fmt.Errorf("failed to checkpoint: %w", err)
	}
	cumulative, err := podreport.Report{
		Live: true, Start: t.sendStart, End: t.windowEnd,
		Requests: acc.requests, Errors: acc.errors, BytesReceived: acc.bytes,
		ErrorsByClass: acc.classes, Codes: acc.codes, Latency: acc.hist,
	}.EncodeFull()
	if err != nil {
		return nil, fmt.Errorf("failed to checkpoint: %w", err)
	}
	tl, err := t.timeline.Encode()
	if err != nil {
		return nil, fmt.Errorf("failed to checkpoint: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(checkpointDoc{
		V: CheckpointVersion, SendStart: t.sendStart.UTC(), Pods: t.pods, Observed: t.windowEnd.UTC(),
		Cumulative: cumulative, Timeline: tl,
	}); err != nil {
		return nil, fmt.Errorf("failed to checkpoint: %w", err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) > MaxCheckpointLen { // the bound makes this unreachable
		return nil, fmt.Errorf("failed to checkpoint: %d bytes, more than %d", len(out), MaxCheckpointLen)
	}
	return out, nil
}

// accounted is what the windows (and, for a restored Tracker, the checkpoint
// it was restored from) hold: every pod's latest snapshot summed, less what
// is pending.
func (t *Tracker) accounted() (totals, error) {
	h, err := t.cumulativeLatency()
	if err != nil {
		return totals{}, err
	}
	acc := totals{tally: t.cum, hist: h}
	if err := acc.sub(t.pending); err != nil { // unreachable: the pending deltas are part of the sum
		return totals{}, err
	}
	if t.baseline != nil {
		base := totals{tally: t.baseline.tally, hist: t.baseline.hist.Clone()}
		if err := acc.add(base); err != nil {
			return totals{}, err
		}
	}
	return acc, nil
}

// Restore resumes following a run from its Checkpoint, after a manager
// restart; window is as for New. The checkpoint must be of the same run: the
// same send start and pods (in any order), else Restore fails and the caller
// starts afresh with New (losing only the timeline so far).
//
// The restored Tracker has no figures until every pod has been read again;
// then its first window runs from the checkpoint's instant to that read, and
// holds the pods' snapshots summed minus the checkpoint's cumulative figures:
// what was sent since, however long the manager was away, counted once. If
// the snapshots do not contain the checkpoint's figures (which a checkpoint of
// this run cannot cause), no such window is made: the windows start again from
// that read, and the timeline skips the interval. The sliding windows of Last
// start empty.
func Restore(data []byte, sendStart time.Time, pods []string, window time.Duration) (*Tracker, error) {
	if len(data) > MaxCheckpointLen {
		return nil, fmt.Errorf("live: checkpoint is %d bytes, more than %d", len(data), MaxCheckpointLen)
	}
	var doc checkpointDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("live: not a checkpoint: %w", err)
	}
	if dec.More() {
		return nil, errors.New("live: checkpoint has trailing data after the document")
	}
	if doc.V != CheckpointVersion {
		return nil, fmt.Errorf("live: checkpoint version %d, want %d", doc.V, CheckpointVersion)
	}
	if !doc.SendStart.Equal(sendStart) {
		return nil, fmt.Errorf("live: checkpoint of a run that started sending at %s, not %s",
			doc.SendStart.Format(time.RFC3339Nano), sendStart.UTC().Format(time.RFC3339Nano))
	}
	if !slices.Equal(slices.Sorted(slices.Values(doc.Pods)), slices.Sorted(slices.Values(pods))) {
		return nil, fmt.Errorf("live: checkpoint of pods %q, not %q", doc.Pods, pods)
	}
	if doc.Observed.Before(sendStart) {
		return nil, fmt.Errorf("live: checkpoint observed at %s, before the send start", doc.Observed.Format(time.RFC3339Nano))
	}
	cum, err := podreport.ParseFull(string(doc.Cumulative))
	if err != nil {
		return nil, fmt.Errorf("live: checkpoint's cumulative figures: %w", err)
	}
	tl, err := DecodeTimeline(doc.Timeline)
	if err != nil {
		return nil, fmt.Errorf("live: checkpoint's %w", err)
	}
	if !tl.SendStart.Equal(sendStart) {
		return nil, errors.New("live: checkpoint's timeline is of another send start")
	}
	if n := len(tl.Entries); n > 0 {
		if last := tl.Entries[n-1]; last.Start+last.Length > doc.Observed.Sub(sendStart).Round(time.Millisecond) {
			return nil, errors.New("live: checkpoint's timeline goes past its observed instant")
		}
	}
	t, err := New(sendStart, pods, window)
	if err != nil {
		return nil, err
	}
	t.baseline = &totals{tally: countsOf(cum), hist: cum.Latency}
	t.windowEnd = doc.Observed
	t.timeline = tl
	return t, nil
}
