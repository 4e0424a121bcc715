package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

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

// errMalformed is a response the parser cannot follow; it counts as classOther.
var errMalformed = errors.New("malformed HTTP response")

// errCNAME is a target name answered for another name: the agent refuses to
// send there. It comes wrapped in a *net.DNSError, so it counts as classDNS.
var errCNAME = errors.New("answered for another name (a CNAME), not followed")

// readBufferSize is each connection's read buffer: enough for the status line
// and headers of ordinary responses. Longer header lines are skipped piecewise.
const readBufferSize = 4096

// client sends requests over one keep-alive connection, dialled on demand.
// It is the hot path: after the first request on a connection it does not
// allocate. It is used by one goroutine.
type client struct {
	target  *target
	timeout time.Duration
	conn    net.Conn
	reused  bool // the connection has carried a whole response already
	in      countingReader
	br      *bufio.Reader
}

// countingReader counts the bytes read from the connection.
type countingReader struct {
	conn net.Conn
	n    int64
}

// Read reads from the connection and counts what it read.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	c.n += int64(n)
	return n, err
}

// newClient returns a client for t, not yet connected.
func newClient(t *target, timeout time.Duration) *client {
	c := &client{target: t, timeout: timeout}
	c.br = bufio.NewReaderSize(&c.in, readBufferSize)
	return c
}

// do sends one request at now and reads the whole response, within
// c.timeout. It returns the status, or the class of the error when no
// response came. A request that fails on a reused connection before any
// byte of its response is retried once on a new connection (the server may
// have closed an idle keep-alive connection), as net/http does.
func (c *client) do(now time.Time) (status int, class errClass) {
	deadline := now.Add(c.timeout)
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			if err := c.dial(deadline); err != nil {
				return 0, classify(err)
			}
		}
		reused, before := c.reused, c.in.n
		if err := c.conn.SetDeadline(deadline); err != nil {
			c.close()
			return 0, classify(err)
		}
		status, keepAlive, err := c.exchange()
		if err == nil {
			c.reused = true
			if !keepAlive {
				c.close()
			}
			return status, classNone
		}
		c.close()
		if attempt == 0 && reused && c.in.n == before && classify(err) == classReset {
			continue
		}
		return 0, classify(err)
	}
}

// dial connects to the target.
func (c *client) dial(deadline time.Time) error {
	conn, err := c.target.dial(deadline)
	if err != nil {
		return err
	}
	c.conn, c.in.conn, c.reused = conn, conn, false
	c.br.Reset(&c.in)
	return nil
}

// dial connects to t by deadline. An IP address is dialled as it is. A name
// is resolved anew on every dial, since a headless Service's endpoints come
// and go, and by the agent itself: the dialer would resolve it again, and
// that answer would not have been checked for a CNAME.
func (t *target) dial(deadline time.Time) (net.Conn, error) {
	if t.name == "" {
		d := net.Dialer{Deadline: deadline}
		return d.Dial("tcp", t.addr)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	addrs, err := t.resolve(ctx)
	if err != nil {
		return nil, err
	}
	var first error
	for i, addr := range addrs {
		// As net.Dialer does, each address gets a share of the time left, so
		// that one that never answers does not use it all.
		d := net.Dialer{Deadline: partialDeadline(time.Now(), deadline, len(addrs)-i)}
		conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, t.port).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve returns the addresses of t.name, or an error wrapping errCNAME when
// the answer is for another name. That is how cluster DNS answers for a
// Service of type ExternalName, which sends wherever its owner likes; and for
// a relative name answered under a search domain, which is not the name the
// agent was given either.
func (t *target) resolve(ctx context.Context) ([]netip.Addr, error) {
	r := t.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	canonical, err := r.LookupCNAME(ctx, t.name)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(strings.TrimSuffix(canonical, "."), strings.TrimSuffix(t.name, ".")) {
		return nil, &net.DNSError{Err: errCNAME.Error() + ": " + canonical, Name: t.name, UnwrapErr: errCNAME}
	}
	addrs, err := r.LookupNetIP(ctx, "ip", t.name)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: t.name, IsNotFound: true}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap() // an IPv4 address from a 16-byte net.IP: dial it as IPv4
	}
	return addrs, nil
}

// partialDeadline is the deadline for one of addrsLeft addresses still to
// try: an equal share of the time left, but at least 2s if there is that much.
func partialDeadline(now, deadline time.Time, addrsLeft int) time.Time {
	const floor = 2 * time.Second
	left := deadline.Sub(now)
	share := left / time.Duration(addrsLeft)
	if share < floor {
		share = min(floor, left)
	}
	return now.Add(share)
}

// close closes the connection, if any; the next request dials a new one.
func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.in.conn = nil, nil
	}
}

// exchange writes the request and reads its final response (skipping 1xx
// interim responses), discarding the body.
func (c *client) exchange() (status int, keepAlive bool, err error) {
	if _, err := c.conn.Write(c.target.request); err != nil {
		return 0, false, err
	}
	// Let the other connections' goroutines write their requests before this
	// one reads: its response has then usually arrived, and the read does not
	// fail with EAGAIN and park first. Like wrk's event loop, this batches the
	// writes; at 64 connections it cut reads from 2.0 to 1.4 per request.
	runtime.Gosched()
	for {
		status, keepAlive, err = c.readResponse()
		if err != nil || status >= 200 || status == 101 {
			return status, keepAlive, err
		}
	}
}

// readResponse reads one response: status line, headers (Content-Length,
// Transfer-Encoding: chunked, Connection), and discards the body.
func (c *client) readResponse() (status int, keepAlive bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, lineErr(err)
	}
	// "HTTP/1.x 200 ..." : version, space, three digits, then space or end of line.
	if len(line) < 13 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
		return 0, false, errMalformed
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if status < 100 || status > 599 {
		return 0, false, errMalformed
	}
	keepAlive = line[7] != '0' // HTTP/1.0 closes unless it says keep-alive
	contentLength, chunked := int64(-1), false
	for {
		line, err = c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a header longer than the buffer: not one we read
			if err = c.skipLine(); err != nil {
				return 0, false, err
			}
			continue
		}
		if err != nil {
			return 0, false, lineErr(err)
		}
		line = trimSpace(line)
		if len(line) == 0 {
			break
		}
		if v, ok := headerValue(line, "content-length:"); ok {
			if contentLength, ok = parseDecimal(v); !ok {
				return 0, false, errMalformed
			}
		} else if v, ok := headerValue(line, "transfer-encoding:"); ok {
			chunked = containsFold(v, "chunked")
		} else if v, ok := headerValue(line, "connection:"); ok {
			if containsFold(v, "close") {
				keepAlive = false
			} else if containsFold(v, "keep-alive") {
				keepAlive = true
			}
		}
	}
	switch {
	case status == 101: // switching protocols: the connection is no longer HTTP/1.1
		return status, false, nil
	case c.target.head || status < 200 || status == 204 || status == 304:
		// no body
	case chunked:
		err = c.discardChunked()
	case contentLength >= 0:
		_, err = c.br.Discard(int(min(contentLength, math.MaxInt)))
	default: // body until the server closes
		if _, err = c.br.Discard(math.MaxInt); err == io.EOF {
			err = nil
		}
		keepAlive = false
	}
	if err != nil {
		return 0, false, bodyErr(err)
	}
	return status, keepAlive, nil
}

// discardChunked reads a chunked body and its trailers.
func (c *client) discardChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return lineErr(err)
		}
		size, ok := parseHex(line)
		if !ok {
			return errMalformed
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := c.br.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					if err = c.skipLine(); err != nil {
						return err
					}
					continue
				}
				if err != nil {
					return lineErr(err)
				}
				if len(trimSpace(line)) == 0 {
					return nil
				}
			}
		}
		if _, err := c.br.Discard(int(size)); err != nil {
			return err
		}
		if line, err = c.br.ReadSlice('\n'); err != nil {
			return lineErr(err)
		}
		if len(trimSpace(line)) != 0 {
			return errMalformed
		}
	}
}

// skipLine discards the rest of a line longer than the buffer.
func (c *client) skipLine() error {
	for {
		_, err := c.br.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if err != bufio.ErrBufferFull {
			return lineErr(err)
		}
	}
}

// lineErr maps a short read in the middle of a response head to EOF.
func lineErr(err error) error {
	if err == bufio.ErrBufferFull {
		return errMalformed
	}
	return err
}

// bodyErr maps an end of stream inside a body to an unexpected EOF.
func bodyErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

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

// isDigit reports whether b is an ASCII digit.
func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// trimSpace trims spaces, tabs, CR and LF at both ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// headerValue returns the trimmed value when line is the header named by
// lowerName (lower case, with its colon), matched case-insensitively.
func headerValue(line []byte, lowerName string) ([]byte, bool) {
	if len(line) < len(lowerName) {
		return nil, false
	}
	for i := 0; i < len(lowerName); i++ {
		// Every byte of the names we look for has bit 0x20 set ('a'-'z', '-', ':'),
		// so OR-ing it in lower-cases letters and leaves the rest as they are.
		if line[i]|0x20 != lowerName[i] {
			return nil, false
		}
	}
	return trimSpace(line[len(lowerName):]), true
}

// containsFold reports whether b contains the lower-case ASCII word w, ignoring case.
func containsFold(b []byte, w string) bool {
outer:
	for i := 0; i+len(w) <= len(b); i++ {
		for j := 0; j < len(w); j++ {
			if b[i+j]|0x20 != w[j] {
				continue outer
			}
		}
		return true
	}
	return false
}

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if !isDigit(d) {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// parseHex parses a chunk-size line: hex digits, then optional extensions after ';'.
func parseHex(line []byte) (int64, bool) {
	line = trimSpace(line)
	for i, b := range line {
		if b == ';' || b == ' ' || b == '\t' {
			line = line[:i]
			break
		}
	}
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, b := range line {
		switch {
		case b >= '0' && b <= '9':
			n = n<<4 | int64(b-'0')
		case b|0x20 >= 'a' && b|0x20 <= 'f':
			n = n<<4 | int64(b|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
