package agent

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"time"
)

// readBufferSize is each connection's read buffer: enough for the status line
// and headers of ordinary responses. Longer header lines are skipped piecewise.
const readBufferSize = 4096

// http1Client is the fetcher of raw keep-alive HTTP/1.1 over connections from
// its dialer, made on demand. It is the hot path: after the first request on
// a connection it does not allocate.
type http1Client struct {
	dial    dialer
	timeout time.Duration
	conn    net.Conn
	// kept is set once the connection has waited idle, after a whole
	// response or made before the start: the server may have closed it
	// meanwhile.
	kept      bool
	in        countingReader
	br        *bufio.Reader
	firstSent time.Time // when the first request began to be written; zero before
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

// newHTTP1Client returns a client over connections from d, not yet connected,
// that gives each request timeout.
func newHTTP1Client(d dialer, timeout time.Duration) *http1Client {
	c := &http1Client{dial: d, timeout: timeout}
	c.br = bufio.NewReaderSize(&c.in, readBufferSize)
	return c
}

// Do sends req at now and reads the whole response, within c.timeout. It
// returns the status, or the class of the error when no response came. A
// request that fails on a kept connection before any byte of its response
// is retried once on a new connection (the server may have closed an idle
// keep-alive connection), as net/http does.
func (c *http1Client) Do(now time.Time, req *preparedRequest) (status int, class errClass) {
	deadline := now.Add(c.timeout)
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			if err := c.connect(context.Background(), deadline); err != nil {
				return 0, classify(err)
			}
		}
		kept, before := c.kept, c.in.n
		if err := c.conn.SetDeadline(deadline); err != nil {
			c.Close()
			return 0, classify(err)
		}
		status, keepAlive, err := c.exchange(req)
		if err == nil {
			c.kept = true
			if !keepAlive {
				c.Close()
			}
			return status, classNone
		}
		c.Close()
		if attempt == 0 && kept && c.in.n == before && classify(err) == classReset {
			continue
		}
		return 0, classify(err)
	}
}

// Connect makes the connection of the next request, unless one is open, by
// deadline or until ctx ends. It waits idle until that request, so it
// counts as kept.
func (c *http1Client) Connect(ctx context.Context, deadline time.Time) error {
	if c.conn != nil {
		return nil
	}
	if err := c.connect(ctx, deadline); err != nil {
		return err
	}
	c.kept = true
	return nil
}

// BytesReceived is how many bytes the client has read, over all its
// connections.
func (c *http1Client) BytesReceived() int64 { return c.in.n }

// FirstSent is when the client began writing its first request.
func (c *http1Client) FirstSent() time.Time { return c.firstSent }

// connect makes a new connection by deadline, or until ctx ends.
func (c *http1Client) connect(ctx context.Context, deadline time.Time) error {
	conn, err := c.dial.dial(ctx, deadline)
	if err != nil {
		return err
	}
	c.conn, c.in.conn, c.kept = conn, conn, false
	c.br.Reset(&c.in)
	return nil
}

// Close closes the connection, if any; the next request makes a new one.
func (c *http1Client) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.in.conn = nil, nil
	}
}

// exchange writes the request and reads its final response (skipping 1xx
// interim responses), discarding the body.
func (c *http1Client) exchange(req *preparedRequest) (status int, keepAlive bool, err error) {
	if c.firstSent.IsZero() {
		c.firstSent = time.Now()
	}
	if _, err := c.conn.Write(req.raw); err != nil {
		return 0, false, err
	}
	// Let the other connections' goroutines write their requests before this
	// one reads: its response has then usually arrived, and the read does not
	// fail with EAGAIN and park first. Like wrk's event loop, this batches the
	// writes; at 64 connections it cut reads from 2.0 to 1.4 per request.
	runtime.Gosched()
	for {
		status, keepAlive, err = c.readResponse(req.head)
		if err != nil || status >= 200 || status == 101 {
			return status, keepAlive, err
		}
	}
}
