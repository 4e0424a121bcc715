package agent

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// h2TestServer starts an httptest server of pki's certificate speaking
// HTTP/2 to handler (configured by configure, if not nil), and returns the
// plan's target for it with HTTP/2.
func h2TestServer(t *testing.T, pki testPKI, handler http.HandlerFunc, configure func(*http.Server)) (runplan.Target, *tlsTestServer) {
	t.Helper()
	srv := startTLSServer(t, pki, true, handler, configure)
	return tlsTarget(srv.Listener.Addr().String(), runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: true}), srv
}

// TestHTTP2Request: the prepared request goes out over HTTP/2 as it would
// over HTTP/1.1 (method, path verbatim with its query, :authority from the
// plan's host, headers, body), its response is counted and its body read,
// and one connection carries every request.
func TestHTTP2Request(t *testing.T) {
	pki := newTestPKI(t)
	body := bytes.Repeat([]byte("b"), 1024)
	type seen struct {
		proto             int
		method, uri, host string
		a, b, userAgent   string
		length            int64
		body              string
	}
	var mu sync.Mutex
	var got []seen
	target, srv := h2TestServer(t, pki, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.ProtoMajor, r.Method, r.RequestURI, r.Host, r.Header.Get("A"), r.Header.Get("B"),
			r.UserAgent(), r.ContentLength, string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		w.Write(bytes.Repeat([]byte("r"), 10_000))
	}, nil)
	target.Host = "api.team-a.svc:8443"
	post := prepareHTTP1(target.Host, preparedRequest{method: "POST", path: "//orders?x=1&y=%2F",
		header: append([]headerField{{"A", "1"}, {"b", "2"}}, defaultHeaders...), body: body, hasBody: true})
	counts, tlsErr, received := outcomes(t, target, &post, 10, 5*time.Second)
	if diff := cmp.Diff(map[string]int{"201": 10}, counts); diff != "" || tlsErr != "" {
		t.Fatalf("outcomes (-want +got):\n%s\nTLS error %q", diff, tlsErr)
	}
	want := seen{2, "POST", "//orders?x=1&y=%2F", "api.team-a.svc:8443", "1", "2", "dilo-agent", 1024, string(body)}
	for _, s := range got {
		if diff := cmp.Diff(want, s, cmp.AllowUnexported(seen{})); diff != "" {
			t.Fatalf("server saw (-want +got):\n%s", diff)
		}
	}
	if received < 10*10_000 {
		t.Errorf("%d bytes received, fewer than the bodies", received)
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestHTTP2Errors: a response later than the timeout is a timeout, after
// which the connection is replaced; a stream the server resets is a reset,
// which leaves the connection to the next request.
func TestHTTP2Errors(t *testing.T) {
	pki := newTestPKI(t)
	target, srv := h2TestServer(t, pki, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/abort":
			panic(http.ErrAbortHandler) // RST_STREAM
		}
	}, nil)
	var tlsErr firstError
	d, err := newDialer(target, nil, &tlsErr)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(target, d, 100*time.Millisecond)
	defer f.Close()
	var got []string
	for _, path := range []string{"/", "/slow", "/", "/abort", "/"} {
		req := prepareHTTP1(target.Host, preparedRequest{method: "GET", path: path, header: defaultHeaders})
		status, class := f.Do(time.Now(), &req)
		if class != classNone {
			got = append(got, classNames[class])
		} else {
			got = append(got, http.StatusText(status))
		}
	}
	if diff := cmp.Diff([]string{"OK", "timeout", "OK", "reset", "OK"}, got); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: a new one after the timeout, none after the reset", n)
	}
}

// TestHTTP2NewConnectionAfterGOAWAY: a connection the server shuts down
// gracefully after a response is replaced before the next request, which
// does not fail.
func TestHTTP2NewConnectionAfterGOAWAY(t *testing.T) {
	target, srv := h2TestServer(t, newTestPKI(t), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close") // Go's HTTP/2 server: GOAWAY after this response
	}, nil)
	counts, _, _ := outcomes(t, target, testGet(target.Host), 5, 5*time.Second)
	if diff := cmp.Diff(map[string]int{"200": 5}, counts); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if n := srv.conns.Load(); n != 5 {
		t.Errorf("%d connections, want one per request", n)
	}
}

// servedConn is a server's connection and how many requests it has had.
type servedConn struct {
	conn     net.Conn
	requests atomic.Int64
}

// servedConnKey holds a connection's *servedConn in its requests' contexts.
type servedConnKey struct{}

// TestHTTP2RetriesOnLostConnection: a request the server drops by closing
// a connection that had carried a response is sent again, once, on a new
// connection.
func TestHTTP2RetriesOnLostConnection(t *testing.T) {
	target, srv := h2TestServer(t, newTestPKI(t), func(w http.ResponseWriter, r *http.Request) {
		sc := r.Context().Value(servedConnKey{}).(*servedConn)
		if sc.requests.Add(1) > 1 { // every connection's second request: gone, no GOAWAY
			sc.conn.Close()
		}
	}, func(s *http.Server) {
		s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, servedConnKey{}, &servedConn{conn: c})
		}
	})
	counts, _, _ := outcomes(t, target, testGet(target.Host), 4, 5*time.Second)
	if diff := cmp.Diff(map[string]int{"200": 4}, counts); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if n := srv.conns.Load(); n != 4 {
		t.Errorf("%d connections, want 4", n)
	}
}

// connStreams counts one connection's streams in flight.
type connStreams struct{ active, most atomic.Int64 }

// connStreamsKey holds a connection's *connStreams in its requests' contexts.
type connStreamsKey struct{}

// TestHTTP2OneStreamPerConnection: workers sharing the run's dialer each
// have their own connection, with one stream at a time on it, as h2load
// -m 1 loads a server.
func TestHTTP2OneStreamPerConnection(t *testing.T) {
	const workers, each = 4, 20
	var mu sync.Mutex
	var conns []*connStreams
	target, _ := h2TestServer(t, newTestPKI(t), func(w http.ResponseWriter, r *http.Request) {
		cs := r.Context().Value(connStreamsKey{}).(*connStreams)
		n := cs.active.Add(1)
		defer cs.active.Add(-1)
		for m := cs.most.Load(); n > m && !cs.most.CompareAndSwap(m, n); m = cs.most.Load() {
		}
		time.Sleep(time.Millisecond)
	}, func(s *http.Server) {
		s.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
			cs := &connStreams{}
			mu.Lock()
			conns = append(conns, cs)
			mu.Unlock()
			return context.WithValue(ctx, connStreamsKey{}, cs)
		}
	})
	d, err := newDialer(target, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range workers {
		wg.Go(func() {
			f := newFetcher(target, d, 5*time.Second)
			defer f.Close()
			for range each {
				if status, _ := f.Do(time.Now(), testGet(target.Host)); status == 200 {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != workers*each {
		t.Fatalf("%d of %d requests got 200", ok.Load(), workers*each)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != workers {
		t.Fatalf("%d connections for %d workers", len(conns), workers)
	}
	for i, cs := range conns {
		if m := cs.most.Load(); m != 1 {
			t.Errorf("connection %d had %d streams at once, want 1", i, m)
		}
	}
}

// BenchmarkHTTP2Request is one request over a kept HTTP/2 connection to a
// local Go server; -benchmem counts the server's allocations too.
func BenchmarkHTTP2Request(b *testing.B) {
	pki := newTestPKI(b)
	srv := startTLSServer(b, pki, true, nil, nil)
	target := tlsTarget(srv.Listener.Addr().String(), runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: true})
	d, err := newDialer(target, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	f := newFetcher(target, d, 5*time.Second)
	defer f.Close()
	req := testGet(target.Host)
	b.ReportAllocs()
	for b.Loop() {
		if status, class := f.Do(time.Now(), req); status != 200 {
			b.Fatalf("status %d, class %s", status, classNames[class])
		}
	}
}

// TestHTTP2FlowControl: a body larger than the server's windows goes out as
// they open, and a response larger than the client's windows comes in whole,
// its windows given back as it is read.
func TestHTTP2FlowControl(t *testing.T) {
	const sent, answered = 1 << 20, 9 << 20 // past the stream window and half the connection's
	var got atomic.Int64
	target, _ := h2TestServer(t, newTestPKI(t), func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		w.Write(bytes.Repeat([]byte("r"), answered))
	}, nil)
	post := prepareHTTP1(target.Host, preparedRequest{method: "POST", path: "/", header: defaultHeaders,
		body: bytes.Repeat([]byte("b"), sent), hasBody: true})
	counts, _, received := outcomes(t, target, &post, 2, 10*time.Second)
	if diff := cmp.Diff(map[string]int{"200": 2}, counts); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	if got.Load() != sent {
		t.Errorf("server read %d bytes of the body, want %d", got.Load(), sent)
	}
	if received < 2*answered {
		t.Errorf("%d bytes received, fewer than the bodies", received)
	}
}

// rawH2Server answers every GET on a connection of prior-knowledge HTTP/2
// with a 200 of two bytes, without TLS and without allocating per request,
// so that AllocsPerRun sees only the client.
func rawH2Server(t testing.TB) string {
	addr, _ := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := br.Discard(len(http2.ClientPreface)); err != nil {
			return
		}
		// Empty SETTINGS; then per request HEADERS (:status 200,
		// indexed) and DATA "ok" with END_STREAM.
		if _, err := c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}); err != nil {
			return
		}
		resp := []byte{0, 0, 1, 1, 4, 0, 0, 0, 0, 0x88, 0, 0, 2, 0, 1, 0, 0, 0, 0, 'o', 'k'}
		head := make([]byte, 9)
		for {
			if _, err := io.ReadFull(br, head); err != nil {
				return
			}
			if _, err := br.Discard(frameLength(head)); err != nil {
				return
			}
			if http2.FrameType(head[3]) == http2.FrameHeaders && http2.Flags(head[4]).Has(http2.FlagHeadersEndStream) {
				copy(resp[5:9], head[5:9])
				copy(resp[15:19], head[5:9])
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
	return addr
}

// TestHTTP2NoAllocations: in steady state a request on a kept connection
// allocates nothing (over TLS, crypto/tls adds its own).
func TestHTTP2NoAllocations(t *testing.T) {
	f := newHTTP2Client(newTCPDialer(rawH2Server(t), nil), "example.test", 5*time.Second)
	defer f.Close()
	req := testGet("example.test")
	step := func() {
		if status, class := f.Do(time.Now(), req); status != 200 {
			t.Fatalf("status %d, class %s", status, classNames[class])
		}
	}
	step() // dial, SETTINGS, the header block
	if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}
