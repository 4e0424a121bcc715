package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
		at  time.Time
		err error
	}
	done := make(chan result, 1)
	go func() {
		at, err := awaitStartTime(context.Background(), path, 10*time.Millisecond, time.Minute, func() { polls.Add(1) })
		done <- result{at, err}
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
	// The instant is returned as soon as it is read, well before it comes:
	// the run makes its workers ready meanwhile.
	at := time.Now().Add(30 * time.Second).UTC()
	if err := os.WriteFile(path, []byte(at.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || !r.at.Equal(at) {
			t.Fatalf("gate gave %v, %v for start time %v", r.at, r.err, at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gate did not give the start time")
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
			_, err := awaitStartTime(context.Background(), tc.path, 10*time.Millisecond, 100*time.Millisecond, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReadInstantFile: the start and stop files hold an RFC 3339 instant,
// with spaces and newlines around it, or nothing yet; anything else is an
// error naming the file.
func TestReadInstantFile(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 28, 19, 0, 0, 123456789, time.UTC)
	type out struct {
		At  time.Time
		OK  bool
		Err string
	}
	for _, tc := range []struct {
		name    string
		content *string // nil: no file
		want    out
	}{
		{"absent", nil, out{}},
		{"empty", ptr(""), out{}},
		{"blank", ptr(" \n\t\n"), out{}},
		{"instant", ptr("2026-11-28T19:00:00.123456789Z"), out{At: at, OK: true}},
		{"instant and newline", ptr("2026-11-28T19:00:00.123456789Z\n"), out{At: at, OK: true}},
		{"offset", ptr("2026-11-28T20:00:00.123456789+01:00"), out{At: at, OK: true}},
		{"whole seconds", ptr(" 2026-11-28T19:00:00Z "), out{At: at.Truncate(time.Second), OK: true}},
		{"garbage", ptr("now"), out{Err: `stop file DIR/f holds "now", not an RFC 3339 time`}},
		{"unix time", ptr("1795460400"), out{Err: `holds "1795460400", not an RFC 3339 time`}},
		{"too long", ptr(strings.Repeat(" ", 300)), out{Err: "stop file DIR/f holds more than 256 bytes, not an RFC 3339 time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			a, ok, err := readInstantFile(path, "stop file")
			got := out{At: a, OK: ok}
			if err != nil {
				got.Err = strings.ReplaceAll(err.Error(), filepath.Dir(path), "DIR")
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := readInstantFile(dir, "start file"); err == nil || !strings.Contains(err.Error(), "failed to read start file") {
		t.Errorf("a directory: %v, want a read error", err)
	}
}

// ptr returns a pointer to s.
func ptr(s string) *string { return &s }

// TestSleepUntil: the wait ends at the instant, not before and within a
// few milliseconds after even on a loaded machine; at once for an instant
// passed; and early with ctx's error when ctx ends.
func TestSleepUntil(t *testing.T) {
	for _, ahead := range []time.Duration{-time.Second, 0, time.Millisecond, 50 * time.Millisecond} {
		at := time.Now().Add(ahead)
		if err := sleepUntil(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		returned := time.Now()
		if late := returned.Sub(at); late < 0 || ahead > 0 && late > 20*time.Millisecond {
			t.Errorf("sleepUntil(now + %v) returned %v after the instant", ahead, late)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() { errs <- sleepUntil(ctx, time.Now().Add(time.Hour)) }()
	cancel()
	select {
	case err := <-errs:
		if err != context.Canceled {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleepUntil did not end with its context")
	}
}
