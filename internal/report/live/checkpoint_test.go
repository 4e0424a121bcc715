package live

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// reads is a run as the manager reads it: reads[i] holds the snapshots read
// i, by pod (a pod absent was missed).
type reads []map[string]podreport.Report

// makeReads simulates pods a and b for n reads every every; missed(i, pod)
// says read i misses the pod; b's clock is lag behind a's.
func makeReads(n int, every, lag time.Duration, missed func(i int, pod string) bool) reads {
	a, b := newAgent(1, t0), newAgent(2, t0)
	var rs reads
	for i := range n {
		end := t0.Add(time.Duration(i+1) * every)
		a.send(50+i%7, end)
		b.send(30+i%5, end.Add(-lag))
		snaps := map[string]podreport.Report{}
		for _, p := range []struct {
			name string
			a    *agent
		}{{"a", a}, {"b", b}} {
			if !missed(i, p.name) {
				snaps[p.name] = copyReport(p.a.rep)
			}
		}
		rs = append(rs, snaps)
	}
	return rs
}

// restart checkpoints tr and restores it, as a manager restart would.
func restart(t *testing.T, tr *Tracker, window time.Duration) *Tracker {
	t.Helper()
	b, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Restore(b, t0, []string{"b", "a"}, window)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// TestCheckpointRestore: a Tracker restored from a checkpoint, after missing
// the reads while the manager was away, ends with the same figures as one
// that never stopped: the same cumulative figures and last window, and the
// same timeline but for the window after the restart, which holds exactly
// what the uninterrupted one's windows of that span hold. Nothing counted
// twice, nothing lost.
func TestCheckpointRestore(t *testing.T) {
	none := func(int, string) bool { return false }
	for _, tc := range []struct {
		name         string
		reads        reads
		at, away     int // checkpoint after read at; reads at..at+away-1 are missed while away
		restartTwice bool
	}{
		{"between two reads", makeReads(30, 2*time.Second, 0, none), 10, 0, false},
		{"away for five reads", makeReads(30, 2*time.Second, 0, none), 10, 5, false},
		{"a pod missed by the first read after", makeReads(30, 2*time.Second, 0,
			func(i int, pod string) bool { return i == 13 && pod == "b" }), 10, 3, false},
		{"before every pod was read", makeReads(20, 2*time.Second, 0,
			func(i int, pod string) bool { return i < 3 && pod == "b" }), 2, 1, false},
		{"something pending at the checkpoint", makeReads(20, 2*time.Second, 3*time.Second,
			func(i int, pod string) bool { return i == 9 && pod == "a" }), 10, 2, false},
		{"restarted twice before a read", makeReads(30, 2*time.Second, 0, none), 10, 4, true},
		{"a coarsened timeline", makeReads(2100, time.Second, 0, none), 2050, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const window = 30 * time.Second
			whole := newTracker(t, t0, []string{"a", "b"}, window)
			for _, snaps := range tc.reads {
				observe(t, whole, snaps)
			}
			tr := newTracker(t, t0, []string{"a", "b"}, window)
			// accounted is what the windows hold: the pods' snapshots as of
			// the last window before the checkpoint (none before the first).
			accounted, seen := map[string]podreport.Report{}, map[string]podreport.Report{}
			for _, snaps := range tc.reads[:tc.at] {
				end := tr.windowEnd
				observe(t, tr, snaps)
				for name, r := range snaps {
					seen[name] = r
				}
				if !tr.windowEnd.Equal(end) {
					maps.Copy(accounted, seen)
				}
			}
			tr = restart(t, tr, window)
			if tr.Progress() != nil {
				t.Fatal("figures right after Restore, before every pod was read again")
			}
			if tc.restartTwice {
				tr = restart(t, tr, window)
			}
			restoredAt := tr.windowEnd
			latest := func(rs reads) map[string]podreport.Report {
				out := map[string]podreport.Report{}
				for _, snaps := range rs {
					for name, r := range snaps {
						out[name] = r
					}
				}
				return out
			}
			for i, snaps := range tc.reads[tc.at+tc.away:] {
				observe(t, tr, snaps)
				if tr.lastWindow == nil || len(tr.ring.slots) != 1 {
					continue
				}
				// The first window after the restart: the pods' snapshots
				// minus what the windows before the checkpoint held.
				want := mergedLatency(t, latest(tc.reads[tc.at+tc.away:tc.at+tc.away+i+1]))
				if err := want.Sub(mergedLatency(t, accounted)); err != nil {
					t.Fatal(err)
				}
				if !newestSlot(t, tr).EqualCounts(want) {
					t.Fatal("the first window after the restart is not the pods' snapshots minus the checkpoint's")
				}
			}

			if diff := cmp.Diff(whole.Progress(), tr.Progress()); diff != "" {
				t.Fatalf("Progress (-uninterrupted +restored):\n%s", diff)
			}
			wholeTotals, err := whole.Cumulative()
			if err != nil {
				t.Fatal(err)
			}
			totals, err := tr.Cumulative()
			if err != nil {
				t.Fatal(err)
			}
			exact := cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })
			if diff := cmp.Diff(wholeTotals, totals, exact); diff != "" {
				t.Fatalf("Cumulative (-uninterrupted +restored):\n%s", diff)
			}
			got, wholeTimeline := tr.Timeline(), whole.Timeline()
			if got.Stride == 1 {
				// The restored timeline is the uninterrupted one with the
				// entries of the span after the restart joined into one.
				want := joinSpan(t, wholeTimeline, restoredAt.Sub(t0).Round(time.Millisecond), got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("Timeline (-uninterrupted, the restart's span joined +restored):\n%s", diff)
				}
			} else {
				// Coarsened, the entries after the restart group the windows
				// differently; those before it are the same.
				before := func(tl Timeline) []Entry {
					var out []Entry
					for _, e := range tl.Entries {
						if e.Start+e.Length < restoredAt.Sub(t0) && e.Observations == tl.Stride {
							out = append(out, e)
						}
					}
					return out
				}
				if diff := cmp.Diff(before(wholeTimeline), before(got)); diff != "" {
					t.Fatalf("Timeline before the restart (-uninterrupted +restored):\n%s", diff)
				}
			}
			for _, tl := range []Timeline{got, wholeTimeline} {
				var requests, errs int64
				for _, e := range tl.Entries {
					requests += e.Requests
					errs += e.Errors
				}
				if p := tr.Progress(); requests != p.Requests || errs != p.Errors {
					t.Fatalf("the timeline holds %d requests and %d errors, the pods sent %d and %d", requests, errs, p.Requests, p.Errors)
				}
				if err := tl.check(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// mergedLatency merges the snapshots' histograms.
func mergedLatency(t *testing.T, snaps map[string]podreport.Report) *histogram.Histogram {
	t.Helper()
	h := histogram.New(histogram.DefaultPrecision)
	for _, r := range snaps {
		if err := h.Merge(r.Latency); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// joinSpan is tl with the entries of the restored timeline's entry that
// starts at from joined into one, as the restored Tracker saw them: its
// percentiles are those of the restored entry (a window of its own, not the
// highest of several) and it counts as one window.
func joinSpan(t *testing.T, tl Timeline, from time.Duration, restored Timeline) Timeline {
	t.Helper()
	var span Entry
	for _, e := range restored.Entries {
		if e.Start == from {
			span = e
		}
	}
	if span.Observations == 0 {
		t.Fatalf("no restored entry starts at %v", from)
	}
	out := tl
	out.Entries = nil
	j := -1 // the joined entry's index in out.Entries
	for _, e := range tl.Entries {
		switch {
		case e.Start < from || e.Start >= span.Start+span.Length:
			out.Entries = append(out.Entries, e)
		case j < 0:
			out.Entries = append(out.Entries, e)
			j = len(out.Entries) - 1
		default:
			out.Entries[j] = joined(out.Entries[j], e)
		}
	}
	out.Entries[j].P50, out.Entries[j].P90, out.Entries[j].P99 = span.P50, span.P90, span.P99
	out.Entries[j].Observations = span.Observations
	return out
}

// TestRestoreNotContained: when the pods' snapshots hold less than the
// checkpoint (which a checkpoint of their run cannot cause), no window is
// made of the difference: the windows start again from that read.
func TestRestoreNotContained(t *testing.T) {
	rs := makeReads(12, 2*time.Second, 0, func(int, string) bool { return false })
	tr := newTracker(t, t0, []string{"a", "b"}, time.Minute)
	for _, snaps := range rs[:10] {
		observe(t, tr, snaps)
	}
	before := tr.Timeline()
	tr = restart(t, tr, time.Minute)
	// Snapshots taken after the checkpoint, with less than it holds.
	shrunk := map[string]podreport.Report{}
	for name, r := range rs[4] {
		r.End = at(22_000)
		shrunk[name] = r
	}
	observe(t, tr, shrunk)
	if p := tr.Progress(); p == nil || p.Window != nil {
		t.Fatalf("progress %+v, want figures without a window", p)
	}
	if diff := cmp.Diff(before, tr.Timeline()); diff != "" {
		t.Fatalf("the timeline changed (-before +after):\n%s", diff)
	}
	next := map[string]podreport.Report{}
	for name, r := range rs[5] {
		r.End = at(24_000)
		next[name] = r
	}
	observe(t, tr, next)
	delta := rs[5]["a"].Requests - rs[4]["a"].Requests + rs[5]["b"].Requests - rs[4]["b"].Requests
	if w := tr.Progress().Window; w == nil || w.Requests != delta || w.Seconds != "2.00" {
		t.Fatalf("window %+v, want %d requests over 2.00 s", w, delta)
	}
	got := tr.Timeline().Entries
	if last := got[len(got)-1]; last.Start != 22*time.Second || last.Requests != delta {
		t.Fatalf("last entry %+v, want the read after the restart, from 22s, %d requests", last, delta)
	}
}

// TestRestoreRefuses: a checkpoint of another run, or no checkpoint at all.
func TestRestoreRefuses(t *testing.T) {
	rs := makeReads(3, 2*time.Second, 0, func(int, string) bool { return false })
	tr := newTracker(t, t0, []string{"a", "b"}, 0)
	for _, snaps := range rs {
		observe(t, tr, snaps)
	}
	good, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(doc map[string]json.RawMessage)) []byte {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(good, &doc); err != nil {
			t.Fatal(err)
		}
		f(doc)
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		data      []byte
		sendStart time.Time
		pods      []string
		want      string
	}{
		{"another send start", good, t0.Add(time.Second), []string{"a", "b"}, "started sending at 2026-11-28T19:00:00Z, not 2026-11-28T19:00:01Z"},
		{"other pods", good, t0, []string{"a", "c"}, `checkpoint of pods ["a" "b"], not ["a" "c"]`},
		{"fewer pods", good, t0, []string{"a"}, "checkpoint of pods"},
		{"not JSON", []byte("ConfigMap"), t0, []string{"a", "b"}, "not a checkpoint"},
		{"trailing data", append(append([]byte{}, good...), '{'), t0, []string{"a", "b"}, "trailing data"},
		{"another version", edit(func(d map[string]json.RawMessage) { d["v"] = json.RawMessage("2") }), t0, []string{"a", "b"}, "version 2, want 1"},
		{"observed before the start", edit(func(d map[string]json.RawMessage) { d["observed"] = json.RawMessage(`"2026-11-28T18:00:00Z"`) }),
			t0, []string{"a", "b"}, "before the send start"},
		{"timeline past the observed instant", edit(func(d map[string]json.RawMessage) { d["observed"] = json.RawMessage(`"2026-11-28T19:00:01Z"`) }),
			t0, []string{"a", "b"}, "timeline goes past"},
		{"a broken cumulative document", edit(func(d map[string]json.RawMessage) {
			d["cumulative"] = json.RawMessage(strings.Replace(string(d["cumulative"]), `"requests":`, `"requests":1`, 1))
		}), t0, []string{"a", "b"}, "cumulative figures: report is inconsistent"},
		{"a broken timeline", edit(func(d map[string]json.RawMessage) {
			d["timeline"] = json.RawMessage(strings.Replace(string(d["timeline"]), `"stride":1`, `"stride":3`, 1))
		}), t0, []string{"a", "b"}, "checkpoint's timeline is inconsistent"},
		{"too large", make([]byte, MaxCheckpointLen+1), t0, []string{"a", "b"}, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Restore(tc.data, tc.sendStart, tc.pods, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := Restore(good, t0, []string{"b", "a"}, 0); err != nil {
		t.Fatalf("the good checkpoint, pods in another order: %v", err)
	}
}

// maxPodName is the i-th of MaxPods distinct names of MaxPodNameLen bytes.
func maxPodName(i int) string {
	return fmt.Sprintf("%s%04d", strings.Repeat("w", MaxPodNameLen-4), i)
}

// worstHistogram has every latency bucket populated with a count of about 2^40.
func worstHistogram() *histogram.Histogram {
	h := histogram.New(histogram.DefaultPrecision)
	for v := int64(0); v <= histogram.MaxValue; v += v/300 + 1 { // steps finer than a bucket
		h.Record(time.Duration(v))
	}
	h.Record(time.Duration(histogram.MaxValue))
	for range 40 { // doubling
		if err := h.Merge(h.Clone()); err != nil {
			panic(err)
		}
	}
	return h
}

// allCodes maps every status code 100-599 to n.
func allCodes(n int64) map[string]int64 {
	codes := map[string]int64{}
	for c := 100; c <= 599; c++ {
		codes[podreport.CodeKey(c)] = n
	}
	return codes
}

// allClasses maps every error class to n.
func allClasses(n int64) map[string]int64 {
	classes := map[string]int64{}
	for _, c := range podreport.Classes {
		classes[c] = n
	}
	return classes
}

// TestCheckpointBound: the arithmetic behind MaxCheckpointLen (MaxPods names
// of MaxPodNameLen bytes, the timeline's bound, a cumulative document with
// every counter at its longest, every status code and error class, and every
// histogram bucket full), then a real checkpoint near that worst case, which
// restores.
func TestCheckpointBound(t *testing.T) {
	names := make([]string, MaxPods)
	for i := range names {
		names[i] = maxPodName(i)
	}
	long := make([]int64, MaxEntries)
	for i := range long {
		long[i] = math.MinInt64
	}
	longInts := make([]int, MaxEntries)
	for i := range longInts {
		longInts[i] = math.MinInt64
	}
	tl, err := json.Marshal(timelineDoc{V: TimelineVersion, SendStart: t0, Stride: math.MinInt64,
		StartMs: long, LengthMs: long, Observations: longInts, Requests: long, Errors: long, P50Ns: long, P90Ns: long, P99Ns: long})
	if err != nil {
		t.Fatal(err)
	}
	empty := histogram.New(histogram.DefaultPrecision)
	cum, err := json.Marshal(podreport.Report{
		Version: podreport.Version, Live: true, Start: t0, End: t0,
		Requests: math.MaxInt64, Errors: math.MaxInt64, BytesReceived: math.MaxInt64,
		ErrorsByClass: allClasses(math.MaxInt64), Codes: allCodes(math.MaxInt64), Latency: empty,
	})
	if err != nil {
		t.Fatal(err)
	}
	emptyText, _ := empty.MarshalText()
	maxTime := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	doc, err := json.Marshal(checkpointDoc{V: CheckpointVersion, SendStart: maxTime, Pods: names, Observed: maxTime, Cumulative: cum, Timeline: tl})
	if err != nil {
		t.Fatal(err)
	}
	bound := len(doc) + histogram.EncodedLenBound(histogram.DefaultPrecision) - len(emptyText)
	if bound > MaxCheckpointLen {
		t.Fatalf("a checkpoint may take %d bytes, more than MaxCheckpointLen %d", bound, MaxCheckpointLen)
	}
	t.Logf("checkpoint: at most %d of %d bytes", bound, MaxCheckpointLen)

	// A real one: the longest names, a pod whose snapshot has every bucket and
	// status code, a full timeline.
	tr := newTracker(t, t0, names, 0)
	h := worstHistogram()
	responses := int64(h.Count())
	const each = int64(1e12)
	snap := podreport.Report{Live: true, Start: t0, End: at(1000), Codes: allCodes(each), ErrorsByClass: allClasses(math.MaxInt64 / 16),
		BytesReceived: math.MaxInt64, Latency: h}
	snap.Codes["200"] = responses - 499*each
	snap.Requests = responses + int64(len(podreport.Classes))*(math.MaxInt64/16)
	snap.Errors = 300*each + int64(len(podreport.Classes))*(math.MaxInt64/16)
	snaps := map[string]podreport.Report{names[0]: snap}
	for _, name := range names[1:] {
		snaps[name] = podreport.Report{Live: true, Start: t0, End: at(1000), Latency: histogram.New(histogram.DefaultPrecision)}
	}
	observe(t, tr, snaps)
	tr.timeline = Timeline{SendStart: t0, Stride: 1}
	oneSecondWindows(&tr.timeline, 2*MaxEntries)
	tr.windowEnd = t0.Add(2 * MaxEntries * time.Second)
	b, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > bound {
		t.Fatalf("checkpoint of %d bytes, more than the %d of the arithmetic", len(b), bound)
	}
	back, err := Restore(b, t0, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.baseline.hist; !got.Equal(h) || back.baseline.requests != snap.Requests {
		t.Fatal("the restored cumulative figures differ")
	}
	t.Logf("near-worst checkpoint: %d bytes", len(b))
}
