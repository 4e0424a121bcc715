package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/agent/flagplan"
	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// testPlan builds a plan from the flags of agent-bench (see flagplan),
// failing the test on error.
func testPlan(t testing.TB, args ...string) runplan.Plan {
	t.Helper()
	plan, err := flagplan.Parse(args)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// runArgs runs the plan of a command line of flags, failing the test on error.
func runArgs(t *testing.T, args ...string) podreport.Report {
	t.Helper()
	r, err := Run(context.Background(), testPlan(t, args...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Encode(); err != nil { // the counters must be consistent
		t.Fatalf("report does not encode: %v", err)
	}
	return r
}

// rawServer serves on 127.0.0.1 with handle called for every accepted connection.
func rawServer(t *testing.T, handle func(net.Conn)) (url string, conns *atomic.Int64) {
	addr, conns := serveConns(t, handle)
	return "http://" + addr, conns
}

// serveConns listens on 127.0.0.1, calls handle for every accepted connection in
// its own goroutine and closes it after, and returns the address and a count of the
// connections accepted. The test's cleanup stops listening and waits for the
// handlers to return.
func serveConns(t testing.TB, handle func(net.Conn)) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return ln.Addr().String(), conns
}

// readRequest reads one request head from br; false at end of stream.
func readRequest(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

// cannedServer answers the requests on each connection with responses in
// turn, then closes the connection (after the last one).
func cannedServer(t *testing.T, responses ...string) (string, *atomic.Int64) {
	return rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for _, resp := range responses {
			if !readRequest(br) {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

func TestRunAgainstHTTPTestServerIsLocal(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, not 127.0.0.1", srv.URL)
	}
}

func TestStatusCodesCounted(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			w.WriteHeader(http.StatusNotFound)
		case 2:
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			fmt.Fprint(w, "hello")
		}
	}))
	defer srv.Close()
	r := runArgs(t, "--url="+srv.URL+"/x?y=1", "--requests=400", "--concurrency=4")
	want := map[string]int64{"200": 100, "302": 100, "404": 100, "503": 100}
	if diff := cmp.Diff(want, r.Codes); diff != "" {
		t.Fatalf("codes (-want +got):\n%s", diff)
	}
	if r.Requests != 400 || r.Errors != 200 || r.Latency.Count() != 400 || r.BytesReceived == 0 {
		t.Fatalf("requests %d errors %d latencies %d bytes %d", r.Requests, r.Errors, r.Latency.Count(), r.BytesReceived)
	}
	if r.FirstRequest.Before(r.Start) || !r.FirstRequest.Before(r.End) || r.Live {
		t.Fatalf("first request at %v of a load from %v to %v, live %v", r.FirstRequest, r.Start, r.End, r.Live)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, _ := rawServer(t, func(c net.Conn) { <-release }) // never answers
	start := time.Now()
	r := runArgs(t, "--url="+url+"/", "--requests=3", "--concurrency=3", "--timeout=200ms")
	if diff := cmp.Diff(map[string]int64{"timeout": 3}, r.ErrorsByClass); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Fatalf("took %v with a 200ms timeout", el)
	}
}

func TestSlowResponseWithinTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
	}))
	defer srv.Close()
	r := runArgs(t, "--url="+srv.URL+"/", "--requests=2", "--timeout=5s")
	if r.Errors != 0 || r.Latency.Quantile(0.5) < 100*time.Millisecond {
		t.Fatalf("errors %d, p50 %v; want 0 errors and >= 100ms", r.Errors, r.Latency.Quantile(0.5))
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runArgs(t, "--url=http://"+addr+"/", "--requests=5", "--concurrency=2")
	if diff := cmp.Diff(map[string]int64{"refused": 5}, r.ErrorsByClass); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
	if r.Errors != 5 || r.Latency.Count() != 0 {
		t.Fatalf("errors %d latencies %d", r.Errors, r.Latency.Count())
	}
}

func TestConnectionReset(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn) {
		readRequest(bufio.NewReader(c))
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	r := runArgs(t, "--url="+url+"/", "--requests=4")
	if diff := cmp.Diff(map[string]int64{"reset": 4}, r.ErrorsByClass); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
}

// TestRateModeMeasuresFromIntendedTime: a server that stalls once for 400ms
// under an open-model load on one connection. Every request scheduled during
// the stall waits for it, and its latency, measured from its intended start,
// includes that wait; a closed-model client would show one slow request.
func TestRateModeMeasuresFromIntendedTime(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(400 * time.Millisecond)
		}
	}))
	defer srv.Close()
	r := runArgs(t, "--url="+srv.URL+"/", "--rate=100", "--duration=1s", "--concurrency=1", "--timeout=5s")
	if r.Requests != 100 || r.Errors != 0 {
		t.Fatalf("requests %d errors %d (%v), want 100 and 0", r.Requests, r.Errors, r.ErrorsByClass)
	}
	// About 40 requests were scheduled during the stall, waiting 400ms down to
	// 10ms: at least 20 of the 100 (p80) took over 100ms.
	if p80 := r.Latency.Quantile(0.80); p80 < 100*time.Millisecond {
		t.Fatalf("p80 %v: the stall's wait is not in the latencies", p80)
	}
	if max := r.Latency.Max(); max < 400*time.Millisecond {
		t.Fatalf("max %v < the 400ms stall", max)
	}
	if el := r.End.Sub(r.Start); el < 990*time.Millisecond {
		t.Fatalf("run took %v, want the 1s schedule", el)
	}
}

func TestRateModeDropsWhatCannotBeSent(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, _ := rawServer(t, func(c net.Conn) { <-release }) // never answers
	r := runArgs(t, "--url="+url+"/", "--rate=50", "--duration=200ms", "--concurrency=1", "--timeout=300ms")
	// The one connection sends a request, which times out, then the next, late,
	// and so on until the hard stop: the rest were never sent.
	timeouts, dropped := r.ErrorsByClass["timeout"], r.ErrorsByClass["dropped"]
	if r.Requests != 10 || r.Errors != 10 || timeouts+dropped != 10 || timeouts < 1 || dropped < 1 {
		t.Fatalf("requests %d, errors %d %v; want 10 errors: some timeouts (sent), the rest dropped (never sent)",
			r.Requests, r.Errors, r.ErrorsByClass)
	}
	if el := r.End.Sub(r.Start); el > 3*time.Second {
		t.Fatalf("run took %v, want about duration + 2 timeouts", el)
	}
}

func TestClosedModeDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r := runArgs(t, "-url", srv.URL+"/", "-c", "2", "-d", "300ms")
	if el := r.End.Sub(r.Start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Fatalf("ran %v for -d 300ms", el)
	}
	if r.Requests == 0 || r.Errors != 0 {
		t.Fatalf("requests %d errors %d", r.Requests, r.Errors)
	}
}

// TestRunAllocationsPerRequest: whole runs, closed and open model, one
// request or a mix with headers and bodies, allocate a bounded amount
// (workers, histogram pages of at most 42 octaves each, dials, the report: a
// few hundred allocations) and nothing per request.
func TestRunAllocationsPerRequest(t *testing.T) {
	if raceEnabled() {
		// The timed loads then send too few requests for the few hundred
		// allocations of a run to fall below the bound.
		t.Skip("the race detector slows the load tenfold")
	}
	url := keepAliveServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	mix := func(args ...string) runplan.Plan {
		plan := testPlan(t, append(args, "--header=Authorization: Bearer abc", "--header=X-Trace: 1")...)
		body := &runplan.Body{Text: strings.Repeat("b", 1024)}
		plan.Requests = []runplan.Request{{Name: "a", Weight: 3, Method: "GET", Path: "/a"},
			{Name: "b", Weight: 2, Method: "POST", Path: "/b", Body: body, Headers: []runplan.Header{{Name: "Content-Type", Value: "text/plain"}}},
			{Name: "c", Weight: 1, Method: "PUT", Path: "/c", Body: body}}
		return plan
	}
	for name, plan := range map[string]runplan.Plan{
		"closed":      testPlan(t, "--url="+url, "--requests=20000", "--concurrency=4"),
		"open":        testPlan(t, "--url="+url, "--rate=40000", "--duration=500ms", "--concurrency=4"),
		"closed mix":  mix("--url="+url, "--requests=20000", "--concurrency=4"),
		"open mix":    mix("--url="+url, "--rate=40000", "--duration=500ms", "--concurrency=4"),
		"open ramp":   testPlan(t, "--url="+url, "--rate-stages=250ms:40000,250ms:40000", "--concurrency=4"),
		"closed ramp": testPlan(t, "--url="+url, "--connection-stages=100ms:4,400ms:4", "--requests=20000"),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := Run(context.Background(), plan)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			byRequest := 0 // one request: the totals are its results
			if len(plan.Requests) > 1 {
				byRequest = len(plan.Requests)
			}
			if r.Requests < 10000 || r.Errors != 0 || len(r.ByRequest) != byRequest {
				t.Fatalf("requests %d errors %d, %d requests reported", r.Requests, r.Errors, len(r.ByRequest))
			}
			perRequest := float64(after.Mallocs-before.Mallocs) / float64(r.Requests)
			t.Logf("%d allocations for %d requests", after.Mallocs-before.Mallocs, r.Requests)
			if perRequest > 0.03 {
				t.Fatalf("%.4f allocations per request", perRequest)
			}
		})
	}
}

// TestRunMix: a mix of requests goes out by its weights, each with its own
// method, path, headers and body, and the report counts each request apart,
// in plan order, the totals their sums.
func TestRunMix(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Own")+" "+string(body)]++
		mu.Unlock()
		if r.URL.Path == "/b" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	plan := testPlan(t, "--url="+srv.URL+"/", "--requests=600", "--concurrency=3", "--header=Authorization: common")
	plan.Requests = []runplan.Request{
		{Name: "a", Weight: 3, Method: "GET", Path: "/a"},
		{Name: "b", Weight: 2, Method: "POST", Path: "/b", Body: &runplan.Body{Text: "hello"}, Headers: []runplan.Header{{Name: "X-Own", Value: "b"}}},
		{Name: "c", Weight: 1, Method: "GET", Path: "/c", Headers: []runplan.Header{{Name: "authorization", Value: "own"}}},
	}
	r, err := Run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.EncodeFull(); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 600 || r.Errors != r.ByRequest[1].Requests || r.Codes["404"] != r.ByRequest[1].Requests {
		t.Fatalf("requests %d errors %d codes %v", r.Requests, r.Errors, r.Codes)
	}
	keys := []string{"GET /a common  ", "POST /b common b hello", "GET /c own  "}
	for i, q := range r.ByRequest {
		if want := plan.Requests[i].Name; q.Name != want {
			t.Errorf("byRequest %d is %q, want %q", i, q.Name, want)
		}
		if q.Requests != seen[keys[i]] || q.Latency.Count() != uint64(q.Requests) {
			t.Errorf("request %s: %d reported, %d latencies, %d seen as %q (all seen: %v)", q.Name, q.Requests, q.Latency.Count(), seen[keys[i]], keys[i], seen)
		}
		// Each worker walks whole cycles of 6 but for its last one.
		if want := int64(100 * plan.Requests[i].Weight); q.Requests < want-9 || q.Requests > want+9 {
			t.Errorf("request %s: %d sent, want %d by its weight", q.Name, q.Requests, want)
		}
	}
}
