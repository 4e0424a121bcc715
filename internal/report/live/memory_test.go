package live

import (
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// retainedBy is how many heap bytes the value made by build keeps alive:
// the live heap with it, less the live heap once it is dropped.
func retainedBy(build func() any) uint64 {
	var with, without runtime.MemStats
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(v)
	v = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	return with.HeapAlloc - without.HeapAlloc
}

// trackedRun feeds a Tracker of 10 pods, each sending 1000 requests a second
// with log-normal latencies (about 2 ms to 200 ms: seven octaves), read every
// 2 seconds for the given duration, with a 30-second abort window.
func trackedRun(t testing.TB, agents []*agent, names []string, d time.Duration) *Tracker {
	tr := newTracker(t, t0, names, 30*time.Second)
	for end := 2 * time.Second; end <= d; end += 2 * time.Second {
		snaps := make(map[string]podreport.Report, len(names))
		for i, a := range agents {
			a.send(2000, t0.Add(end))
			snaps[names[i]] = copyReport(a.rep)
		}
		observe(t, tr, snaps)
	}
	return tr
}

// TestTrackerMemory measures what a Tracker keeps (10 pods, a 30-second
// window, reads every 2 seconds) after a 30-minute run, and with a full
// timeline, against the budget of 100 such runs in a manager of 64 MiB: at
// most 256 KiB each, a quarter of the manager's memory for all of them.
func TestTrackerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 30 minutes of 10 pods")
	}
	names := podNames(10)
	agents := make([]*agent, len(names))
	for i := range agents {
		agents[i] = newAgent(uint64(i), t0)
	}
	steady := retainedBy(func() any { return trackedRun(t, agents, names, 30*time.Minute) })
	full := retainedBy(func() any {
		tr := trackedRun(t, agents, names, 30*time.Minute)
		for len(tr.timeline.Entries) < MaxEntries { // as if the run had gone on for 67 minutes
			last := tr.timeline.Entries[len(tr.timeline.Entries)-1]
			last.Start += last.Length
			tr.timeline.add(last)
		}
		return tr
	})
	tr := trackedRun(t, agents, names, 30*time.Minute)
	cp, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	tl, err := tr.Timeline().Encode()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 30 minutes: a checkpoint of %d KiB, a timeline document of %d KiB", len(cp)>>10, len(tl)>>10)
	slots := len(tr.ring.slots)
	var podBytes, slotBytes int
	for _, p := range tr.state {
		podBytes += cap(p.hist)
	}
	for _, s := range tr.ring.slots {
		slotBytes += cap(s.hist)
	}
	var before, after runtime.MemStats
	const reads = 50
	var allocated uint64
	var took time.Duration
	abort := &v1.Thresholds{MaxP99: &metav1.Duration{Duration: time.Second}, Abort: &v1.ThresholdAbort{}}
	for i := range reads {
		snaps := make(map[string]podreport.Report, len(names))
		for j, a := range agents {
			a.send(2000, t0.Add(30*time.Minute+time.Duration(i+1)*2*time.Second))
			snaps[names[j]] = copyReport(a.rep)
		}
		runtime.ReadMemStats(&before)
		start := time.Now()
		observe(t, tr, snaps)
		tr.Progress()
		if _, broken := CheckAbort(abort, tr); broken {
			t.Fatal("broken")
		}
		took += time.Since(start)
		runtime.ReadMemStats(&after)
		allocated += after.TotalAlloc - before.TotalAlloc
	}
	perRead := allocated / reads
	t.Logf("a Tracker of 10 pods, 30-s window, reads every 2 s: %d KiB after 30 minutes (a timeline of 900 entries), %d KiB with a full timeline of %d entries",
		steady>>10, full>>10, MaxEntries)
	t.Logf("of which: the pods' encoded histograms %d KiB, %d ring slots %d KiB; one read (Observe, Progress, CheckAbort) allocates %d KiB of garbage and takes %v",
		podBytes>>10, slots, slotBytes>>10, perRead>>10, took/reads)
	t.Logf("100 such Trackers: %d MiB (full timelines)", (100*full)>>20)
	if budget := uint64(256 << 10); full > budget {
		t.Errorf("a Tracker keeps %d KiB, more than the %d KiB budget", full>>10, budget>>10)
	}
}
