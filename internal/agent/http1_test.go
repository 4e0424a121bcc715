package agent

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// keepAliveServer answers every request on a connection with response,
// forever, skipping the request's body of Content-Length.
func keepAliveServer(t testing.TB, response string) string {
	addr, _ := serveConns(t, func(c net.Conn) { // allocation-free per request, so that AllocsPerRun sees only the client
		br := bufio.NewReader(c)
		resp := []byte(response)
		body := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if n, ok := headerValue(trimSpace(line), "content-length:"); ok {
				length, _ := parseDecimal(n)
				body = int(length)
			}
			if len(line) == 2 { // "\r\n": end of the request head
				if _, err := br.Discard(body); err != nil {
					return
				}
				body = 0
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
	return "http://" + addr + "/"
}

// newTestWorker returns the first worker of the plan of a command line of
// flags, sending the mix src (nil: the plan's request).
func newTestWorker(t testing.TB, src *source, args ...string) *worker {
	t.Helper()
	plan := testPlan(t, args...)
	if src == nil {
		var err error
		if src, err = planSource(plan); err != nil {
			t.Fatal(err)
		}
	}
	return newWorkers(plan, src, newTCPDialer(plan.Target.Address, nil))[0]
}

// testMixRequests is a mix of GET /a three times to POST /b once.
var testMixRequests = []runplan.Request{{Name: "a", Weight: 3, Method: "GET", Path: "/a"}, {Name: "b", Weight: 1, Method: "POST", Path: "/b"}}

// testMix is testMixRequests at the plan's target.
func testMix(t testing.TB, plan runplan.Plan) *source {
	t.Helper()
	plan.Requests = testMixRequests
	src, err := planSource(plan)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestRequestDoesNotAllocate: in steady state (connection open) one request,
// from the choice in the mix through the fetcher interface to its parsing
// and its recording, allocates nothing, for Content-Length and chunked
// responses, a request with headers and a 1 KiB body, and a mix of requests
// alike.
func TestRequestDoesNotAllocate(t *testing.T) {
	const contentLength = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
	for _, tc := range []struct {
		name, response string
		mix            bool
		args           []string
	}{
		{"content-length", contentLength, false, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n", false, nil},
		{"headers and body", contentLength, false, []string{"--method=POST", "--header=Authorization: Bearer abc",
			"--header=Content-Type: application/json", "--header=X-Trace: 1", "--body=" + strings.Repeat("b", 1024)}},
		{"mix", contentLength, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--url=" + keepAliveServer(t, tc.response), "--requests=1"}, tc.args...)
			var src *source
			if tc.mix {
				src = testMix(t, testPlan(t, args...))
			}
			w := newTestWorker(t, src, args...)
			defer w.fetch.Close()
			step := func() {
				now := time.Now()
				w.send(now, now)
			}
			step() // dial
			if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
				t.Fatalf("%v allocations per request", allocs)
			}
			if w.count(200) != 2002 || w.requests() != 2002 {
				t.Fatalf("%d responses 200 of %d requests", w.count(200), w.requests())
			}
		})
	}
}

// BenchmarkRequest is one keep-alive request against a local raw server; run
// with -benchmem: 0 allocs/op.
func BenchmarkRequest(b *testing.B) {
	w := newTestWorker(b, nil, "--url="+keepAliveServer(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "--requests=1")
	defer w.fetch.Close()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		w.send(now, now)
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
