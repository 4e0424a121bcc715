package flagplan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
			Target:   runplan.Target{Address: addr, Host: host},
			Requests: []runplan.Request{{Name: "default", Weight: 1, Method: "GET", Path: path}},
			Load:     runplan.Load{Closed: &runplan.Closed{Concurrency: 1, Requests: 1}},
			Timeout:  runplan.Duration(10 * time.Second)}
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
	stages := func(s ...int) []runplan.Stage { // duration in seconds, target, ...
		var out []runplan.Stage
		for i := 0; i < len(s); i += 2 {
			out = append(out, runplan.Stage{Duration: runplan.Duration(time.Duration(s[i]) * time.Second), Target: s[i+1]})
		}
		return out
	}
	https := func(addr, host, serverName string, f func(*runplan.TLS)) *runplan.Plan {
		return plan(addr, host, "/", func(p *runplan.Plan) {
			p.Target.TLS = &runplan.TLS{ServerName: serverName, InsecureSkipVerify: true}
			if f != nil {
				f(p.Target.TLS)
			}
		})
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
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
		{"ftp", []string{"--url=ftp://web/", "--requests=1"}, out{Err: "--url must start with http:// or https://"}},
		{"https insecure", []string{"--url=https://web.team-a.svc/", "--insecure", "--requests=1"},
			out{Plan: https("web.team-a.svc:443", "web.team-a.svc", "web.team-a.svc", nil)}},
		{"https ca file, http2", []string{"--url=https://web.team-a.svc.cluster.local.:8443/", "--ca-file=/ca.pem", "--http2", "--requests=1"},
			out{Plan: https("web.team-a.svc.cluster.local.:8443", "web.team-a.svc.cluster.local:8443", "web.team-a.svc.cluster.local",
				func(t *runplan.TLS) { t.InsecureSkipVerify, t.CAFile, t.HTTP2 = false, "/ca.pem", true })}},
		{"https server name", []string{"--url=https://10.97.3.4/", "--host=web.team-a.svc", "--server-name=web.team-a.svc", "--insecure", "--requests=1"},
			out{Plan: https("10.97.3.4:443", "web.team-a.svc", "web.team-a.svc", nil)}},
		{"https ip", []string{"--url=https://[::1]:443/", "--insecure", "--requests=1"}, out{Plan: https("[::1]:443", "[::1]", "::1", nil)}},
		{"https port 80 in host", []string{"--url=https://web:80/", "--insecure", "--requests=1"}, out{Plan: https("web:80", "web:80", "web", nil)}},
		{"https without ca", []string{"--url=https://web/", "--requests=1"}, out{Err: "--ca-file is required unless --insecure"}},
		{"https ca and insecure", []string{"--url=https://web/", "--ca-file=/ca.pem", "--insecure", "--requests=1"},
			out{Err: "--ca-file and --insecure exclude each other"}},
		{"https bad server name", []string{"--url=https://web/", "--server-name=web.", "--insecure", "--requests=1"},
			out{Err: "--server-name must be a host name or IP address without a final dot"}},
		{"tls flag with http", with("--insecure"), out{Err: "--insecure needs an https:// URL"}},
		{"http2 with http", with("--http2"), out{Err: "--http2 needs an https:// URL"}},
		{"headers", with("--header=Authorization: Bearer x y", "--header", "x-trace:1", "--header=Accept:\t text/html "),
			out{Plan: run(func(p *runplan.Plan) {
				p.Headers = []runplan.Header{{Name: "Authorization", Value: "Bearer x y"}, {Name: "x-trace", Value: "1"}, {Name: "Accept", Value: "text/html"}}
			})}},
		{"header empty value", with("--header=X-Empty:"), out{Plan: run(func(p *runplan.Plan) { p.Headers = []runplan.Header{{Name: "X-Empty"}} })}},
		{"header without colon", with("--header=Authorization"), out{Err: `invalid value "Authorization" for flag -header: must be "Name: value"`}},
		{"header agent-owned", with("--header=X-A: 1", "--header=Host: evil"), out{Err: "--header 2's name is set by the agent"}},
		{"header twice", with("--header=X-A: 1", "--header=x-a: 2"), out{Err: "--header 2's name \"x-a\" is the name of an earlier header"}},
		{"header bad name", with("--header=Bad Name: 1"), out{Err: "--header 1's name must be an RFC 9110 token"}},
		{"header control value", with("--header=X-A: a\x01b"), out{Err: "--header 1's value must not contain control characters"}},
		{"body", with("--method=POST", "--body={\"a\":1}"), out{Plan: run(func(p *runplan.Plan) {
			p.Requests[0].Method, p.Requests[0].Body = "POST", &runplan.Body{Text: `{"a":1}`}
		})}},
		{"empty body", with("--body="), out{Plan: run(func(p *runplan.Plan) { p.Requests[0].Body = &runplan.Body{} })}},
		{"body file", with("--body-file=/etc/dilo/body"), out{Plan: run(func(p *runplan.Plan) { p.Requests[0].Body = &runplan.Body{File: "/etc/dilo/body"} })}},
		{"body and body file", with("--body=x", "--body-file=/f"), out{Err: "--body and --body-file exclude each other"}},
		{"body file empty name", with("--body-file="), out{Err: "--body-file must name a file"}},
		{"rate stages", with("--rate-stages=30s:1000,0s:10,1m:10"), out{Plan: run(func(p *runplan.Plan) {
			p.Load = runplan.Load{Open: &runplan.Open{Concurrency: 10, Stages: stages(30, 1000, 0, 10, 60, 10)}}
		})}},
		{"connection stages", []string{"--url=http://web/", "--connection-stages=10s:5,20s:20,10s:0", "--requests=1000"},
			out{Plan: plan("web:80", "web", "/", func(p *runplan.Plan) {
				p.Load.Closed = &runplan.Closed{Concurrency: 20, Requests: 1000, Stages: stages(10, 5, 20, 20, 10, 0)}
			})}},
		{"connection stages of none", []string{"--url=http://web/", "--connection-stages=1s:0"},
			out{Plan: plan("web:80", "web", "/", func(p *runplan.Plan) { p.Load.Closed = &runplan.Closed{Concurrency: 1, Stages: stages(1, 0)} })}},
		{"both stages", with("--rate-stages=1s:1", "--connection-stages=1s:1"), out{Err: "--rate-stages and --connection-stages exclude each other"}},
		{"rate stages and rate", with("--rate-stages=1s:1", "--rate=5"), out{Err: "not with --rate or --duration"}},
		{"rate stages and duration", with("--rate-stages=1s:1", "-d=5s"), out{Err: "not with --rate or --duration"}},
		{"connection stages and concurrency", []string{"--url=http://web/", "--connection-stages=1s:1", "-c=4"},
			out{Err: "not with --rate, --duration or --concurrency"}},
		{"stage without target", with("--rate-stages=30s"), out{Err: `--rate-stages stage 1 must be DURATION:TARGET, got "30s"`}},
		{"stage bad duration", with("--rate-stages=1s:1,soon:5"), out{Err: `--rate-stages stage 2: time: invalid duration "soon"`}},
		{"stage bad target", with("--rate-stages=1s:x"), out{Err: `--rate-stages stage 1: target "x" is not a whole number`}},
		{"stage target too high", with("--rate-stages=1s:2000000"), out{Err: "--rate-stages[0].target must be between 0 and 1000000"}},
		{"stages of no time", with("--rate-stages=0s:5"), out{Err: "--rate-stages must last in all"}},
		{"negative stage", []string{"--url=http://web/", "--connection-stages=-1s:1,2s:1"}, out{Err: "--connection-stages[0].duration must be in"}},
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
		{"live and stop", with("--live-port=9090", "--stop-file=/etc/dilo/start/stop"), out{Plan: run(func(p *runplan.Plan) {
			p.Live, p.Stop = &runplan.Live{Port: 9090}, &runplan.Stop{File: "/etc/dilo/start/stop"}
		})}},
		{"relative start and stop files", with("--start-file=at", "--stop-file=./dir/../stop"), out{Plan: run(func(p *runplan.Plan) {
			p.Start = &runplan.Start{File: filepath.Join(wd, "at"), Timeout: runplan.Duration(10 * time.Minute)}
			p.Stop = &runplan.Stop{File: filepath.Join(wd, "stop")}
		})}},
		{"live port zero", with("--live-port=0"), out{Err: "--live-port must be between 1 and 65535, got 0"}},
		{"stop file empty", with("--stop-file="), out{Plan: run(nil)}},
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
// accepts is a plan the agent accepts, whose target, headers, request and
// load survive Encode and Parse unchanged. (File names and header values are
// bytes, which JSON writes as UTF-8, replacing what is not: they are left
// out of the comparison when they are not UTF-8.)
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
		{"--url=https://web.team-a.svc:8443/", "--insecure", "--http2"},
		{"--url=https://10.0.0.1/", "--ca-file=/ca", "--server-name=web"},
		{"--url=https://[::1]/", "--server-name=", "--insecure"},
		{"--url=http://web/", "--header=Authorization: Bearer x", "--header=X-A:\tb c "},
		{"--url=http://web/", "--header=Host: evil", "--body=abc"},
		{"--url=http://web/", "--header=X: a\r\nHost: evil", "--body-file=/b"},
		{"--url=http://web/", "--rate-stages=1s:5,0s:3,2s:0", "-c=3"},
		{"--url=http://web/", "--connection-stages=1s:5,1s:5", "--method=PUT"},
		{"--url=http://web/", "--connection-stages=1s", "--rate-stages=x"},
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
		if !utf8.ValidString(a + b + c) {
			return
		}
		if diff := cmp.Diff(plan, back); diff != "" {
			t.Fatalf("plan of %q changed through its document (-built +parsed):\n%s", []string{a, b, c}, diff)
		}
	})
}

// longName is a DNS name of the most bytes there may be, 253.
var longName = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
