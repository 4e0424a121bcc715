package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 client's sizes: what it offers the server and what it buffers.
const (
	// h2MaxFrame is the largest frame the client reads: the protocol's
	// default, which it does not raise.
	h2MaxFrame = 16 << 10
	// h2StreamWindow and h2ConnWindow are the flow-control windows the
	// client gives the server, per stream and for the connection, as
	// x/net/http2's transport does: large enough that a response is never
	// held up waiting for a WINDOW_UPDATE.
	h2StreamWindow = 4 << 20
	h2ConnWindow   = 1 << 30
	// h2DefaultWindow is the protocol's initial window, both ways, until
	// SETTINGS say otherwise.
	h2DefaultWindow = 65535
	// h2MaxStreamID is past the last stream id a connection may use.
	h2MaxStreamID = 1 << 31
	// h2WriteBufferSize holds a request's HEADERS and a full DATA frame, so
	// that an ordinary request goes out in one write.
	h2WriteBufferSize = 32 << 10
)

// http2Client is the fetcher of HTTP/2 over TLS connections from its dialer,
// which has made sure the server chose h2 by ALPN. Each worker has its own
// connection and sends one stream at a time on it, so that a concurrency of
// N is N connections of one stream each, as `h2load -c N -m 1` loads a
// server; a connection the server closed or sent GOAWAY on is replaced
// before the next request.
//
// Like the HTTP/1.1 client it runs in its worker's goroutine only: it writes
// a request's frames and flushes them in one write, then reads frames until
// its stream ends, answering SETTINGS and PING and giving back flow-control
// window on the way. A goroutine per connection or per stream, as
// x/net/http2's ClientConn has, would cost scheduling and a write from
// another goroutine per request, for concurrency a stream at a time never
// uses. Frames are written with x/net/http2's Framer and read here, so that
// DATA is skipped in the read buffer rather than copied out, and no frame is
// allocated. Header blocks are encoded with hpack without its dynamic
// table, so that each prepared request's block is the same on every
// connection and is encoded once; in steady state a request allocates
// nothing but what crypto/tls does.
type http2Client struct {
	dial      dialer
	timeout   time.Duration
	authority string // :authority, the plan's Host header
	conn      net.Conn
	kept      bool      // conn has waited idle, after a whole response or made before the start
	firstSent time.Time // when the first request began to be written; zero before
	in        countingReader
	br        *bufio.Reader
	bw        *bufio.Writer
	framer    *http2.Framer // writes only, into bw
	payload   []byte        // a frame's payload, other than DATA's
	dec       *hpack.Decoder
	enc       *hpack.Encoder
	encoded   bytes.Buffer
	// blocks are the header blocks of the prepared requests, encoded on
	// first use; the mix's requests live as long as the run.
	blocks map[*preparedRequest][]byte

	// The connection's state.
	nextID      uint32
	maxFrame    int   // the largest DATA payload the server takes
	peerWindow  int64 // the server's initial window for a new stream
	connSend    int64 // what may still be sent on the connection
	connUnacked int64 // DATA received and not yet given back by WINDOW_UPDATE
	goAway      bool  // the server sent GOAWAY: no new streams
	// inBlock is the stream whose header block has more CONTINUATION to
	// come (0: none); blockStatus is that block's :status, blockEnd
	// whether its HEADERS ended the stream.
	inBlock     uint32
	blockStatus int
	blockEnd    bool

	// The stream in flight.
	stream        uint32
	streamSend    int64 // what may still be sent on the stream
	streamUnacked int64
	status        int   // its final status, once its headers came
	ended         bool  // the server ended or reset it
	streamErr     error // why it ended without a response
}

// newHTTP2Client returns a client over connections from d, not yet
// connected, that sends requests with :authority authority and gives each
// timeout.
func newHTTP2Client(d dialer, authority string, timeout time.Duration) *http2Client {
	c := &http2Client{
		dial: d, timeout: timeout, authority: authority,
		payload: make([]byte, h2MaxFrame),
		blocks:  map[*preparedRequest][]byte{},
	}
	c.br = bufio.NewReaderSize(&c.in, h2MaxFrame)
	c.bw = bufio.NewWriterSize(nil, h2WriteBufferSize)
	c.framer = http2.NewFramer(c.bw, nil)
	c.enc = hpack.NewEncoder(&c.encoded)
	// Literals and the static table only: what the server's table holds
	// then never matters, and a block is the same on every connection.
	c.enc.SetMaxDynamicTableSizeLimit(0)
	return c
}

// Do sends req at now and reads the whole response, within c.timeout. It
// returns the status, or the class of the error when no response came. A
// request that fails on a kept connection that the failure left unusable
// (the server closed it, or sent GOAWAY below its stream, as the request
// went out) is retried once on a new connection, as the HTTP/1.1 client
// retries on a closed keep-alive connection.
func (c *http2Client) Do(now time.Time, req *preparedRequest) (status int, class errClass) {
	deadline := now.Add(c.timeout)
	block := c.block(req)
	for attempt := 0; ; attempt++ {
		if c.conn != nil && !c.ready(deadline) {
			c.Close()
		}
		if c.conn == nil {
			if err := c.connect(context.Background(), deadline); err != nil {
				return 0, classify(err)
			}
			if err := c.conn.SetDeadline(deadline); err != nil {
				c.Close()
				return 0, classify(err)
			}
		}
		kept := c.kept
		status, err := c.exchange(req, block)
		if err == nil {
			c.kept = true
			if !c.usable() {
				c.Close()
			}
			return status, classNone
		}
		class := classify(err)
		var streamErr http2.StreamError
		streamOnly := errors.As(err, &streamErr) && c.usable()
		if !streamOnly {
			// Only the server's reset of the one stream leaves the
			// connection as it was; after a timeout, it may be the
			// connection that hangs.
			c.Close()
		}
		if attempt == 0 && kept && class == classReset && !streamOnly {
			continue
		}
		return 0, class
	}
}

// Connect makes the connection of the next request, unless one is open, by
// deadline or until ctx ends, and sends the client's preface and SETTINGS
// at once rather than with that request: a server may close a connection
// that says nothing (Go's waits 10s for the preface). It waits idle until
// the request, so it counts as kept.
func (c *http2Client) Connect(ctx context.Context, deadline time.Time) error {
	if c.conn != nil {
		return nil
	}
	if err := c.connect(ctx, deadline); err != nil {
		return err
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.Close()
		return err
	}
	if err := c.bw.Flush(); err != nil {
		c.Close()
		return err
	}
	c.kept = true
	return nil
}

// BytesReceived is how many bytes the client has read, frames and their
// headers included, over all its connections.
func (c *http2Client) BytesReceived() int64 { return c.in.n }

// FirstSent is when the client began writing its first request.
func (c *http2Client) FirstSent() time.Time { return c.firstSent }

// Close closes the connection, if any; the next request makes a new one.
func (c *http2Client) Close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.in.conn = nil, nil
	}
}

// ready gives the kept connection the request's deadline, handles the
// frames that came after the last response (a GOAWAY, SETTINGS), and
// reports whether the connection may carry the request. The deadline comes
// first: handling a frame may send its acknowledgement.
func (c *http2Client) ready(deadline time.Time) bool {
	return c.conn.SetDeadline(deadline) == nil && c.readBuffered() == nil && c.usable()
}

// usable reports whether the connection may carry another stream.
func (c *http2Client) usable() bool {
	return c.conn != nil && !c.goAway && c.nextID < h2MaxStreamID
}

// connect makes a new connection by deadline, or until ctx ends, and queues
// the client's preface, SETTINGS and connection window, which go out with
// the first request: a client need not wait for the server's SETTINGS.
func (c *http2Client) connect(ctx context.Context, deadline time.Time) error {
	conn, err := c.dial.dial(ctx, deadline)
	if err != nil {
		return err
	}
	c.conn, c.in.conn, c.kept = conn, conn, false
	c.br.Reset(&c.in)
	c.bw.Reset(conn)
	// A new decoder: the server's dynamic table starts empty on a new
	// connection. Once per connection, not per request.
	c.dec = hpack.NewDecoder(4096, c.field)
	c.dec.SetMaxStringLength(maxHeaderFileBytes)
	c.nextID, c.maxFrame, c.peerWindow = 1, h2MaxFrame, h2DefaultWindow
	c.connSend, c.connUnacked, c.goAway, c.inBlock = h2DefaultWindow, 0, false, 0
	c.stream = 0
	c.bw.WriteString(http2.ClientPreface)
	c.framer.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1 << 20},
	)
	return c.framer.WriteWindowUpdate(0, h2ConnWindow-h2DefaultWindow)
}

// exchange sends req, with its header block block, on a new stream and
// reads frames until the stream ends, discarding the response's body.
func (c *http2Client) exchange(req *preparedRequest, block []byte) (int, error) {
	if c.firstSent.IsZero() {
		c.firstSent = time.Now()
	}
	c.stream, c.nextID = c.nextID, c.nextID+2
	c.streamSend, c.streamUnacked = c.peerWindow, 0
	c.status, c.ended, c.streamErr = 0, false, nil
	body := req.body
	if err := c.writeHeaders(block, len(body) == 0); err != nil {
		return 0, err
	}
	for len(body) > 0 && !c.ended {
		n := min(len(body), c.maxFrame, int(max(0, min(c.streamSend, c.connSend))))
		if n == 0 {
			// The window is shut until the server's WINDOW_UPDATE.
			if err := c.readFrame(); err != nil {
				return 0, err
			}
			continue
		}
		if err := c.framer.WriteData(c.stream, n == len(body), body[:n]); err != nil {
			return 0, err
		}
		body = body[n:]
		c.streamSend -= int64(n)
		c.connSend -= int64(n)
	}
	if len(body) > 0 && c.streamErr == nil {
		// The response came before the whole body went out: close our
		// half of the stream too.
		if err := c.framer.WriteRSTStream(c.stream, http2.ErrCodeCancel); err != nil {
			return 0, err
		}
	}
	if err := c.bw.Flush(); err != nil {
		return 0, err
	}
	// Let the other connections' goroutines write their requests before
	// this one reads, as the HTTP/1.1 client does: its response has then
	// usually arrived, and the writes are batched.
	runtime.Gosched()
	for !c.ended {
		if err := c.readFrame(); err != nil {
			return 0, err
		}
	}
	if c.streamErr != nil {
		return 0, c.streamErr
	}
	return c.status, nil
}

// writeHeaders queues the request's header block on the stream, in
// CONTINUATION frames after the HEADERS if it is larger than a frame.
func (c *http2Client) writeHeaders(block []byte, endStream bool) error {
	first := block[:min(len(block), c.maxFrame)]
	rest := block[len(first):]
	err := c.framer.WriteHeaders(http2.HeadersFrameParam{
		StreamID: c.stream, BlockFragment: first, EndStream: endStream, EndHeaders: len(rest) == 0,
	})
	for err == nil && len(rest) > 0 {
		n := min(len(rest), c.maxFrame)
		err = c.framer.WriteContinuation(c.stream, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	return err
}

// block returns req's header block, encoded once: the pseudo-headers, then
// its headers with their names in lower case, as HTTP/2 requires, then
// content-length when the HTTP/1.1 form sends one.
func (c *http2Client) block(req *preparedRequest) []byte {
	if b, ok := c.blocks[req]; ok {
		return b
	}
	c.encoded.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: ":method", Value: req.method})
	c.enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
	c.enc.WriteField(hpack.HeaderField{Name: ":authority", Value: c.authority})
	c.enc.WriteField(hpack.HeaderField{Name: ":path", Value: req.path})
	for _, h := range req.header {
		c.enc.WriteField(hpack.HeaderField{Name: strings.ToLower(h.name), Value: h.value})
	}
	if req.hasBody || req.method == "POST" || req.method == "PUT" || req.method == "PATCH" {
		c.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(req.body))})
	}
	b := bytes.Clone(c.encoded.Bytes())
	c.blocks[req] = b
	return b
}

// readBuffered handles the frames already read whole into the buffer,
// without waiting for more.
func (c *http2Client) readBuffered() error {
	for {
		n := c.br.Buffered()
		if n < 9 {
			return nil
		}
		head, _ := c.br.Peek(9)
		if 9+frameLength(head) > n {
			return nil
		}
		if err := c.readFrame(); err != nil {
			return err
		}
	}
}

// frameLength is the payload length in a frame's header.
func frameLength(head []byte) int {
	return int(head[0])<<16 | int(head[1])<<8 | int(head[2])
}

// readFrame reads one frame and handles it. Whatever the client has queued
// (acknowledgements, window) is sent first, since the server may be waiting
// for it.
func (c *http2Client) readFrame() error {
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	head, err := c.br.Peek(9)
	if err != nil {
		return err
	}
	length := frameLength(head)
	typ, flags := http2.FrameType(head[3]), http2.Flags(head[4])
	stream := binary.BigEndian.Uint32(head[5:]) & (1<<31 - 1)
	c.br.Discard(9)
	if length > h2MaxFrame {
		return http2.ConnectionError(http2.ErrCodeFrameSize)
	}
	if c.inBlock != 0 && (typ != http2.FrameContinuation || stream != c.inBlock) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if typ == http2.FrameData {
		// Counted and skipped in the buffer, never copied.
		if _, err := c.br.Discard(length); err != nil {
			return err
		}
		return c.data(stream, flags, length)
	}
	p := c.payload[:length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	switch typ {
	case http2.FrameHeaders:
		return c.headers(stream, flags, p)
	case http2.FrameContinuation:
		if c.inBlock == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return c.fragment(stream, flags.Has(http2.FlagContinuationEndHeaders), p)
	case http2.FrameRSTStream:
		if length != 4 {
			return http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		if stream == c.stream && !c.ended {
			c.ended = true
			c.streamErr = http2.StreamError{StreamID: stream, Code: http2.ErrCode(binary.BigEndian.Uint32(p))}
		}
	case http2.FrameSettings:
		return c.settings(flags, p)
	case http2.FramePing:
		if length != 8 {
			return http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		if !flags.Has(http2.FlagPingAck) {
			return c.framer.WritePing(true, [8]byte(p))
		}
	case http2.FrameGoAway:
		if length < 8 {
			return http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		c.goAway = true
		last := binary.BigEndian.Uint32(p) & (1<<31 - 1)
		if c.stream > last && !c.ended {
			// The server will not process the stream: it may be sent
			// again on a new connection.
			c.ended = true
			c.streamErr = http2.GoAwayError{LastStreamID: last, ErrCode: http2.ErrCode(binary.BigEndian.Uint32(p[4:]))}
		}
	case http2.FrameWindowUpdate:
		if length != 4 {
			return http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		n := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
		switch stream {
		case 0:
			c.connSend += n
		case c.stream:
			c.streamSend += n
		}
	case http2.FramePushPromise:
		return http2.ConnectionError(http2.ErrCodeProtocol) // the client's SETTINGS disabled push
	}
	// PRIORITY and frames of unknown types are ignored, as the protocol says.
	return nil
}

// data accounts for a DATA frame of length bytes on stream, giving the
// window back once half of it is used, so that it never closes.
func (c *http2Client) data(stream uint32, flags http2.Flags, length int) error {
	c.connUnacked += int64(length)
	if c.connUnacked >= h2ConnWindow/2 {
		if err := c.framer.WriteWindowUpdate(0, uint32(c.connUnacked)); err != nil {
			return err
		}
		c.connUnacked = 0
	}
	if stream != c.stream || c.ended {
		return nil
	}
	if flags.Has(http2.FlagDataEndStream) {
		c.ended = true
		if c.status == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol) // a body before any final headers
		}
		return nil
	}
	c.streamUnacked += int64(length)
	if c.streamUnacked >= h2StreamWindow/2 {
		if err := c.framer.WriteWindowUpdate(stream, uint32(c.streamUnacked)); err != nil {
			return err
		}
		c.streamUnacked = 0
	}
	return nil
}

// headers starts the header block of a HEADERS frame with payload p, past
// its padding and priority.
func (c *http2Client) headers(stream uint32, flags http2.Flags, p []byte) error {
	if flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 || int(p[0]) > len(p)-1 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		p = p[1 : len(p)-int(p[0])]
	}
	if flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		p = p[5:]
	}
	c.inBlock, c.blockStatus, c.blockEnd = stream, 0, flags.Has(http2.FlagHeadersEndStream)
	// Only :status is wanted, and pseudo-headers come first: field
	// disables the rest, so that they are decoded (the table must follow
	// them) without being made into strings.
	c.dec.SetEmitEnabled(true)
	return c.fragment(stream, flags.Has(http2.FlagHeadersEndHeaders), p)
}

// fragment decodes a piece of the header block of stream; at the block's
// end, it applies the block to the stream in flight.
func (c *http2Client) fragment(stream uint32, end bool, p []byte) error {
	if _, err := c.dec.Write(p); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if !end {
		return nil
	}
	c.inBlock = 0
	if err := c.dec.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if stream != c.stream || c.ended {
		return nil
	}
	if c.blockStatus >= 200 {
		c.status = c.blockStatus
	} // else an interim response (1xx), or trailers
	if c.blockEnd {
		c.ended = true
		if c.status == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
	}
	return nil
}

// field is the decoder's emitter: it keeps the block's :status, if it comes
// first, and stops the decoder emitting the block's other fields.
func (c *http2Client) field(f hpack.HeaderField) {
	if v := f.Value; f.Name == ":status" && len(v) == 3 &&
		'1' <= v[0] && v[0] <= '9' && '0' <= v[1] && v[1] <= '9' && '0' <= v[2] && v[2] <= '9' {
		c.blockStatus = int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
	}
	c.dec.SetEmitEnabled(false)
}

// settings applies the server's SETTINGS with payload p and acknowledges
// them.
func (c *http2Client) settings(flags http2.Flags, p []byte) error {
	if flags.Has(http2.FlagSettingsAck) {
		return nil
	}
	if len(p)%6 != 0 {
		return http2.ConnectionError(http2.ErrCodeFrameSize)
	}
	for ; len(p) > 0; p = p[6:] {
		val := binary.BigEndian.Uint32(p[2:])
		switch http2.SettingID(binary.BigEndian.Uint16(p)) {
		case http2.SettingInitialWindowSize:
			if val > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			// A change of the initial window moves the open stream's.
			c.streamSend += int64(val) - c.peerWindow
			c.peerWindow = int64(val)
		case http2.SettingMaxFrameSize:
			if val < 1<<14 || val >= 1<<24 {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			c.maxFrame = int(val)
		}
	}
	return c.framer.WriteSettingsAck()
}
