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
	"golang.org/x/net/dns/dnsmessage"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
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
		{cnameError(t), classDNS},
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

// TestClassNamesArePodreportClasses: every class the agent counts has a name the
// manager's parser accepts, and every name the parser accepts can be counted.
func TestClassNamesArePodreportClasses(t *testing.T) {
	if diff := cmp.Diff(podreport.Classes, classNames[classNone+1:]); diff != "" {
		t.Errorf("classNames are not podreport.Classes (-podreport +agent):\n%s", diff)
	}
}

// cnameError is the error a dial to an ExternalName Service's name returns.
func cnameError(t *testing.T) error {
	tg := target{name: "evil.test.", port: 80, resolver: testResolver(t, testZone)}
	_, err := tg.dial(time.Now().Add(10 * time.Second))
	if !errors.Is(err, errCNAME) {
		t.Fatalf("dial to a CNAME: %v, want errCNAME", err)
	}
	return err
}

func TestParseArgs(t *testing.T) {
	type out struct {
		Plan  *runplan.Plan
		Sleep *SleepConfig
		Err   string
	}
	plan := func(addr, host, path string, f func(*runplan.Plan)) *runplan.Plan {
		p := &runplan.Plan{Version: runplan.Version,
			Target:  runplan.Target{Address: addr, Host: host, Path: path, Method: "GET"},
			Load:    runplan.Load{Closed: &runplan.Closed{Concurrency: 1, Requests: 1}},
			Timeout: runplan.Duration(10 * time.Second)}
		if f != nil {
			f(p)
		}
		return p
	}
	run := func(f func(*runplan.Plan)) *runplan.Plan {
		return plan("web.default.svc:8080", "web.default.svc:8080", "/api?q=1", func(p *runplan.Plan) {
			p.Load.Closed = &runplan.Closed{Concurrency: 10, Requests: 100}
			if f != nil {
				f(p)
			}
		})
	}
	base := []string{"run", "--url=http://web.default.svc:8080/api?q=1", "--method=GET", "--requests=100", "--concurrency=10", "--timeout=10s"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	host := func(h string) func(*runplan.Plan) { return func(p *runplan.Plan) { p.Target.Host = h } }
	for _, tc := range []struct {
		name string
		args []string
		want out
	}{
		{"reconciler closed", base, out{Plan: run(nil)}},
		{"reconciler open", with("--rate=50", "--duration=60s", "--start-file=/etc/dilo/start", "--result-file=/dev/termination-log"),
			out{Plan: run(func(p *runplan.Plan) {
				p.Load = runplan.Load{Open: &runplan.Open{Rate: 50, Duration: runplan.Duration(time.Minute), Concurrency: 10}}
				p.Start = &runplan.Start{File: "/etc/dilo/start", Timeout: runplan.Duration(10 * time.Minute)}
				p.ResultFile = "/dev/termination-log"
			})}},
		{"cluster ip with host", []string{"run", "--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--requests=1"},
			out{Plan: plan("10.97.3.4:8080", "web.team-a.svc:8080", "/path", nil)}},
		{"headless fqdn with host", []string{"run", "--url=http://web.team-a.svc.cluster.local.:80/path", "--host=web.team-a.svc", "--requests=1"},
			out{Plan: plan("web.team-a.svc.cluster.local.:80", "web.team-a.svc", "/path", nil)}},
		{"host default", base, out{Plan: run(host("web.default.svc:8080"))}},
		{"host default ipv6", []string{"run", "--url=http://[::1]:80/", "--requests=1"}, out{Plan: plan("[::1]:80", "[::1]", "/", nil)}},
		{"host ipv4", with("--host=10.0.0.1:65535"), out{Plan: run(host("10.0.0.1:65535"))}},
		{"host ipv6", with("--host=[fd00::1]:8080"), out{Plan: run(host("[fd00::1]:8080"))}},
		{"host ipv6 without port", with("--host=[::1]"), out{Plan: run(host("[::1]"))}},
		{"host final dot and underscore", with("--host=my_web.team-a.svc."), out{Plan: run(host("my_web.team-a.svc."))}},
		{"host of 255 bytes", with("--host=" + longName + ":1"), out{Plan: run(host(longName + ":1"))}},
		{"host empty", with("--host="), out{Err: "--host must be HOST[:PORT]"}},
		{"host of 256 bytes", with("--host=" + longName + ":10"), out{Err: "--host must be HOST[:PORT]"}},
		{"host crlf", with("--host=web\r\nX-Evil: 1"), out{Err: "--host must be HOST[:PORT]"}},
		{"host lf", with("--host=web\nX-Evil: 1"), out{Err: "--host must be HOST[:PORT]"}},
		{"host space", with("--host=web x"), out{Err: "--host must be HOST[:PORT]"}},
		{"host tab", with("--host=web\t"), out{Err: "--host must be HOST[:PORT]"}},
		{"host nul", with("--host=web\x00"), out{Err: "--host must be HOST[:PORT]"}},
		{"host userinfo", with("--host=u@web"), out{Err: "--host must be HOST[:PORT]"}},
		{"host slash", with("--host=web/x"), out{Err: "--host must be HOST[:PORT]"}},
		{"host port zero", with("--host=web:0"), out{Err: "--host must be HOST[:PORT]"}},
		{"host port too big", with("--host=web:65536"), out{Err: "--host must be HOST[:PORT]"}},
		{"host port leading zero", with("--host=web:080"), out{Err: "--host must be HOST[:PORT]"}},
		{"host port empty", with("--host=web:"), out{Err: "--host must be HOST[:PORT]"}},
		{"host port only", with("--host=:80"), out{Err: "--host must be HOST[:PORT]"}},
		{"host two ports", with("--host=web:80:80"), out{Err: "--host must be HOST[:PORT]"}},
		{"host bare ipv6", with("--host=::1"), out{Err: "--host must be HOST[:PORT]"}},
		{"host unclosed bracket", with("--host=[::1:80"), out{Err: "--host must be HOST[:PORT]"}},
		{"host ipv4 in brackets", with("--host=[10.0.0.1]:80"), out{Err: "--host must be HOST[:PORT]"}},
		{"host ipv6 zone", with("--host=[fe80::1%eth0]"), out{Err: "--host must be HOST[:PORT]"}},
		{"host junk after bracket", with("--host=[::1]x"), out{Err: "--host must be HOST[:PORT]"}},
		{"host empty label", with("--host=web..svc"), out{Err: "--host must be HOST[:PORT]"}},
		{"host only dot", with("--host=."), out{Err: "--host must be HOST[:PORT]"}},
		{"url final dot", []string{"run", "--url=http://web.team-a.svc.cluster.local./", "--requests=1"},
			out{Plan: plan("web.team-a.svc.cluster.local.:80", "web.team-a.svc.cluster.local", "/", nil)}},
		{"url only dot", []string{"run", "--url=http://./", "--requests=1"}, out{Err: "is not a host name"}},
		{"url empty label", []string{"run", "--url=http://web..svc/", "--requests=1"}, out{Err: "is not a host name"}},
		{"url two final dots", []string{"run", "--url=http://web.svc../", "--requests=1"}, out{Err: "is not a host name"}},
		{"url label of 64", []string{"run", "--url=http://" + strings.Repeat("a", 64) + ".svc/", "--requests=1"}, out{Err: "is not a host name"}},
		{"bench template", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/"},
			out{Plan: plan("127.0.0.1:18090", "127.0.0.1:18090", "/", func(p *runplan.Plan) {
				p.Load.Closed = &runplan.Closed{Concurrency: 64, Duration: runplan.Duration(5 * time.Second)}
			})}},
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
		{"rate without duration", with("--rate=5"), out{Err: "--duration is required with --rate"}},
		{"negative rate", with("--rate=-5", "--duration=1s"), out{Err: "--rate must be between 1 and"}},
		{"plan file and url", []string{"run", "--plan-file=/x", "--url=http://web/"}, out{Err: "--plan-file and --url exclude each other"}},
		{"plan file absent", []string{"run", "--plan-file=/no/such/plan"}, out{Err: "--plan-file /no/such/plan: open /no/such/plan"}},
		{"nothing to stop", []string{"run", "--url=http://web/"}, out{Err: "--requests or --duration is required"}},
		{"negative start timeout", with("--start-file=/f", "--start-timeout=-1s"), out{Err: "--start-timeout must be > 0"}},
		{"negative requests", with("--requests=-1"), out{Err: "--requests must be >= 0"}},
		{"bad duration", with("--duration=soon"), out{Err: `invalid value "soon" for flag -duration`}},
		{"negative sleep", []string{"sleep", "--seconds=-1"}, out{Err: "--seconds must be >= 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseArgs(tc.args)
			got := out{Sleep: cmd.Sleep}
			if cmd.Run != nil {
				got.Plan = &cmd.Run.Plan
			}
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
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestBytes(t *testing.T) {
	type dial struct{ Addr, Name string } // Name: resolved by the agent; "" for an address
	for _, tc := range []struct {
		url, host, method string
		want              string
		dial              dial
	}{
		{"http://web.ns.svc:8080/a?b=c", "", "GET", "GET /a?b=c HTTP/1.1\r\nHost: web.ns.svc:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n",
			dial{"web.ns.svc:8080", "web.ns.svc"}},
		{"http://web", "", "HEAD", "HEAD / HTTP/1.1\r\nHost: web\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n", dial{"web:80", "web"}},
		{"http://web:80/", "", "POST", "POST / HTTP/1.1\r\nHost: web\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n", dial{"web:80", "web"}},
		{"http://[::1]:8080/", "", "GET", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n", dial{"[::1]:8080", ""}},
		// What the reconciler sends: a ClusterIP with the Service's name as Host ...
		{"http://10.97.3.4:8080/path", "web.team-a.svc:8080", "GET",
			"GET /path HTTP/1.1\r\nHost: web.team-a.svc:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n", dial{"10.97.3.4:8080", ""}},
		{"http://10.97.3.4/", "web.team-a.svc", "PUT",
			"PUT / HTTP/1.1\r\nHost: web.team-a.svc\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n", dial{"10.97.3.4:80", ""}},
		// ... or, for a headless Service, its fully qualified name.
		{"http://web.team-a.svc.cluster.local.:80/path", "web.team-a.svc", "GET",
			"GET /path HTTP/1.1\r\nHost: web.team-a.svc\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n",
			dial{"web.team-a.svc.cluster.local.:80", "web.team-a.svc.cluster.local."}},
		// Without --host, the final dot is not part of the Host header.
		{"http://web.team-a.svc.cluster.local.:80/", "", "GET",
			"GET / HTTP/1.1\r\nHost: web.team-a.svc.cluster.local\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n",
			dial{"web.team-a.svc.cluster.local.:80", "web.team-a.svc.cluster.local."}},
		{"http://web.team-a.svc.cluster.local./", "", "GET",
			"GET / HTTP/1.1\r\nHost: web.team-a.svc.cluster.local\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n",
			dial{"web.team-a.svc.cluster.local.:80", "web.team-a.svc.cluster.local."}},
		{"http://Web.Team-A.svc.cluster.local.:8080/", "", "GET",
			"GET / HTTP/1.1\r\nHost: Web.Team-A.svc.cluster.local:8080\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n\r\n",
			dial{"Web.Team-A.svc.cluster.local.:8080", "Web.Team-A.svc.cluster.local."}},
	} {
		args := []string{"run", "--url=" + tc.url, "--method=" + tc.method, "--requests=1"}
		if tc.host != "" {
			args = append(args, "--host="+tc.host)
		}
		cmd, err := ParseArgs(args)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		tg := cmd.Run.target
		if diff := cmp.Diff(tc.want, string(tg.request)); diff != "" {
			t.Errorf("%s --host=%q (-want +got):\n%s", tc.url, tc.host, diff)
		}
		if diff := cmp.Diff(tc.dial, dial{tg.addr, tg.name}); diff != "" {
			t.Errorf("%s dials (-want +got):\n%s", tc.url, diff)
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
		{"--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--method=GET"},
		{"run", "--url=http://web.team-a.svc.cluster.local.:80/path", "--host=web.team-a.svc"},
		{"run", "--url=http://web.team-a.svc.cluster.local./", "--method=POST"},
		{"--url=http://[::1]:8080/", "--host=[::1]:8080", "-c=2"},
		{"run", "--url=http://10.0.0.1/", "--host=web\r\nHost: evil"},
		{"run", "--url=http://10.0.0.1/", "--host=u@web/x"},
		{"run", "--url=http://./", "--host=::1"},
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
		if req.Method != cmd.Run.Plan.Target.Method || req.Host == "" {
			t.Fatalf("request %q: method %q host %q", cmd.Run.target.request, req.Method, req.Host)
		}
		if req.Host != cmd.Run.Plan.Target.Host {
			t.Fatalf("request %q: host %q, want %q", cmd.Run.target.request, req.Host, cmd.Run.Plan.Target.Host)
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

// longName is a DNS name of the most bytes there may be, 253.
var longName = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)

// zoneEntry is a name's records in a test zone: a CNAME, or A records.
type zoneEntry struct {
	cname string
	a     [][4]byte
}

// testZone is what a cluster's DNS answers: an address record, a Service of
// type ExternalName (a CNAME to a name that has an address record of its own,
// the same listener, so that following it would succeed), and a name with an
// address that refuses connections before one that accepts them.
var testZone = map[string]zoneEntry{
	"good.test.":      {a: [][4]byte{{127, 0, 0, 1}}},
	"evil.test.":      {cname: "elsewhere.test."},
	"elsewhere.test.": {a: [][4]byte{{127, 0, 0, 1}}},
	"multi.test.":     {a: [][4]byte{{127, 0, 0, 2}, {127, 0, 0, 1}}},
}

// testResolver serves zone on 127.0.0.1 UDP and returns a resolver that asks
// only it.
func testResolver(t *testing.T, zone map[string]zoneEntry) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := answer(zone, buf[:n]); err == nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		// Always UDP: the answers are small, so the resolver never needs TCP.
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// answer is a recursive resolver's response to query from zone: a CNAME is
// followed one step, as cluster DNS does for an ExternalName Service.
func answer(zone map[string]zoneEntry, query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(q.Name.String())
	entry, ok := zone[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if entry.cname != "" {
		rr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 5}
		if err := b.CNAMEResource(rr, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(entry.cname)}); err != nil {
			return nil, err
		}
		if q.Type != dnsmessage.TypeCNAME {
			name, entry = entry.cname, zone[entry.cname]
		}
	}
	if q.Type == dnsmessage.TypeA {
		for _, a := range entry.a {
			rr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(rr, dnsmessage.AResource{A: a}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// TestDialByName: a name is dialled at the addresses the agent resolved
// itself, and a name answered through a CNAME (an ExternalName Service) is
// never connected to, even though the name it points to would answer.
func TestDialByName(t *testing.T) {
	resolver := testResolver(t, testZone)
	for _, tc := range []struct {
		name  string
		host  string
		want  map[string]int64 // codes, or error classes when no response
		conns bool             // whether the listener saw a connection
	}{
		{"address record", "good.test.", map[string]int64{"200": 6}, true},
		{"names ignore case", "GOOD.Test.", map[string]int64{"200": 6}, true},
		{"cname refused", "evil.test.", map[string]int64{"dns": 6}, false},
		{"no such name", "missing.test.", map[string]int64{"dns": 6}, false},
		{"next address after a refusal", "multi.test.", map[string]int64{"200": 6}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := make(chan string, 100)
			url, conns := rawServer(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					select {
					case hosts <- req.Host:
					default:
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
				}
			})
			port := url[strings.LastIndexByte(url, ':')+1:]
			cmd, err := ParseArgs([]string{"run", "--url=http://" + tc.host + ":" + port + "/", "--requests=6", "--concurrency=2", "--timeout=5s"})
			if err != nil {
				t.Fatal(err)
			}
			cmd.Run.target.resolver = resolver
			r, err := Run(context.Background(), cmd.Run)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Codes
			if r.Latency.Count() == 0 {
				got = r.ErrorsByClass
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if n := conns.Load(); (n > 0) != tc.conns {
				t.Fatalf("%d connections to the listener, want any: %v", n, tc.conns)
			}
			if tc.conns {
				if h, want := <-hosts, strings.TrimSuffix(tc.host, ".")+":"+port; h != want {
					t.Fatalf("Host %q, want %q", h, want)
				}
			}
		})
	}
}

func TestPartialDeadline(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		left      time.Duration
		addrsLeft int
		want      time.Duration
	}{
		{10 * time.Second, 1, 10 * time.Second},
		{10 * time.Second, 2, 5 * time.Second},
		{3 * time.Second, 2, 2 * time.Second}, // the floor
		{time.Second, 3, time.Second},         // less than the floor left: all of it
	} {
		if got := partialDeadline(now, now.Add(tc.left), tc.addrsLeft).Sub(now); got != tc.want {
			t.Errorf("partialDeadline(%v left, %d addresses) = now + %v, want %v", tc.left, tc.addrsLeft, got, tc.want)
		}
	}
}
