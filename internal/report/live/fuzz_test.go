package live

import (
	"testing"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// The timeline ConfigMap is in the LoadTest's namespace, so whoever may edit ConfigMaps
// there may write what a restarted manager reads back: DecodeTimeline and Restore must
// refuse anything inconsistent with an error, never panic, and a restored Tracker must
// take snapshots as a new one does.

// FuzzDecodeTimeline: whatever it is given, DecodeTimeline returns an error or a
// timeline that encodes again and decodes to the same document.
func FuzzDecodeTimeline(f *testing.F) {
	tr := fuzzTracker(f)
	good, err := tr.Timeline().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1,"sendStart":"2026-11-28T19:00:05Z","stride":1,"startMs":[0],"lengthMs":[5],"observations":[1],"requests":[1],"errors":[0],"p50Ns":[1],"p90Ns":[1],"p99Ns":[1]}`))
	f.Add([]byte(`{"v":1,"stride":0}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tl, err := DecodeTimeline(data)
		if err != nil {
			return
		}
		again, err := tl.Encode()
		if err != nil {
			t.Fatalf("a decoded timeline does not encode: %v", err)
		}
		if _, err := DecodeTimeline(again); err != nil {
			t.Fatalf("an encoded timeline does not decode: %v", err)
		}
	})
}

// FuzzRestore: whatever checkpoint it is given, Restore returns an error or a Tracker
// that observes its pods' next snapshots without panicking.
func FuzzRestore(f *testing.F) {
	tr := fuzzTracker(f)
	good, err := tr.Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		back, err := Restore(data, t0, []string{"a", "b"}, 30*time.Second)
		if err != nil {
			return
		}
		a, b := newAgent(1, t0), newAgent(2, t0)
		a.send(10, t0.Add(time.Minute))
		b.send(10, t0.Add(time.Minute))
		_ = back.Observe(map[string]podreport.Report{"a": copyReport(a.rep), "b": copyReport(b.rep)})
		_ = back.Progress()
		if _, err := back.Checkpoint(); err != nil {
			t.Fatalf("a restored Tracker does not checkpoint: %v", err)
		}
	})
}

// fuzzTracker is a Tracker of pods a and b after a few reads.
func fuzzTracker(f *testing.F) *Tracker {
	tr, err := New(t0, []string{"a", "b"}, 30*time.Second)
	if err != nil {
		f.Fatal(err)
	}
	for _, snaps := range makeReads(5, 2*time.Second, 0, func(int, string) bool { return false }) {
		if err := tr.Observe(snaps); err != nil {
			f.Fatal(err)
		}
	}
	return tr
}
