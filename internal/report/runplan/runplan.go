// Package runplan is the run plan: what one load-generator pod is told to do,
// written by the controller and read by the agent. It has no Kubernetes
// imports so the agent can use it, and it is the one place where what the
// agent accepts is checked: Parse validates every field, so the agent never
// trusts its input, and the agent's own command line is turned into a Plan
// and checked by the same Validate.
//
// The document is one line of JSON, for example
//
//	{"version":"dilo.example.org/runplan/v1",
//	 "target":{"address":"10.96.0.7:8080","host":"web.team-a.svc:8080","path":"/api","method":"GET"},
//	 "load":{"open":{"rate":200,"duration":"1m30s","concurrency":4}},"timeout":"10s",
//	 "start":{"file":"/etc/dilo/start/at","timeout":"10m0s"},"resultFile":"/dev/termination-log"}
//
// Durations are strings as time.ParseDuration reads them. Exactly one of
// load.closed and load.open is set. Decoding is strict: an unknown field is
// an error, so that a newer controller's plan is refused by an older agent
// rather than run without what it asked for. Later versions may add to the
// target headers, a body and TLS, a weighted mix of targets, and stages of
// load; this version has none of them.
package runplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

const (
	// Version is the document format written in "version"; Parse accepts only it.
	Version = "dilo.example.org/runplan/v1"
	// MaxEncodedLen bounds a plan: a pod annotation, and the file it is projected
	// into. The largest valid plan fits: a path of maxPathLen bytes and two file
	// names of maxFileLen, every byte of them one JSON writes in 6 ("\u003c"), are
	// 61,434 bytes (TestLargestPlanFits). A plan for a real run is a few hundred.
	MaxEncodedLen = 64 << 10
	// DefaultStartTimeout is how long the agent waits for its start time unless
	// told otherwise.
	DefaultStartTimeout = 10 * time.Minute
)

// Limits. They are looser than the API's (api/v1) so that the agent never
// refuses what the controller may build, but keep the arithmetic of the
// schedule and the connection count sane.
const (
	maxConcurrency = 10_000
	maxRate        = 1_000_000
	maxDuration    = 7 * 24 * time.Hour
	maxTimeout     = time.Hour
	maxMethodLen   = 32
	maxPathLen     = 8192
	maxHostLen     = 255 // the Host header: a DNS name is at most 253 bytes, plus the port
	maxFileLen     = 1024
)

// Plan is what one load-generator pod runs.
type Plan struct {
	// Version is the document format; Encode sets it, Parse accepts only Version.
	Version string `json:"version"`
	// Target is where requests go and what they are.
	Target Target `json:"target"`
	// Load is how many requests are sent, how fast and for how long.
	Load Load `json:"load"`
	// Timeout bounds each request, from its send to the end of its response.
	Timeout Duration `json:"timeout"`
	// Start, when set, makes the agent wait for a start time before sending.
	Start *Start `json:"start,omitempty"`
	// ResultFile is where the result document goes (the termination message);
	// "" writes it only to stdout.
	ResultFile string `json:"resultFile,omitempty"`
}

// Target is where requests go and the request itself.
type Target struct {
	// Address is HOST:PORT to dial: an IP address, dialled as it is ([IPv6] in
	// brackets), or a DNS name the agent resolves itself (a final dot keeps the
	// resolver off the search domains).
	Address string `json:"address"`
	// Host is the Host header, exactly: HOST[:PORT].
	Host string `json:"host"`
	// Path is the request target: '/' then printable ASCII without spaces.
	Path string `json:"path"`
	// Method is the HTTP method, upper-case letters.
	Method string `json:"method"`
}

// Load is exactly one of Closed and Open.
type Load struct {
	Closed *Closed `json:"closed,omitempty"`
	Open   *Open   `json:"open,omitempty"`
}

// Closed is the closed model: Concurrency connections, each sending its next
// request when the previous one ended, until Requests have been sent or
// Duration has passed, whichever comes first; at least one of them is set.
type Closed struct {
	Concurrency int      `json:"concurrency"`
	Requests    int64    `json:"requests,omitempty"` // 0: no cap
	Duration    Duration `json:"duration,omitempty"` // 0: no time limit
}

// Open is the open model: Rate requests started per second for Duration, on a
// fixed timetable, at most Concurrency of them in flight.
type Open struct {
	Rate        int      `json:"rate"`
	Duration    Duration `json:"duration"`
	Concurrency int      `json:"concurrency"`
}

// Concurrency is the load's connection count, whichever the model.
func (l Load) Concurrency() int {
	switch {
	case l.Closed != nil:
		return l.Closed.Concurrency
	case l.Open != nil:
		return l.Open.Concurrency
	}
	return 0
}

// Start is the start gate: the agent waits until File holds an RFC 3339
// instant, at most Timeout, then until that instant.
type Start struct {
	File    string   `json:"file"`
	Timeout Duration `json:"timeout"`
}

// Duration is a time.Duration written as a string ("1m30s").
type Duration time.Duration

// MarshalJSON writes d as time.Duration.String does.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string time.ParseDuration accepts.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"1m30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// FieldError is a plan that Validate refuses: Field is the offending field's
// JSON path ("load.open.rate"), Detail what is wrong with it.
type FieldError struct {
	Field  string
	Detail string
}

// Error is the field then the detail: "load.open.rate must be between ...".
func (e *FieldError) Error() string { return e.Field + " " + e.Detail }

// invalid returns a FieldError for field.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// Encode returns the plan's document, with Version set, after checking it
// as Parse will.
func (p Plan) Encode() ([]byte, error) {
	p.Version = Version
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("failed to encode run plan: %w", err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("failed to encode run plan: %w", err)
	}
	if len(b) > MaxEncodedLen {
		return nil, fmt.Errorf("failed to encode run plan: %d bytes, more than %d", len(b), MaxEncodedLen)
	}
	return b, nil
}

// Parse decodes a plan written by Encode, refusing unknown fields, trailing
// data and anything Validate refuses. Errors from Validate are *FieldError.
func Parse(doc []byte) (Plan, error) {
	if len(doc) > MaxEncodedLen {
		return Plan{}, fmt.Errorf("run plan is %d bytes, more than %d", len(doc), MaxEncodedLen)
	}
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return Plan{}, errors.New("run plan is empty")
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("run plan is not a plan document: %w", err)
	}
	if dec.More() {
		return Plan{}, errors.New("run plan has trailing data after the document")
	}
	if p.Version != Version {
		return Plan{}, invalid("version", "is %q, want %q", p.Version, Version)
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// Validate checks every field but Version, so that the request the agent
// serialises from the target is exactly one well-formed request and the load
// is within the limits. The first problem found is returned, a *FieldError.
func (p Plan) Validate() error {
	if err := p.Target.validate(); err != nil {
		return err
	}
	if err := p.Load.validate(); err != nil {
		return err
	}
	if p.Timeout <= 0 || time.Duration(p.Timeout) > maxTimeout {
		return invalid("timeout", "must be in (0, %v], got %v", maxTimeout, time.Duration(p.Timeout))
	}
	if s := p.Start; s != nil {
		if s.File == "" || len(s.File) > maxFileLen {
			return invalid("start.file", "must be a file name of 1 to %d bytes, got %d", maxFileLen, len(s.File))
		}
		if s.Timeout <= 0 {
			return invalid("start.timeout", "must be > 0, got %v", time.Duration(s.Timeout))
		}
	}
	if len(p.ResultFile) > maxFileLen {
		return invalid("resultFile", "must be at most %d bytes, got %d", maxFileLen, len(p.ResultFile))
	}
	return nil
}

// validate checks the method and path, which go verbatim into the request
// line, the Host header, and the address to dial.
func (t Target) validate() error {
	if t.Method == "" || len(t.Method) > maxMethodLen {
		return invalid("target.method", "must be 1 to %d upper-case letters, got %q", maxMethodLen, t.Method)
	}
	for i := 0; i < len(t.Method); i++ {
		if t.Method[i] < 'A' || t.Method[i] > 'Z' {
			return invalid("target.method", "must be upper-case letters only, got %q", t.Method)
		}
	}
	if t.Path == "" || t.Path[0] != '/' {
		return invalid("target.path", "must start with '/', got %q", t.Path)
	}
	if len(t.Path) > maxPathLen {
		return invalid("target.path", "is longer than %d bytes", maxPathLen)
	}
	for i := 0; i < len(t.Path); i++ {
		if t.Path[i] < 0x21 || t.Path[i] > 0x7e {
			return invalid("target.path", "may hold only printable ASCII without spaces (0x21-0x7E), got byte 0x%02x at %d", t.Path[i], i)
		}
	}
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil {
		return invalid("target.address", "must be HOST:PORT, got %q: %v", t.Address, err)
	}
	if !validHost(host) {
		return invalid("target.address", "host %q is not a host name or IP address", host)
	}
	if _, ok := parsePort(port); !ok {
		return invalid("target.address", "port %q is not a number from 1 to 65535", port)
	}
	if !validHostHeader(t.Host) {
		return invalid("target.host", "must be HOST[:PORT], a host name or IP address ([IPv6] in brackets) and an optional port from 1 to 65535, at most %d bytes, got %q",
			maxHostLen, t.Host)
	}
	return nil
}

// validate checks that exactly one model is set and its numbers are in range.
func (l Load) validate() error {
	switch {
	case l.Closed != nil && l.Open != nil:
		return invalid("load", "must set one of closed and open, not both")
	case l.Closed != nil:
		c := l.Closed
		switch {
		case c.Concurrency < 1 || c.Concurrency > maxConcurrency:
			return invalid("load.closed.concurrency", "must be between 1 and %d, got %d", maxConcurrency, c.Concurrency)
		case c.Requests < 0:
			return invalid("load.closed.requests", "must be >= 0, got %d", c.Requests)
		case c.Duration < 0 || time.Duration(c.Duration) > maxDuration:
			return invalid("load.closed.duration", "must be in [0, %v], got %v", maxDuration, time.Duration(c.Duration))
		case c.Requests == 0 && c.Duration == 0:
			return invalid("load.closed.requests", "or load.closed.duration is required")
		}
	case l.Open != nil:
		o := l.Open
		switch {
		case o.Concurrency < 1 || o.Concurrency > maxConcurrency:
			return invalid("load.open.concurrency", "must be between 1 and %d, got %d", maxConcurrency, o.Concurrency)
		case o.Rate < 1 || o.Rate > maxRate:
			return invalid("load.open.rate", "must be between 1 and %d, got %d", maxRate, o.Rate)
		case o.Duration == 0:
			return invalid("load.open.duration", "is required with load.open.rate")
		case o.Duration < 0 || time.Duration(o.Duration) > maxDuration:
			return invalid("load.open.duration", "must be in (0, %v], got %v", maxDuration, time.Duration(o.Duration))
		}
	default:
		return invalid("load", "must set one of closed and open")
	}
	return nil
}

// parsePort parses a port from 1 to 65535 written without sign or leading zeros.
func parsePort(s string) (uint16, bool) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != s {
		return 0, false
	}
	return uint16(p), true
}

// validHost accepts IP addresses and DNS names: labels of 1 to 63 letters,
// digits, '-' or '_', joined by single dots, with an optional final dot (a
// fully qualified name, which the resolver does not extend with search
// domains).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// validHostHeader accepts what a Host header may be: HOST[:PORT] as in a
// URL's authority, HOST being a DNS name, an IPv4 address or a bracketed IPv6
// address. Everything else, CR, LF and spaces included, could not go
// verbatim into the request head.
func validHostHeader(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	host, port, hasPort := h, "", false
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return false
		}
		if port, hasPort = strings.CutPrefix(h[end+1:], ":"); !hasPort && end+1 != len(h) {
			return false
		}
	} else {
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			host, port, hasPort = h[:i], h[i+1:], true
		}
		// A bare IPv6 address is not a Host header: it needs brackets.
		if strings.Contains(host, ":") || !validHost(host) {
			return false
		}
	}
	if hasPort {
		if _, ok := parsePort(port); !ok {
			return false
		}
	}
	return true
}
