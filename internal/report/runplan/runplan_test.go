package runplan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// valid is a plan as the controller writes it.
func valid() Plan {
	return Plan{
		Version:    Version,
		Target:     Target{Address: "10.96.0.7:8080", Host: "web.team-a.svc:8080"},
		Requests:   []Request{{Name: "default", Weight: 1, Method: "GET", Path: "/api?q=1"}},
		Load:       Load{Open: &Open{Rate: 200, Duration: Duration(90 * time.Second), Concurrency: 4}},
		Timeout:    Duration(10 * time.Second),
		Start:      &Start{File: "/etc/dilo/start/at", Timeout: Duration(DefaultStartTimeout)},
		ResultFile: "/dev/termination-log",
		Live:       &Live{Port: 9090},
		Stop:       &Stop{File: "/etc/dilo/start/stop"},
	}
}

func TestEncodeParse(t *testing.T) {
	p := valid()
	p.Version = "" // Encode sets it
	doc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"version":"dilo.example.org/runplan/v2",` +
		`"target":{"address":"10.96.0.7:8080","host":"web.team-a.svc:8080"},` +
		`"requests":[{"name":"default","weight":1,"method":"GET","path":"/api?q=1"}],` +
		`"load":{"open":{"rate":200,"duration":"1m30s","concurrency":4}},"timeout":"10s",` +
		`"start":{"file":"/etc/dilo/start/at","timeout":"10m0s"},"resultFile":"/dev/termination-log",` +
		`"live":{"port":9090},"stop":{"file":"/etc/dilo/start/stop"}}`
	if diff := cmp.Diff(want, string(doc)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	got, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(valid(), got); diff != "" {
		t.Errorf("Parse(Encode) (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	enc := func(f func(*Plan)) string {
		p := valid()
		f(&p)
		doc, err := marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	for _, tc := range []struct {
		name  string
		doc   string
		field string // the FieldError's field; "" for a decoding error
		err   string
	}{
		{"closed", enc(func(p *Plan) { p.Load = Load{Closed: &Closed{Concurrency: 1, Requests: 100}} }), "", ""},
		{"closed by duration", enc(func(p *Plan) { p.Load = Load{Closed: &Closed{Concurrency: 64, Duration: Duration(time.Second)}} }), "", ""},
		{"no start, no result file", enc(func(p *Plan) { p.Start, p.ResultFile = nil, "" }), "", ""},
		{"headless", enc(func(p *Plan) { p.Target.Address = "web.team-a.svc.cluster.local.:80" }), "", ""},
		{"ipv6", enc(func(p *Plan) { p.Target.Address, p.Target.Host = "[fd00::7]:80", "[fd00::7]" }), "", ""},
		{"empty", "  \n", "", "run plan is empty"},
		{"too long", strings.Repeat(" ", MaxEncodedLen+1), "", "more than"},
		{"not json", "agent run --url=http://web/", "", "not a plan document"},
		{"unknown field", strings.Replace(enc(func(*Plan) {}), `"timeout":"10s"`, `"timeout":"10s","cookies":{}`, 1), "", `unknown field "cookies"`},
		{"trailing data", enc(func(*Plan) {}) + "{}", "", "trailing data"},
		{"duration as number", strings.Replace(enc(func(*Plan) {}), `"timeout":"10s"`, `"timeout":10`, 1), "", "a duration is a string"},
		{"bad duration", strings.Replace(enc(func(*Plan) {}), `"timeout":"10s"`, `"timeout":"soon"`, 1), "", `invalid duration "soon"`},
		{"version", enc(func(p *Plan) { p.Version = "dilo.example.org/runplan/v1" }), "version", `version is "dilo.example.org/runplan/v1"`},
		{"no version", enc(func(p *Plan) { p.Version = "" }), "version", "version is"},
		{"lower-case method", enc(func(p *Plan) { p.Requests[0].Method = "get" }), "requests[0].method", "must be upper-case letters only"},
		{"no method", enc(func(p *Plan) { p.Requests[0].Method = "" }), "requests[0].method", "must be 1 to 32"},
		{"relative path", enc(func(p *Plan) { p.Requests[0].Path = "x" }), "requests[0].path", "must start with '/'"},
		{"crlf in path", enc(func(p *Plan) { p.Requests[0].Path = "/a\r\nX: y" }), "requests[0].path", "printable ASCII"},
		{"long path", enc(func(p *Plan) { p.Requests[0].Path = "/" + strings.Repeat("a", 8192) }), "requests[0].path", "longer than 8192"},
		{"no port", enc(func(p *Plan) { p.Target.Address = "10.96.0.7" }), "target.address", "must be HOST:PORT"},
		{"bad host", enc(func(p *Plan) { p.Target.Address = "we\r\nb:80" }), "target.address", "is not a host name"},
		{"port zero", enc(func(p *Plan) { p.Target.Address = "web:0" }), "target.address", "port \"0\""},
		{"no host header", enc(func(p *Plan) { p.Target.Host = "" }), "target.host", "must be HOST[:PORT]"},
		{"crlf in host header", enc(func(p *Plan) { p.Target.Host = "web\r\nX-Evil: 1" }), "target.host", "must be HOST[:PORT]"},
		{"no load", enc(func(p *Plan) { p.Load = Load{} }), "load", "must set one of closed and open"},
		{"both loads", enc(func(p *Plan) { p.Load.Closed = &Closed{Concurrency: 1, Requests: 1} }), "load", "not both"},
		{"closed concurrency", enc(func(p *Plan) { p.Load = Load{Closed: &Closed{Requests: 1}} }), "load.closed.concurrency", "between 1 and 10000"},
		{"closed negative requests", enc(func(p *Plan) { p.Load = Load{Closed: &Closed{Concurrency: 1, Requests: -1}} }), "load.closed.requests", ">= 0"},
		{"closed unbounded", enc(func(p *Plan) { p.Load = Load{Closed: &Closed{Concurrency: 1}} }), "load.closed.requests", "or load.closed.duration is required"},
		{"closed too long", enc(func(p *Plan) {
			p.Load = Load{Closed: &Closed{Concurrency: 1, Duration: Duration(8 * 24 * time.Hour)}}
		}), "load.closed.duration", "must be in [0, 168h0m0s]"},
		{"open concurrency", enc(func(p *Plan) { p.Load.Open.Concurrency = 10_001 }), "load.open.concurrency", "between 1 and 10000"},
		{"open rate", enc(func(p *Plan) { p.Load.Open.Rate = 0 }), "load.open.rate", "between 1 and 1000000"},
		{"open no duration", enc(func(p *Plan) { p.Load.Open.Duration = 0 }), "load.open.duration", "is required"},
		{"open negative duration", enc(func(p *Plan) { p.Load.Open.Duration = Duration(-time.Second) }), "load.open.duration", "must be in (0"},
		{"timeout", enc(func(p *Plan) { p.Timeout = 0 }), "timeout", "must be in (0, 1h0m0s]"},
		{"long timeout", enc(func(p *Plan) { p.Timeout = Duration(2 * time.Hour) }), "timeout", "must be in (0, 1h0m0s]"},
		{"start without file", enc(func(p *Plan) { p.Start.File = "" }), "start.file", "must be a file name"},
		{"start timeout", enc(func(p *Plan) { p.Start.Timeout = 0 }), "start.timeout", "must be > 0"},
		{"mix", enc(func(p *Plan) {
			p.Headers = []Header{{Name: "Authorization", File: "/etc/dilo/values/0"}}
			p.Requests = append(p.Requests, Request{Name: "order", Weight: 3, Method: "POST", Path: "/orders",
				Headers: []Header{{Name: "content-type", Value: "application/json"}}, Body: &Body{File: "/etc/dilo/values/1"}})
		}), "", ""},
		{"tls", enc(func(p *Plan) { p.Target.TLS = &TLS{ServerName: "web.team-a.svc", CAFile: "/ca", HTTP2: true} }), "", ""},
		{"tls insecure", enc(func(p *Plan) { p.Target.TLS = &TLS{ServerName: "web.team-a.svc", InsecureSkipVerify: true} }), "", ""},
		{"tls no ca", enc(func(p *Plan) { p.Target.TLS = &TLS{ServerName: "web.team-a.svc"} }), "target.tls.caFile", "is required"},
		{"tls both", enc(func(p *Plan) { p.Target.TLS = &TLS{ServerName: "web", CAFile: "/ca", InsecureSkipVerify: true} }), "target.tls.caFile", "exclude each other"},
		{"tls server name", enc(func(p *Plan) { p.Target.TLS = &TLS{ServerName: "web.\r\n", CAFile: "/ca"} }), "target.tls.serverName", "host name"},
		{"no requests", enc(func(p *Plan) { p.Requests = nil }), "requests", "1 to 64"},
		{"duplicate request", enc(func(p *Plan) { p.Requests = append(p.Requests, p.Requests[0]) }), "requests[1].name", "earlier request"},
		{"bad request name", enc(func(p *Plan) { p.Requests[0].Name = "Get_Items" }), "requests[0].name", "lower-case"},
		{"weight zero", enc(func(p *Plan) { p.Requests[0].Weight = 0 }), "requests[0].weight", "between 1 and"},
		{"agent-owned header", enc(func(p *Plan) { p.Headers = []Header{{Name: "Content-Length", Value: "5"}} }), "headers[0].name", "set by the agent"},
		{"crlf in header", enc(func(p *Plan) {
			p.Requests[0].Headers = []Header{{Name: "X", Value: "a\r\nHost: evil"}}
		}), "requests[0].headers[0].value", "CR or LF"},
		{"duplicate header", enc(func(p *Plan) { p.Headers = []Header{{Name: "X-A", Value: "1"}, {Name: "x-a", Value: "2"}} }), "headers[1].name", "earlier header"},
		{"header value and file", enc(func(p *Plan) { p.Headers = []Header{{Name: "X", Value: "1", File: "/f"}} }), "headers[0].value", "exclude"},
		{"body text and file", enc(func(p *Plan) { p.Requests[0].Body = &Body{Text: "x", File: "/f"} }), "requests[0].body", "not both"},
		{"open stages", enc(func(p *Plan) {
			p.Load.Open = &Open{Concurrency: 4, Stages: []Stage{{Duration: Duration(time.Minute), Target: 100}, {Duration: 0, Target: 0}}}
		}), "", ""},
		{"open stages with rate", enc(func(p *Plan) { p.Load.Open.Stages = []Stage{{Duration: Duration(time.Second), Target: 1}} }), "load.open.rate", "must be unset"},
		{"open stages no time", enc(func(p *Plan) { p.Load.Open = &Open{Concurrency: 1, Stages: []Stage{{Target: 1}}} }), "load.open.stages", "must last"},
		{"open stage negative", enc(func(p *Plan) {
			p.Load.Open = &Open{Concurrency: 1, Stages: []Stage{{Duration: Duration(time.Second), Target: -1}}}
		}), "load.open.stages[0].target", "between 0 and"},
		{"closed stages", enc(func(p *Plan) {
			p.Load = Load{Closed: &Closed{Concurrency: 8, Stages: []Stage{{Duration: Duration(time.Minute), Target: 8}}}}
		}), "", ""},
		{"closed stage above concurrency", enc(func(p *Plan) {
			p.Load = Load{Closed: &Closed{Concurrency: 8, Stages: []Stage{{Duration: Duration(time.Minute), Target: 9}}}}
		}), "load.closed.stages[0].target", "between 0 and 8"},
		{"long result file", enc(func(p *Plan) { p.ResultFile = "/" + strings.Repeat("a", 1024) }), "resultFile", "at most 1024"},
		{"start relative", enc(func(p *Plan) { p.Start.File = "start/at" }), "start.file", `must be an absolute path without . or .. elements, repeated or final slashes, got "start/at"`},
		{"start not clean", enc(func(p *Plan) { p.Start.File = "/etc/dilo/../start/at" }), "start.file", "must be an absolute path"},
		{"no live, no stop", enc(func(p *Plan) { p.Live, p.Stop = nil, nil }), "", ""},
		{"live lowest port", enc(func(p *Plan) { p.Live.Port = 1 }), "", ""},
		{"live highest port", enc(func(p *Plan) { p.Live.Port = 65535 }), "", ""},
		{"live port zero", enc(func(p *Plan) { p.Live.Port = 0 }), "live.port", "must be between 1 and 65535, got 0"},
		{"live port too high", enc(func(p *Plan) { p.Live.Port = 65536 }), "live.port", "must be between 1 and 65535, got 65536"},
		{"live port negative", enc(func(p *Plan) { p.Live.Port = -1 }), "live.port", "got -1"},
		{"live port as string", strings.Replace(enc(func(*Plan) {}), `"port":9090`, `"port":"9090"`, 1), "", "cannot unmarshal string"},
		{"live unknown field", strings.Replace(enc(func(*Plan) {}), `"port":9090`, `"port":9090,"pprof":true`, 1), "", `unknown field "pprof"`},
		{"stop without file", enc(func(p *Plan) { p.Stop.File = "" }), "stop.file", "must be a file name of 1 to 1024 bytes, got 0"},
		{"stop long file", enc(func(p *Plan) { p.Stop.File = "/" + strings.Repeat("a", 1024) }), "stop.file", "must be a file name of 1 to 1024 bytes, got 1025"},
		{"stop relative", enc(func(p *Plan) { p.Stop.File = "stop" }), "stop.file", `must be an absolute path without . or .. elements, repeated or final slashes, got "stop"`},
		{"stop dot", enc(func(p *Plan) { p.Stop.File = "/etc/dilo/./stop" }), "stop.file", "must be an absolute path"},
		{"stop dot dot", enc(func(p *Plan) { p.Stop.File = "/etc/dilo/start/../../stop" }), "stop.file", "must be an absolute path"},
		{"stop double slash", enc(func(p *Plan) { p.Stop.File = "/etc//stop" }), "stop.file", "must be an absolute path"},
		{"stop final slash", enc(func(p *Plan) { p.Stop.File = "/etc/dilo/start/" }), "stop.file", "must be an absolute path"},
		{"stop root", enc(func(p *Plan) { p.Stop.File = "/" }), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Parse error %v, want %q", err, tc.err)
			}
			var fe *FieldError
			if got := errors.As(err, &fe); got != (tc.field != "") || got && fe.Field != tc.field {
				t.Fatalf("Parse error %#v, want a FieldError for %q", err, tc.field)
			}
			if tc.field != "" && !strings.HasPrefix(err.Error(), tc.field+" ") {
				t.Fatalf("Parse error %q does not start with the field %q", err, tc.field)
			}
		})
	}
}

// TestEncodeRefusesInvalid: the controller cannot write a plan the agent refuses.
func TestEncodeRefusesInvalid(t *testing.T) {
	p := valid()
	p.Load.Open.Rate = 0
	if _, err := p.Encode(); err == nil || !strings.Contains(err.Error(), "load.open.rate") {
		t.Fatalf("Encode of a plan with rate 0: %v", err)
	}
}

// TestLargestPlanFits: the longest valid fixed fields, with every byte of them one
// JSON writes long, encode within MaxEncodedLen.
func TestLargestPlanFits(t *testing.T) {
	p := valid()
	p.Target.Address = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
	p.Target.Host = strings.Repeat(strings.Repeat("a", 61)+".", 4) + ":65535" // 254 bytes
	p.Requests[0].Path = "/" + strings.Repeat("\"", maxPathLen-1)             // JSON writes \", 2 bytes
	p.Requests[0].Method = strings.Repeat("A", maxMethodLen)
	p.Start.File = "/" + strings.Repeat("\x01", maxFileLen-1) // JSON writes \u0001, 6 bytes
	p.ResultFile = strings.Repeat("\x01", maxFileLen)
	p.Live.Port = 65535
	p.Stop.File = p.Start.File
	if _, err := p.Encode(); err != nil {
		t.Fatal(err)
	}
}

// FuzzParse: whatever the document, Parse does not panic, and what it accepts
// encodes back to a document it parses to the same plan.
func FuzzParse(f *testing.F) {
	doc, _ := valid().Encode()
	f.Add(string(doc))
	f.Add(`{"version":"dilo.example.org/runplan/v2","target":{"address":"web.ns.svc.cluster.local.:80","host":"web.ns.svc"},"requests":[{"name":"a","weight":1,"method":"HEAD","path":"/"}],"load":{"closed":{"concurrency":1,"requests":100}},"timeout":"10s"}`)
	f.Add(`{"version":"dilo.example.org/runplan/v2","target":{"address":"[::1]:80","host":"web\r\nX: y","tls":{"serverName":"web","caFile":"/ca","http2":true}},"headers":[{"name":"X","file":"/f"}],"requests":[{"name":"a","weight":3,"method":"POST","path":"/","body":{"text":"{}"}},{"name":"b","weight":1,"method":"GET","path":"/b","headers":[{"name":"Y","value":"1"}]}],"load":{"closed":{"concurrency":64,"duration":"5s"}},"timeout":"1s"}`)
	f.Add(`{"version":"dilo.example.org/runplan/v2","load":{"open":{"concurrency":1,"stages":[{"duration":"1s","target":5},{"duration":"0s","target":0}]}}}`)
	f.Add(`{"version":"dilo.example.org/runplan/v2","target":{"address":"10.0.0.1:80","host":"web"},"requests":[{"name":"a","weight":1,"method":"GET","path":"/"}],"load":{"closed":{"concurrency":1,"requests":1}},"timeout":"1s","live":{"port":65535},"stop":{"file":"/etc/dilo/start/stop"}}`)
	f.Add(`{"version":"dilo.example.org/runplan/v2","target":{"address":"10.0.0.1:80","host":"web"},"requests":[{"name":"a","weight":1,"method":"GET","path":"/"}],"load":{"closed":{"concurrency":1,"requests":1}},"timeout":"1s","live":{"port":0},"stop":{"file":"/etc/../stop"}}`)
	f.Add(`{"version":1}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse([]byte(doc))
		if err != nil {
			return
		}
		again, err := p.Encode()
		if err != nil {
			t.Fatalf("accepted plan %q does not encode: %v", doc, err)
		}
		q, err := Parse(again)
		if err != nil {
			t.Fatalf("re-encoded plan %q does not parse: %v", again, err)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("plan changed through Encode and Parse (-first +second):\n%s", diff)
		}
	})
}

// marshal encodes p without Encode's checks, to test Parse's.
func marshal(p Plan) (string, error) {
	b, err := json.Marshal(p)
	return string(b), err
}
