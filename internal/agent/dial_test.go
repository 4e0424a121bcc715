package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// cnameError is the error a dial to an ExternalName Service's name returns.
func cnameError(t *testing.T) error {
	d := newTCPDialer("evil.test.:80", testResolver(t, testZone))
	_, err := d.dial(context.Background(), time.Now().Add(10*time.Second))
	if !errors.Is(err, errCNAME) {
		t.Fatalf("dial to a CNAME: %v, want errCNAME", err)
	}
	return err
}

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
			plan := testPlan(t, "--url=http://"+tc.host+":"+port+"/", "--requests=6", "--concurrency=2", "--timeout=5s")
			r, err := runWith(context.Background(), plan, runOptions{resolver: resolver})
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
