package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// waitForStart is the start gate: it polls path every poll until it holds an
// RFC 3339 instant (the operator's start-at annotation, projected by the
// downward API; the file is absent or empty until then), then waits until
// that instant and returns it. The whole wait is bounded by timeout. A file
// holding anything else is an error at once. onPoll, if set, is called after
// each look at the file that found no instant (for tests).
func waitForStart(ctx context.Context, path string, poll, timeout time.Duration, onPoll func()) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		at, ok, err := readStartFile(path)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			if at.After(deadline) {
				return time.Time{}, fmt.Errorf("start time %s in %s is after the --start-timeout (%v) ends", at.Format(time.RFC3339Nano), path, timeout)
			}
			timer := time.NewTimer(time.Until(at))
			defer timer.Stop()
			select {
			case <-ctx.Done():
				return time.Time{}, ctx.Err()
			case <-timer.C:
				return at, nil
			}
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

// readStartFile returns the instant in path; ok is false while the file is
// absent or blank.
func readStartFile(path string) (at time.Time, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("failed to read start file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return time.Time{}, false, nil
	}
	at, err = time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("start file %s holds %q, not an RFC 3339 time", path, b)
	}
	return at, true, nil
}
