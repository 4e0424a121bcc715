package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"
)

// The start gate is in two halves, so that the run can make its workers
// ready in between: awaitStartTime learns the instant, sleepUntil waits for
// it.

// awaitStartTime polls path every poll until it holds an RFC 3339 instant
// (the operator's start-at annotation, projected by the downward API; the
// file is absent or empty until then) and returns it at once, without
// waiting for it. The instant must be found, and fall, within timeout. A
// file holding anything else is an error at once. onPoll, if set, is called
// after each look at the file that found no instant (for tests).
func awaitStartTime(ctx context.Context, path string, poll, timeout time.Duration, onPoll func()) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		at, ok, err := readInstantFile(path, "start file")
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			if at.After(deadline) {
				return time.Time{}, fmt.Errorf("start time %s in %s is after the --start-timeout (%v) ends", at.Format(time.RFC3339Nano), path, timeout)
			}
			return at, nil
		}
		if onPoll != nil {
			onPoll()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no start time in %s after %v (--start-timeout)", path, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-ticker.C:
		}
	}
}

// spinFor is how long before an instant sleepUntil stops trusting its timer
// and watches the clock: Go's timers fire up to about a millisecond late
// (the netpoller sleeps in whole milliseconds), which is the whole skew
// between pods started by the same instant if nothing else is.
const spinFor = 2 * time.Millisecond

// sleepUntil returns at the instant at, within microseconds: a timer wakes it
// spinFor before, and it watches the clock for the rest, yielding between
// looks so that the watch takes a core only while nothing else wants it. It
// returns at once if at has passed, and ctx's error if ctx ends before the
// timer fires.
func sleepUntil(ctx context.Context, at time.Time) error {
	if err := waitUntil(ctx, at.Add(-spinFor)); err != nil {
		return err
	}
	for time.Now().Before(at) {
		runtime.Gosched()
	}
	return nil
}

// waitUntil returns at the instant at, as a timer does (up to a millisecond
// late), at once if it has passed, or with ctx's error if ctx ends first.
func waitUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// maxInstantFileBytes bounds what is read of a start or stop file: an RFC
// 3339 instant takes at most 35 bytes.
const maxInstantFileBytes = 256

// readInstantFile returns the instant in the file at path (the start or the
// stop file, which what names in errors); ok is false while the file is
// absent or blank. It is the one reader of both, so that they hold the same
// forms: what time.RFC3339Nano parses, spaces and newlines around it.
func readInstantFile(path, what string) (at time.Time, ok bool, err error) {
	b, err := readFile(path, maxInstantFileBytes)
	var tooLong errTooLong
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return time.Time{}, false, nil
	case errors.As(err, &tooLong):
		return time.Time{}, false, fmt.Errorf("%s %s holds more than %d bytes, not an RFC 3339 time", what, path, maxInstantFileBytes)
	case err != nil:
		return time.Time{}, false, fmt.Errorf("failed to read %s: %w", what, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return time.Time{}, false, nil
	}
	at, err = time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%s %s holds %q, not an RFC 3339 time", what, path, b)
	}
	return at, true, nil
}
