package agent

import "time"

// worker is one connection's goroutine: its place in the mix, its fetcher
// and its own tally. Nothing is shared per request but what the pacer shares
// (one atomic counter: the request budget or the timetable's next index),
// and the tallies are merged once at the end.
type worker struct {
	id     int // 0 to concurrency-1
	cursor cursor
	fetch  fetcher
	tally
}

// send sends the worker's next request at now, records its outcome with its
// latency measured from intended, and returns the time it ended.
func (w *worker) send(intended, now time.Time) time.Time {
	req := w.cursor.next()
	status, class := w.fetch.Do(now, req)
	end := time.Now()
	w.record(req.index, status, class, end.Sub(intended))
	return end
}
