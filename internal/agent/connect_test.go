package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// connServer is a test server of either protocol whose connections are
// counted as they open and close.
type connServer struct {
	target         runplan.Target
	opened, closed atomic.Int64
}

// countConns is a ConnState hook counting into s.
func (s *connServer) countConns(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.closed.Add(1)
	}
}

// newConnServer starts an HTTP/1.1 server over TCP, or an HTTP/2 one over
// TLS, answering 200; idle, if not 0, is how long it keeps a connection on
// which no request came.
func newConnServer(t *testing.T, h2 bool, idle time.Duration) *connServer {
	s := &connServer{}
	if !h2 {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		srv.Config.ConnState = s.countConns
		srv.Config.ReadHeaderTimeout = idle // a first request's wait
		srv.Start()
		t.Cleanup(srv.Close)
		addr := srv.Listener.Addr().String()
		s.target = runplan.Target{Address: addr, Host: addr}
		return s
	}
	pki := newTestPKI(t)
	srv := startTLSServer(t, pki, true, nil, func(c *http.Server) {
		c.ConnState = s.countConns
		c.IdleTimeout = idle
	})
	s.target = tlsTarget(srv.Listener.Addr().String(), runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: true})
	return s
}

// TestConnect: a fetcher's connection made before its first request
// carries it (for HTTP/2, with the preface sent before); one the server
// closed meanwhile is made again by the request, without an error; one cut
// short by its context leaves the request to connect, and is no TLS
// failure.
func TestConnect(t *testing.T) {
	for _, proto := range []string{"http1", "http2"} {
		for _, tc := range []struct {
			name      string
			idle      time.Duration // the server's wait for a first request
			cancelled bool          // Connect's context
			conns     int64
		}{
			{"used by the first request", 0, false, 1},
			{"closed by the server before", 50 * time.Millisecond, false, 2},
			{"cancelled", 0, true, 1},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				s := newConnServer(t, proto == "http2", tc.idle)
				tlsErr := new(firstError)
				d, err := newDialer(s.target, nil, tlsErr)
				if err != nil {
					t.Fatal(err)
				}
				f := newFetcher(s.target, d, 5*time.Second)
				defer f.Close()
				ctx, cancel := context.WithCancel(context.Background())
				if tc.cancelled {
					cancel()
				}
				defer cancel()
				err = f.Connect(ctx, time.Now().Add(5*time.Second))
				if got := err != nil; got != tc.cancelled || tc.cancelled && !errors.Is(err, context.Canceled) {
					t.Fatalf("Connect: %v", err)
				}
				if tc.idle > 0 {
					waitFor(t, "the server to close the idle connection", 10*time.Second, func() bool { return s.closed.Load() >= 1 })
				}
				if err := f.Connect(ctx, time.Now().Add(5*time.Second)); err != nil && !tc.cancelled {
					t.Fatalf("Connect again: %v", err)
				}
				connected := time.Now()
				req := testGet(s.target.Host)
				var got []string
				for range 3 {
					status, class := f.Do(time.Now(), req)
					got = append(got, strconv.Itoa(status)+classNames[class])
				}
				if diff := cmp.Diff([]string{"200", "200", "200"}, got); diff != "" {
					t.Fatalf("outcomes (-want +got):\n%s", diff)
				}
				if n := s.opened.Load(); n != tc.conns {
					t.Errorf("%d connections, want %d", n, tc.conns)
				}
				if first := f.FirstSent(); first.Before(connected) || first.After(time.Now()) {
					t.Errorf("first request sent at %v, not after the connection was made (%v)", first, connected)
				}
				if msg := tlsErr.String(); msg != "" {
					t.Errorf("TLS error %q", msg)
				}
			})
		}
	}
}
