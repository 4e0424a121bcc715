package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
)

const (
	// MaxEntries is the most entries a timeline holds: when a window would
	// make one more, adjacent entries are first merged in pairs.
	MaxEntries = 2000
	// TimelineVersion is the timeline document's format version, its "v".
	// Fields may be added without changing it (readers ignore unknown ones);
	// a change of meaning bumps it.
	TimelineVersion = 1
	// MaxTimelineLen is the most bytes Timeline.Encode returns, and what
	// DecodeTimeline accepts: MaxEntries entries with every number at its
	// longest (TestTimelineBound). A ConfigMap holds up to 1 MiB.
	MaxTimelineLen = 352 << 10
	// maxStride bounds Stride: 2^30 observations per entry is beyond any run
	// (MaxEntries entries of them, at one read a second, is 68,000 years).
	maxStride = 1 << 30
)

// Timeline is a run's live figures over time: one entry per window since the
// send start, merged across pods, oldest first. While it has fewer than
// MaxEntries entries, each window is an entry of its own. When a window would
// make one more, adjacent entries are merged in pairs and Stride doubles; from
// then on a window extends the last entry until it holds Stride windows, so
// that the resolution stays even along the run.
//
// A merged entry has exact counts and spans its windows together; its
// percentiles are the highest of its windows' percentiles: an upper bound of
// the true percentile of the span (a percentile of a union of windows is
// never above the highest of theirs), and what a plot at that resolution
// should show, a spike never averaged away. Keeping each entry's histogram
// would be exact but cost a few KB per entry.
//
// Entries follow each other without gaps, except where a restored Tracker
// could not account for an interval (see Restore): the timeline then skips it.
type Timeline struct {
	// SendStart is the run's send start; entries are timed from it.
	SendStart time.Time
	// Stride is how many windows an entry holds at most: 1, doubled by each
	// merge in pairs.
	Stride  int
	Entries []Entry
}

// Entry is one window of a timeline, or several merged.
type Entry struct {
	// Start is when the entry starts, from the timeline's SendStart, and
	// Length its length: both whole milliseconds, the instants of the reads
	// rounded (so that entries stay contiguous).
	Start, Length time.Duration
	// Observations is how many windows it merges, 1 to Stride.
	Observations int
	// Requests and Errors count what the pods sent in it, exactly.
	Requests, Errors int64
	// P50, P90 and P99 are its latency percentiles; for a merged entry, the
	// highest of its windows' (an upper bound: see Timeline).
	P50, P90, P99 time.Duration
}

// RequestsPerSecond is the entry's rate: its requests over its length (0 for
// an entry of no length).
func (e Entry) RequestsPerSecond() float64 {
	if e.Length <= 0 {
		return 0
	}
	return float64(e.Requests) / e.Length.Seconds()
}

// entryOf is a closed window as a timeline entry.
func entryOf(w Window, sendStart time.Time) Entry {
	start := w.From.Sub(sendStart).Round(time.Millisecond)
	end := w.To.Sub(sendStart).Round(time.Millisecond)
	return Entry{
		Start: start, Length: end - start, Observations: 1,
		Requests: w.Requests, Errors: w.Errors,
		P50: w.Latency.Quantile(0.50), P90: w.Latency.Quantile(0.90), P99: w.Latency.Quantile(0.99),
	}
}

// add appends a window's entry, or extends the last entry with it (see
// Timeline), merging all entries in pairs first when it is full.
func (tl *Timeline) add(e Entry) {
	if n := len(tl.Entries); n > 0 {
		last := &tl.Entries[n-1]
		if last.Observations < tl.Stride && last.Start+last.Length == e.Start {
			*last = joined(*last, e)
			return
		}
	}
	if len(tl.Entries) >= MaxEntries {
		tl.coarsen()
	}
	if len(tl.Entries) == cap(tl.Entries) {
		// Grown by hand so that a full timeline holds MaxEntries, not the
		// quarter more append would reserve: it is most of a Tracker's memory.
		grown := make([]Entry, len(tl.Entries), min(max(2*len(tl.Entries), 64), MaxEntries))
		copy(grown, tl.Entries)
		tl.Entries = grown
	}
	tl.Entries = append(tl.Entries, e)
}

// coarsen merges adjacent entries in pairs, halving their number, and
// doubles Stride.
func (tl *Timeline) coarsen() {
	n := 0
	for i := 0; i < len(tl.Entries); i += 2 {
		e := tl.Entries[i]
		if i+1 < len(tl.Entries) {
			e = joined(e, tl.Entries[i+1])
		}
		tl.Entries[n] = e
		n++
	}
	clear(tl.Entries[n:])
	tl.Entries = tl.Entries[:n]
	tl.Stride *= 2
}

// joined is two consecutive entries as one: from a's start to b's end, counts
// summed, each percentile the higher of the two.
func joined(a, b Entry) Entry {
	return Entry{
		Start: a.Start, Length: b.Start + b.Length - a.Start,
		Observations: a.Observations + b.Observations,
		Requests:     a.Requests + b.Requests, Errors: a.Errors + b.Errors,
		P50: max(a.P50, b.P50), P90: max(a.P90, b.P90), P99: max(a.P99, b.P99),
	}
}

// timelineDoc is the timeline's JSON document; see Encode.
type timelineDoc struct {
	V            int       `json:"v"`
	SendStart    time.Time `json:"sendStart"`
	Stride       int       `json:"stride"`
	StartMs      []int64   `json:"startMs"`
	LengthMs     []int64   `json:"lengthMs"`
	Observations []int     `json:"observations"`
	Requests     []int64   `json:"requests"`
	Errors       []int64   `json:"errors"`
	P50Ns        []int64   `json:"p50Ns"`
	P90Ns        []int64   `json:"p90Ns"`
	P99Ns        []int64   `json:"p99Ns"`
}

// Encode is the timeline's JSON document, what the ConfigMap
// <loadtest>-timeline-<run> holds under timeline.json: at most MaxTimelineLen
// bytes, one array per field (ready to plot), entry i being the i-th element
// of each:
//
//	{"v":1,"sendStart":"2026-11-28T19:00:05Z","stride":1,
//	 "startMs":[0,2004],"lengthMs":[2004,1998],"observations":[1,1],
//	 "requests":[4012,4020],"errors":[3,0],
//	 "p50Ns":[2101247,2093055],"p90Ns":[8519679,8388607],"p99Ns":[31457279,30408703]}
//
// startMs and lengthMs are Entry.Start and Length in milliseconds, the
// percentiles in nanoseconds (integers all, below 2^53 for any real run, so
// that JavaScript reads them exactly); a page computes the rate as
// requests*1000/lengthMs. It fails on a timeline DecodeTimeline would refuse.
func (tl Timeline) Encode() ([]byte, error) {
	if err := tl.check(); err != nil {
		return nil, fmt.Errorf("failed to encode timeline: %w", err)
	}
	n := len(tl.Entries)
	doc := timelineDoc{
		V: TimelineVersion, SendStart: tl.SendStart.UTC(), Stride: tl.Stride,
		StartMs: make([]int64, n), LengthMs: make([]int64, n), Observations: make([]int, n),
		Requests: make([]int64, n), Errors: make([]int64, n),
		P50Ns: make([]int64, n), P90Ns: make([]int64, n), P99Ns: make([]int64, n),
	}
	for i, e := range tl.Entries {
		doc.StartMs[i], doc.LengthMs[i] = e.Start.Milliseconds(), e.Length.Milliseconds()
		doc.Observations[i], doc.Requests[i], doc.Errors[i] = e.Observations, e.Requests, e.Errors
		doc.P50Ns[i], doc.P90Ns[i], doc.P99Ns[i] = int64(e.P50), int64(e.P90), int64(e.P99)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("failed to encode timeline: %w", err)
	}
	if len(b) > MaxTimelineLen { // the bound makes this unreachable
		return nil, fmt.Errorf("failed to encode timeline: %d bytes, more than %d", len(b), MaxTimelineLen)
	}
	return b, nil
}

// DecodeTimeline reads Encode's document, checking it is a consistent
// timeline of this version of at most MaxTimelineLen bytes.
func DecodeTimeline(data []byte) (Timeline, error) {
	if len(data) > MaxTimelineLen {
		return Timeline{}, fmt.Errorf("timeline is %d bytes, more than %d", len(data), MaxTimelineLen)
	}
	var doc timelineDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return Timeline{}, fmt.Errorf("timeline is not a timeline document: %w", err)
	}
	if dec.More() {
		return Timeline{}, errors.New("timeline has trailing data after the document")
	}
	if doc.V != TimelineVersion {
		return Timeline{}, fmt.Errorf("timeline version %d, want %d", doc.V, TimelineVersion)
	}
	n := len(doc.StartMs)
	for _, l := range []int{len(doc.LengthMs), len(doc.Observations), len(doc.Requests), len(doc.Errors), len(doc.P50Ns), len(doc.P90Ns), len(doc.P99Ns)} {
		if l != n {
			return Timeline{}, fmt.Errorf("timeline arrays of %d and %d entries", n, l)
		}
	}
	if n > MaxEntries {
		return Timeline{}, fmt.Errorf("timeline of %d entries, more than %d", n, MaxEntries)
	}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	tl := Timeline{SendStart: doc.SendStart, Stride: doc.Stride, Entries: make([]Entry, n)}
	for i := range n {
		if doc.StartMs[i] > maxMs || doc.LengthMs[i] > maxMs || doc.StartMs[i] < 0 || doc.LengthMs[i] < 0 {
			return Timeline{}, fmt.Errorf("timeline entry %d: start or length out of range", i)
		}
		tl.Entries[i] = Entry{
			Start: time.Duration(doc.StartMs[i]) * time.Millisecond, Length: time.Duration(doc.LengthMs[i]) * time.Millisecond,
			Observations: doc.Observations[i], Requests: doc.Requests[i], Errors: doc.Errors[i],
			P50: time.Duration(doc.P50Ns[i]), P90: time.Duration(doc.P90Ns[i]), P99: time.Duration(doc.P99Ns[i]),
		}
	}
	if err := tl.check(); err != nil {
		return Timeline{}, fmt.Errorf("timeline is inconsistent: %w", err)
	}
	return tl, nil
}

// check says why a timeline is not one a Tracker makes: the stride a power of
// two, at most MaxEntries entries, each of 1 to Stride windows, whole
// milliseconds from the send start on and in order without overlap, errors
// within requests, percentiles in order and within the histogram's range.
func (tl Timeline) check() error {
	if tl.Stride < 1 || tl.Stride > maxStride || tl.Stride&(tl.Stride-1) != 0 {
		return fmt.Errorf("stride %d is not a power of two up to %d", tl.Stride, maxStride)
	}
	if len(tl.Entries) > MaxEntries {
		return fmt.Errorf("%d entries, more than %d", len(tl.Entries), MaxEntries)
	}
	var end time.Duration
	for i, e := range tl.Entries {
		switch {
		case e.Observations < 1 || e.Observations > tl.Stride:
			return fmt.Errorf("entry %d merges %d windows, not 1 to %d", i, e.Observations, tl.Stride)
		case e.Start%time.Millisecond != 0 || e.Length%time.Millisecond != 0:
			return fmt.Errorf("entry %d is not timed in whole milliseconds", i)
		case e.Start < end:
			return fmt.Errorf("entry %d starts at %v, before the previous one ends (%v)", i, e.Start, end)
		case e.Length < 0 || e.Length > math.MaxInt64-e.Start:
			return fmt.Errorf("entry %d lasts %v: negative or beyond the range of a duration", i, e.Length)
		case e.Requests < 0 || e.Errors < 0 || e.Errors > e.Requests:
			return fmt.Errorf("entry %d has %d errors of %d requests", i, e.Errors, e.Requests)
		case e.P50 < 0 || e.P50 > e.P90 || e.P90 > e.P99 || e.P99 > time.Duration(histogram.MaxValue):
			return fmt.Errorf("entry %d has percentiles %v, %v, %v: not in order within [0, %v]",
				i, e.P50, e.P90, e.P99, time.Duration(histogram.MaxValue))
		}
		end = e.Start + e.Length
	}
	return nil
}
