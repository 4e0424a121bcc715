package agent

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// arrivals is a keep-alive server answering 200 to every request, which
// notes when each request arrived.
type arrivals struct {
	mu  sync.Mutex
	at  []time.Time
	url string
}

// newArrivals starts an arrivals server for the test.
func newArrivals(t *testing.T) *arrivals {
	a := &arrivals{}
	a.url, _ = rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for readRequest(br) {
			a.mu.Lock()
			a.at = append(a.at, time.Now())
			a.mu.Unlock()
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return a
}

// times returns the arrival times so far.
func (a *arrivals) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

// TestStopEarly: the load stops at the stop file's instant (at once if it
// has passed), and so it does when ctx is cancelled: no request goes out
// after it, even from a worker that was sleeping until its next request,
// the run ends at once, and the report holds what was sent and nothing
// dropped. A stop file that holds no instant is complained about once, and
// the load runs in full.
func TestStopEarly(t *testing.T) {
	type how int
	const (
		cancelled how = iota
		passed        // the stop file holds an instant passed
		soon          // the stop file holds an instant 300ms away
		garbage       // the stop file holds no instant
	)
	for _, tc := range []struct {
		name  string
		how   how
		args  []string
		sends bool // before the stop: it is written once the server has seen a request
	}{
		{"cancelled", cancelled, []string{"--rate=100", "--duration=20s", "-c", "4"}, true},
		{"stop file passed", passed, []string{"--rate=100", "--duration=20s", "-c", "4"}, true},
		{"stop file soon", soon, []string{"--rate=100", "--duration=20s", "-c", "4"}, true},
		// Worker 3's first request is due 1.5s after the start: it sleeps.
		{"cancelled while workers sleep", cancelled, []string{"--rate=2", "--duration=20s", "-c", "4"}, true},
		{"stop file while workers sleep", passed, []string{"--rate=2", "--duration=20s", "-c", "4"}, true},
		{"closed model", passed, []string{"-c", "4", "-d", "20s"}, true},
		{"closed model waiting for connections", passed, []string{"--connection-stages=20s:0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newArrivals(t)
			stopFile := filepath.Join(t.TempDir(), "stop")
			plan := testPlan(t, append([]string{"--url=" + srv.url + "/", "--stop-file=" + stopFile}, tc.args...)...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var complaints syncBuffer
			type result struct {
				rep podreport.Report
				err error
			}
			done := make(chan result, 1)
			go func() {
				r, err := runWith(ctx, plan, runOptions{complaints: &complaints})
				done <- result{r, err}
			}()
			if tc.sends {
				waitFor(t, "the first request", 10*time.Second, func() bool { return len(srv.times()) > 0 })
			}
			stopAt := time.Now()
			switch tc.how {
			case cancelled:
				cancel()
			case passed:
				writeInstant(t, stopFile, stopAt.Add(-time.Hour))
			case soon:
				stopAt = stopAt.Add(300 * time.Millisecond)
				writeInstant(t, stopFile, stopAt)
			}
			var res result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the load did not stop")
			}
			ended := time.Now()
			if res.err != nil {
				t.Fatal(res.err)
			}
			r, sent := res.rep, srv.times()
			var codes map[string]int64
			if len(sent) > 0 {
				codes = map[string]int64{"200": int64(len(sent))}
			}
			if diff := cmp.Diff(codes, r.Codes); diff != "" || r.Requests != int64(len(sent)) || r.Errors != 0 {
				t.Errorf("report of %d requests, %d errors %v, codes (-sent +reported):\n%s", r.Requests, r.Errors, r.ErrorsByClass, diff)
			}
			// The stop file is read every 250ms; in-flight requests end within
			// milliseconds.
			if late := ended.Sub(stopAt); late > stopPoll+time.Second {
				t.Errorf("the run ended %v after the stop", late)
			}
			for i, at := range sent {
				if at.After(stopAt.Add(stopPoll + 100*time.Millisecond)) {
					t.Errorf("request %d arrived %v after the stop", i, at.Sub(stopAt))
				}
			}
			if tc.how == soon && r.End.Before(stopAt.Add(-50*time.Millisecond)) {
				t.Errorf("the load ended at %v, before its stop at %v", r.End, stopAt)
			}
			if s := complaints.String(); s != "" {
				t.Errorf("complaints: %q", s)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		srv := newArrivals(t)
		stopFile := writeFile(t, t.TempDir(), "stop", "tomorrow\n")
		plan := testPlan(t, "--url="+srv.url+"/", "--stop-file="+stopFile, "--rate=100", "--duration=1s", "-c", "2")
		var complaints syncBuffer
		r, err := runWith(context.Background(), plan, runOptions{complaints: &complaints})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests != 100 || r.Errors != 0 {
			t.Errorf("%d requests, %d errors %v; want the whole load of 100", r.Requests, r.Errors, r.ErrorsByClass)
		}
		want := `agent: ignoring the stop file: stop file ` + stopFile + ` holds "tomorrow", not an RFC 3339 time` + "\n"
		if diff := cmp.Diff(want, complaints.String()); diff != "" {
			t.Errorf("complaints, once for four looks (-want +got):\n%s", diff)
		}
	})
}

// writeInstant writes at into the file path, as the downward API projects
// an annotation: atomically.
func writeInstant(t *testing.T, path string, at time.Time) {
	t.Helper()
	writeInstantText(t, path, at.UTC().Format(time.RFC3339Nano))
}

// writeInstantText writes text into the file path atomically.
func writeInstantText(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestWatchStop: the watcher calls stop at the earliest instant the file
// has held, ignores what is no instant (saying so once per content), and
// ends when told.
func TestWatchStop(t *testing.T) {
	for _, tc := range []struct {
		name       string
		contents   []string // written in turn, each once the watcher has read the previous
		stops      bool
		complaints int
	}{
		{"absent", nil, false, 0},
		{"blank", []string{"", "\n"}, false, 0},
		{"passed", []string{"2000-01-01T00:00:00Z"}, true, 0},
		{"far", []string{"2100-01-01T00:00:00Z"}, false, 0},
		{"moved earlier", []string{"2100-01-01T00:00:00Z", "2000-01-01T00:00:00Z"}, true, 0},
		{"moved later", []string{"2100-01-01T00:00:00Z", "2200-01-01T00:00:00Z"}, false, 0},
		{"garbage twice, then other garbage", []string{"soon", "soon", "later"}, false, 2},
		{"garbage, blank, the same garbage", []string{"soon", "", "soon"}, false, 2},
		{"garbage, then an instant", []string{"soon", "2000-01-01T00:00:00Z"}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stop")
			quit, stopped, watched := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var reads atomic.Int64
			var complaints syncBuffer
			go func() {
				defer close(watched)
				watchStop(path, time.Millisecond, quit, func() { close(stopped) }, &complaints, func() { reads.Add(1) })
			}()
			// Two more looks after a change: one of them began after it.
			readAgain := func(what string) {
				n := reads.Load()
				waitFor(t, what, 10*time.Second, func() bool {
					select {
					case <-stopped:
						return true
					default:
						return reads.Load() >= n+2
					}
				})
			}
			readAgain("the first looks")
			for _, c := range tc.contents {
				writeInstantText(t, path, c)
				readAgain("a look at " + c)
			}
			select {
			case <-stopped:
				if !tc.stops {
					t.Fatal("stopped")
				}
			default:
				if tc.stops {
					t.Fatal("did not stop")
				}
			}
			close(quit)
			<-watched
			if n := strings.Count(complaints.String(), "\n"); n != tc.complaints {
				t.Errorf("%d complaints, want %d:\n%s", n, tc.complaints, complaints.String())
			}
		})
	}
}

// TestStopAfterTheLoadChangesNothing: a stop that comes once the load is
// over does not hide what it failed to send.
func TestStopAfterTheLoadChangesNothing(t *testing.T) {
	s := newStopSignal()
	p := newOpenPacer(time.Now(), fixedTimes{0, 0, 0}, time.Now(), 1, s)
	s.over()
	s.stop()
	if n := p.unsent(1); n != 2 || s.stopped() {
		t.Fatalf("%d unsent, stopped %v; want 2 and false", n, s.stopped())
	}
}
