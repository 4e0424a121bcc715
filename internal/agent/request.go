package agent

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// preparedRequest is one request of the mix, made ready once so that sending
// it costs only the write. Its parts are kept beside the HTTP/1.1 bytes for
// fetchers that frame a request otherwise (HTTP/2).
type preparedRequest struct {
	index   int    // its place in the plan's mix, by which its results are named
	name    string // its name in the plan
	method  string
	path    string
	header  []headerField // in the order sent, after Host and before Content-Length
	body    []byte
	hasBody bool   // the plan gave a body, maybe empty: its length is sent
	raw     []byte // the whole HTTP/1.1 request
	head    bool   // HEAD: the response has no body, whatever its headers say
}

// headerField is a header as it is sent: its name as the plan spells it, and
// its value. The value may be a secret: it goes on the wire and nowhere else.
type headerField struct {
	name, value string
}

// maxHeaderFileBytes bounds what is read of a header's value file: more
// than any header value may hold (runplan checks the exact limit), so that a
// file of any size costs at most this much.
const maxHeaderFileBytes = 64 << 10

// defaultHeaders are the headers DiLO sends unless the plan sends one of the
// same name, in any case.
var defaultHeaders = []headerField{{"User-Agent", "dilo-agent"}, {"Accept", "*/*"}}

// prepareRequests prepares the plan's mix, in plan order, reading the values
// and bodies the plan keeps in files, each once. A file that cannot be read,
// a value that is not a header value or a body longer than
// runplan.MaxBodyBytes is a *runplan.FieldError naming the plan's field
// (requests[1].headers[0].file); it never quotes what the file holds, which
// may be a secret.
func prepareRequests(plan runplan.Plan) ([]preparedRequest, error) {
	common, err := readHeaders(plan.Headers, "headers")
	if err != nil {
		return nil, err
	}
	reqs := make([]preparedRequest, len(plan.Requests))
	for i, r := range plan.Requests {
		field := fmt.Sprintf("requests[%d]", i)
		own, err := readHeaders(r.Headers, field+".headers")
		if err != nil {
			return nil, err
		}
		body, err := readBody(r.Body, field+".body")
		if err != nil {
			return nil, err
		}
		reqs[i] = prepareHTTP1(plan.Target.Host, preparedRequest{
			index: i, name: r.Name, method: r.Method, path: r.Path,
			header: mergeHeaders(common, own), body: body, hasBody: r.Body != nil,
		})
	}
	return reqs, nil
}

// readHeaders returns the values of hs, the headers at field of the plan,
// reading those kept in files.
func readHeaders(hs []runplan.Header, field string) ([]headerField, error) {
	out := make([]headerField, len(hs))
	for i, h := range hs {
		out[i] = headerField{name: h.Name, value: h.Value}
		if h.File == "" {
			continue
		}
		at := fmt.Sprintf("%s[%d].file", field, i)
		b, err := readFile(h.File, maxHeaderFileBytes)
		if err != nil {
			return nil, fileError(at, err)
		}
		if out[i].value, err = runplan.CheckHeaderValue(b); err != nil {
			// CheckHeaderValue's message says what is wrong, not what the value is.
			return nil, &runplan.FieldError{Field: at, Detail: "does not hold a header value: " + err.Error()}
		}
	}
	return out, nil
}

// readBody returns the bytes of b, the body at field of the plan; nil when
// there is none.
func readBody(b *runplan.Body, field string) ([]byte, error) {
	switch {
	case b == nil:
		return nil, nil
	case b.File == "":
		return []byte(b.Text), nil
	}
	body, err := readFile(b.File, runplan.MaxBodyBytes)
	if err != nil {
		return nil, fileError(field+".file", err)
	}
	return body, nil
}

// errTooLong is a value file longer than its field may hold.
type errTooLong int

// Error says the limit.
func (n errTooLong) Error() string { return "is longer than " + strconv.Itoa(int(n)) + " bytes" }

// readFile reads the file name, of at most limit bytes; a longer one is an
// errTooLong.
func readFile(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLong(limit)
	}
	return b, nil
}

// fileError is the FieldError of a value file at field that readFile
// refused. An error of os names the file and the operation, never its bytes.
func fileError(field string, err error) error {
	if n, ok := err.(errTooLong); ok {
		return &runplan.FieldError{Field: field, Detail: n.Error()}
	}
	return &runplan.FieldError{Field: field, Detail: "could not be read: " + err.Error()}
}

// mergeHeaders is what a request sends besides Host and Content-Length:
// DiLO's User-Agent and Accept unless the plan sends a header of the same
// name; then the plan's common headers in their order, each replaced in its
// place by the request's own header of the same name, in any case (name
// spelled as the request spells it); then the request's other headers in
// their order.
func mergeHeaders(common, own []headerField) []headerField {
	merged := make([]headerField, 0, len(defaultHeaders)+len(common)+len(own))
	used := make([]bool, len(own))
	for _, c := range common {
		for j, o := range own {
			if strings.EqualFold(c.name, o.name) {
				c, used[j] = o, true
				break
			}
		}
		merged = append(merged, c)
	}
	for j, o := range own {
		if !used[j] {
			merged = append(merged, o)
		}
	}
	var defaults []headerField
	for _, d := range defaultHeaders {
		if !hasHeader(merged, d.name) {
			defaults = append(defaults, d)
		}
	}
	return append(defaults, merged...)
}

// hasHeader reports whether hs holds a header named name, in any case.
func hasHeader(hs []headerField, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.name, name) {
			return true
		}
	}
	return false
}

// prepareHTTP1 returns r with its HTTP/1.1 bytes, sent with Host host: the
// request line (method and path verbatim), Host, r's headers in order, then
// Content-Length when r has a body (or, without one, 0 for POST, PUT and
// PATCH, which some servers want said), then the body. runplan has validated
// every part, so each goes verbatim into the head.
func prepareHTTP1(host string, r preparedRequest) preparedRequest {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.method, r.path, host)
	for _, h := range r.header {
		fmt.Fprintf(&b, "%s: %s\r\n", h.name, h.value)
	}
	switch {
	case r.hasBody:
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	case r.method == "POST" || r.method == "PUT" || r.method == "PATCH":
		b.WriteString("Content-Length: 0\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.body)
	r.raw, r.head = b.Bytes(), r.method == "HEAD"
	return r
}
