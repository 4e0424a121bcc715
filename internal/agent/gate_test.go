package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStartGate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "start")
	var polls atomic.Int64
	type result struct {
		at       time.Time
		returned time.Time
		err      error
	}
	done := make(chan result, 1)
	go func() {
		at, err := waitForStart(context.Background(), path, 10*time.Millisecond, time.Minute, func() { polls.Add(1) })
		done <- result{at, time.Now(), err}
	}()
	// Absent file: the gate keeps polling and does not open.
	waitFor(t, "polls of the absent file", 10*time.Second, func() bool { return polls.Load() >= 3 })
	// Empty file (the annotation is not set yet): still closed.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	seen := polls.Load()
	waitFor(t, "polls of the empty file", 10*time.Second, func() bool { return polls.Load() >= seen+3 })
	select {
	case r := <-done:
		t.Fatalf("gate opened without a start time: %+v", r)
	default:
	}
	at := time.Now().Add(300 * time.Millisecond).UTC()
	if err := os.WriteFile(path, []byte(at.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !r.at.Equal(at) || r.returned.Before(at) {
			t.Fatalf("opened at %v for start time %v (returned %v)", r.at, at, r.returned)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gate did not open")
	}
}

func TestStartGateErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("tomorrow"), 0o644)
	late := filepath.Join(dir, "late")
	os.WriteFile(late, []byte(time.Now().Add(time.Hour).Format(time.RFC3339)), 0o644)
	for _, tc := range []struct{ name, path, want string }{
		{"timeout", filepath.Join(dir, "absent"), "no start time in"},
		{"garbage", bad, `holds "tomorrow", not an RFC 3339 time`},
		{"after timeout", late, "is after the --start-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := waitForStart(context.Background(), tc.path, 10*time.Millisecond, 100*time.Millisecond, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
