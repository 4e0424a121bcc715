package live

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// TestObserveMatchesMerge: whatever reads are missed, once every pod has been
// read the cumulative figures are exactly report.Merge of the pods' latest
// snapshots, each window holds exactly what the pods sent since their
// previous reads, and the windows add up to the cumulative figures.
func TestObserveMatchesMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pods  int
		reads int
		miss  float64 // chance that a read misses a pod
	}{
		{"one pod, every read", 1, 30, 0},
		{"ten pods, every read", 10, 30, 0},
		{"ten pods, reads missed", 10, 60, 0.3},
		{"three pods, most reads missed", 3, 80, 0.8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.pods), uint64(tc.reads)))
			names := podNames(tc.pods)
			agents := map[string]*agent{}
			unread := map[string]*histogram.Histogram{} // latencies sent since the pod's last read
			for i, name := range names {
				agents[name] = newAgent(uint64(i), t0)
				unread[name] = histogram.New(histogram.DefaultPrecision)
			}
			tr := newTracker(t, t0, names, 30*time.Second)
			latest := map[string]podreport.Report{}
			pending := histogram.New(histogram.DefaultPrecision) // what the next window should hold
			unreadRequests := map[string]int64{}
			var pendingRequests int64
			for step := 1; step <= tc.reads; step++ {
				snaps := map[string]podreport.Report{}
				for _, name := range names {
					before := agents[name].rep.Requests
					agents[name].send(r.IntN(400), at(2000*step+r.IntN(300)), unread[name])
					unreadRequests[name] += agents[name].rep.Requests - before
					if r.Float64() >= tc.miss {
						pendingRequests += unreadRequests[name]
						unreadRequests[name] = 0
						snaps[name] = agents[name].snapshot(t)
						latest[name] = snaps[name]
						if err := pending.Merge(unread[name]); err != nil {
							t.Fatal(err)
						}
						unread[name].Reset()
					}
				}
				observe(t, tr, snaps)
				if len(latest) < len(names) {
					if tr.Progress() != nil {
						t.Fatalf("read %d: figures before every pod was read", step)
					}
					continue
				}
				checkAgainstMerge(t, tr, names, latest)
				if len(snaps) == 0 {
					continue // nothing read: no window, what was sent waits for the next
				}
				if got := tr.Progress().Window.Requests; got != pendingRequests {
					t.Fatalf("read %d: window of %d requests, want %d", step, got, pendingRequests)
				}
				// A window longer than the ring's span (after many missed
				// reads) is not kept: nothing to compare then.
				if n := len(tr.ring.slots); n > 0 && tr.ring.slots[n-1].to.Equal(tr.latest) && !newestSlot(t, tr).EqualCounts(pending) {
					t.Fatalf("read %d: the window's histogram is not what was sent since the previous reads", step)
				}
				pending.Reset()
				pendingRequests = 0
			}
		})
	}
}

// newestSlot is the histogram of the ring's newest slot: the last window,
// when reads are further apart than a slot.
func newestSlot(t *testing.T, tr *Tracker) *histogram.Histogram {
	t.Helper()
	var h histogram.Histogram
	if err := h.UnmarshalBinary(tr.ring.slots[len(tr.ring.slots)-1].hist); err != nil {
		t.Fatal(err)
	}
	return &h
}

// checkAgainstMerge compares the Tracker's cumulative figures with
// report.Merge of the latest snapshots, and the windows' sum with them.
func checkAgainstMerge(t *testing.T, tr *Tracker, names []string, latest map[string]podreport.Report) {
	t.Helper()
	var reports []podreport.Report
	merged := histogram.New(histogram.DefaultPrecision)
	for _, name := range names {
		reports = append(reports, latest[name])
		if err := merged.Merge(latest[name].Latency); err != nil {
			t.Fatal(err)
		}
	}
	res, err := report.Merge(reports)
	if err != nil {
		t.Fatal(err)
	}
	type figures struct {
		Pods                       int32
		Requests, Errors, Bytes    int64
		ErrorRatio                 string
		Latency                    v1.Percentiles
		ErrorsByClass, Codes       map[string]int64
		Histogram                  *histogram.Histogram
		WindowRequests, WindowErrs int64 // the timeline's sum
	}
	want := figures{
		Pods: res.Pods, Requests: res.Requests, Errors: res.Errors, Bytes: res.BytesReceived, ErrorRatio: res.ErrorRatio,
		Latency:       v1.Percentiles{P50: res.Latency.P50, P90: res.Latency.P90, P99: res.Latency.P99},
		ErrorsByClass: res.ErrorsByClass, Codes: res.Codes, Histogram: merged,
		WindowRequests: res.Requests, WindowErrs: res.Errors,
	}
	p := tr.Progress()
	tot, err := tr.Cumulative()
	if err != nil {
		t.Fatal(err)
	}
	got := figures{
		Pods: p.Pods, Requests: p.Requests, Errors: p.Errors, Bytes: tot.BytesReceived, ErrorRatio: p.ErrorRatio,
		Latency: p.Latency, ErrorsByClass: tot.ErrorsByClass, Codes: tot.Codes, Histogram: tot.Latency,
	}
	for _, e := range tr.Timeline().Entries {
		got.WindowRequests += e.Requests
		got.WindowErrs += e.Errors
	}
	exact := cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) }) // extremes included
	if diff := cmp.Diff(want, got, exact); diff != "" {
		t.Fatalf("figures (-merged +tracked):\n%s", diff)
	}
	if tot.Requests != p.Requests || tot.Errors != p.Errors || tot.Pods != len(names) {
		t.Fatalf("Cumulative %d/%d of %d pods, Progress %d/%d", tot.Requests, tot.Errors, tot.Pods, p.Requests, p.Errors)
	}
}

// TestMissedRead: a pod missed by a read keeps its last snapshot; the next
// read of it adds everything since, so that window is longer for it and
// nothing is lost. Before every pod has been read there are no figures, and
// the first window then holds everything from the send start.
func TestMissedRead(t *testing.T) {
	a, b := newAgent(1, t0), newAgent(2, t0)
	tr := newTracker(t, t0, []string{"a", "b"}, 30*time.Second)
	type step struct {
		sendA, sendB int
		readA, readB bool
	}
	type figures struct {
		Requests int64
		Window   string // requests over seconds, "" without a window
		Timeline int    // entries
	}
	for i, tc := range []struct {
		step
		want *figures
	}{
		{step{10, 20, true, false}, nil},                       // b not read yet: no figures
		{step{10, 20, true, true}, &figures{60, "60/4.00", 1}}, // everything since the send start
		{step{10, 20, true, false}, &figures{70, "10/2.00", 2}},
		{step{10, 20, false, false}, &figures{70, "10/2.00", 2}}, // nothing read: nothing changes
		{step{10, 20, true, true}, &figures{150, "80/4.00", 3}},  // b's two reads' worth, a's since its last
	} {
		end := at(2000 * (i + 1))
		a.send(tc.sendA, end)
		b.send(tc.sendB, end)
		snaps := map[string]podreport.Report{}
		if tc.readA {
			snaps["a"] = a.snapshot(t)
		}
		if tc.readB {
			snaps["b"] = b.snapshot(t)
		}
		observe(t, tr, snaps)
		var got *figures
		if p := tr.Progress(); p != nil {
			got = &figures{Requests: p.Requests, Timeline: len(tr.Timeline().Entries)}
			if p.Window != nil {
				got.Window = strconv.FormatInt(p.Window.Requests, 10) + "/" + p.Window.Seconds
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Fatalf("read %d (-want +got):\n%s", i+1, diff)
		}
	}
	if got, want := a.rep.Requests+b.rep.Requests, int64(150); got != want {
		t.Fatalf("the agents sent %d, want %d", got, want)
	}
}

// TestObserveRejects: a snapshot behind the pod's previous one (or not a
// snapshot at all) is an error naming the pod and is ignored: the previous
// one stands, the other pods' snapshots are taken, and the pod's next valid
// snapshot counts everything since the previous good one.
func TestObserveRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *podreport.Report, prev podreport.Report)
		pod  string // the pod the snapshot is given for
		want string
	}{
		{"fewer requests", func(r *podreport.Report, prev podreport.Report) {
			r.Requests, r.ErrorsByClass = prev.Requests-1, prev.ErrorsByClass
		}, "b", "pod b: requests went down from"},
		{"a status code down", func(r *podreport.Report, prev podreport.Report) {
			r.Codes["200"] = prev.Codes["200"] - 1
		}, "b", "pod b: responses with status 200 went down"},
		{"an error class gone", func(r *podreport.Report, prev podreport.Report) {
			delete(r.ErrorsByClass, podreport.ClassTimeout)
		}, "b", "pod b: errors of class timeout went down"},
		{"a latency moved to another bucket", func(r *podreport.Report, prev podreport.Report) {
			*r = copyReport(prev)
			r.Latency = histogram.New(histogram.DefaultPrecision)
			for range prev.Latency.Count() {
				r.Latency.Record(time.Hour)
			}
			r.End = r.End.Add(time.Second)
		}, "b", "pod b: latency histogram lower than in the previous snapshot"},
		{"taken earlier", func(r *podreport.Report, prev podreport.Report) {
			r.End = prev.End.Add(-time.Millisecond)
		}, "b", "pod b: snapshot taken at 2026-11-28T19:00:01.999Z, before the previous one"},
		{"compact", func(r *podreport.Report, _ podreport.Report) { r.Compact = true }, "b", "pod b: a compact report"},
		{"no histogram", func(r *podreport.Report, _ podreport.Report) { r.Latency = nil }, "b", "pod b: snapshot without a latency histogram"},
		{"inconsistent", func(r *podreport.Report, _ podreport.Report) { r.Errors = r.Requests + 1 }, "b", "pod b: inconsistent snapshot"},
		{"not a pod of the run", func(*podreport.Report, podreport.Report) {}, "web-9-0", "pod web-9-0 is not one of the run's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newAgent(1, t0), newAgent(2, t0)
			tr := newTracker(t, t0, []string{"a", "b"}, 30*time.Second)
			a.send(100, at(2000))
			b.send(100, at(2000))
			first := b.snapshot(t)
			observe(t, tr, map[string]podreport.Report{"a": a.snapshot(t), "b": first})
			a.send(50, at(4000))
			b.send(50, at(4000))
			bad := copyReport(b.snapshot(t))
			tc.edit(&bad, first)
			err := tr.Observe(map[string]podreport.Report{"a": a.snapshot(t), tc.pod: bad})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if p := tr.Progress(); p.Requests != 250 || p.Window.Requests != 50 {
				t.Fatalf("after the bad snapshot: %d requests, window %d; want 250 (b's previous snapshot standing), 50 (a's)", p.Requests, p.Window.Requests)
			}
			b.send(50, at(6000))
			observe(t, tr, map[string]podreport.Report{"b": b.snapshot(t)})
			if p := tr.Progress(); p.Requests != 350 || p.Window.Requests != 100 {
				t.Fatalf("after b's next snapshot: %d requests, window %d; want 350, 100", p.Requests, p.Window.Requests)
			}
		})
	}
}

// TestNew: the run's pods are checked.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		pods []string
		want string
	}{
		{"none", nil, "without pods"},
		{"twice", []string{"a", "b", "a"}, "pod a named twice"},
		{"empty name", []string{""}, `pod name ""`},
		{"not a DNS name", []string{"Web"}, `pod name "Web"`},
		{"quote", []string{`a"b`}, `pod name "a\"b"`},
		{"too long", []string{strings.Repeat("a", MaxPodNameLen+1)}, "is not 1 to 253"},
		{"too many", podNamesN(MaxPods + 1), "1001 pods, more than 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t0, tc.pods, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := New(t0, podNamesN(MaxPods), MaxWindow); err != nil {
		t.Fatal(err)
	}
}

// podNamesN are n distinct pod names.
func podNamesN(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "web-3-" + strconv.Itoa(i)
	}
	return names
}

// TestProgress: the figures of status.progress, formatted as the API reads.
func TestProgress(t *testing.T) {
	tr := newTracker(t, t0, []string{"a"}, 0)
	h := histogram.New(histogram.DefaultPrecision)
	snap := podreport.Report{
		Live: true, Start: t0, End: at(12_500), Requests: 1000, Errors: 12,
		ErrorsByClass: map[string]int64{"timeout": 2}, Codes: map[string]int64{"200": 988, "500": 10}, Latency: h,
	}
	for i := range 998 {
		h.Record(time.Duration(i) * 100 * time.Microsecond)
	}
	observe(t, tr, map[string]podreport.Report{"a": snap})
	ms := func(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }
	want := &v1.Progress{
		ObservedTime: metav1.NewTime(at(12_500)), ElapsedSeconds: 12, Pods: 1,
		Requests: 1000, Errors: 12, ErrorRatio: "0.0120", RequestsPerSecond: "80.00",
		Latency: v1.Percentiles{P50: ms(report.RoundDuration(h.Quantile(0.5))), P90: ms(report.RoundDuration(h.Quantile(0.9))), P99: ms(report.RoundDuration(h.Quantile(0.99)))},
		Window: &v1.ProgressWindow{
			Seconds: "12.50", Requests: 1000, Errors: 12, ErrorRatio: "0.0120", RequestsPerSecond: "80.00",
			Latency: v1.Percentiles{P50: ms(report.RoundDuration(h.Quantile(0.5))), P90: ms(report.RoundDuration(h.Quantile(0.9))), P99: ms(report.RoundDuration(h.Quantile(0.99)))},
		},
	}
	if diff := cmp.Diff(want, tr.Progress()); diff != "" {
		t.Fatalf("Progress (-want +got):\n%s", diff)
	}
}

// TestObserveCopies: what Observe keeps is its own: the caller may reuse the
// snapshots' maps and histograms.
func TestObserveCopies(t *testing.T) {
	a := newAgent(1, t0)
	a.send(100, at(2000))
	snap := a.snapshot(t)
	tr := newTracker(t, t0, []string{"a"}, 0)
	observe(t, tr, map[string]podreport.Report{"a": snap})
	before, err := tr.Cumulative()
	if err != nil {
		t.Fatal(err)
	}
	snap.Codes["200"] += 1000
	snap.ErrorsByClass["timeout"] += 1000
	snap.Latency.Record(time.Hour)
	after, err := tr.Cumulative()
	if err != nil {
		t.Fatal(err)
	}
	exact := cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })
	if diff := cmp.Diff(before, after, exact); diff != "" {
		t.Fatalf("changing the snapshot changed the Tracker (-before +after):\n%s", diff)
	}
	a.send(100, at(4000)) // the next snapshot is taken from what the first was
	observe(t, tr, map[string]podreport.Report{"a": a.snapshot(t)})
	if p := tr.Progress(); p.Requests != 200 || p.Window.Requests != 100 {
		t.Fatalf("%d requests, window %d; want 200, 100", p.Requests, p.Window.Requests)
	}
}
