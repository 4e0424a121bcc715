package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// keepAliveServer answers every request on a connection with response, forever.
func keepAliveServer(t testing.TB, response string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // allocation-free per request, so that AllocsPerRun sees only the client
				defer c.Close()
				br := bufio.NewReader(c)
				resp := []byte(response)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) == 2 { // "\r\n": end of the request head
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func newTestWorker(t testing.TB, url string) *worker {
	t.Helper()
	cmd, err := ParseArgs([]string{"run", "--url=" + url, "--requests=1"})
	if err != nil {
		t.Fatal(err)
	}
	return newWorker(cmd.Run)
}

// TestRequestDoesNotAllocate: in steady state (connection open) one request,
// its parsing and its recording allocate nothing, for Content-Length and
// chunked responses alike.
func TestRequestDoesNotAllocate(t *testing.T) {
	for name, resp := range map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			w := newTestWorker(t, keepAliveServer(t, resp))
			defer w.close()
			step := func() {
				now := time.Now()
				status, class := w.do(now)
				w.record(status, class, time.Since(now))
			}
			step() // dial
			if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
				t.Fatalf("%v allocations per request", allocs)
			}
			if w.codes[200] != 2002 || w.requests != 2002 {
				t.Fatalf("codes[200] = %d of %d requests", w.codes[200], w.requests)
			}
		})
	}
}

// BenchmarkRequest is one keep-alive request against a local raw server; run
// with -benchmem: 0 allocs/op.
func BenchmarkRequest(b *testing.B) {
	w := newTestWorker(b, keepAliveServer(b, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	defer w.close()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		status, class := w.do(now)
		w.record(status, class, time.Since(now))
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errClass
	}{
		{&net.DNSError{Err: "no such host", Name: "svc.ns.svc", IsNotFound: true}, classDNS},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}, classDNS},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, classTimeout},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, classRefused},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, classReset},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, classReset},
		{io.EOF, classReset},
		{io.ErrUnexpectedEOF, classReset},
		{errMalformed, classOther},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, classOther},
		{errors.New("anything"), classOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, classNames[got], classNames[tc.want])
		}
	}
}

func TestParseArgs(t *testing.T) {
	type out struct {
		Run   *RunConfig
		Sleep *SleepConfig
		Err   string
	}
	run := func(f func(*RunConfig)) *RunConfig {
		c := &RunConfig{URL: "http://web.default.svc:8080/api?q=1", Method: "GET", Requests: 100, Concurrency: 10,
			Timeout: 10 * time.Second, StartTimeout: 10 * time.Minute}
		if f != nil {
			f(c)
		}
		return c
	}
	base := []string{"run", "--url=http://web.default.svc:8080/api?q=1", "--method=GET", "--requests=100", "--concurrency=10", "--timeout=10s"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	for _, tc := range []struct {
		name string
		args []string
		want out
	}{
		{"reconciler closed", base, out{Run: run(nil)}},
		{"reconciler open", with("--rate=50", "--duration=60s", "--start-file=/etc/dilo/start", "--result-file=/dev/termination-log"),
			out{Run: run(func(c *RunConfig) {
				c.Rate, c.Duration, c.StartFile, c.ResultFile = 50, time.Minute, "/etc/dilo/start", "/dev/termination-log"
			})}},
		{"bench template", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/"},
			out{Run: &RunConfig{URL: "http://127.0.0.1:18090/", Method: "GET", Concurrency: 64, Duration: 5 * time.Second,
				Timeout: 10 * time.Second, StartTimeout: 10 * time.Minute}}},
		{"sleep", []string{"sleep", "--seconds=120", "--message=I'm so very useful!"}, out{Sleep: &SleepConfig{Seconds: 120, Message: "I'm so very useful!"}}},
		{"sleep default", []string{"sleep"}, out{Sleep: &SleepConfig{Message: "I'm so very useful!"}}},
		{"no subcommand", nil, out{Err: "no subcommand"}},
		{"unknown subcommand", []string{"walk"}, out{Err: `unknown subcommand "walk"`}},
		{"unknown flag", with("--rps=5"), out{Err: "flag provided but not defined: -rps"}},
		{"stray argument", with("extra"), out{Err: `unexpected argument "extra"`}},
		{"no url", []string{"run", "--requests=1"}, out{Err: "--url is required"}},
		{"https", []string{"run", "--url=https://web/", "--requests=1"}, out{Err: "--url must start with http://"}},
		{"userinfo", []string{"run", "--url=http://u:p@web/", "--requests=1"}, out{Err: "--url must not hold user info"}},
		{"space in path", []string{"run", "--url=http://web/a b", "--requests=1"}, out{Err: "--url path may hold only printable ASCII"}},
		{"crlf in path", []string{"run", "--url=http://web/a\r\nX: y", "--requests=1"}, out{Err: "--url path may hold only printable ASCII"}},
		{"crlf in host", []string{"run", "--url=http://we\r\nb/", "--requests=1"}, out{Err: "is not a host name"}},
		{"bad port", []string{"run", "--url=http://web:99999/", "--requests=1"}, out{Err: "--url port"}},
		{"lower-case method", with("--method=get"), out{Err: "--method must be upper-case letters only"}},
		{"method with space", with("--method=GET /x"), out{Err: "--method must be upper-case letters only"}},
		{"zero concurrency", with("--concurrency=0"), out{Err: "--concurrency must be between 1 and"}},
		{"bad timeout", with("--timeout=0s"), out{Err: "--timeout must be in"}},
		{"rate without duration", with("--rate=5"), out{Err: "--rate needs --duration"}},
		{"nothing to stop", []string{"run", "--url=http://web/"}, out{Err: "--requests or --duration is required"}},
		{"negative requests", with("--requests=-1"), out{Err: "--requests must be >= 0"}},
		{"bad duration", with("--duration=soon"), out{Err: `invalid value "soon" for flag -duration`}},
		{"negative sleep", []string{"sleep", "--seconds=-1"}, out{Err: "--seconds must be >= 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseArgs(tc.args)
			got := out{Run: cmd.Run, Sleep: cmd.Sleep}
			if err != nil {
				var u *UsageError
				if !errors.As(err, &u) {
					t.Fatalf("error %v is not a UsageError", err)
				}
				got.Err = err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(RunConfig{}), cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".target"
			}, cmp.Ignore())); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestBytes(t *testing.T) {
	for _, tc := range []struct{ url, method, want string }{
		{"http://web.ns.svc:8080/a?b=c", "GET", "GET /a?b=c HTTP/1.1\r\nHost: web.ns.svc:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n"},
		{"http://web", "HEAD", "HEAD / HTTP/1.1\r\nHost: web\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n"},
		{"http://web:80/", "POST", "POST / HTTP/1.1\r\nHost: web\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n"},
		{"http://[::1]:8080/", "GET", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n"},
	} {
		tg, err := parseTarget(tc.url, tc.method)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if diff := cmp.Diff(tc.want, string(tg.request)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.url, diff)
		}
	}
}

// FuzzParseArgs: whatever the arguments, ParseArgs does not panic, and what
// it accepts makes a request that Go's own HTTP parser reads back as exactly
// one request with the given method.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range [][3]string{
		{"run", "--url=http://web.default.svc:8080/api?q=1", "--method=GET"},
		{"run", "--url=http://127.0.0.1:18090/", "--method=HEAD"},
		{"-c", "64", "-url=http://[::1]:80/x"},
		{"run", "--url=http://web/a%20b#frag", "--method=DELETE"},
		{"run", "--url=http://web/\r\nHost: evil", "--method=GET"},
		{"sleep", "--seconds=5", "--message=I'm so very useful!"},
		{"run", "--url=https://web/", "--rate=5"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		cmd, err := ParseArgs([]string{a, b, c, "--requests=1"})
		if err != nil || cmd.Run == nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(cmd.Run.target.request))))
		if err != nil {
			t.Fatalf("accepted args %q make an unparsable request %q: %v", []string{a, b, c}, cmd.Run.target.request, err)
		}
		if req.Method != cmd.Run.Method || req.Host == "" {
			t.Fatalf("request %q: method %q host %q", cmd.Run.target.request, req.Method, req.Host)
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

// TestRunAllocationsPerRequest: whole runs, closed and open model, allocate
// a bounded amount (workers, histogram pages of at most 42 octaves each,
// dials, the report: a few hundred allocations) and nothing per request.
func TestRunAllocationsPerRequest(t *testing.T) {
	url := keepAliveServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	for name, args := range map[string][]string{
		"closed": {"run", "--url=" + url, "--requests=20000", "--concurrency=4"},
		"open":   {"run", "--url=" + url, "--rate=40000", "--duration=500ms", "--concurrency=4"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd, err := ParseArgs(args)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := Run(context.Background(), cmd.Run)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests < 10000 || r.Errors != 0 {
				t.Fatalf("requests %d errors %d", r.Requests, r.Errors)
			}
			perRequest := float64(after.Mallocs-before.Mallocs) / float64(r.Requests)
			t.Logf("%d allocations for %d requests", after.Mallocs-before.Mallocs, r.Requests)
			if perRequest > 0.03 {
				t.Fatalf("%.4f allocations per request", perRequest)
			}
		})
	}
}
