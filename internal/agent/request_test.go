package agent

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

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
		args := []string{"--url=" + tc.url, "--method=" + tc.method, "--requests=1"}
		if tc.host != "" {
			args = append(args, "--host="+tc.host)
		}
		plan := testPlan(t, args...)
		req, d := prepareHTTP1(0, plan.Target), newTCPDialer(plan.Target.Address, nil)
		if diff := cmp.Diff(tc.want, string(req.raw)); diff != "" {
			t.Errorf("%s --host=%q (-want +got):\n%s", tc.url, tc.host, diff)
		}
		if req.head != (tc.method == "HEAD") {
			t.Errorf("%s %s: head %v", tc.method, tc.url, req.head)
		}
		if diff := cmp.Diff(tc.dial, dial{d.addr, d.name}); diff != "" {
			t.Errorf("%s dials (-want +got):\n%s", tc.url, diff)
		}
	}
}

// FuzzPrepareHTTP1: whatever target a run plan holds, if runplan accepts it,
// the agent makes of it a request that Go's own HTTP parser reads back as
// exactly one request, with the plan's method, path and Host header.
func FuzzPrepareHTTP1(f *testing.F) {
	for _, seed := range [][3]string{
		{"web.default.svc:8080", "/api?q=1", "GET"},
		{"127.0.0.1:18090", "/", "HEAD"},
		{"[::1]", "/x", "GET"},
		{"web", "/a%20b#frag", "DELETE"},
		{"web", "/\r\nHost: evil", "GET"},
		{"web.team-a.svc:8080", "/path", "POST"},
		{"web.team-a.svc.", "/", "PATCH"},
		{"[::1]:8080", "/", "PUT"},
		{"web\r\nHost: evil", "/", "GET"},
		{"u@web/x", "/", "GET"},
		{"::1", "/", "GET / HTTP/1.0\r\n"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, host, path, method string) {
		target := runplan.Target{Address: "10.0.0.1:80", Host: host, Path: path, Method: method}
		plan := runplan.Plan{Target: target, Load: runplan.Load{Closed: &runplan.Closed{Concurrency: 1, Requests: 1}},
			Timeout: runplan.Duration(time.Second)}
		if plan.Validate() != nil {
			return
		}
		raw := prepareHTTP1(0, target).raw
		br := bufio.NewReader(bytes.NewReader(raw))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("accepted target %+v makes an unparsable request %q: %v", target, raw, err)
		}
		if req.Method != method || req.RequestURI != path || req.Host != host {
			t.Fatalf("request %q: method %q, target %q, host %q; want %+v", raw, req.Method, req.RequestURI, req.Host, target)
		}
		if _, err := br.Peek(1); err != io.EOF {
			t.Fatalf("request %q: more after the request's head", raw)
		}
	})
}
