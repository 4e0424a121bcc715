package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// http2Client is the fetcher of HTTP/2 over TLS connections from its dialer,
// which has made sure the server chose h2 by ALPN. Each worker has its own
// connection and sends one stream at a time on it, so that a concurrency of
// N is N connections of one stream each, as `h2load -c N -m 1` loads a
// server; a connection the server closed or sent GOAWAY on is replaced
// before the next request.
//
// The protocol is golang.org/x/net/http2's ClientConn, which allocates per
// request (net/http's request and response, a goroutine per stream): HTTP/2's
// framing, flow control and header compression are too much to write again
// for the few allocations it would save.
type http2Client struct {
	dial      dialer
	timeout   time.Duration
	authority string // :authority, the plan's Host header
	transport *http2.Transport
	conn      *http2.ClientConn
	reused    bool // conn has carried a whole response already
	// received counts the bytes read from every connection, by their read
	// loops, which may still be reading as the run reports.
	received atomic.Int64
	// requests are the net/http forms of the prepared requests, made on
	// first use; the mix's requests live as long as the run.
	requests map[*preparedRequest]*http.Request
}

// newHTTP2Client returns a client over connections from d, not yet
// connected, that sends requests with :authority authority and gives each
// timeout.
func newHTTP2Client(d dialer, authority string, timeout time.Duration) *http2Client {
	return &http2Client{
		dial: d, timeout: timeout, authority: authority,
		// No compression: the agent sends the headers it was told to, and
		// reads the body as the server sends it, as it does over HTTP/1.1.
		transport: &http2.Transport{DisableCompression: true},
		requests:  map[*preparedRequest]*http.Request{},
	}
}

// Do sends req at now and reads the whole response, within c.timeout. It
// returns the status, or the class of the error when no response came. A
// request that fails on a reused connection that the failure left unusable
// (the server closed it, or sent GOAWAY, as the request went out) is retried
// once on a new connection, as the HTTP/1.1 client retries on a closed
// keep-alive connection.
func (c *http2Client) Do(now time.Time, req *preparedRequest) (status int, class errClass) {
	deadline := now.Add(c.timeout)
	form := c.form(req)
	for attempt := 0; ; attempt++ {
		if c.conn != nil && !c.conn.CanTakeNewRequest() {
			c.Close()
		}
		if c.conn == nil {
			if err := c.connect(deadline); err != nil {
				return 0, classify(err)
			}
		}
		reused := c.reused
		status, err := c.exchange(deadline, form, req.body)
		if err == nil {
			c.reused = true
			return status, classNone
		}
		class := classify(err)
		usable := c.conn.CanTakeNewRequest()
		var streamErr http2.StreamError
		if !usable || !errors.As(err, &streamErr) {
			// Only the server's reset of the one stream leaves the
			// connection as it was; after a timeout, it may be the
			// connection that hangs.
			c.Close()
		}
		if attempt == 0 && reused && class == classReset && !usable {
			continue
		}
		return 0, class
	}
}

// BytesReceived is how many bytes the client has read, frames and their
// headers included, over all its connections.
func (c *http2Client) BytesReceived() int64 { return c.received.Load() }

// Close closes the connection, if any; the next request makes a new one.
func (c *http2Client) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// connect makes a new connection by deadline and starts HTTP/2 on it.
func (c *http2Client) connect(deadline time.Time) error {
	conn, err := c.dial.dial(deadline)
	if err != nil {
		return err
	}
	cc, err := c.transport.NewClientConn(countingConn{Conn: conn, n: &c.received})
	if err != nil {
		conn.Close()
		return err
	}
	c.conn, c.reused = cc, false
	return nil
}

// exchange sends one request of form with body and reads its response by
// deadline, discarding the body.
func (c *http2Client) exchange(deadline time.Time, form *http.Request, body []byte) (int, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// A copy per request: the stream's goroutines may still read the
	// previous request, and its body, after its response ended.
	r := form.WithContext(ctx)
	if len(body) > 0 {
		r.Body = &bodyReader{rest: body}
	}
	// Let the goroutines the last poll woke (other connections' read
	// loops and workers) run first, so that their requests and this one go
	// out together rather than one per wake-up of the server: as the
	// HTTP/1.1 client's yield after its write does, this batches the
	// writes. Against nginx at 64 connections it raised the rate by about
	// a tenth.
	runtime.Gosched()
	resp, err := c.conn.RoundTrip(r)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// form returns the net/http form of req, without its body, made once.
func (c *http2Client) form(req *preparedRequest) *http.Request {
	if r, ok := c.requests[req]; ok {
		return r
	}
	header := make(http.Header, len(req.header))
	for _, h := range req.header {
		// As the plan spells the names: HTTP/2 sends them in lower case
		// anyway, and runplan has made them unique in any case.
		header[h.name] = []string{h.value}
	}
	r := &http.Request{
		Method: req.method,
		// :path is the URL's request URI, which for an opaque URL of the
		// form //authority/path is the whole URL; the transport then cuts
		// it back to the path as it was written, query and all, even one
		// that starts with "//".
		URL:           &url.URL{Scheme: "https", Opaque: "//" + c.authority + req.path},
		Host:          c.authority,
		Header:        header,
		ContentLength: int64(len(req.body)),
	}
	c.requests[req] = r
	return r
}

// bodyReader reads a request body once, as its stream sends it.
type bodyReader struct{ rest []byte }

// Read copies the next bytes of the body.
func (b *bodyReader) Read(p []byte) (int, error) {
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// Close does nothing: the body is the prepared request's, shared.
func (b *bodyReader) Close() error { return nil }

// countingConn counts the bytes read from its connection into n, from the
// connection's read loop.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

// Read reads from the connection and counts what it read.
func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// lostHTTP2Conn reports whether err is x/net/http2's failure of a request
// whose connection was closed or refused new streams (a GOAWAY) under it:
// unexported errors, known only by their messages.
func lostHTTP2Conn(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "http2: client conn") || strings.HasPrefix(msg, "http2: Transport received")
}
