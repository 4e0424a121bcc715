package agent

import (
	"bytes"
	"fmt"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// preparedRequest is one request of the mix, made ready once so that sending
// it costs only the write.
type preparedRequest struct {
	index int    // its place in the plan's mix, by which its results will be named
	raw   []byte // the whole HTTP/1.1 request
	head  bool   // HEAD: the response has no body, whatever its headers say
}

// prepareHTTP1 serialises the request of t, which runplan has validated: the
// method and path go verbatim into the request line, the Host header into
// the head.
func prepareHTTP1(index int, t runplan.Target) preparedRequest {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n", t.Method, t.Path, t.Host)
	if t.Method == "POST" || t.Method == "PUT" || t.Method == "PATCH" {
		b.WriteString("Content-Length: 0\r\n") // no body; some servers want the length said
	}
	b.WriteString("\r\n")
	return preparedRequest{index: index, raw: b.Bytes(), head: t.Method == "HEAD"}
}
