package agent

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// testServerName is the name the test servers' certificates are valid for,
// besides 127.0.0.1.
const testServerName = "web.team-a.svc"

// testPKI is a CA made for one test and a server certificate it signed.
type testPKI struct {
	caFile string // the CA's certificate, PEM
	cert   tls.Certificate
}

// newTestPKI makes a CA and a certificate it signs for testServerName and
// 127.0.0.1, the CA's certificate written to a file of t's.
func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore, notAfter := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dilo test CA"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: testServerName},
		NotBefore: notBefore, NotAfter: notAfter,
		DNSNames: []string{testServerName}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}}
}

// tlsTestServer is an httptest TLS server of pki's certificate that
// answers 200 "ok" and records what its clients sent.
type tlsTestServer struct {
	*httptest.Server
	mu     sync.Mutex
	sni    []string // ClientHelloInfo.ServerName, by handshake
	protos []int    // r.ProtoMajor, by request
	conns  atomic.Int64
}

// startTLSServer starts a tlsTestServer offering h2 by ALPN if h2, else
// only http/1.1. handler, if not nil, answers instead of "ok"; configure,
// if not nil, changes the server before it starts.
func startTLSServer(t testing.TB, pki testPKI, h2 bool, handler http.HandlerFunc, configure func(*http.Server)) *tlsTestServer {
	t.Helper()
	s := &tlsTestServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.protos = append(s.protos, r.ProtoMajor)
		s.mu.Unlock()
		if handler != nil {
			handler(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	s.EnableHTTP2 = h2
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			s.mu.Lock()
			s.sni = append(s.sni, hello.ServerName)
			s.mu.Unlock()
			return nil, nil
		},
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the failures are the tests'
	if configure != nil {
		configure(s.Config)
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// seen returns the SNI names and protocol versions the server has seen.
func (s *tlsTestServer) seen() (sni []string, protos []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sni...), append([]int(nil), s.protos...)
}

// tlsTarget is the plan's target at addr (HOST:PORT) over TLS as tc says,
// with Host testServerName.
func tlsTarget(addr string, tc runplan.TLS) runplan.Target {
	return runplan.Target{Address: addr, Host: testServerName, TLS: &tc}
}

// testGet is a GET / as the run prepares it, with DiLO's default headers.
func testGet(host string) *preparedRequest {
	r := prepareHTTP1(host, preparedRequest{method: "GET", path: "/", header: defaultHeaders})
	return &r
}

// outcomes counts what n requests of req through one fetcher of target got:
// status codes, and error classes by name. It also returns the run's first
// TLS failure and the fetcher's bytes received.
func outcomes(t *testing.T, target runplan.Target, req *preparedRequest, n int, timeout time.Duration) (map[string]int, string, int64) {
	t.Helper()
	var tlsErr firstError
	d, err := newDialer(target, nil, &tlsErr)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(target, d, timeout)
	defer f.Close()
	got := map[string]int{}
	for range n {
		status, class := f.Do(time.Now(), req)
		if class != classNone {
			got[classNames[class]]++
		} else {
			got[fmt.Sprint(status)]++
		}
	}
	return got, tlsErr.String(), f.BytesReceived()
}

// TestTLSVerifiedServer: with the server's CA, requests get their responses
// over HTTP/1.1 and, when asked, over HTTP/2 (as the server sees them), on
// one connection whose SNI is the plan's server name.
func TestTLSVerifiedServer(t *testing.T) {
	pki := newTestPKI(t)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			srv := startTLSServer(t, pki, true, nil, nil) // offers both: the agent's ALPN chooses
			target := tlsTarget(srv.Listener.Addr().String(), runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: h2})
			got, tlsErr, bytes := outcomes(t, target, testGet(target.Host), 5, 5*time.Second)
			if got["200"] != 5 || tlsErr != "" {
				t.Fatalf("outcomes %v, TLS error %q; want 5 × 200", got, tlsErr)
			}
			if bytes == 0 {
				t.Error("no bytes received counted")
			}
			sni, protos := srv.seen()
			want := 1
			if h2 {
				want = 2
			}
			for _, p := range protos {
				if p != want {
					t.Fatalf("server saw protocols %v, want HTTP/%d", protos, want)
				}
			}
			if len(sni) != 1 || sni[0] != testServerName || srv.conns.Load() != 1 {
				t.Fatalf("server saw SNI %q over %d connections, want [%q] over 1", sni, srv.conns.Load(), testServerName)
			}
		})
	}
}

// TestTLSFailures: every request whose handshake TLS refuses is of class
// tls, and the run keeps the first failure's message.
func TestTLSFailures(t *testing.T) {
	pki, other := newTestPKI(t), newTestPKI(t)
	h1 := startTLSServer(t, pki, false, nil, nil) // ALPN: http/1.1 only
	for _, tc := range []struct {
		name    string
		srv     *tlsTestServer
		tls     runplan.TLS
		wantErr string
	}{
		{"unknown CA", h1, runplan.TLS{ServerName: testServerName, CAFile: other.caFile}, "x509: certificate signed by unknown authority"},
		{"other name", h1, runplan.TLS{ServerName: "db.team-a.svc", CAFile: pki.caFile}, "x509: certificate is valid for web.team-a.svc, not db.team-a.svc"},
		{"no h2 offered", h1, runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: true}, "tls: no application protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tlsTarget(tc.srv.Listener.Addr().String(), tc.tls)
			got, tlsErr, _ := outcomes(t, target, testGet(target.Host), 3, 5*time.Second)
			if got["tls"] != 3 || !strings.Contains(tlsErr, tc.wantErr) {
				t.Fatalf("outcomes %v, TLS error %q; want 3 × tls and an error containing %q", got, tlsErr, tc.wantErr)
			}
		})
	}
	if sni, _ := h1.seen(); !contains(sni, "db.team-a.svc") {
		t.Errorf("server saw SNI %q, want the plan's server name db.team-a.svc among them", sni)
	}
}

// contains reports whether ss holds s.
func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestTLSInsecureSkipVerify: without a CA, a certificate of any CA and name
// is accepted, the server name still sent as SNI.
func TestTLSInsecureSkipVerify(t *testing.T) {
	srv := startTLSServer(t, newTestPKI(t), false, nil, nil)
	target := tlsTarget(srv.Listener.Addr().String(), runplan.TLS{ServerName: "anything.example", InsecureSkipVerify: true})
	got, tlsErr, _ := outcomes(t, target, testGet(target.Host), 3, 5*time.Second)
	if got["200"] != 3 || tlsErr != "" {
		t.Fatalf("outcomes %v, TLS error %q; want 3 × 200", got, tlsErr)
	}
	if sni, _ := srv.seen(); len(sni) == 0 || sni[0] != "anything.example" {
		t.Fatalf("server saw SNI %q, want anything.example", sni)
	}
}

// rawTLSServer accepts TLS connections with config and passes each, its
// handshake done, to handle.
func rawTLSServer(t testing.TB, config *tls.Config, handle func(*tls.Conn)) string {
	t.Helper()
	addr, _ := serveConns(t, func(c net.Conn) {
		tc := tls.Server(c, config)
		if tc.Handshake() == nil {
			handle(tc)
		}
	})
	return addr
}

// TestTLSNoALPN: a server that chooses no protocol by ALPN, asked for
// HTTP/2, fails every request with class tls and says so.
func TestTLSNoALPN(t *testing.T) {
	pki := newTestPKI(t)
	addr := rawTLSServer(t, &tls.Config{Certificates: []tls.Certificate{pki.cert}}, func(c *tls.Conn) {
		c.Read(make([]byte, 1)) // until the client closes
	})
	target := tlsTarget(addr, runplan.TLS{ServerName: testServerName, CAFile: pki.caFile, HTTP2: true})
	got, tlsErr, _ := outcomes(t, target, testGet(target.Host), 3, 5*time.Second)
	if got["tls"] != 3 || !strings.Contains(tlsErr, "server did not negotiate h2") {
		t.Fatalf("outcomes %v, TLS error %q; want 3 × tls and \"server did not negotiate h2\"", got, tlsErr)
	}
}

// TestTLSHandshakeNotTLSFailures: a server that never answers the
// handshake is a timeout and one that closes during it a reset, as they
// would be after it; a server that answers in plain HTTP is a TLS failure.
// Only the last is kept as the run's TLS error.
func TestTLSHandshakeNotTLSFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handle  func(net.Conn)
		want    string
		wantErr string
	}{
		{"silent", func(c net.Conn) { c.Read(make([]byte, 1<<16)); time.Sleep(time.Second) }, "timeout", ""},
		{"closes", func(c net.Conn) { c.Read(make([]byte, 1<<16)) }, "reset", ""},
		{"plain HTTP", func(c net.Conn) {
			c.Read(make([]byte, 1<<16))
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		}, "tls", "first record does not look like a TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := rawServer(t, tc.handle)
			target := tlsTarget(strings.TrimPrefix(url, "http://"), runplan.TLS{ServerName: testServerName, InsecureSkipVerify: true})
			got, tlsErr, _ := outcomes(t, target, testGet(target.Host), 2, 300*time.Millisecond)
			if got[tc.want] != 2 || !strings.Contains(tlsErr, tc.wantErr) || (tc.wantErr == "") != (tlsErr == "") {
				t.Fatalf("outcomes %v, TLS error %q; want 2 × %s and TLS error %q", got, tlsErr, tc.want, tc.wantErr)
			}
		})
	}
}

// TestCAFileRefused: a CA file that holds no certificate, or cannot be
// read, fails the run before anything is sent, naming the plan's field.
func TestCAFileRefused(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.crt")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{empty, filepath.Join(dir, "missing.crt")} {
		_, err := newDialer(tlsTarget("127.0.0.1:1", runplan.TLS{ServerName: testServerName, CAFile: file}), nil, nil)
		var fe *runplan.FieldError
		if !errors.As(err, &fe) || fe.Field != "target.tls.caFile" {
			t.Errorf("CA file %s: error %v, want a FieldError of target.tls.caFile", filepath.Base(file), err)
		}
	}
}

// tlsKeepAliveServer is keepAliveServer over TLS: after the handshake it
// answers every request on a connection with response without allocating,
// so that AllocsPerRun sees only the client.
func tlsKeepAliveServer(t testing.TB, pki testPKI, response string) string {
	resp := []byte(response)
	return rawTLSServer(t, &tls.Config{Certificates: []tls.Certificate{pki.cert}, NextProtos: []string{"http/1.1"}}, func(c *tls.Conn) {
		br := bufio.NewReader(c)
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
	})
}

// TestTLSRequestDoesNotAllocate: over TLS too, once the connection is made,
// an HTTP/1.1 request allocates nothing of the agent's. crypto/tls itself
// allocates 24 bytes for each record it reads from the network (the reader
// its Conn.readFromUntil passes to bytes.Buffer.ReadFrom escapes), the
// server's read of the request as the client's of the response: two per
// request, all counted by AllocsPerRun.
func TestTLSRequestDoesNotAllocate(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector makes sync.Pool drop what crypto/tls puts back in its pools")
	}
	pki := newTestPKI(t)
	addr := tlsKeepAliveServer(t, pki, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	target := tlsTarget(addr, runplan.TLS{ServerName: testServerName, CAFile: pki.caFile})
	d, err := newDialer(target, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(target, d, 5*time.Second)
	defer f.Close()
	req := testGet(target.Host)
	failed := 0
	step := func() {
		if status, class := f.Do(time.Now(), req); status != 200 || class != classNone {
			failed++
		}
	}
	for range 3 { // the handshake, then TLS 1.3's session tickets, read with the first responses
		step()
	}
	const ofCryptoTLS = 2
	if allocs := testing.AllocsPerRun(2000, step); allocs > ofCryptoTLS {
		t.Fatalf("%v allocations per request, more than crypto/tls's %d", allocs, ofCryptoTLS)
	}
	if failed != 0 {
		t.Fatalf("%d requests failed", failed)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// TestClassifyTLSAndHTTP2: the TLS dialer's failures are of class tls,
// whatever they wrap; HTTP/2's stream resets and GOAWAYs are resets; a
// context's deadline is a timeout.
func TestClassifyTLSAndHTTP2(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errClass
	}{
		{&tlsError{err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, classTLS},
		{fmt.Errorf("dial: %w", &tlsError{err: errors.New("server did not negotiate h2 by ALPN (it chose none)")}), classTLS},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, classOther}, // not from the dialer
		{context.DeadlineExceeded, classTimeout},
		{http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}, classReset},
		{fmt.Errorf("stream 3: %w", http2.GoAwayError{LastStreamID: 1, ErrCode: http2.ErrCodeNo}), classReset},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, classNames[got], classNames[tc.want])
		}
	}
}

// TestFirstError: of errors set from many goroutines, one is kept, and it
// stays; a nil firstError keeps nothing.
func TestFirstError(t *testing.T) {
	var f firstError
	if f.String() != "" {
		t.Fatalf("empty firstError says %q", f.String())
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { f.set(fmt.Errorf("failure %d", i)) })
	}
	wg.Wait()
	first := f.String()
	if !strings.HasPrefix(first, "failure ") {
		t.Fatalf("kept %q", first)
	}
	f.set(errors.New("later"))
	if f.String() != first {
		t.Fatalf("kept %q, then %q", first, f.String())
	}
	var none *firstError
	none.set(errors.New("x"))
	if none.String() != "" {
		t.Fatal("a nil firstError kept an error")
	}
}
