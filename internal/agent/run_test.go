package agent

import (
	"bufio"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// slowResolver is testResolver's of testZone, each of its queries taking
// delay more: a name the agent dials then takes twice that to connect to,
// or more.
func slowResolver(t *testing.T, delay time.Duration) *net.Resolver {
	r := testResolver(t, testZone)
	dial := r.Dial
	r.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
		return dial(ctx, network, address)
	}
	return r
}

// firstRequests is a keep-alive server answering 200 to every request,
// which notes each connection's first request's arrival.
type firstRequests struct {
	mu       sync.Mutex
	accepted []time.Time // by connection, in the order they were accepted
	first    []time.Time // by connection: its first request's arrival
	port     string
}

// newFirstRequests starts a firstRequests server for the test.
func newFirstRequests(t *testing.T) *firstRequests {
	s := &firstRequests{}
	url, _ := rawServer(t, func(c net.Conn) {
		s.mu.Lock()
		conn := len(s.first)
		s.accepted, s.first = append(s.accepted, time.Now()), append(s.first, time.Time{})
		s.mu.Unlock()
		br := bufio.NewReader(c)
		for readRequest(br) {
			s.mu.Lock()
			if s.first[conn].IsZero() {
				s.first[conn] = time.Now()
			}
			s.mu.Unlock()
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	s.port = url[strings.LastIndexByte(url, ':')+1:]
	return s
}

// arrived returns when the connections were accepted and their first
// requests arrived.
func (s *firstRequests) arrived() (accepted, first []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.accepted...), append([]time.Time(nil), s.first...)
}

// TestFirstRequestsAtTheStart: each worker makes its connection before the
// start instant, no earlier than warmLead before it, and only writes its
// first request at it, so that however long connecting takes (here 0.6s or
// more: a slow DNS), every worker's first request arrives within
// milliseconds of the instant, on the connection made before. The report
// starts at the instant, and its firstRequest is the earliest.
func TestFirstRequestsAtTheStart(t *testing.T) {
	const workers = 8
	resolver := slowResolver(t, 300*time.Millisecond)
	for _, tc := range []struct {
		name  string
		args  []string
		ahead time.Duration // the start instant, from when it is written
	}{
		{"closed", []string{"-d", "300ms"}, warmLead},
		// Worker k's first request is request k, due k ms after the start.
		{"open", []string{"--rate=1000", "-d", "300ms"}, warmLead},
		{"far ahead", []string{"-d", "300ms"}, warmLead + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFirstRequests(t)
			startFile := filepath.Join(t.TempDir(), "at")
			plan := testPlan(t, append([]string{"--url=http://good.test.:" + srv.port + "/", "-c", "8", "--start-file=" + startFile}, tc.args...)...)
			at := time.Now().Add(tc.ahead).Truncate(time.Microsecond)
			writeInstant(t, startFile, at)
			r, err := runWith(context.Background(), plan, runOptions{resolver: resolver, complaints: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if r.Errors != 0 || r.Requests == 0 {
				t.Fatalf("%d requests, %d errors %v", r.Requests, r.Errors, r.ErrorsByClass)
			}
			accepted, arrived := srv.arrived()
			if len(arrived) != workers {
				t.Fatalf("%d connections for %d workers: the connections made before the start were not the ones used", len(arrived), workers)
			}
			const within = 100 * time.Millisecond // far below the time it takes to connect
			for i, a := range arrived {
				if d := a.Sub(at); d < 0 || d > within {
					t.Errorf("connection %d's first request arrived %v after the start", i, d)
				}
				// Connecting takes 0.6s at least.
				if early := at.Sub(accepted[i]); early > warmLead-500*time.Millisecond {
					t.Errorf("connection %d was accepted %v before the start, more than warmLead less connecting", i, early)
				}
			}
			if !r.Start.Equal(at) {
				t.Errorf("report starts at %v, want the start instant %v", r.Start, at)
			}
			if d := r.FirstRequest.Sub(at); d < 0 || d > within {
				t.Errorf("firstRequest %v after the start", d)
			}
			t.Logf("first requests arrived %v to %v after the start; firstRequest %v after it",
				slicesMin(arrived).Sub(at), slicesMax(arrived).Sub(at), r.FirstRequest.Sub(at))
		})
	}
}

// slicesMin is the earliest of ts.
func slicesMin(ts []time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

// slicesMax is the latest of ts.
func slicesMax(ts []time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// TestWarmConnectionLost: a connection made before the start that the
// server closes before the first request is made again by that request,
// without an error; one that could not be made is tried again by the first
// request, whose error counts once.
func TestWarmConnectionLost(t *testing.T) {
	t.Run("closed by the server", func(t *testing.T) {
		at := time.Now().Add(time.Second)
		url, conns := rawServer(t, func(c net.Conn) {
			if time.Now().Before(at) {
				return // made before the start: closed at once
			}
			br := bufio.NewReader(c)
			for readRequest(br) {
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
					return
				}
			}
		})
		startFile := filepath.Join(t.TempDir(), "at")
		writeInstant(t, startFile, at)
		r := runArgs(t, "--url="+url+"/", "-c", "2", "--requests=10", "--start-file="+startFile)
		if diff := cmp.Diff(map[string]int64{"200": 10}, r.Codes); diff != "" || r.Errors != 0 {
			t.Fatalf("errors %v, codes (-want +got):\n%s", r.ErrorsByClass, diff)
		}
		if n := conns.Load(); n != 4 {
			t.Errorf("%d connections, want 2 before the start and 2 again", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		startFile := filepath.Join(t.TempDir(), "at")
		writeInstant(t, startFile, time.Now().Add(500*time.Millisecond))
		r := runArgs(t, "--url=http://"+addr+"/", "-c", "2", "--requests=6", "--start-file="+startFile)
		if diff := cmp.Diff(map[string]int64{"refused": 6}, r.ErrorsByClass); diff != "" || r.Requests != 6 {
			t.Fatalf("%d requests, errors (-want +got):\n%s", r.Requests, diff)
		}
		if !r.FirstRequest.IsZero() {
			t.Errorf("firstRequest %v, want none: no request was written", r.FirstRequest)
		}
	})
}

// TestPacerWarm: the workers that connect before the start are those that
// send within warmWithin of it: in the closed model, the connections at the
// start within the request cap; in the open model, those whose first
// request (worker k's is request k) is due within it.
func TestPacerWarm(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []bool // by worker
	}{
		{"closed", []string{"-c", "3", "-d", "1s"}, []bool{true, true, true}},
		{"closed under a cap", []string{"-c", "3", "--requests=2"}, []bool{true, true, false}},
		{"closed stages from 0", []string{"--connection-stages=1m:3"}, []bool{false, false, false}},
		{"closed stages jumping", []string{"--connection-stages=0s:2,1m:3"}, []bool{true, true, false}},
		{"open", []string{"-c", "4", "--rate=2", "-d", "1m"}, []bool{true, true, false, false}},
		{"open, fewer requests than workers", []string{"-c", "4", "--rate=2", "-d", "1s"}, []bool{true, true, false, false}},
		// Request k is due at sqrt(2k) seconds.
		{"open ramp", []string{"-c", "3", "--rate-stages=100s:100"}, []bool{true, false, false}},
		{"open ramp after a pause", []string{"-c", "2", "--rate-stages=1m:0,0s:100,1m:100"}, []bool{false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := testPlan(t, append([]string{"--url=http://web/"}, tc.args...)...)
			p := newPacer(plan.Load, time.Now(), time.Second, newStopSignal())
			got := make([]bool, plan.Load.Concurrency())
			for id := range got {
				got[id] = p.warm(id)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenPacerFirstRound: worker k sends request k first, whenever it
// runs; then the workers share the rest.
func TestOpenPacerFirstRound(t *testing.T) {
	// Every request is overdue, and its latency, from its due time, tells
	// which it was: request i's is about 1h - i minutes.
	table := fixedTimes{0, time.Minute, 2 * time.Minute, 3 * time.Minute}
	start := time.Now().Add(-time.Hour)
	p := newOpenPacer(start, table, start.Add(2*time.Hour), 3, newStopSignal())
	sent := make([][]int, 3)
	for _, id := range []int{2, 0, 1} { // worker 2 runs alone first
		w, _ := fakeWorker(t, id)
		p.run(w)
		h := w.byRequest[0].hist
		for _, latency := range []time.Duration{h.Max(), h.Min()}[:min(h.Count(), 2)] {
			sent[id] = append(sent[id], int((time.Hour-latency+30*time.Second)/time.Minute))
		}
	}
	want := [][]int{{0}, {1}, {2, 3}}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Fatalf("the requests each worker sent (-want +got):\n%s", diff)
	}
}
