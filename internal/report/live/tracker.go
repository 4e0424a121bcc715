// Package live follows a running LoadTest from its agents' live snapshots:
// the figures of status.progress, the run's timeline, the sliding windows
// live thresholds are judged on, and a checkpoint to resume from after a
// manager restart. It is pure: the manager reads the pods and stores the
// checkpoint; this package only computes.
//
// The model. Every agent serves a cumulative snapshot of its results so far
// (a podreport.Report with Live set and End the instant it was taken); its
// counters and histogram only grow from one snapshot to the next. The manager
// reads every pod every few seconds and hands each read's snapshots to
// Tracker.Observe. A read may miss some pods: their last snapshot stands, and
// what they sent in between is counted at their next read.
//
//   - The cumulative figures are the sum of every pod's latest snapshot, exactly
//     what report.Merge makes of them.
//   - A pod's delta is its snapshot minus its previous one (histogram.Sub), which
//     is exact: nothing is counted twice nor lost, however many reads are missed.
//   - A window is the sum of the pods' deltas between two observations, from
//     the previous window's end to the latest End among the pods' snapshots (the
//     observation instant). The first window starts at the run's send start.
//     Windows exist once every pod has been read at least once: until then a
//     pod's share would be missing and then arrive all at once.
//
// From the windows come status.progress's window (the last one), the timeline
// (every window since the send start, coarsened in pairs to stay bounded), and
// a short ring of recent windows that Last and CheckAbort merge into a sliding
// window of up to MaxWindow.
//
// Restarts. Checkpoint stores the cumulative figures the windows have
// accounted for, the timeline and the instant of the last window's end; Restore
// resumes from them: the first window after a restart is every pod's snapshot
// minus that accounted total, from the checkpoint's instant, so it is simply
// longer, with nothing counted twice. The sliding windows start empty again.
//
// Memory. Per pod the Tracker keeps only what the next delta needs: the last
// snapshot's counters and its histogram, binary-encoded (about a third of its
// size in memory); the ring keeps its windows' histograms encoded too. Most
// of what a Tracker keeps is then its timeline, 64 bytes an entry:
// TestTrackerMemory measures about 190 KiB for 10 pods, a 30-second window
// and a full timeline.
package live

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

const (
	// MaxWindow is the longest sliding window a Tracker keeps: the longest
	// spec.thresholds.abort.windowSeconds.
	MaxWindow = 3600 * time.Second
	// MaxPods is the most pods a Tracker follows: a run's most replicas.
	MaxPods = v1.MaxReplicas
	// MaxPodNameLen is the longest pod name (a DNS subdomain's); it bounds the
	// checkpoint, which names the pods.
	MaxPodNameLen = 253
)

// Tracker follows one run of a LoadTest from its pods' live snapshots. It is
// not safe for concurrent use: the poller that calls Observe must also be the
// one (or hold the lock) that reads Progress, Last, Timeline, Cumulative and
// Checkpoint.
type Tracker struct {
	sendStart time.Time
	pods      []string        // the run's pods, in the order New was given them
	state     map[string]*pod // by name
	read      int             // pods read at least once (since Restore, after one)

	// cum is the sum of the counters of every pod's latest snapshot; its
	// histogram is merged from the pods' when needed (cumulativeLatency), and
	// cumLatency holds its percentiles as of the last Observe.
	cum        tally
	cumLatency v1.Percentiles
	latest     time.Time // the latest End among the pods' latest snapshots

	// pending is what the pods sent since windowEnd that no window holds yet:
	// the deltas of an observation before every pod was read, or of one that
	// did not move latest past windowEnd.
	pending   totals
	windowEnd time.Time // where the next window starts: the last one's end, the send start before the first
	// baseline, after Restore and until every pod has been read, is the
	// checkpoint's accounted total: the first window is the pods' sum minus it.
	baseline *totals

	lastWindow *v1.ProgressWindow // the last window's figures, for Progress
	ring       ring
	timeline   Timeline
}

// pod is what a Tracker keeps of one pod: its latest snapshot's counters and
// histogram, enough to take it from the next snapshot.
type pod struct {
	read   bool
	end    time.Time
	counts tally
	hist   []byte // the latest snapshot's histogram, as Histogram.AppendBinary writes it
}

// New starts following a run whose pods started sending at sendStart
// (status.sendStartTime), pods being its pods' names (status.children). window
// is the longest sliding window Last will be asked for (AbortWindow of the
// run's thresholds; 0 keeps none), at most MaxWindow. It fails on no pods,
// more than MaxPods, or a name repeated or not a DNS subdomain of at most
// MaxPodNameLen bytes.
func New(sendStart time.Time, pods []string, window time.Duration) (*Tracker, error) {
	if err := checkPods(pods); err != nil {
		return nil, err
	}
	t := &Tracker{
		sendStart: sendStart,
		pods:      slices.Clone(pods),
		state:     make(map[string]*pod, len(pods)),
		windowEnd: sendStart,
		ring:      ring{span: min(max(window, 0), MaxWindow)},
		timeline:  Timeline{SendStart: sendStart, Stride: 1},
	}
	for _, name := range pods {
		t.state[name] = &pod{}
	}
	return t, nil
}

// checkPods checks a run's pod names for New and Restore.
func checkPods(pods []string) error {
	if len(pods) == 0 {
		return errors.New("live: a run without pods")
	}
	if len(pods) > MaxPods {
		return fmt.Errorf("live: %d pods, more than %d", len(pods), MaxPods)
	}
	seen := make(map[string]bool, len(pods))
	for _, name := range pods {
		if name == "" || len(name) > MaxPodNameLen || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
			// A pod's name is a DNS subdomain; JSON writes one as it is,
			// which keeps the checkpoint's bound.
			return fmt.Errorf("live: pod name %q is not 1 to %d lower-case letters, digits, '-' and '.'", name, MaxPodNameLen)
		}
		if seen[name] {
			return fmt.Errorf("live: pod %s named twice", name)
		}
		seen[name] = true
	}
	return nil
}

// Observe takes one read's snapshots, by pod name; a pod missing from snaps
// was not read this time, and its last snapshot stands. Each snapshot must be
// one the agent served (as podreport.ParseFull returns it; a pod's final full
// document is accepted too, as its last snapshot) and must not be behind that
// pod's previous one: taken earlier, or with any counter, status code, error
// class or histogram bucket lower. Such a snapshot, a compact report, or a
// name that is not one of the run's pods is ignored, that pod's previous
// snapshot standing, and reported in the returned error, which names the pod;
// the other pods' snapshots are taken all the same. Observe keeps nothing of
// snaps but counters and an encoded copy of each histogram.
//
// Once every pod has been read at least once, each Observe that moves the
// latest End past the previous window's end closes a window, from that end to
// the latest End: what the pods sent in between, each pod's share since its
// previous read (so a pod missed last time adds two reads' worth).
func (t *Tracker) Observe(snaps map[string]podreport.Report) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(snaps)) {
		if t.state[name] == nil {
			errs = append(errs, fmt.Errorf("pod %s is not one of the run's; its snapshot is ignored", name))
		}
	}
	changed := false
	for _, name := range t.pods {
		snap, ok := snaps[name]
		if !ok {
			continue
		}
		if err := t.observePod(t.state[name], snap); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w; its snapshot is ignored", name, err))
			continue
		}
		changed = true
	}
	if changed && t.complete() {
		if err := t.refreshLatency(); err != nil {
			errs = append(errs, err)
		}
	}
	t.closeWindow()
	return errors.Join(errs...)
}

// observePod takes one pod's snapshot if it is a later one, adding what the
// pod sent since its previous snapshot to the cumulative and pending figures.
func (t *Tracker) observePod(p *pod, snap podreport.Report) error {
	d, err := gained(p, snap)
	if err != nil {
		return err
	}
	cum, err := t.cum.plus(d.tally)
	if err != nil {
		return err
	}
	if err := t.pending.add(d); err != nil {
		return err
	}
	t.cum = cum
	p.counts, p.end = countsOf(snap), snap.End
	p.hist, _ = snap.Latency.AppendBinary(p.hist[:0])
	if !p.read {
		p.read = true
		t.read++
	}
	if snap.End.After(t.latest) {
		t.latest = snap.End
	}
	return nil
}

// gained is what a pod sent between its previous snapshot (none before its
// first read) and snap, or why snap cannot be a later snapshot of the same pod.
func gained(p *pod, snap podreport.Report) (totals, error) {
	switch {
	case snap.Compact:
		return totals{}, errors.New("a compact report (a termination message) is no snapshot: its codes may be folded and its histogram coarsened")
	case snap.Latency == nil:
		return totals{}, errors.New("snapshot without a latency histogram")
	case snap.Requests < 0 || snap.Errors < 0 || snap.Errors > snap.Requests || snap.BytesReceived < 0:
		return totals{}, fmt.Errorf("inconsistent snapshot: %d errors of %d requests", snap.Errors, snap.Requests)
	case p.read && snap.End.Before(p.end):
		return totals{}, fmt.Errorf("snapshot taken at %s, before the previous one (%s)",
			snap.End.Format(time.RFC3339Nano), p.end.Format(time.RFC3339Nano))
	}
	counts, err := countsOf(snap).minus(p.counts)
	if err != nil {
		return totals{}, err
	}
	hist := snap.Latency.Clone()
	if p.read {
		var prev histogram.Histogram
		if err := prev.UnmarshalBinary(p.hist); err != nil {
			return totals{}, fmt.Errorf("previous snapshot's histogram: %w", err)
		}
		if err := hist.Sub(&prev); err != nil {
			return totals{}, fmt.Errorf("latency histogram lower than in the previous snapshot: %w", err)
		}
	}
	return totals{tally: counts, hist: hist}, nil
}

// complete reports whether every pod has been read at least once: the
// figures exist from then on.
func (t *Tracker) complete() bool { return t.read == len(t.pods) }

// refreshLatency recomputes the cumulative percentiles from the pods' latest
// histograms.
func (t *Tracker) refreshLatency() error {
	h, err := t.cumulativeLatency()
	if err != nil {
		return err
	}
	t.cumLatency = report.PercentilesOf(h)
	return nil
}

// cumulativeLatency merges the latest histogram of every pod read, as
// report.Merge would: exact, the extremes included.
func (t *Tracker) cumulativeLatency() (*histogram.Histogram, error) {
	var merged *histogram.Histogram
	for _, name := range t.pods {
		p := t.state[name]
		if !p.read {
			continue
		}
		h := new(histogram.Histogram)
		if err := h.UnmarshalBinary(p.hist); err != nil {
			return nil, fmt.Errorf("live: pod %s's histogram: %w", name, err)
		}
		if merged == nil {
			merged = h
		} else if err := merged.Merge(h); err != nil {
			return nil, fmt.Errorf("live: merging pod %s's histogram: %w", name, err)
		}
	}
	if merged == nil {
		merged = histogram.New(histogram.DefaultPrecision)
	}
	return merged, nil
}

// closeWindow turns what is pending into a window when every pod has been
// read and the latest End has moved past the previous window's end.
func (t *Tracker) closeWindow() {
	if !t.complete() || !t.latest.After(t.windowEnd) {
		return
	}
	w := t.pending
	t.pending = totals{}
	if t.baseline != nil {
		base := *t.baseline
		t.baseline = nil
		if err := w.sub(base); err != nil {
			// The checkpoint holds more than the pods' snapshots: it cannot
			// be what these snapshots grew from. Rather than report negative
			// counts, the windows start again from here; the timeline skips
			// the interval it cannot account for.
			t.windowEnd = t.latest
			return
		}
	}
	t.emit(Window{From: t.windowEnd, To: t.latest, Requests: w.requests, Errors: w.errors, Latency: w.histOrEmpty()})
}

// emit records a closed window everywhere windows go.
func (t *Tracker) emit(w Window) {
	pw := w.ProgressWindow()
	t.lastWindow = &pw
	t.timeline.add(entryOf(w, t.sendStart))
	t.ring.push(w)
	t.windowEnd = w.To
}

// Progress is status.progress for the run so far, nil until every pod has
// been read at least once (since Restore, for a restored Tracker):
// observedTime is the latest End among the pods' latest snapshots, and
// elapsedSeconds the whole seconds from the send start to it; requests,
// errors and errorRatio are the sum of those snapshots, as report.Merge adds
// them; requestsPerSecond is requests over that elapsed time; latency the
// percentiles of their merged histograms, exactly as report.Merge reads them;
// pods is every pod of the run. Window is the last window's figures (see
// Observe), nil until the first window closed. Final is false: final figures
// come from the pods' results, not from here.
func (t *Tracker) Progress() *v1.Progress {
	if !t.complete() {
		return nil
	}
	elapsed := max(t.latest.Sub(t.sendStart), 0)
	p := &v1.Progress{
		ObservedTime:      metav1.NewTime(t.latest),
		ElapsedSeconds:    int64(elapsed / time.Second),
		Pods:              int32(len(t.pods)),
		Requests:          t.cum.requests,
		Errors:            t.cum.errors,
		ErrorRatio:        report.ErrorRatio(t.cum.errors, t.cum.requests),
		RequestsPerSecond: report.RequestsPerSecond(t.cum.requests, elapsed),
		Latency:           t.cumLatency,
	}
	if t.lastWindow != nil {
		w := *t.lastWindow
		p.Window = &w
	}
	return p
}

// Totals are cumulative figures: the sum of the latest snapshot of every pod
// read so far.
type Totals struct {
	// Pods is how many of the run's pods they include: all of them once
	// Progress is not nil.
	Pods                            int
	Requests, Errors, BytesReceived int64
	ErrorsByClass, Codes            map[string]int64
	// Latency is the pods' histograms merged, exactly (extremes included).
	Latency *histogram.Histogram
}

// Cumulative is the sum of the latest snapshot of every pod read so far, for
// the manager's metrics; everything in it is the caller's own (copies). It
// includes only the pods read so far: compare Pods with the run's pods, or
// check that Progress is not nil, before exporting counters that must not go
// down. It decodes and merges every pod's histogram: call it when scraped,
// not in a loop.
func (t *Tracker) Cumulative() (Totals, error) {
	h, err := t.cumulativeLatency()
	if err != nil {
		return Totals{}, err
	}
	return Totals{
		Pods: t.read, Requests: t.cum.requests, Errors: t.cum.errors, BytesReceived: t.cum.bytes,
		ErrorsByClass: maps.Clone(t.cum.classes), Codes: maps.Clone(t.cum.codes), Latency: h,
	}, nil
}

// Timeline is the run's timeline so far, a copy: every window since the send
// start, merged across pods, coarsened as Timeline documents.
func (t *Tracker) Timeline() Timeline {
	tl := t.timeline
	tl.Entries = slices.Clone(tl.Entries)
	return tl
}

// seconds is a window's length as ProgressWindow.Seconds reads: seconds with
// two decimals.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64)
}

// tally is the counters of a set of results: a snapshot's, a delta's or a sum.
type tally struct {
	requests, errors, bytes int64
	classes, codes          map[string]int64
}

// countsOf is a copy of a snapshot's counters (its maps are the caller's).
func countsOf(r podreport.Report) tally {
	return tally{requests: r.Requests, errors: r.Errors, bytes: r.BytesReceived,
		classes: maps.Clone(r.ErrorsByClass), codes: maps.Clone(r.Codes)}
}

// plus is a+b, in new maps, or an error when a counter overflows int64.
func (a tally) plus(b tally) (tally, error) {
	out := tally{classes: maps.Clone(a.classes), codes: maps.Clone(a.codes)}
	var ok bool
	if out.requests, ok = sum(a.requests, b.requests); !ok {
		return tally{}, errors.New("requests overflow int64")
	}
	if out.errors, ok = sum(a.errors, b.errors); !ok {
		return tally{}, errors.New("errors overflow int64")
	}
	if out.bytes, ok = sum(a.bytes, b.bytes); !ok {
		return tally{}, errors.New("bytesReceived overflows int64")
	}
	for _, m := range []struct {
		into *map[string]int64
		from map[string]int64
	}{{&out.classes, b.classes}, {&out.codes, b.codes}} {
		for k, n := range m.from {
			if *m.into == nil {
				*m.into = map[string]int64{}
			}
			s, ok := sum((*m.into)[k], n)
			if !ok {
				return tally{}, fmt.Errorf("count of %q overflows int64", k)
			}
			(*m.into)[k] = s
		}
	}
	return out, nil
}

// minus is a-b, or an error naming the first counter of b above a's (maps in
// key order): b is then no earlier state of a. Zero counts are left out of
// the maps.
func (a tally) minus(b tally) (tally, error) {
	for _, c := range []struct {
		name string
		a, b int64
	}{{"requests", a.requests, b.requests}, {"errors", a.errors, b.errors}, {"bytesReceived", a.bytes, b.bytes}} {
		if c.a < c.b {
			return tally{}, fmt.Errorf("%s went down from %d to %d", c.name, c.b, c.a)
		}
	}
	out := tally{requests: a.requests - b.requests, errors: a.errors - b.errors, bytes: a.bytes - b.bytes}
	var err error
	if out.classes, err = mapMinus("errors of class", a.classes, b.classes); err != nil {
		return tally{}, err
	}
	if out.codes, err = mapMinus("responses with status", a.codes, b.codes); err != nil {
		return tally{}, err
	}
	return out, nil
}

// mapMinus is a-b key by key, nil when every difference is 0, or an error
// naming the first key (in order) whose count went down.
func mapMinus(what string, a, b map[string]int64) (map[string]int64, error) {
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if a[k] < b[k] {
			return nil, fmt.Errorf("%s %s went down from %d to %d", what, k, b[k], a[k])
		}
	}
	var out map[string]int64
	for k, n := range a {
		if d := n - b[k]; d != 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[k] = d
		}
	}
	return out, nil
}

// sum is a+b for non-negative counts, and whether it fits in an int64.
func sum(a, b int64) (int64, bool) {
	if b > 0 && a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// totals are counters with their latency histogram (nil while nothing was
// added).
type totals struct {
	tally
	hist *histogram.Histogram
}

// add adds d into t, taking d's histogram (d must not be used after).
func (t *totals) add(d totals) error {
	c, err := t.tally.plus(d.tally)
	if err != nil {
		return err
	}
	if t.hist == nil {
		t.hist = d.hist
	} else if d.hist != nil {
		if err := t.hist.Merge(d.hist); err != nil {
			return err
		}
	}
	t.tally = c
	return nil
}

// sub takes o out of t, or fails leaving t unchanged when o is not contained.
func (t *totals) sub(o totals) error {
	c, err := t.tally.minus(o.tally)
	if err != nil {
		return err
	}
	h := t.histOrEmpty()
	if o.hist != nil {
		h = h.Clone()
		if err := h.Sub(o.hist); err != nil {
			return err
		}
	}
	t.tally, t.hist = c, h
	return nil
}

// histOrEmpty is t's histogram, or an empty one at the agent's precision.
func (t *totals) histOrEmpty() *histogram.Histogram {
	if t.hist == nil {
		return histogram.New(histogram.DefaultPrecision)
	}
	return t.hist
}
