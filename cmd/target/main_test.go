package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHandler(t *testing.T) {
	for _, tc := range []struct {
		method string
		path   string
		code   int
		body   string
		min    time.Duration
	}{
		{"GET", "/", 200, "hello from dilo target\n", 0},
		{"GET", "/anything", 200, "hello from dilo target\n", 0},
		{"GET", "/healthz", 200, "ok\n", 0},
		{"GET", "/status/503", 503, "status 503\n", 0},
		{"GET", "/status/204", 204, "status 204\n", 0}, // net/http's server drops it
		{"GET", "/status/abc", 400, "status must be from 100 to 599\n", 0},
		{"GET", "/status/99", 400, "status must be from 100 to 599\n", 0},
		{"GET", "/slow?ms=30", 200, "hello from dilo target\n", 30 * time.Millisecond},
		{"GET", "/slow?ms=x", 400, "ms must be a whole number of milliseconds\n", 0},
		{"GET", "/slow?ms=30&after=0", 200, "hello from dilo target\n", 30 * time.Millisecond},
		{"GET", "/slow?ms=30&after=x", 400, "after must be a whole number of seconds\n", 0},
		// A mix of requests sends any method to any path.
		{"POST", "/items", 200, "hello from dilo target\n", 0},
		{"PUT", "/items/7", 200, "hello from dilo target\n", 0},
		{"PATCH", "/items/7", 200, "hello from dilo target\n", 0},
		{"DELETE", "/orders/1", 200, "hello from dilo target\n", 0},
		{"OPTIONS", "/orders", 200, "hello from dilo target\n", 0},
		{"HEAD", "/orders", 200, "hello from dilo target\n", 0}, // net/http's server drops it
		{"POST", "/status/201", 201, "status 201\n", 0},
		{"GET", "/record", 200, `{"requests":{},"overflow":0}` + "\n", 0},
		{"POST", "/record", 405, "Method Not Allowed\n", 0},
		{"POST", "/record/reset", 204, "", 0},
		{"GET", "/record/reset", 405, "Method Not Allowed\n", 0},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h := newHandler()
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code || rec.Body.String() != tc.body {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.body)
			}
			if took := time.Since(start); took < tc.min {
				t.Errorf("%s %s took %v, want at least %v", tc.method, tc.path, took, tc.min)
			}
		})
	}
}

// TestSlowAfter: /slow with after= answers at once until after seconds have passed
// since the first such request, then slowly.
func TestSlowAfter(t *testing.T) {
	h := newHandler()
	took := func(path string) time.Duration {
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %q", path, rec.Code, rec.Body)
		}
		return time.Since(start)
	}
	if d := took("/slow?ms=500&after=3600"); d >= 500*time.Millisecond {
		t.Errorf("before after= passed: took %v, want at once", d)
	}
	if d := took("/slow?ms=50&after=0"); d < 50*time.Millisecond {
		t.Errorf("after after= passed: took %v, want at least 50ms", d)
	}
}

func TestRequestsCountsByHost(t *testing.T) {
	h := newHandler()
	for _, host := range []string{"web.a.svc", "web.a.svc", "other"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/healthz", nil),
		httptest.NewRequest(http.MethodGet, "/record", nil),
		httptest.NewRequest(http.MethodPost, "/record/reset", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if got, want := get(t, h, "/requests"), `{"other":1,"web.a.svc":2}`; got != want {
		t.Errorf("GET /requests = %s; want %s", got, want)
	}
}

// sent is a request for a test to send.
type sent struct {
	method, target string
	header         http.Header
	body           string
	proto          string // HTTP/1.1 if empty
	remote         string // httptest's 192.0.2.1:1234 if empty
}

// send serves every one of reqs with h.
func send(t *testing.T, h http.Handler, reqs ...sent) {
	t.Helper()
	for _, s := range reqs {
		r := httptest.NewRequest(s.method, s.target, strings.NewReader(s.body))
		for name, values := range s.header {
			r.Header[name] = values
		}
		if s.proto != "" {
			r.Proto = s.proto
		}
		if s.remote != "" {
			r.RemoteAddr = s.remote
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// get returns the body, without its final newline, that h answers GET path with.
func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return strings.TrimSuffix(rec.Body.String(), "\n")
}

// sum is the hex SHA-256 of s.
func sum(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// jsonDiff returns how JSON got differs from JSON want, compared as values (so that
// spacing and key order do not matter, but every field and zero does).
func jsonDiff(t *testing.T, got, want string) string {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	return cmp.Diff(w, g)
}

func TestRecord(t *testing.T) {
	big := strings.Repeat("x", maxBody)
	for _, tc := range []struct {
		name string
		sent []sent
		want string
	}{{
		name: "nothing",
		want: `{"requests": {}, "overflow": 0}`,
	}, {
		name: "methods and URIs, but not the target's own routes",
		sent: []sent{
			{method: "GET", target: "/items"},
			{method: "GET", target: "/items"},
			{method: "GET", target: "/items?page=2"},
			{method: "HEAD", target: "/items"},
			{method: "OPTIONS", target: "/items"},
			{method: "PUT", target: "/items/7"},
			{method: "PATCH", target: "/items/7"},
			{method: "DELETE", target: "/items/7", proto: "HTTP/1.0"},
			{method: "GET", target: "/status/503"},
			{method: "GET", target: "/healthz"},
			{method: "GET", target: "/requests"},
			{method: "GET", target: "/record"},
			{method: "POST", target: "/record"},
		},
		want: `{"requests": {
			"GET /items":        {"count": 2, "protocols": {"HTTP/1.1": 2}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"GET /items?page=2": {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"HEAD /items":       {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"OPTIONS /items":    {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"PUT /items/7":      {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"PATCH /items/7":    {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"DELETE /items/7":   {"count": 1, "protocols": {"HTTP/1.0": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}},
			"GET /status/503":   {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}}
		}, "overflow": 0}`,
	}, {
		name: "headers, but those every client sends",
		sent: []sent{
			{method: "GET", target: "/", header: http.Header{"X-Token": {"a"}, "User-Agent": {"Go-http-client/1.1"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip"}, "Content-Length": {"0"}}},
			{method: "GET", target: "/", header: http.Header{"X-Token": {"a"}, "X-Tenant": {"blue"}}},
			{method: "GET", target: "/", header: http.Header{"X-Token": {"b"}, "X-Tenant": {"blue", "green"}}},
		},
		want: `{"requests": {
			"GET /": {"count": 3, "protocols": {"HTTP/1.1": 3}, "headers": {
				"X-Token":  {"values": {"a": 2, "b": 1}, "overflow": 0},
				"X-Tenant": {"values": {"blue": 2, "green": 1}, "overflow": 0}
			}, "headersOverflow": 0, "bodies": {"values": {}, "overflow": 0, "tooLong": 0}}
		}, "overflow": 0}`,
	}, {
		name: "bodies",
		sent: []sent{
			{method: "POST", target: "/orders", body: "hello", header: http.Header{"Content-Type": {"text/plain"}}},
			{method: "POST", target: "/orders", body: "hello", header: http.Header{"Content-Type": {"text/plain"}}},
			{method: "POST", target: "/orders", body: `{"a":1}`, header: http.Header{"Content-Type": {"application/json"}}},
			{method: "POST", target: "/orders"},
			{method: "PUT", target: "/big", body: big},
			{method: "PUT", target: "/big", body: big + "x"},
		},
		want: fmt.Sprintf(`{"requests": {
			"POST /orders": {"count": 4, "protocols": {"HTTP/1.1": 4}, "headers": {
				"Content-Type": {"values": {"text/plain": 2, "application/json": 1}, "overflow": 0}
			}, "headersOverflow": 0, "bodies": {"values": {
				%q: {"count": 2, "length": 5},
				%q: {"count": 1, "length": 7}
			}, "overflow": 0, "tooLong": 0}},
			"PUT /big": {"count": 2, "protocols": {"HTTP/1.1": 2}, "headers": {}, "headersOverflow": 0, "bodies": {"values": {
				%q: {"count": 1, "length": 1048576}
			}, "overflow": 0, "tooLong": 1}}
		}, "overflow": 0}`, sum("hello"), sum(`{"a":1}`), sum(big)),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler()
			send(t, h, tc.sent...)
			if diff := jsonDiff(t, get(t, h, "/record"), tc.want); diff != "" {
				t.Errorf("GET /record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordBounds(t *testing.T) {
	// many returns n requests made by one(i).
	many := func(n int, one func(i int) sent) []sent {
		var s []sent
		for i := range n {
			s = append(s, one(i))
		}
		return s
	}
	for _, tc := range []struct {
		name string
		sent []sent
		// what returns, of the record, what the test is about.
		what func(record) any
		want any
	}{{
		name: "values of a header",
		sent: append(
			many(maxValues+1, func(i int) sent {
				return sent{method: "GET", target: "/", header: http.Header{"X-Id": {fmt.Sprint(i)}}}
			}),
			// A value already kept still counts as itself once the header is full.
			sent{method: "GET", target: "/", header: http.Header{"X-Id": {"0"}}}),
		what: func(r record) any {
			vc := r.Requests["GET /"].Headers["X-Id"]
			return []int64{int64(len(vc.Values)), vc.Values["0"], vc.Overflow}
		},
		want: []int64{16, 2, 1},
	}, {
		name: "header names",
		sent: many(maxHeaders+1, func(i int) sent {
			return sent{method: "GET", target: "/", header: http.Header{fmt.Sprintf("X-H%02d", i): {"v"}}}
		}),
		what: func(r record) any {
			rr := r.Requests["GET /"]
			return []int64{int64(len(rr.Headers)), rr.HeadersOverflow}
		},
		want: []int64{64, 1},
	}, {
		name: "bodies",
		sent: many(maxValues+1, func(i int) sent { return sent{method: "POST", target: "/", body: fmt.Sprint(i)} }),
		what: func(r record) any {
			b := r.Requests["POST /"].Bodies
			return []int64{int64(len(b.Values)), b.Overflow, b.TooLong}
		},
		want: []int64{16, 1, 0},
	}, {
		name: "request URIs",
		sent: many(maxRequests+1, func(i int) sent { return sent{method: "GET", target: fmt.Sprintf("/?id=%d", i)} }),
		what: func(r record) any { return []int64{int64(len(r.Requests)), r.Overflow} },
		want: []int64{64, 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler()
			send(t, h, tc.sent...)
			var r record
			if err := json.Unmarshal([]byte(get(t, h, "/record")), &r); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tc.what(r)); diff != "" {
				t.Errorf("GET /record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordReset(t *testing.T) {
	h := newHandler()
	send(t, h, sent{method: "POST", target: "/orders", body: "x", header: http.Header{"X-A": {"1"}}})
	send(t, h, sent{method: "POST", target: "/record/reset"})
	if diff := jsonDiff(t, get(t, h, "/record"), `{"requests": {}, "overflow": 0}`); diff != "" {
		t.Errorf("GET /record after a reset (-want +got):\n%s", diff)
	}
	if got, want := get(t, h, "/requests"), `{"example.com":1}`; got != want {
		t.Errorf("GET /requests after a reset = %s; want %s", got, want)
	}
	send(t, h, sent{method: "GET", target: "/after"})
	want := `{"requests": {"GET /after": {"count": 1, "protocols": {"HTTP/1.1": 1}, "headers": {}, "headersOverflow": 0,
		"bodies": {"values": {}, "overflow": 0, "tooLong": 0}}}, "overflow": 0}`
	if diff := jsonDiff(t, get(t, h, "/record"), want); diff != "" {
		t.Errorf("GET /record after a reset and a request (-want +got):\n%s", diff)
	}
}

func TestRecordClients(t *testing.T) {
	h := newHandler()
	before := time.Now()
	send(t, h, sent{method: "GET", target: "/a", remote: "10.0.0.1:4000"})
	mid := time.Now()
	send(t, h, sent{method: "GET", target: "/b", remote: "10.0.0.1:4001"},
		sent{method: "GET", target: "/c", remote: "10.0.0.2:4000"},
		sent{method: "GET", target: "/record", remote: "10.0.0.3:4000"})
	var got map[string]time.Time
	if err := json.Unmarshal([]byte(get(t, h, "/record/clients")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["10.0.0.1"].Before(before) || got["10.0.0.1"].After(mid) || got["10.0.0.2"].Before(mid) {
		t.Errorf("GET /record/clients = %v; want 10.0.0.1 at its first request (between %v and %v), 10.0.0.2 after, and no reader of the record",
			got, before.Format(time.RFC3339Nano), mid.Format(time.RFC3339Nano))
	}
	send(t, h, sent{method: "POST", target: "/record/reset"})
	if got := get(t, h, "/record/clients"); got != "{}" {
		t.Errorf("GET /record/clients after a reset = %s; want {}", got)
	}
}

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    options
		wantErr string
	}{
		{args: nil, want: options{addr: ":8080", tlsAddr: ":8443"}},
		{
			args: []string{"-tls-cert", "c", "-tls-key", "k", "-no-h2"},
			want: options{addr: ":8080", tlsAddr: ":8443", tlsCert: "c", tlsKey: "k", noH2: true},
		},
		{
			args: []string{"-addr", "", "-tls-addr", ":443", "-tls-cert", "c", "-tls-key", "k"},
			want: options{tlsAddr: ":443", tlsCert: "c", tlsKey: "k"},
		},
		{args: []string{"-tls-cert", "c"}, wantErr: "-tls-cert and -tls-key go together"},
		{args: []string{"-tls-key", "k"}, wantErr: "-tls-cert and -tls-key go together"},
		{args: []string{"-no-h2"}, wantErr: "-no-h2 needs -tls-cert and -tls-key"},
		{args: []string{"-addr", ""}, wantErr: "nothing to serve"},
		{args: []string{"-tls-cert", "c", "-tls-key", "k", "-tls-addr", ""}, wantErr: "-tls-cert needs a -tls-addr"},
		{args: []string{"-tls-cert", "c", "-tls-key", "k", "-tls-addr", ":8080"}, wantErr: "-addr and -tls-addr are both :8080"},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseOptions(tc.args)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseOptions(%q) = %v; want an error with %q", tc.args, err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("parseOptions(%q): %v", tc.args, err)
			default:
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(options{})); diff != "" {
					t.Errorf("parseOptions(%q) (-want +got):\n%s", tc.args, diff)
				}
			}
		})
	}
}

// writeCert writes a self-signed certificate for localhost and 127.0.0.1, and its key, as
// PEM files in a temporary directory, as cert-manager's tls.crt and tls.key would be
// mounted; it returns their paths and a pool trusting the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dilo target test"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	for _, tc := range []struct {
		name  string
		flags []string
		// proto is what a client offering HTTP/2 and HTTP/1.1 gets.
		proto string
		// h2Only is whether a client asking for HTTP/2 alone gets it.
		h2Only bool
	}{
		{name: "HTTP/2 by default", proto: "HTTP/2.0", h2Only: true},
		{name: "HTTP/1.1 with -no-h2", flags: []string{"-no-h2"}, proto: "HTTP/1.1", h2Only: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(append([]string{"-addr", "", "-tls-cert", certFile, "-tls-key", keyFile}, tc.flags...))
			if err != nil {
				t.Fatal(err)
			}
			srvs, err := newServers(o, newHandler())
			if err != nil {
				t.Fatal(err)
			}
			if len(srvs) != 1 || srvs[0].TLSConfig == nil {
				t.Fatalf("newServers(%+v) = %d servers; want one HTTPS server", o, len(srvs))
			}
			srv := srvs[0]
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.ServeTLS(ln, "", "") }()
			t.Cleanup(func() { _ = srv.Close() })
			url := "https://" + ln.Addr().String()

			both := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
			defer both.CloseIdleConnections()
			resp, err := (&http.Client{Transport: both}).Post(url+"/orders", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Proto != tc.proto {
				t.Errorf("POST /orders: %s %s; want 200 by %s", resp.Proto, resp.Status, tc.proto)
			}

			var h2 http.Protocols
			h2.SetHTTP2(true)
			h2Only := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Protocols: &h2}
			defer h2Only.CloseIdleConnections()
			resp, err = (&http.Client{Transport: h2Only}).Get(url + "/h2only")
			if err == nil {
				resp.Body.Close()
			}
			if got := err == nil && resp.Proto == "HTTP/2.0"; got != tc.h2Only {
				t.Errorf("GET /h2only asking for HTTP/2 alone: %v, %v; want it served by HTTP/2: %t", resp, err, tc.h2Only)
			}

			resp, err = (&http.Client{Transport: both}).Get(url + "/record")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var r record
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				t.Fatal(err)
			}
			rr := r.Requests["POST /orders"]
			if rr == nil {
				t.Fatalf("GET /record = %+v; want POST /orders in it", r)
			}
			if diff := cmp.Diff(map[string]int64{tc.proto: 1}, rr.Protocols); diff != "" {
				t.Errorf("POST /orders protocols (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]*bodyCount{sum("hello"): {Count: 1, Length: 5}}, rr.Bodies.Values); diff != "" {
				t.Errorf("POST /orders bodies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewServers(t *testing.T) {
	certFile, keyFile, _ := writeCert(t)
	srvs, err := newServers(options{addr: ":8080", tlsAddr: ":8443", tlsCert: certFile, tlsKey: keyFile}, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	type server struct {
		Addr         string
		TLS          bool
		HTTP1, HTTP2 bool
	}
	var got []server
	for _, s := range srvs {
		got = append(got, server{s.Addr, s.TLSConfig != nil, s.Protocols == nil || s.Protocols.HTTP1(), s.Protocols != nil && s.Protocols.HTTP2()})
	}
	want := []server{{":8080", false, true, false}, {":8443", true, true, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newServers (-want +got):\n%s", diff)
	}

	if _, err := newServers(options{tlsAddr: ":8443", tlsCert: keyFile, tlsKey: keyFile}, http.NotFoundHandler()); err == nil {
		t.Error("newServers with a key for a certificate succeeded; want an error")
	}
}

func TestServe(t *testing.T) {
	t.Run("stops when the context is done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- serve(ctx, []*http.Server{{Addr: "127.0.0.1:0", Handler: newHandler()}}) }()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after cancel = %v; want nil", err)
		}
	})
	t.Run("stops all when one fails", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		srvs := []*http.Server{{Addr: "127.0.0.1:0"}, {Addr: taken.Addr().String()}}
		done := make(chan error, 1)
		go func() { done <- serve(context.Background(), srvs) }()
		select {
		case err := <-done:
			var opErr *net.OpError
			if !errors.As(err, &opErr) {
				t.Errorf("serve on a taken address = %v; want its listen error", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("serve on a taken address still runs; want it to return the listen error")
		}
		// A server shut down refuses to serve again at once; one still up would serve.
		again := make(chan error, 1)
		go func() { again <- srvs[0].ListenAndServe() }()
		select {
		case err := <-again:
			if !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("the other server after serve: %v; want it shut down", err)
			}
		case <-time.After(5 * time.Second):
			_ = srvs[0].Close()
			t.Error("the other server still serves after serve returned; want it shut down")
		}
	})
}
