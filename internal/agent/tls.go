package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// maxCAFileBytes bounds what is read of the CA file: a Secret or ConfigMap
// holds at most 1 MiB, and a bundle of every public CA takes about 200 KB.
const maxCAFileBytes = 1 << 20

// tlsDialer makes TLS connections over the connections of its TCP dialer:
// the handshake is done by the request's deadline, so that a connection it
// returns is ready for the fetcher's protocol. It is shared by the run's
// fetchers, as its configuration and session cache are safe to share. Over
// its connections the HTTP/1.1 client is the same as over TCP; crypto/tls
// allocates 24 bytes for each record it reads from the network (the reader
// its Conn.readFromUntil hands to bytes.Buffer.ReadFrom escapes), about one
// per response.
type tlsDialer struct {
	tcp    dialer
	config *tls.Config
	http2  bool        // the server must choose h2 by ALPN
	first  *firstError // where the run keeps its first TLS failure
}

// newTLSDialer returns the TLS dialer of t over tcp, reading t.CAFile now.
// The certificate must be valid for t.ServerName, which is also sent as SNI,
// and chain to a CA of the file, unless t.InsecureSkipVerify. ALPN offers
// only h2 when t.HTTP2, and only http/1.1 otherwise, so that the server
// cannot pick a protocol the fetcher does not speak. Failures of the
// handshake are kept in first.
func newTLSDialer(tcp dialer, t runplan.TLS, first *firstError) (*tlsDialer, error) {
	config := &tls.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		NextProtos:         []string{"http/1.1"},
		// Reconnections resume a session instead of a full handshake, as
		// browsers and load generators do; one cache per run.
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
	if t.HTTP2 {
		config.NextProtos = []string{"h2"}
	}
	if t.CAFile != "" {
		roots, err := readCAFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		config.RootCAs = roots
	}
	return &tlsDialer{tcp: tcp, config: config, http2: t.HTTP2, first: first}, nil
}

// readCAFile returns the pool of the PEM certificates in name. A file that
// cannot be read, or that holds no certificate (which would fail every
// handshake with an unhelpful "unknown authority"), is a *runplan.FieldError
// of target.tls.caFile.
func readCAFile(name string) (*x509.CertPool, error) {
	const field = "target.tls.caFile"
	b, err := readFile(name, maxCAFileBytes)
	if err != nil {
		return nil, fileError(field, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, &runplan.FieldError{Field: field, Detail: fmt.Sprintf("%s holds no PEM certificate", name)}
	}
	return roots, nil
}

// dial connects by deadline, or until ctx ends, and completes the handshake
// by then too. A failure that TLS itself found (the certificate was not
// verified, an alert, not TLS at all, h2 not chosen) is a *tlsError, kept in
// d.first; a timeout, a connection closed during the handshake or ctx's end
// stays what it is, as it would be on any other read.
func (d *tlsDialer) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	raw, err := d.tcp.dial(ctx, deadline)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, d.config)
	handshake, cancel := context.WithDeadline(ctx, deadline)
	err = conn.HandshakeContext(handshake)
	cancel()
	if err != nil {
		raw.Close()
		// A handshake cut short (ctx ended: a warm-up abandoned) says nothing
		// of the server's TLS either.
		if c := classify(err); c == classTimeout || c == classReset || ctx.Err() != nil {
			return nil, err
		}
		return nil, d.failed(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; d.http2 && p != "h2" {
		conn.Close()
		chose := "none"
		if p != "" {
			chose = fmt.Sprintf("%q", p)
		}
		return nil, d.failed(fmt.Errorf("server did not negotiate h2 by ALPN (it chose %s)", chose))
	}
	return conn, nil
}

// failed keeps err as the run's TLS failure, if it is the first, and
// returns it as a *tlsError.
func (d *tlsDialer) failed(err error) error {
	d.first.set(err)
	return &tlsError{err: err}
}

// tlsError is a connection's TLS failure; classify counts it as classTLS.
type tlsError struct{ err error }

// Error is the failure's own message.
func (e *tlsError) Error() string { return e.err.Error() }

// Unwrap returns the failure, for errors.As on its x509 or tls type.
func (e *tlsError) Unwrap() error { return e.err }

// firstError keeps the message of the first error set and ignores the
// others, from any goroutine: the run's first TLS failure, which the report
// gives as its TLSError. A nil *firstError keeps nothing.
type firstError struct {
	msg atomic.Pointer[string]
}

// set keeps err's message if no error was set before.
func (f *firstError) set(err error) {
	if f == nil || err == nil || f.msg.Load() != nil {
		return
	}
	msg := err.Error()
	f.msg.CompareAndSwap(nil, &msg)
}

// String is the first error's message, or "" if none was set.
func (f *firstError) String() string {
	if f == nil {
		return ""
	}
	if msg := f.msg.Load(); msg != nil {
		return *msg
	}
	return ""
}
