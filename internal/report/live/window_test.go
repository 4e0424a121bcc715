package live

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// TestLastOverWrappedRing: after many more reads than the ring holds, Last(d)
// merges exactly the windows wholly within the last d, capped at the
// Tracker's window.
func TestLastOverWrappedRing(t *testing.T) {
	a := newAgent(1, t0)
	tr := newTracker(t, t0, []string{"a"}, 10*time.Second)
	var perRead []*histogram.Histogram // the latencies of read i+1
	for i := 1; i <= 40; i++ {
		h := histogram.New(histogram.DefaultPrecision)
		a.send(i, at(1000*i), h) // read i holds i requests
		perRead = append(perRead, h)
		observe(t, tr, map[string]podreport.Report{"a": a.snapshot(t)})
	}
	if n := len(tr.ring.slots); n > 11 {
		t.Fatalf("the ring holds %d slots for 10 one-second windows", n)
	}
	type window struct {
		From, To  time.Time
		Requests  int64
		Latency   *histogram.Histogram
		ProgressW v1.ProgressWindow
	}
	merged := func(from, to int) *histogram.Histogram { // reads from+1..to
		h := histogram.New(histogram.DefaultPrecision)
		for _, r := range perRead[from:to] {
			if err := h.Merge(r); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	for _, tc := range []struct {
		name     string
		d        time.Duration
		from     int // the window starts after read from and ends after read 40
		requests int64
	}{
		{"the last read", time.Second, 39, 40},
		{"a read and a half: whole windows only", 2500 * time.Millisecond, 38, 39 + 40},
		{"five reads", 5 * time.Second, 35, 36 + 37 + 38 + 39 + 40},
		{"the whole span", 10 * time.Second, 30, 355},
		{"capped at the span", 30 * time.Second, 30, 355},
		{"nothing", 0, 40, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tr.Last(tc.d)
			got := window{From: w.From, To: w.To, Requests: w.Requests, Latency: w.Latency}
			want := window{From: at(1000 * tc.from), To: at(40_000), Requests: tc.requests, Latency: merged(tc.from, 40)}
			if diff := cmp.Diff(want, got, histCounts); diff != "" {
				t.Fatalf("Last(%v) (-want +got):\n%s", tc.d, diff)
			}
		})
	}
}

// TestRingStaysBounded: however often the manager reads, the ring holds at
// most about ringSlots slots, and Last of its whole span still covers nearly
// all of it.
func TestRingStaysBounded(t *testing.T) {
	for _, tc := range []struct {
		span, every time.Duration
	}{
		{MaxWindow, 2 * time.Second},
		{30 * time.Second, 100 * time.Millisecond},
		{30 * time.Second, 5 * time.Second},
	} {
		a := newAgent(1, t0)
		tr := newTracker(t, t0, []string{"a"}, tc.span)
		most := 0
		for end := tc.every; end <= 3*tc.span; end += tc.every {
			a.send(1, t0.Add(end))
			observe(t, tr, map[string]podreport.Report{"a": copyReport(a.rep)})
			most = max(most, len(tr.ring.slots))
		}
		if most > ringSlots+2 {
			t.Errorf("span %v, reads every %v: %d slots, more than %d", tc.span, tc.every, most, ringSlots+2)
		}
		slot := max(tc.span/ringSlots, tc.every)
		if got := tr.Last(tc.span).Length(); got > tc.span || got < tc.span-2*slot {
			t.Errorf("span %v, reads every %v: Last(span) covers %v", tc.span, tc.every, got)
		}
	}
}

// TestCheckAbort: the live check of spec.thresholds, with and without a
// delay, on windows long enough and too short, with and without responses.
func TestCheckAbort(t *testing.T) {
	ms := func(n int) *metav1.Duration { return &metav1.Duration{Duration: time.Duration(n) * time.Millisecond} }
	seconds := func(n int32) *int32 { return &n }
	abort := func(window, delay int32) *v1.ThresholdAbort {
		a := &v1.ThresholdAbort{}
		if window > 0 {
			a.WindowSeconds = seconds(window)
		}
		if delay > 0 {
			a.DelaySeconds = seconds(delay)
		}
		return a
	}
	// A phase of the run: until untilMs, every read (each 2 seconds) sees perRead
	// more requests, of latency scale, with those errors.
	type phase struct {
		untilMs, perRead         int
		scale                    time.Duration
		timeoutEvery, errorEvery int64
	}
	slow := phase{perRead: 100, scale: 80 * time.Millisecond}
	fast := phase{perRead: 100, scale: 10 * time.Millisecond}
	until := func(p phase, ms int) phase { p.untilMs = ms; return p }
	type out struct {
		Message string
		Broken  bool
	}
	for _, tc := range []struct {
		name   string
		th     *v1.Thresholds
		phases []phase
		unread bool // a second pod never read
		want   out
	}{
		{"no thresholds", nil, []phase{until(slow, 60_000)}, false, out{}},
		{"no abort: judged at the end only", &v1.Thresholds{MaxP99: ms(50)}, []phase{until(slow, 60_000)}, false, out{}},
		{"p99 over the default window", &v1.Thresholds{MaxP99: ms(50), Abort: abort(0, 0)}, []phase{until(slow, 60_000)}, false,
			out{"over the last 30s: p99 80ms exceeds maxP99 50ms", true}},
		{"kept", &v1.Thresholds{MaxP99: ms(50), MaxErrorRatio: "0.1", Abort: abort(0, 0)}, []phase{until(fast, 60_000)}, false, out{}},
		{"early: less than half the window", &v1.Thresholds{MaxP99: ms(50), Abort: abort(0, 0)}, []phase{until(slow, 14_000)}, false, out{}},
		{"early: half the window, judged as it is", &v1.Thresholds{MaxP99: ms(50), Abort: abort(0, 0)}, []phase{until(slow, 16_000)}, false,
			out{"over the last 16s: p99 80ms exceeds maxP99 50ms", true}},
		{"a pod never read", &v1.Thresholds{MaxP99: ms(50), Abort: abort(0, 0)}, []phase{until(slow, 60_000)}, true, out{}},
		{"within the delay", &v1.Thresholds{MaxP99: ms(50), Abort: abort(10, 30)}, []phase{until(slow, 28_000)}, false, out{}},
		{"right after the delay: the window does not reach into it", &v1.Thresholds{MaxP99: ms(50), Abort: abort(30, 10)},
			[]phase{until(slow, 24_000)}, false, out{}},
		{"after the delay, half a window", &v1.Thresholds{MaxP99: ms(50), Abort: abort(30, 10)}, []phase{until(slow, 26_000)}, false,
			out{"over the last 16s: p99 80ms exceeds maxP99 50ms", true}},
		{"a slow warm-up is not judged", &v1.Thresholds{MaxP99: ms(50), Abort: abort(10, 20)},
			[]phase{until(slow, 20_000), until(fast, 60_000)}, false, out{}},
		{"without the delay the same warm-up breaks", &v1.Thresholds{MaxP99: ms(50), Abort: abort(10, 0)},
			[]phase{until(slow, 20_000), until(fast, 22_000)}, false, out{"over the last 10s: p99 80ms exceeds maxP99 50ms", true}},
		{"a slow spell that left the window", &v1.Thresholds{MaxP99: ms(50), Abort: abort(10, 0)},
			[]phase{until(fast, 6_000), until(slow, 8_000), until(fast, 40_000)}, false, out{}},
		{"error ratio", &v1.Thresholds{MaxErrorRatio: "0.1", Abort: abort(0, 0)},
			[]phase{until(phase{perRead: 100, scale: 10 * time.Millisecond, errorEvery: 2}, 60_000)}, false,
			out{"over the last 30s: error ratio 0.5000 exceeds maxErrorRatio 0.1", true}},
		{"several limits", &v1.Thresholds{MaxErrorRatio: "0.1", MaxP50: ms(50), MaxP99: ms(60), Abort: abort(0, 0)},
			[]phase{until(phase{perRead: 100, scale: 80 * time.Millisecond, errorEvery: 2}, 60_000)}, false,
			out{"over the last 30s: error ratio 0.5000 exceeds maxErrorRatio 0.1; p50 80ms exceeds maxP50 50ms; p99 80ms exceeds maxP99 60ms", true}},
		{"no requests in the window", &v1.Thresholds{MaxErrorRatio: "0", MaxP50: ms(1), Abort: abort(10, 0)},
			[]phase{until(phase{perRead: 100, scale: 10 * time.Millisecond, errorEvery: 1}, 2_000), until(phase{}, 60_000)}, false, out{}},
		{"no responses: no latency to judge", &v1.Thresholds{MaxP99: ms(1), Abort: abort(10, 0)},
			[]phase{until(phase{perRead: 100, timeoutEvery: 1}, 60_000)}, false, out{}},
		{"no responses: every request failed", &v1.Thresholds{MaxP99: ms(1), MaxErrorRatio: "0.5", Abort: abort(10, 0)},
			[]phase{until(phase{perRead: 100, timeoutEvery: 1}, 60_000)}, false,
			out{"over the last 10s: error ratio 1.0000 exceeds maxErrorRatio 0.5", true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(1, t0)
			a.spread = 0 // every latency is the phase's scale exactly
			pods := []string{"a"}
			if tc.unread {
				pods = append(pods, "b")
			}
			tr := newTracker(t, t0, pods, AbortWindow(tc.th))
			end := 0
			for _, p := range tc.phases {
				a.scale, a.timeoutEvery, a.errorEvery = p.scale, p.timeoutEvery, p.errorEvery
				for end+2000 <= p.untilMs {
					end += 2000
					a.send(p.perRead, at(end))
					observe(t, tr, map[string]podreport.Report{"a": a.snapshot(t)})
				}
			}
			var got out
			got.Message, got.Broken = CheckAbort(tc.th, tr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("CheckAbort (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAbortWindow: the window asked for, defaulted and capped.
func TestAbortWindow(t *testing.T) {
	seconds := func(n int32) *int32 { return &n }
	for _, tc := range []struct {
		th   *v1.Thresholds
		want time.Duration
	}{
		{nil, 0},
		{&v1.Thresholds{}, 0},
		{&v1.Thresholds{Abort: &v1.ThresholdAbort{}}, v1.DefaultAbortWindowSeconds * time.Second},
		{&v1.Thresholds{Abort: &v1.ThresholdAbort{WindowSeconds: seconds(5)}}, 5 * time.Second},
		{&v1.Thresholds{Abort: &v1.ThresholdAbort{WindowSeconds: seconds(7200)}}, MaxWindow},
	} {
		if got := AbortWindow(tc.th); got != tc.want {
			t.Errorf("AbortWindow(%+v) = %v, want %v", tc.th, got, tc.want)
		}
	}
}
