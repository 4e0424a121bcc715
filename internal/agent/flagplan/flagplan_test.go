package flagplan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

func TestParse(t *testing.T) {
	type out struct {
		Plan *runplan.Plan
		Err  string
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
	base := []string{"--url=http://web.default.svc:8080/api?q=1", "--method=GET", "--requests=100", "--concurrency=10", "--timeout=10s"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	host := func(h string) func(*runplan.Plan) { return func(p *runplan.Plan) { p.Target.Host = h } }
	for _, tc := range []struct {
		name string
		args []string
		want out
	}{
		{"closed", base, out{Plan: run(nil)}},
		{"open", with("--rate=50", "--duration=60s", "--start-file=/etc/dilo/start", "--result-file=/dev/termination-log"),
			out{Plan: run(func(p *runplan.Plan) {
				p.Load = runplan.Load{Open: &runplan.Open{Rate: 50, Duration: runplan.Duration(time.Minute), Concurrency: 10}}
				p.Start = &runplan.Start{File: "/etc/dilo/start", Timeout: runplan.Duration(10 * time.Minute)}
				p.ResultFile = "/dev/termination-log"
			})}},
		{"short flags", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/"},
			out{Plan: plan("127.0.0.1:18090", "127.0.0.1:18090", "/", func(p *runplan.Plan) {
				p.Load.Closed = &runplan.Closed{Concurrency: 64, Duration: runplan.Duration(5 * time.Second)}
			})}},
		{"cluster ip with host", []string{"--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--requests=1"},
			out{Plan: plan("10.97.3.4:8080", "web.team-a.svc:8080", "/path", nil)}},
		{"headless fqdn with host", []string{"--url=http://web.team-a.svc.cluster.local.:80/path", "--host=web.team-a.svc", "--requests=1"},
			out{Plan: plan("web.team-a.svc.cluster.local.:80", "web.team-a.svc", "/path", nil)}},
		{"host default", base, out{Plan: run(host("web.default.svc:8080"))}},
		{"host default ipv6", []string{"--url=http://[::1]:80/", "--requests=1"}, out{Plan: plan("[::1]:80", "[::1]", "/", nil)}},
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
		{"url final dot", []string{"--url=http://web.team-a.svc.cluster.local./", "--requests=1"},
			out{Plan: plan("web.team-a.svc.cluster.local.:80", "web.team-a.svc.cluster.local", "/", nil)}},
		{"url only dot", []string{"--url=http://./", "--requests=1"}, out{Err: "is not a host name"}},
		{"url empty label", []string{"--url=http://web..svc/", "--requests=1"}, out{Err: "is not a host name"}},
		{"url two final dots", []string{"--url=http://web.svc../", "--requests=1"}, out{Err: "is not a host name"}},
		{"url label of 64", []string{"--url=http://" + strings.Repeat("a", 64) + ".svc/", "--requests=1"}, out{Err: "is not a host name"}},
		{"unknown flag", with("--rps=5"), out{Err: "flag provided but not defined: -rps"}},
		{"plan file", with("--plan-file=/etc/dilo/start/plan"), out{Err: "flag provided but not defined: -plan-file"}},
		{"stray argument", with("extra"), out{Err: `unexpected argument "extra"`}},
		{"no url", []string{"--requests=1"}, out{Err: "--url is required"}},
		{"https", []string{"--url=https://web/", "--requests=1"}, out{Err: "--url must start with http://"}},
		{"userinfo", []string{"--url=http://u:p@web/", "--requests=1"}, out{Err: "--url must not hold user info"}},
		{"space in path", []string{"--url=http://web/a b", "--requests=1"}, out{Err: "--url path may hold only printable ASCII"}},
		{"crlf in path", []string{"--url=http://web/a\r\nX: y", "--requests=1"}, out{Err: "--url path may hold only printable ASCII"}},
		{"crlf in host", []string{"--url=http://we\r\nb/", "--requests=1"}, out{Err: "is not a host name"}},
		{"bad port", []string{"--url=http://web:99999/", "--requests=1"}, out{Err: "--url port"}},
		{"lower-case method", with("--method=get"), out{Err: "--method must be upper-case letters only"}},
		{"method with space", with("--method=GET /x"), out{Err: "--method must be upper-case letters only"}},
		{"zero concurrency", with("--concurrency=0"), out{Err: "--concurrency must be between 1 and"}},
		{"bad timeout", with("--timeout=0s"), out{Err: "--timeout must be in"}},
		{"rate without duration", with("--rate=5"), out{Err: "--duration is required with --rate"}},
		{"negative rate", with("--rate=-5", "--duration=1s"), out{Err: "--rate must be between 1 and"}},
		{"nothing to stop", []string{"--url=http://web/"}, out{Err: "--requests or --duration is required"}},
		{"negative start timeout", with("--start-file=/f", "--start-timeout=-1s"), out{Err: "--start-timeout must be > 0"}},
		{"negative requests", with("--requests=-1"), out{Err: "--requests must be >= 0"}},
		{"bad duration", with("--duration=soon"), out{Err: `invalid value "soon" for flag -duration`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.args)
			var got out
			if err == nil {
				got.Plan = &p
			} else {
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

// FuzzParse: whatever the arguments, Parse does not panic, and what it
// accepts is a plan the agent accepts, whose target and load survive Encode
// and Parse unchanged. (File names are bytes, which JSON writes as UTF-8,
// replacing what is not.)
func FuzzParse(f *testing.F) {
	for _, seed := range [][3]string{
		{"--url=http://web.default.svc:8080/api?q=1", "--method=GET", "-c=2"},
		{"-c", "64", "-url=http://[::1]:80/x"},
		{"--url=http://web/a%20b#frag", "--method=DELETE", "--rate=5"},
		{"--url=http://web/\r\nHost: evil", "--method=GET", "-d=1s"},
		{"--url=https://web/", "--rate=5", "--duration=1s"},
		{"--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--method=GET"},
		{"--url=http://web.team-a.svc.cluster.local.:80/path", "--host=web.team-a.svc", "--start-file=/f"},
		{"--url=http://web.team-a.svc.cluster.local./", "--method=POST", "--timeout=1h"},
		{"--url=http://[::1]:8080/", "--host=[::1]:8080", "-c=2"},
		{"--url=http://10.0.0.1/", "--host=web\r\nHost: evil", "--result-file=/r"},
		{"--url=http://10.0.0.1/", "--host=u@web/x", ""},
		{"--url=http://./", "--host=::1", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		plan, err := Parse([]string{a, b, c, "--requests=1"})
		if err != nil {
			return
		}
		doc, err := plan.Encode()
		if err != nil {
			t.Fatalf("accepted args %q make a plan that does not encode: %v", []string{a, b, c}, err)
		}
		back, err := runplan.Parse(doc)
		if err != nil {
			t.Fatalf("accepted args %q make a plan the agent refuses: %v", []string{a, b, c}, err)
		}
		if diff := cmp.Diff([]any{plan.Target, plan.Load, plan.Timeout}, []any{back.Target, back.Load, back.Timeout}); diff != "" {
			t.Fatalf("plan of %q changed through its document (-built +parsed):\n%s", []string{a, b, c}, diff)
		}
	})
}

// longName is a DNS name of the most bytes there may be, 253.
var longName = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
