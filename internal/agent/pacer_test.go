package agent

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestConstantRate(t *testing.T) {
	for _, tc := range []struct {
		rate     int
		duration time.Duration
		len      int64
		at       map[int64]time.Duration
	}{
		{1, time.Second, 1, map[int64]time.Duration{0: 0}},
		{3, 1500 * time.Millisecond, 4, map[int64]time.Duration{1: 333333333, 2: 666666666, 3: time.Second}},
		{7, 24 * time.Hour, 7 * 86400, map[int64]time.Duration{7 * 86399: 86399 * time.Second, 7*86399 + 1: 86399*time.Second + 142857142}},
		// No error accumulates: every rate-th request is a whole second.
		{1_000_000, 7 * 24 * time.Hour, 1_000_000 * 7 * 86400,
			map[int64]time.Duration{1: time.Microsecond, 999_999_999_999: 999_999*time.Second + 999_999*time.Microsecond, 1_000_000 * 600_000: 600_000 * time.Second}},
	} {
		c := newConstantRate(tc.rate, tc.duration)
		if got := c.len(); got != tc.len {
			t.Errorf("rate %d for %v: %d requests, want %d", tc.rate, tc.duration, got, tc.len)
		}
		for i, want := range tc.at {
			if got := c.at(i); got != want {
				t.Errorf("rate %d: request %d at %v, want %v", tc.rate, i, got, want)
			}
		}
	}
}

// fakeFetcher answers every request at once with a 200, noting when it was
// sent.
type fakeFetcher struct {
	sent     []time.Time
	closed   int
	connects int
}

// Do notes now.
func (f *fakeFetcher) Do(now time.Time, _ *preparedRequest) (int, errClass) {
	f.sent = append(f.sent, now)
	return 200, classNone
}

// Connect counts the calls.
func (f *fakeFetcher) Connect(context.Context, time.Time) error {
	f.connects++
	return nil
}

// BytesReceived is none.
func (f *fakeFetcher) BytesReceived() int64 { return 0 }

// FirstSent is the first request's now.
func (f *fakeFetcher) FirstSent() time.Time {
	if len(f.sent) == 0 {
		return time.Time{}
	}
	return f.sent[0]
}

// Close counts the calls.
func (f *fakeFetcher) Close() { f.closed++ }

// fakeWorker returns worker id with a fetcher that answers at once.
func fakeWorker(t *testing.T, id int) (*worker, *fakeFetcher) {
	t.Helper()
	src, err := newSource(testRequests(1), []int{1})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFetcher{}
	return &worker{id: id, cursor: src.cursor(0, 1), fetch: f, tally: newTally(1)}, f
}

// connectionsFrom is none before a time, then n.
type connectionsFrom struct {
	after time.Duration
	n     int
}

// active is n from c.after on.
func (c connectionsFrom) active(elapsed time.Duration) int {
	if elapsed < c.after {
		return 0
	}
	return c.n
}

// TestClosedPacerFollowsConnections: a worker beyond the active connections
// waits without a connection, and sends once it is among them; the budget
// ends the load.
func TestClosedPacerFollowsConnections(t *testing.T) {
	w, f := fakeWorker(t, 0)
	start := time.Now()
	p := &closedPacer{start: start, conns: connectionsFrom{after: 50 * time.Millisecond, n: 1}, budget: new(atomic.Int64), stop: newStopSignal()}
	p.budget.Store(3)
	p.run(w)
	if len(f.sent) != 3 || w.requests() != 3 || w.count(200) != 3 {
		t.Fatalf("%d requests sent, %d counted, want the budget of 3", len(f.sent), w.requests())
	}
	if first := f.sent[0].Sub(start); first < 50*time.Millisecond {
		t.Errorf("first request %v after the start, before the connection was active", first)
	}
	if f.closed == 0 {
		t.Errorf("the worker waited with its connection open")
	}
	if n := p.unsent(3); n != 0 {
		t.Errorf("closed model: %d unsent", n)
	}
}

// TestClosedPacerDuration: the closed model sends no request after its
// duration.
func TestClosedPacerDuration(t *testing.T) {
	w, f := fakeWorker(t, 0)
	start := time.Now()
	p := newPacer(testPlan(t, "--url=http://web/", "-d", "30ms").Load, start, time.Second, newStopSignal())
	p.run(w)
	if len(f.sent) == 0 {
		t.Fatal("no request sent")
	}
	if last := f.sent[len(f.sent)-1].Sub(start); last >= 30*time.Millisecond {
		t.Errorf("request sent %v after the start of a 30ms load", last)
	}
}

// fixedTimes is a timetable of the given offsets.
type fixedTimes []time.Duration

// len is the number of offsets.
func (f fixedTimes) len() int64 { return int64(len(f)) }

// at is offset i.
func (f fixedTimes) at(i int64) time.Duration { return f[i] }

// TestOpenPacerFollowsTimetable: requests go out no earlier than the
// timetable says, their latency measured from then; those the hard stop
// catches unsent are dropped.
func TestOpenPacerFollowsTimetable(t *testing.T) {
	table := fixedTimes{0, 20 * time.Millisecond, 40 * time.Millisecond}
	w, f := fakeWorker(t, 0)
	start := time.Now()
	p := newOpenPacer(start, table, start.Add(time.Second), 1, newStopSignal())
	p.run(w)
	if len(f.sent) != 3 {
		t.Fatalf("%d requests sent, want 3", len(f.sent))
	}
	for i, at := range f.sent {
		if d := at.Sub(start); d < table[i] {
			t.Errorf("request %d sent %v after the start, before its %v", i, d, table[i])
		}
	}
	if n := p.unsent(3); n != 0 {
		t.Errorf("%d unsent of a timetable sent in full", n)
	}

	late := newOpenPacer(start, table, start, 1, newStopSignal())
	w, f = fakeWorker(t, 0)
	late.run(w)
	if len(f.sent) != 0 || late.unsent(0) != 3 {
		t.Errorf("past the hard stop: %d sent, %d unsent; want 0 and 3", len(f.sent), late.unsent(0))
	}
	late.stop.stop()
	if n := late.unsent(0); n != 0 {
		t.Errorf("stopped early: %d unsent, want none (they were not due)", n)
	}
}
