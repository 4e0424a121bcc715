// Package runplan is the run plan: what one load-generator pod is told to do,
// written by the controller and read by the agent. It has no Kubernetes
// imports so the agent can use it, and it is the one place where what the
// agent accepts is checked: Parse validates every field, so the agent never
// trusts its input, and a plan built by hand (for benchmarks) is checked by the
// same Validate.
//
// The document is one line of JSON, for example
//
//	{"version":"dilo.example.org/runplan/v2",
//	 "target":{"address":"10.96.0.7:8443","host":"web.team-a.svc:8443",
//	           "tls":{"serverName":"web.team-a.svc","caFile":"/etc/dilo/values/0"}},
//	 "headers":[{"name":"Authorization","file":"/etc/dilo/values/1"}],
//	 "requests":[{"name":"list","weight":4,"method":"GET","path":"/items"},
//	             {"name":"order","weight":1,"method":"POST","path":"/orders",
//	              "headers":[{"name":"Content-Type","value":"application/json"}],
//	              "body":{"file":"/etc/dilo/values/2"}}],
//	 "load":{"open":{"concurrency":4,"stages":[{"duration":"1m0s","target":200},{"duration":"5m0s","target":200}]}},
//	 "timeout":"10s","start":{"file":"/etc/dilo/start/at","timeout":"10m0s"},"resultFile":"/dev/termination-log",
//	 "live":{"port":9090},"stop":{"file":"/etc/dilo/start/stop"}}
//
// Durations are strings as time.ParseDuration reads them. Exactly one of
// load.closed and load.open is set. Values that may be secret never appear in a
// plan: a header's value or a body is inline (value, text) only when the
// LoadTest holds it inline; otherwise the plan names the file (file) of a
// Secret or ConfigMap volume the agent reads it from when it starts. Decoding is
// strict: an unknown field is an error, so that a newer controller's plan is
// refused by an older agent rather than run without what it asked for.
package runplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/dilo-operator/dilo/internal/httpfield"
)

const (
	// Version is the document format written in "version"; Parse accepts only it.
	Version = "dilo.example.org/runplan/v2"
	// MaxEncodedLen bounds a plan: a pod annotation, and the file it is projected
	// into (a pod's annotations may hold 256 KiB in all). The plan of a LoadTest the
	// webhook admitted fits: a LoadTest is at most 64 KiB encoded, and its plan holds
	// its request fields in the same JSON, with a few bytes more per field. A plan
	// for a real run is a few hundred bytes.
	MaxEncodedLen = 192 << 10
	// DefaultStartTimeout is how long the agent waits for its start time unless
	// told otherwise.
	DefaultStartTimeout = 10 * time.Minute
	// MaxRequests bounds the mix: the result document has room for as many.
	MaxRequests = 64
	// MaxBodyBytes bounds a body, inline or read from a file: a ConfigMap or
	// Secret holds at most 1 MiB.
	MaxBodyBytes = 1 << 20
)

// Limits. They are looser than the API's (api/v1) so that the agent never
// refuses what the controller may build, but keep the arithmetic of the
// schedule, the connection count and the request mix sane.
const (
	maxConcurrency    = 10_000
	maxRate           = 1_000_000
	maxDuration       = 7 * 24 * time.Hour
	maxTimeout        = time.Hour
	maxMethodLen      = 32
	maxPathLen        = 8192
	maxHostLen        = 255 // the Host header: a DNS name is at most 253 bytes, plus the port
	maxFileLen        = 1024
	maxNameLen        = 63
	maxWeight         = 1_000_000
	maxHeaders        = 64
	maxHeaderNameLen  = 256
	maxHeaderValueLen = 16 << 10
	maxStages         = 64
)

// Plan is what one load-generator pod runs.
type Plan struct {
	// Version is the document format; Encode sets it, Parse accepts only Version.
	Version string `json:"version"`
	// Target is where requests go.
	Target Target `json:"target"`
	// Headers are sent with every request; a request's own header of the same
	// name (in any case) replaces one of these.
	Headers []Header `json:"headers,omitempty"`
	// Requests is the mix: request r is sent Weight(r) times in every cycle of
	// the sum of the weights. One request is the plain case.
	Requests []Request `json:"requests"`
	// Load is how many requests are sent, how fast and for how long.
	Load Load `json:"load"`
	// Timeout bounds each request, from its send to the end of its response.
	Timeout Duration `json:"timeout"`
	// Start, when set, makes the agent wait for a start time before sending.
	Start *Start `json:"start,omitempty"`
	// ResultFile is where the result document goes (the termination message);
	// "" writes it only to stdout.
	ResultFile string `json:"resultFile,omitempty"`
	// Live, when set, makes the agent serve its results so far, read-only.
	Live *Live `json:"live,omitempty"`
	// Stop, when set, is how the agent is told to stop sending early.
	Stop *Stop `json:"stop,omitempty"`
}

// Live is the agent's snapshot endpoint: plain HTTP on Port, on every address
// of the pod, serving GET /snapshot (the full result document of the load so
// far) and GET /metrics (the same in Prometheus' text format), nothing else.
type Live struct {
	Port int `json:"port"`
}

// Stop is the stop file, an absolute path: once it holds an RFC 3339 instant
// (the pod's example.org/stop-at annotation, projected by the downward API),
// the agent stops sending at that instant, or at once if it has passed, and
// reports what it sent.
type Stop struct {
	File string `json:"file"`
}

// Target is where requests go and how the connection is made.
type Target struct {
	// Address is HOST:PORT to dial: an IP address, dialled as it is ([IPv6] in
	// brackets), or a DNS name the agent resolves itself (a final dot keeps the
	// resolver off the search domains).
	Address string `json:"address"`
	// Host is the Host header (HTTP/2's :authority), exactly: HOST[:PORT].
	Host string `json:"host"`
	// TLS, when set, makes the connections TLS.
	TLS *TLS `json:"tls,omitempty"`
}

// TLS is how the agent speaks TLS: the server's certificate must be valid for
// ServerName (also sent as SNI) and chain to a CA of CAFile, unless
// InsecureSkipVerify. HTTP2 offers only h2 by ALPN and speaks HTTP/2.
type TLS struct {
	ServerName         string `json:"serverName"`
	CAFile             string `json:"caFile,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
	HTTP2              bool   `json:"http2,omitempty"`
}

// Request is one request of the mix.
type Request struct {
	// Name identifies the request in the results.
	Name string `json:"name"`
	// Weight is its share of the mix, relative to the others'.
	Weight int `json:"weight"`
	// Method is the HTTP method, upper-case letters.
	Method string `json:"method"`
	// Path is the request target: '/' then printable ASCII without spaces.
	Path string `json:"path"`
	// Headers are added to the plan's; one of the same name replaces it.
	Headers []Header `json:"headers,omitempty"`
	// Body, when set, is sent with Content-Length.
	Body *Body `json:"body,omitempty"`
}

// Header is a header field: its value inline or in a file, exactly one.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	// File holds the value; the agent reads it at start, drops a final newline
	// (LF or CRLF), and checks it as it checks an inline value.
	File string `json:"file,omitempty"`
}

// Body is a request body: inline text, or a file's bytes, exactly one. An
// empty Text is an empty body.
type Body struct {
	Text string `json:"text,omitempty"`
	File string `json:"file,omitempty"`
}

// Load is exactly one of Closed and Open.
type Load struct {
	Closed *Closed `json:"closed,omitempty"`
	Open   *Open   `json:"open,omitempty"`
}

// Closed is the closed model: connections, each sending its next request when
// the previous one ended. Without stages, Concurrency connections until
// Requests have been sent or Duration has passed, whichever comes first (at
// least one of them set). With stages, the number of connections follows them
// (Stage.Target connections at each stage's end, linear in between) for their
// total duration, with Requests as an optional cap; Concurrency is then the
// most connections any stage reaches, and Duration is unset.
type Closed struct {
	Concurrency int      `json:"concurrency"`
	Requests    int64    `json:"requests,omitempty"` // 0: no cap
	Duration    Duration `json:"duration,omitempty"` // 0: no time limit
	Stages      []Stage  `json:"stages,omitempty"`
}

// Open is the open model: requests started on a fixed timetable, at most
// Concurrency of them in flight. Without stages, Rate per second for Duration.
// With stages, the rate follows them (Stage.Target requests per second at each
// stage's end, linear in between), and Rate and Duration are unset.
type Open struct {
	Rate        int      `json:"rate,omitempty"`
	Duration    Duration `json:"duration,omitempty"`
	Concurrency int      `json:"concurrency"`
	Stages      []Stage  `json:"stages,omitempty"`
}

// Stage is one stage of a load that changes: from the previous stage's Target
// (0 before the first) to its own, linearly over Duration; a stage of 0 jumps.
type Stage struct {
	Duration Duration `json:"duration"`
	Target   int      `json:"target"`
}

// StagesDuration is the total duration of stages.
func StagesDuration(stages []Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		d += time.Duration(s.Duration)
	}
	return d
}

// Concurrency is the load's connection count, whichever the model: with
// stages of connections, the most of them.
func (l Load) Concurrency() int {
	switch {
	case l.Closed != nil:
		return l.Closed.Concurrency
	case l.Open != nil:
		return l.Open.Concurrency
	}
	return 0
}

// Start is the start gate: the agent waits until File (an absolute path)
// holds an RFC 3339 instant, at most Timeout, then until that instant.
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
	// Without HTML escaping, '<' takes one byte, not six: a plan then takes
	// about as many bytes as the LoadTest's JSON it comes from.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("failed to encode run plan: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
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

// Validate checks every field but Version, so that every request the agent
// serialises is exactly one well-formed request and the load is within the
// limits. The first problem found is returned, a *FieldError. Values in files
// are checked by the agent when it reads them (CheckHeaderValue).
func (p Plan) Validate() error {
	if err := p.Target.validate(); err != nil {
		return err
	}
	if err := validateHeaders(p.Headers, "headers"); err != nil {
		return err
	}
	if err := validateRequests(p.Requests); err != nil {
		return err
	}
	if err := p.Load.validate(); err != nil {
		return err
	}
	if p.Timeout <= 0 || time.Duration(p.Timeout) > maxTimeout {
		return invalid("timeout", "must be in (0, %v], got %v", maxTimeout, time.Duration(p.Timeout))
	}
	if s := p.Start; s != nil {
		if err := validateInstantFile(s.File, "start.file"); err != nil {
			return err
		}
		if s.Timeout <= 0 {
			return invalid("start.timeout", "must be > 0, got %v", time.Duration(s.Timeout))
		}
	}
	if len(p.ResultFile) > maxFileLen {
		return invalid("resultFile", "must be at most %d bytes, got %d", maxFileLen, len(p.ResultFile))
	}
	if l := p.Live; l != nil && (l.Port < 1 || l.Port > 65535) {
		return invalid("live.port", "must be between 1 and 65535, got %d", l.Port)
	}
	if s := p.Stop; s != nil {
		if err := validateInstantFile(s.File, "stop.file"); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the address to dial, the Host header and the TLS settings.
func (t Target) validate() error {
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
	if tls := t.TLS; tls != nil {
		if !validHost(tls.ServerName) || strings.HasSuffix(tls.ServerName, ".") {
			return invalid("target.tls.serverName", "must be a host name or IP address without a final dot, got %q", tls.ServerName)
		}
		switch {
		case tls.CAFile == "" && !tls.InsecureSkipVerify:
			return invalid("target.tls.caFile", "is required unless target.tls.insecureSkipVerify")
		case tls.CAFile != "" && tls.InsecureSkipVerify:
			return invalid("target.tls.caFile", "and target.tls.insecureSkipVerify exclude each other")
		case tls.CAFile != "":
			if err := validateFile(tls.CAFile, "target.tls.caFile"); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateRequests checks the mix: 1 to MaxRequests requests of distinct names,
// each of which the agent can serialise verbatim.
func validateRequests(rs []Request) error {
	if len(rs) == 0 || len(rs) > MaxRequests {
		return invalid("requests", "must hold 1 to %d requests, got %d", MaxRequests, len(rs))
	}
	seen := make(map[string]bool, len(rs))
	for i, r := range rs {
		at := func(f string) string { return fmt.Sprintf("requests[%d].%s", i, f) }
		if !validName(r.Name) {
			return invalid(at("name"), "must be 1 to %d lower-case letters, digits and '-', starting and ending with a letter or digit, got %q", maxNameLen, r.Name)
		}
		if seen[r.Name] {
			return invalid(at("name"), "%q is the name of an earlier request", r.Name)
		}
		seen[r.Name] = true
		if r.Weight < 1 || r.Weight > maxWeight {
			return invalid(at("weight"), "must be between 1 and %d, got %d", maxWeight, r.Weight)
		}
		if r.Method == "" || len(r.Method) > maxMethodLen {
			return invalid(at("method"), "must be 1 to %d upper-case letters, got %q", maxMethodLen, r.Method)
		}
		for j := 0; j < len(r.Method); j++ {
			if r.Method[j] < 'A' || r.Method[j] > 'Z' {
				return invalid(at("method"), "must be upper-case letters only, got %q", r.Method)
			}
		}
		if r.Path == "" || r.Path[0] != '/' {
			return invalid(at("path"), "must start with '/', got %q", r.Path)
		}
		if len(r.Path) > maxPathLen {
			return invalid(at("path"), "is longer than %d bytes", maxPathLen)
		}
		for j := 0; j < len(r.Path); j++ {
			if r.Path[j] < 0x21 || r.Path[j] > 0x7e {
				return invalid(at("path"), "may hold only printable ASCII without spaces (0x21-0x7E), got byte 0x%02x at %d", r.Path[j], j)
			}
		}
		if err := validateHeaders(r.Headers, at("headers")); err != nil {
			return err
		}
		if b := r.Body; b != nil {
			switch {
			case b.Text != "" && b.File != "":
				return invalid(at("body"), "must set one of text and file, not both")
			case len(b.Text) > MaxBodyBytes:
				return invalid(at("body.text"), "must be at most %d bytes, got %d", MaxBodyBytes, len(b.Text))
			case b.File != "":
				if err := validateFile(b.File, at("body.file")); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// validateHeaders checks a list of headers: names the agent may send, once each
// (in any case), and each value inline or in a file.
func validateHeaders(hs []Header, field string) error {
	if len(hs) > maxHeaders {
		return invalid(field, "must hold at most %d headers, got %d", maxHeaders, len(hs))
	}
	for i, h := range hs {
		at := func(f string) string { return fmt.Sprintf("%s[%d].%s", field, i, f) }
		if len(h.Name) > maxHeaderNameLen {
			return invalid(at("name"), "must be at most %d bytes, got %d", maxHeaderNameLen, len(h.Name))
		}
		if msg := httpfield.CheckName(h.Name); msg != "" {
			return invalid(at("name"), "%s, got %q", msg, h.Name)
		}
		for _, earlier := range hs[:i] {
			if strings.EqualFold(earlier.Name, h.Name) {
				return invalid(at("name"), "%q is the name of an earlier header", h.Name)
			}
		}
		switch {
		case h.Value != "" && h.File != "":
			return invalid(at("value"), "and %s exclude each other", at("file"))
		case h.File != "":
			if err := validateFile(h.File, at("file")); err != nil {
				return err
			}
		default:
			if len(h.Value) > maxHeaderValueLen {
				return invalid(at("value"), "must be at most %d bytes, got %d", maxHeaderValueLen, len(h.Value))
			}
			if msg := httpfield.CheckValue(h.Value); msg != "" {
				return invalid(at("value"), "%s", msg)
			}
		}
	}
	return nil
}

// CheckHeaderValue turns the bytes of a header's file into its value: a final
// LF or CRLF dropped (files usually end with one), then checked as an inline
// value is. The error does not quote the value: it may be a secret.
func CheckHeaderValue(b []byte) (string, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > maxHeaderValueLen {
		return "", fmt.Errorf("is %d bytes, more than %d", len(b), maxHeaderValueLen)
	}
	if msg := httpfield.CheckValue(string(b)); msg != "" {
		return "", errors.New(msg)
	}
	return string(b), nil
}

// validateFile checks a file name the plan points the agent at.
func validateFile(name, field string) error {
	if name == "" || len(name) > maxFileLen {
		return invalid(field, "must be a file name of 1 to %d bytes, got %d", maxFileLen, len(name))
	}
	return nil
}

// validateInstantFile checks the name of a file the agent polls for an
// instant (the start and stop files, annotations the downward API projects):
// an absolute path as path.Clean writes it. The agent reads it again and
// again while it runs, from whatever its working directory is, so a relative
// or roundabout name could only be a mistake.
func validateInstantFile(name, field string) error {
	if err := validateFile(name, field); err != nil {
		return err
	}
	if !path.IsAbs(name) || path.Clean(name) != name {
		return invalid(field, "must be an absolute path without . or .. elements, repeated or final slashes, got %q", name)
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
		case len(c.Stages) > 0:
			if c.Duration != 0 {
				return invalid("load.closed.duration", "must be unset with load.closed.stages, which say how long")
			}
			return validateStages(c.Stages, "load.closed.stages", 0, c.Concurrency)
		case c.Requests == 0 && c.Duration == 0:
			return invalid("load.closed.requests", "or load.closed.duration is required")
		}
	case l.Open != nil:
		o := l.Open
		switch {
		case o.Concurrency < 1 || o.Concurrency > maxConcurrency:
			return invalid("load.open.concurrency", "must be between 1 and %d, got %d", maxConcurrency, o.Concurrency)
		case len(o.Stages) > 0:
			if o.Rate != 0 || o.Duration != 0 {
				return invalid("load.open.rate", "and load.open.duration must be unset with load.open.stages, which say how fast and how long")
			}
			return validateStages(o.Stages, "load.open.stages", 0, maxRate)
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

// validateStages checks stages: at most maxStages, targets in [lo, hi],
// durations not negative and in all more than 0 and at most maxDuration.
func validateStages(stages []Stage, field string, lo, hi int) error {
	if len(stages) > maxStages {
		return invalid(field, "must hold at most %d stages, got %d", maxStages, len(stages))
	}
	var total time.Duration
	for i, s := range stages {
		if s.Duration < 0 || time.Duration(s.Duration) > maxDuration {
			return invalid(fmt.Sprintf("%s[%d].duration", field, i), "must be in [0, %v], got %v", maxDuration, time.Duration(s.Duration))
		}
		if s.Target < lo || s.Target > hi {
			return invalid(fmt.Sprintf("%s[%d].target", field, i), "must be between %d and %d, got %d", lo, hi, s.Target)
		}
		total += time.Duration(s.Duration)
	}
	if total <= 0 || total > maxDuration {
		return invalid(field, "must last in all (0, %v], got %v", maxDuration, total)
	}
	return nil
}

// validName accepts a request's name: a DNS label.
func validName(n string) bool {
	if n == "" || len(n) > maxNameLen || n[0] == '-' || n[len(n)-1] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
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
