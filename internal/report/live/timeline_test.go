package live

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// oneSecondWindows adds n contiguous one-second windows to tl, window i
// holding i+1 requests, i errors when i is even, and percentiles of i ms.
func oneSecondWindows(tl *Timeline, n int) {
	for i := range n {
		p := time.Duration(i) * time.Millisecond
		tl.add(Entry{
			Start: time.Duration(i) * time.Second, Length: time.Second, Observations: 1,
			Requests: int64(i + 1), Errors: int64(i%2) * int64(i), P50: p / 2, P90: p, P99: p,
		})
	}
}

// TestTimelineCoarsens: at MaxEntries entries, adjacent pairs merge and the
// stride doubles; later windows fill the last entry up to the stride. Counts
// stay exact and contiguous; a merged entry's percentiles are the highest of
// its windows'.
func TestTimelineCoarsens(t *testing.T) {
	type shape struct {
		Entries, Stride, LastObservations int
		Requests, Errors                  int64
		Span                              time.Duration
	}
	sumTo := func(n int) int64 { return int64(n) * int64(n+1) / 2 }
	errorsTo := func(n int) int64 { // odd i below n
		var s int64
		for i := 1; i < n; i += 2 {
			s += int64(i)
		}
		return s
	}
	for _, tc := range []struct {
		windows int
		want    shape
	}{
		{1, shape{1, 1, 1, 0, 0, 0}},
		{MaxEntries, shape{MaxEntries, 1, 1, 0, 0, 0}},
		{MaxEntries + 1, shape{MaxEntries/2 + 1, 2, 1, 0, 0, 0}},
		{MaxEntries + 2, shape{MaxEntries/2 + 1, 2, 2, 0, 0, 0}},
		{2 * MaxEntries, shape{MaxEntries, 2, 2, 0, 0, 0}},
		{2*MaxEntries + 1, shape{MaxEntries/2 + 1, 4, 1, 0, 0, 0}},
		{10_000, shape{1250, 8, 8, 0, 0, 0}},
	} {
		tl := Timeline{SendStart: t0, Stride: 1}
		oneSecondWindows(&tl, tc.windows)
		want := tc.want
		want.Requests, want.Errors, want.Span = sumTo(tc.windows), errorsTo(tc.windows), time.Duration(tc.windows)*time.Second
		got := shape{Entries: len(tl.Entries), Stride: tl.Stride, LastObservations: tl.Entries[len(tl.Entries)-1].Observations}
		var end time.Duration
		window := 0
		for i, e := range tl.Entries {
			if e.Start != end {
				t.Fatalf("%d windows: entry %d starts at %v, the previous ended at %v", tc.windows, i, e.Start, end)
			}
			top := time.Duration(window+e.Observations-1) * time.Millisecond // its last window's, the highest
			if e.P99 != top || e.P90 != top || e.P50 != top/2 {
				t.Fatalf("%d windows: entry %d has percentiles %v/%v/%v, want the highest of its windows' (%v)", tc.windows, i, e.P50, e.P90, e.P99, top)
			}
			end = e.Start + e.Length
			window += e.Observations
			got.Requests += e.Requests
			got.Errors += e.Errors
		}
		got.Span = end
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d windows (-want +got):\n%s", tc.windows, diff)
		}
		if err := tl.check(); err != nil {
			t.Errorf("%d windows: %v", tc.windows, err)
		}
	}
}

// TestTimelineGap: a window that does not follow the last entry starts a new
// one even when the last is not full.
func TestTimelineGap(t *testing.T) {
	tl := Timeline{SendStart: t0, Stride: 4}
	tl.add(Entry{Start: 0, Length: time.Second, Observations: 1, Requests: 1})
	tl.add(Entry{Start: time.Second, Length: time.Second, Observations: 1, Requests: 2})
	tl.add(Entry{Start: 5 * time.Second, Length: time.Second, Observations: 1, Requests: 3})
	want := []Entry{
		{Start: 0, Length: 2 * time.Second, Observations: 2, Requests: 3},
		{Start: 5 * time.Second, Length: time.Second, Observations: 1, Requests: 3},
	}
	if diff := cmp.Diff(want, tl.Entries); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
}

// TestTimelineEncoding: the document's exact form (it is stored, and read by
// a report page), and a round trip of a tracked run.
func TestTimelineEncoding(t *testing.T) {
	tl := Timeline{SendStart: t0.Add(5 * time.Second), Stride: 1, Entries: []Entry{
		{Start: 0, Length: 2004 * time.Millisecond, Observations: 1, Requests: 4012, Errors: 3, P50: 2101247, P90: 8519679, P99: 31457279},
		{Start: 2004 * time.Millisecond, Length: 1998 * time.Millisecond, Observations: 1, Requests: 4020, P50: 2093055, P90: 8388607, P99: 30408703},
	}}
	b, err := tl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"sendStart":"2026-11-28T19:00:05Z","stride":1,` +
		`"startMs":[0,2004],"lengthMs":[2004,1998],"observations":[1,1],"requests":[4012,4020],"errors":[3,0],` +
		`"p50Ns":[2101247,2093055],"p90Ns":[8519679,8388607],"p99Ns":[31457279,30408703]}`
	if string(b) != want {
		t.Fatalf("Encode:\n%s\nwant\n%s", b, want)
	}
	empty, err := Timeline{SendStart: t0, Stride: 1}.Encode()
	if err != nil || !strings.Contains(string(empty), `"startMs":[],`) {
		t.Fatalf("empty timeline: %s, %v", empty, err)
	}

	// A tracked run, long enough to coarsen, read back as it was.
	names := podNames(3)
	tr := newTracker(t, t0, names, 0)
	agents := []*agent{newAgent(1, t0), newAgent(2, t0), newAgent(3, t0)}
	for step := 1; step <= 2100; step++ {
		snaps := map[string]podreport.Report{}
		for i, a := range agents {
			a.send(20, at(1000*step+7*i).Add(time.Duration(i)*123*time.Microsecond)) // reads are not on whole milliseconds
			snaps[names[i]] = copyReport(a.rep)
		}
		observe(t, tr, snaps)
	}
	orig := tr.Timeline()
	if orig.Stride != 2 {
		t.Fatalf("stride %d after 2100 windows, want 2", orig.Stride)
	}
	b, err = orig.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTimeline(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	t.Logf("a timeline of %d entries: %d bytes", len(orig.Entries), len(b))
}

// TestTimelineBound: the document of MaxEntries entries with every number at
// its longest (20 characters, more than any valid entry has) fits in
// MaxTimelineLen; so does the largest valid timeline, through Encode.
func TestTimelineBound(t *testing.T) {
	long := make([]int64, MaxEntries)
	for i := range long {
		long[i] = math.MinInt64
	}
	longInts := make([]int, MaxEntries)
	for i := range longInts {
		longInts[i] = math.MinInt64
	}
	b, err := json.Marshal(timelineDoc{
		V: TimelineVersion, SendStart: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -23*3600-59*60)), Stride: math.MinInt64,
		StartMs: long, LengthMs: long, Observations: longInts, Requests: long, Errors: long, P50Ns: long, P90Ns: long, P99Ns: long,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxTimelineLen {
		t.Fatalf("a timeline may take %d bytes, more than MaxTimelineLen %d", len(b), MaxTimelineLen)
	}
	t.Logf("timeline: at most %d of %d bytes", len(b), MaxTimelineLen)

	tl := Timeline{SendStart: t0, Stride: maxStride}
	step := (time.Duration(math.MaxInt64) / MaxEntries).Truncate(time.Millisecond)
	for i := range MaxEntries {
		top := time.Duration(histogram.MaxValue)
		tl.Entries = append(tl.Entries, Entry{Start: time.Duration(i) * step, Length: step, Observations: maxStride,
			Requests: math.MaxInt64, Errors: math.MaxInt64, P50: top, P90: top, P99: top})
	}
	b, err = tl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTimeline(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tl, back); diff != "" {
		t.Fatalf("largest timeline round trip (-want +got):\n%s", diff)
	}
	t.Logf("largest valid timeline: %d bytes", len(b))
}

// TestDecodeTimelineRejects: what is not a consistent timeline document.
func TestDecodeTimelineRejects(t *testing.T) {
	good := func(edit string) string {
		doc := map[string]string{
			"v": "1", "sendStart": `"2026-11-28T19:00:05Z"`, "stride": "2",
			"startMs": "[0,2000]", "lengthMs": "[2000,1000]", "observations": "[2,1]", "requests": "[10,5]",
			"errors": "[1,0]", "p50Ns": "[1,2]", "p90Ns": "[3,4]", "p99Ns": "[5,6]",
		}
		k, v, _ := strings.Cut(edit, "=")
		if k != "" {
			doc[k] = v
		}
		var parts []string
		for _, k := range []string{"v", "sendStart", "stride", "startMs", "lengthMs", "observations", "requests", "errors", "p50Ns", "p90Ns", "p99Ns"} {
			parts = append(parts, `"`+k+`":`+doc[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	if _, err := DecodeTimeline([]byte(good(""))); err != nil {
		t.Fatalf("the good document: %v", err)
	}
	for _, tc := range []struct {
		doc, want string
	}{
		{"", "not a timeline document"},
		{"[]", "not a timeline document"},
		{good("") + "{}", "trailing data"},
		{good("v=2"), "version 2, want 1"},
		{good("requests=[10]"), "arrays of 2 and 1 entries"},
		{good("stride=3"), "stride 3 is not a power of two"},
		{good("stride=0"), "stride 0 is not a power of two"},
		{good("observations=[3,1]"), "entry 0 merges 3 windows, not 1 to 2"},
		{good("observations=[0,1]"), "entry 0 merges 0 windows"},
		{good("startMs=[0,1999]"), "entry 1 starts at 1.999s, before the previous one ends (2s)"},
		{good("startMs=[-1,2000]"), "entry 0: start or length out of range"},
		{good("lengthMs=[2000,-5]"), "entry 1: start or length out of range"},
		{good("startMs=[0,9223372036854775]"), "entry 1: start or length out of range"},
		{good("startMs=[0,9223372036854]") + "", "beyond the range"},
		{good("errors=[11,0]"), "entry 0 has 11 errors of 10 requests"},
		{good("p90Ns=[0,4]"), "entry 0 has percentiles 1ns, 0s, 5ns: not in order"},
		{good("p99Ns=[5,281474976710656]"), "not in order within"},
		{strings.Repeat(" ", MaxTimelineLen+1), "more than"},
	} {
		_, err := DecodeTimeline([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeTimeline(%.80s): %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
	if _, err := DecodeTimeline([]byte(good("startMs=[0,2000.5]"))); err == nil {
		t.Error("a fractional millisecond decoded")
	}
}
