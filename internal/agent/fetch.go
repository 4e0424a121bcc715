package agent

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// fetcher is how a request is sent: the protocol client of one worker,
// used from its goroutine only. Raw HTTP/1.1 is one (http1Client); TLS is
// the same client over a dialer that wraps its connections, and HTTP/2
// would be another fetcher.
type fetcher interface {
	// Do sends req at now and reads its whole response, within the plan's
	// timeout. It returns the status, or the class of the error when no
	// response came. In steady state it must not allocate.
	Do(now time.Time, req *preparedRequest) (status int, class errClass)
	// BytesReceived is how many bytes it has read from the network so far.
	BytesReceived() int64
	// Close closes its connection, if any; the next Do makes a new one.
	Close()
}

// dialer makes a fetcher's connections to the target, by deadline. TLS wraps
// what the TCP dialer returns.
type dialer interface {
	dial(deadline time.Time) (net.Conn, error)
}

// errClass is why a request got no HTTP response; classNone means it got one.
type errClass uint8

const (
	classNone errClass = iota
	classTimeout
	classRefused
	classReset
	classDNS
	classOther
	classDropped // open model: never sent, every connection busy until the hard stop
	numClasses
)

// classNames are the report's names of the classes, by errClass. The result
// document owns the names: the manager checks and merges them.
var classNames = [numClasses]string{"",
	podreport.ClassTimeout, podreport.ClassRefused, podreport.ClassReset,
	podreport.ClassDNS, podreport.ClassOther, podreport.ClassDropped}

// classify names why a request got no response.
func classify(err error) errClass {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return classDNS
	case errors.Is(err, os.ErrDeadlineExceeded):
		return classTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return classRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return classReset
	case errors.As(err, &netErr) && netErr.Timeout():
		return classTimeout
	default:
		return classOther
	}
}
