package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// fetcher is how a request is sent: the protocol client of one worker,
// used from its goroutine only. Raw HTTP/1.1 is one (http1Client), over TCP
// or over TLS (the same client, its dialer wrapping the connections);
// HTTP/2 is another (http2Client).
type fetcher interface {
	// Do sends req at now and reads its whole response, within the plan's
	// timeout. It returns the status, or the class of the error when no
	// response came. In steady state the HTTP/1.1 client does not allocate
	// (over TLS, crypto/tls allocates 24 bytes per record it reads), nor
	// does the HTTP/2 client.
	Do(now time.Time, req *preparedRequest) (status int, class errClass)
	// Connect makes the connection the next Do will use, unless one is
	// open, by deadline or until ctx ends: a worker's warm-up before the
	// start instant, so that at the instant it only writes. Its failure is
	// no request's: the next Do dials again and counts its own. A request
	// that fails on the connection before any byte of its response is tried
	// once more on a new one, as on a kept-alive connection, since the
	// server may have closed it meanwhile.
	Connect(ctx context.Context, deadline time.Time) error
	// BytesReceived is how many bytes it has read from the network so far.
	BytesReceived() int64
	// FirstSent is when it began writing its first request, over all its
	// connections; zero before.
	FirstSent() time.Time
	// Close closes its connection, if any; the next Do makes a new one.
	Close()
}

// dialer makes a fetcher's connections to the target, by deadline or until
// ctx ends. TLS wraps what the TCP dialer returns.
type dialer interface {
	dial(ctx context.Context, deadline time.Time) (net.Conn, error)
}

// newDialer returns the run's dialer, shared by its fetchers: TCP to
// t.Address, its name resolved with resolver (nil: the default), and TLS
// over it when t.TLS is set. The CA file is read now, once for the run; a
// file that cannot be read or holds no certificate is a *runplan.FieldError
// of target.tls.caFile. The first TLS failure of the run's connections is
// kept in tlsErr (nil: kept nowhere).
func newDialer(t runplan.Target, resolver *net.Resolver, tlsErr *firstError) (dialer, error) {
	tcp := newTCPDialer(t.Address, resolver)
	if t.TLS == nil {
		return tcp, nil
	}
	return newTLSDialer(tcp, *t.TLS, tlsErr)
}

// newFetcher returns one worker's fetcher of the requests to t, over
// connections from d (newDialer's), each request given timeout: HTTP/2 when
// t.TLS asks for it, raw HTTP/1.1 otherwise, over TCP or TLS alike.
func newFetcher(t runplan.Target, d dialer, timeout time.Duration) fetcher {
	if t.TLS != nil && t.TLS.HTTP2 {
		return newHTTP2Client(d, t.Host, timeout)
	}
	return newHTTP1Client(d, timeout)
}

// errClass is why a request got no HTTP response; classNone means it got one.
type errClass uint8

const (
	classNone errClass = iota
	classTimeout
	classRefused
	classReset
	classDNS
	classTLS // the handshake failed, the certificate was refused, or no h2 by ALPN when asked
	classOther
	classDropped // open model: never sent, every connection busy until the hard stop
	numClasses
)

// classNames are the report's names of the classes, by errClass. The result
// document owns the names: the manager checks and merges them.
var classNames = [numClasses]string{"",
	podreport.ClassTimeout, podreport.ClassRefused, podreport.ClassReset,
	podreport.ClassDNS, podreport.ClassTLS, podreport.ClassOther, podreport.ClassDropped}

// classify names why a request got no response. TLS is only what the TLS
// dialer reported as such (a tlsError); HTTP/2's resets of a stream and
// GOAWAYs count as resets, as a closed HTTP/1.1 connection does.
func classify(err error) errClass {
	var tlsErr *tlsError
	var dnsErr *net.DNSError
	var streamErr http2.StreamError
	var goAway http2.GoAwayError
	var netErr net.Error
	switch {
	case errors.As(err, &tlsErr):
		return classTLS
	case errors.As(err, &dnsErr):
		return classDNS
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return classRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &streamErr), errors.As(err, &goAway):
		return classReset
	case errors.As(err, &netErr) && netErr.Timeout():
		return classTimeout
	default:
		return classOther
	}
}
