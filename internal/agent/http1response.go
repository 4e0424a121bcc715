package agent

import (
	"bufio"
	"errors"
	"io"
	"math"
)

// errMalformed is a response the parser cannot follow; it counts as classOther.
var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one response, to a HEAD request if head: the status
// line, the headers it needs (Content-Length, Transfer-Encoding: chunked,
// Connection), and the body, which it discards.
func (c *http1Client) readResponse(head bool) (status int, keepAlive bool, err error) {
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
	case head || status < 200 || status == 204 || status == 304:
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
func (c *http1Client) discardChunked() error {
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
func (c *http1Client) skipLine() error {
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
