package agent

import (
	"sync"
	"time"
)

// worker is one connection's goroutine: its place in the mix, its fetcher
// and its own tally. Nothing is shared per request but what the pacer shares
// (one atomic counter: the request budget or the timetable's next index).
// The tally is written by the worker alone, under its own lock, which a
// snapshot of the load takes too while it reads that tally: uncontended but
// for a snapshot every few seconds, so two atomic operations a request, on
// a cache line no other worker touches.
type worker struct {
	id     int // 0 to concurrency-1
	cursor cursor
	fetch  fetcher
	mu     sync.Mutex // guards tally
	tally
}

// send sends the worker's next request at now, records its outcome with its
// latency measured from intended, and returns the time it ended.
func (w *worker) send(intended, now time.Time) time.Time {
	req := w.cursor.next()
	status, class := w.fetch.Do(now, req)
	end := time.Now()
	bytes := w.fetch.BytesReceived()
	w.mu.Lock()
	w.record(req.index, status, class, end.Sub(intended))
	w.bytes = bytes
	if w.first.IsZero() {
		w.first = w.fetch.FirstSent()
	}
	w.mu.Unlock()
	return end
}
