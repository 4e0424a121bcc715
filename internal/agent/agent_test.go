package agent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// runArgs parses a run command line and runs it, failing the test on error.
func runArgs(t *testing.T, args ...string) podreport.Report {
	t.Helper()
	cmd, err := ParseArgs(append([]string{"run"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), cmd.Run)
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
	return "http://" + ln.Addr().String(), conns
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

func TestChunkedKeepsConnection(t *testing.T) {
	body := strings.Repeat("x", 10000)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			io.WriteString(w, body[:2000])
			w.(http.Flusher).Flush() // forces chunked encoding
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r := runArgs(t, "--url="+srv.URL+"/", "--requests=50", "--concurrency=2")
	if r.Errors != 0 || r.Codes["200"] != 50 {
		t.Fatalf("errors %d codes %v %v", r.Errors, r.Codes, r.ErrorsByClass)
	}
	if r.BytesReceived < 50*10000 {
		t.Fatalf("bytes %d < bodies", r.BytesReceived)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections for 2 keep-alive workers", n)
	}
}

func TestConnectionCloseReconnects(t *testing.T) {
	url, conns := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	r := runArgs(t, "--url="+url+"/", "--requests=10")
	if r.Errors != 0 || r.Codes["200"] != 10 {
		t.Fatalf("errors %v codes %v", r.ErrorsByClass, r.Codes)
	}
	if n := conns.Load(); n != 10 {
		t.Fatalf("%d connections, want one per request", n)
	}
}

func TestStaleKeepAliveIsRetried(t *testing.T) {
	// The server answers one request per connection without saying it closes.
	url, conns := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	r := runArgs(t, "--url="+url+"/", "--requests=5")
	if r.Errors != 0 || r.Codes["200"] != 5 {
		t.Fatalf("errors %v codes %v", r.ErrorsByClass, r.Codes)
	}
	if n := conns.Load(); n != 5 {
		t.Fatalf("%d connections, want 5", n)
	}
}

func TestResponseParsing(t *testing.T) {
	long := strings.Repeat("v", 3*readBufferSize)
	for _, tc := range []struct {
		name     string
		method   string
		response string
		want     map[string]int64 // codes, or error classes when no response
		conns    int64            // connections for 3 requests
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", map[string]int64{"200": 3}, 1},
		{"header case", "GET", "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:5\r\n\r\nhello", map[string]int64{"200": 3}, 1},
		{"chunked with extension and trailer", "GET",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", map[string]int64{"200": 3}, 1},
		{"head ignores length", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", map[string]int64{"200": 3}, 1},
		{"204 no body", "GET", "HTTP/1.1 204 No Content\r\n\r\n", map[string]int64{"204": 3}, 1},
		{"interim 100", "POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", map[string]int64{"201": 3}, 1},
		{"long header skipped", "GET", "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\nContent-Length: 2\r\n\r\nok", map[string]int64{"200": 3}, 1},
		{"http/1.0 closes", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", map[string]int64{"200": 3}, 3},
		{"http/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", map[string]int64{"200": 3}, 1},
		{"body until close", "GET", "HTTP/1.1 200 OK\r\n\r\nuntil the end", map[string]int64{"200": 3}, 3},
		{"malformed status", "GET", "HTTP/1.1 2x0 OK\r\n\r\n", map[string]int64{"other": 3}, 3},
		{"not http", "GET", "SSH-2.0-OpenSSH\r\n\r\n", map[string]int64{"other": 3}, 3},
		{"bad length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", map[string]int64{"other": 3}, 3},
		{"bad chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", map[string]int64{"other": 3}, 3},
		{"truncated body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nConnection: close\r\n\r\nshort", map[string]int64{"reset": 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			responses := []string{tc.response, tc.response, tc.response}
			if tc.conns == 3 { // the client closes (or fails) after each: one response per connection
				responses = responses[:1]
			}
			url, conns := cannedServer(t, responses...)
			if tc.name == "body until close" || tc.name == "truncated body" {
				url, conns = rawServer(t, func(c net.Conn) {
					readRequest(bufio.NewReader(c))
					io.WriteString(c, tc.response)
				})
			}
			r := runArgs(t, "--url="+url+"/", "--requests=3", "--method="+tc.method, "--timeout=2s")
			got := r.Codes
			if r.Latency.Count() == 0 {
				got = r.ErrorsByClass
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if n := conns.Load(); n != tc.conns {
				t.Fatalf("%d connections, want %d", n, tc.conns)
			}
		})
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

func TestMainExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ran", []string{"run", "--url=" + srv.URL + "/", "--requests=10", "--result-file=" + result}, 0, ""},
		{"bad flag", []string{"run", "--url=" + srv.URL + "/", "--requests=-1"}, 2, "--requests must be >= 0"},
		{"unwritable result", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--result-file=" + dir + "/no/such/dir"}, 1, "failed to open result file"},
		{"gate timeout", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--start-file=" + dir + "/absent", "--start-timeout=50ms"}, 1, "could not run: no start time"},
		{"sleep", []string{"sleep", "--seconds=0", "--message=hi"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	doc, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.Parse(string(doc))
	if err != nil || r.Requests != 10 {
		t.Fatalf("result file: %v, requests %d", err, r.Requests)
	}
}

func TestMainPrintsRPSLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var stdout bytes.Buffer
	if code := Main(context.Background(), []string{"-c", "2", "-d", "100ms", "-url", srv.URL + "/"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), `{"rps":`) { // sidebyside.sh greps `"rps":N`
		t.Fatalf("no rps line in:\n%s", stdout.String())
	}
}

// TestMainPlanFile: `agent run --plan-file=F` runs the plan F holds, as the
// controller writes it; a plan the agent refuses exits 2, naming the field.
func TestMainPlanFile(t *testing.T) {
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts.Store(r.Host+" "+r.Method+" "+r.URL.Path, true) }))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	startAt := filepath.Join(dir, "at")
	if err := os.WriteFile(startAt, []byte(time.Now().Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	good := runplan.Plan{
		Target:     runplan.Target{Address: strings.TrimPrefix(srv.URL, "http://"), Host: "web.team-a.svc:8080", Path: "/x", Method: "PUT"},
		Load:       runplan.Load{Closed: &runplan.Closed{Concurrency: 2, Requests: 7}},
		Timeout:    runplan.Duration(5 * time.Second),
		Start:      &runplan.Start{File: startAt, Timeout: runplan.Duration(time.Second)},
		ResultFile: result,
	}
	doc, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(doc), `"concurrency":2`, `"concurrency":0`, 1)
	for _, tc := range []struct {
		name   string
		plan   string
		code   int
		stderr string
	}{
		{"ran", string(doc), 0, ""},
		{"bad field", bad, 2, "load.closed.concurrency must be between 1 and"},
		{"unknown field", strings.Replace(string(doc), `"timeout":"5s"`, `"timeout":"5s","tls":{}`, 1), 2, `unknown field "tls"`},
		{"old version", strings.Replace(string(doc), runplan.Version, "dilo.example.org/runplan/v0", 1), 2, "version is"},
		{"empty", "", 2, "run plan is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "plan")
			if err := os.WriteFile(file, []byte(tc.plan), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"run", "--plan-file=" + file}, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	out, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.Parse(string(out))
	if err != nil || r.Requests != 7 || r.Codes["200"] != 7 {
		t.Fatalf("result file: %v, report %+v", err, r)
	}
	if _, ok := hosts.Load("web.team-a.svc:8080 PUT /x"); !ok {
		var seen []any
		hosts.Range(func(k, _ any) bool { seen = append(seen, k); return true })
		t.Errorf("requests seen %v, want Host web.team-a.svc:8080 PUT /x", seen)
	}
}
