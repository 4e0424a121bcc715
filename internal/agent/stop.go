package agent

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// stopSignal ends a load early. Cancelling the run's context sets it, and so
// does the stop file's instant: one path, so that a load stopped either way
// reports the same, only what it sent. Workers read it before each request
// (one atomic load) and wait on its channel whenever they sleep, so that a
// stopped load sends nothing more however long a worker meant to sleep.
// Once the load is over, a stop changes nothing: a stop that comes too late
// must not hide the requests the load failed to send.
type stopSignal struct {
	once sync.Once
	set  atomic.Bool
	done chan struct{} // closed when set is set
}

// newStopSignal returns a signal not set.
func newStopSignal() *stopSignal {
	return &stopSignal{done: make(chan struct{})}
}

// stop ends the load, at each worker's next request or wait, unless it is
// over.
func (s *stopSignal) stop() {
	s.once.Do(func() {
		s.set.Store(true)
		close(s.done)
	})
}

// over marks the load ended: stop has no effect from then on.
func (s *stopSignal) over() { s.once.Do(func() {}) }

// stopped reports whether the load was stopped before it was over.
func (s *stopSignal) stopped() bool { return s.set.Load() }

// sleep waits d, or less if the load is stopped meanwhile, and reports
// whether the load goes on. *t is the caller's timer, made on its first
// sleep and reused, so that a sleep allocates nothing.
func (s *stopSignal) sleep(t **time.Timer, d time.Duration) bool {
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-(*t).C:
		return true
	case <-s.done:
		return false
	}
}

// stopPoll is how often the stop file is read while the load runs.
const stopPoll = 250 * time.Millisecond

// watchStop watches the stop file at path, from the start of the load until
// quit is closed: it reads it every poll, and once it holds an instant it
// calls stop at that instant, at once if it has passed (at the earliest, if
// the file comes to hold several). Anything else the file holds is written
// to complaints, once until it changes, and ignored: a stop annotation set
// wrong must neither end nor fail a load that is running well. onRead, if
// set, is called after each look at the file (for tests).
func watchStop(path string, poll time.Duration, quit <-chan struct{}, stop func(), complaints io.Writer, onRead func()) {
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var at time.Time // the earliest instant the file has held; zero: none yet
	var timer *time.Timer
	var fire <-chan time.Time
	said := "" // the last complaint written
	for {
		t, ok, err := readInstantFile(path, "stop file")
		switch {
		case err != nil:
			if msg := err.Error(); msg != said {
				fmt.Fprintf(complaints, "agent: ignoring the stop file: %v\n", err)
				said = msg
			}
		case !ok || !at.IsZero() && !t.Before(at):
			said = ""
		default:
			said, at = "", t
			if timer == nil {
				timer = time.NewTimer(time.Until(at))
				defer timer.Stop()
				fire = timer.C
			} else {
				timer.Reset(time.Until(at))
			}
		}
		if onRead != nil {
			onRead()
		}
		select {
		case <-quit:
			return
		case <-fire:
			stop()
			return
		case <-ticker.C:
		}
	}
}
