// Package podreport is the result document one load-generator pod writes, and
// its checked decoding. It has no Kubernetes imports so the agent can use it;
// internal/report re-exports it and adds the merge into the API's Results.
//
// Two channels. The agent writes the same report twice, in two forms:
//   - the full document, by EncodeFull, as the last line of its stdout, which is
//     the pod's log: the totals and, for a mix of requests, the results of each
//     request (byRequest), every histogram at the precision it was recorded at
//     and every status code exact. The manager reads the pod's log and takes the
//     last line that starts with DocumentPrefix (LastDocument): the agent's
//     stderr shares the log, so other lines may come before and after it. The
//     agent prints it last and in one write, so that no other line splits it.
//   - the compact document, by Encode, as the container's termination message:
//     the totals only, marked "compact":true, folded and coarsened to fit the
//     4096 bytes Kubernetes keeps. The manager uses it when the log cannot be
//     read (the pod was deleted, its kubelet is unreachable, its log was
//     rotated); results merged from it have no per-request part.
//
// The split exists because a termination message cannot hold a histogram per
// request: at the default precision one histogram alone may take 78 KB. The
// log has no such limit, but the manager must still bound what it reads, so
// the full document has one too (MaxFullLen).
//
// The full document is one line of JSON, for example
//
//	{"v":2,"start":"2026-11-28T19:00:00.1Z","end":"2026-11-28T19:01:00.1Z","firstRequest":"2026-11-28T19:00:00.100041Z",
//	 "requests":1000,"errors":3,
//	 "errorsByClass":{"tls":1,"timeout":2},"codes":{"200":997},"bytesReceived":123456,"latency":"CAHk...",
//	 "tlsError":"tls: failed to verify certificate: x509: certificate signed by unknown authority",
//	 "byRequest":[{"name":"list","requests":800,"errors":2,"errorsByClass":{"timeout":2},"codes":{"200":798},"latency":"CAHk..."},
//	              {"name":"order","requests":200,"errors":1,"errorsByClass":{"tls":1},"codes":{"200":199},"latency":"CAHm..."}]}
//
// and the compact one the same totals without byRequest, with "compact":true
// after "v". latency is a histogram.Histogram in its text form. In a full
// document the byRequest entries add up to the totals exactly: requests,
// errors, errors by class and codes key by key, and their histograms merge
// into the totals' histogram. firstRequest, when the pod sent its first
// request, lies between start and end; it is absent when the pod sent none.
//
// A third use of the full document: a live snapshot ("live":true), which the
// agent serves while its load runs (runplan.Live). It is the report of what
// was sent so far, end being when it was taken; from one snapshot to the next
// every counter and histogram only grows. Its checks are the final
// document's.
//
// Bounds. Encode guarantees at most MaxEncodedLen bytes whatever the run, in
// two deterministic steps:
//   - status codes: if their JSON would take more than codesBudget bytes, the
//     most frequent codes are kept (ties: lowest code first) and the rest are
//     summed into per-class keys "1xx" ... "5xx";
//   - latency: the histogram is coarsened one precision step at a time until
//     the document fits. Its precision is encoded with it, and merging
//     reports of different precisions is exact at the lowest one.
//
// That holds because everything but the histogram is bounded (fixed fields,
// the error classes of Classes, codesBudget, tlsError at most MaxTLSErrorLen
// bytes that JSON at most doubles) and a histogram of precision 2 encodes
// within histogram.EncodedLenBound(2) = 1448 bytes. EncodeFull neither folds
// nor coarsens: its bound follows from at most MaxRequests entries, names of
// at most MaxNameLen bytes, histograms of at most the default precision
// (histogram.EncodedLenBound(histogram.DefaultPrecision) = 78888 bytes each)
// and the 500 status codes 100-599. TestBounds checks the arithmetic of both
// bounds; TestEncodeWorstCase and TestEncodeFullWorstCase encode maximal
// documents.
package podreport

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

const (
	// MaxEncodedLen is Kubernetes' limit on a container's termination message,
	// and so the most bytes Encode returns.
	MaxEncodedLen = 4096
	// MaxFullLen is the most bytes EncodeFull returns, and so what the manager
	// must be ready to read from a pod's log. A maximal full document (the
	// totals and MaxRequests entries, each with every histogram bucket filled
	// and all 500 status codes) takes at most 5,997,678 bytes, so 6 MiB holds
	// any report the agent can write. It stays well below the kubelet's default
	// containerLogMaxSize (10 MiB), so that the document and the agent's few
	// other lines never make the kubelet rotate the log it is read from. A
	// real run's document is a few KB per request.
	MaxFullLen = 6 << 20
	// MaxRequests is the most byRequest entries: as many requests as a run plan
	// may hold.
	MaxRequests = runplan.MaxRequests
	// MaxNameLen is the longest request name, a DNS label's.
	MaxNameLen = 63
	// MaxTLSErrorLen is the longest TLSError; Encode truncates a longer one.
	MaxTLSErrorLen = 256
	// Version is the document format version written in "v".
	Version = 2
	// DocumentPrefix is how every document starts, and how LastDocument finds
	// the full one among the lines of a pod's log.
	DocumentPrefix = `{"v":`
	// codesBudget bounds the JSON of the compact document's codes map, braces
	// included.
	codesBudget = 1280
	// fullPrecision is the highest histogram precision a full document holds:
	// the precision the agent records at. It keeps MaxFullLen's arithmetic.
	fullPrecision = histogram.DefaultPrecision
)

// Error classes of requests that got no HTTP response.
const (
	ClassTimeout = "timeout"
	ClassRefused = "refused"
	ClassReset   = "reset"
	ClassDNS     = "dns"
	// ClassTLS: the TLS handshake failed, the server's certificate was not
	// verified, or the server did not choose h2 by ALPN when HTTP/2 was asked
	// for. Report.TLSError says how the first one failed.
	ClassTLS   = "tls"
	ClassOther = "other"
	// ClassDropped: an open-model request never sent, every connection still busy
	// one timeout after the sending window (the target could not take the rate).
	ClassDropped = "dropped"
)

// Classes are all the error classes, in display order.
var Classes = []string{ClassTimeout, ClassRefused, ClassReset, ClassDNS, ClassTLS, ClassOther, ClassDropped}

// Report is one pod's result: the totals and, for a mix of requests, the
// results of each request.
type Report struct {
	// Version is the document format; Parse and ParseFull accept only Version.
	// It comes first so that every document starts with DocumentPrefix.
	Version int `json:"v"`
	// Compact says the report was read from a compact document (Encode): it
	// has no ByRequest, its codes may be folded into classes ("5xx") and its
	// histogram coarsened. Encode sets it; a report the agent builds has it false.
	Compact bool `json:"compact,omitempty"`
	// Start is when the pod started sending; End when its last request ended.
	// The merged rate is computed over the union of all pods' windows.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// FirstRequest is when the pod sent its first request (zero if it sent
	// none): the run's start skew is the spread of its pods' first requests.
	FirstRequest time.Time `json:"firstRequest,omitzero"`
	// Live says the report is a snapshot of a load still going (the agent's
	// snapshot endpoint): End is when it was taken, every counter and
	// histogram only grows from one snapshot to the next, and no request is
	// counted as dropped (that is known only once the load is over).
	Live bool `json:"live,omitempty"`
	// Requests is how many requests the pod attempted: Errors of them failed
	// (no response, or a status outside 200-399).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// ErrorsByClass counts requests with no response by Classes.
	ErrorsByClass map[string]int64 `json:"errorsByClass,omitempty"`
	// Codes counts responses by status code ("200"), or, in a compact report
	// only, by class ("5xx") for codes folded to fit the document.
	Codes map[string]int64 `json:"codes,omitempty"`
	// BytesReceived is the total of response bytes read from the network.
	BytesReceived int64 `json:"bytesReceived"`
	// Latency holds the latency of every response (not of requests without one).
	Latency *histogram.Histogram `json:"latency"`
	// TLSError is the message of the pod's first TLS failure (class "tls"), so
	// that the manager can say why the run failed. Encode and EncodeFull make it
	// valid UTF-8 without control characters and cut it to MaxTLSErrorLen bytes.
	TLSError string `json:"tlsError,omitempty"`
	// ByRequest are the results of each request of a mix, in plan order. The
	// agent fills it when the plan has more than one request; with one request
	// the totals are that request's. Only the full document carries it.
	ByRequest []RequestReport `json:"byRequest,omitempty"`
}

// RequestReport is one request's part of a pod's results. Its counters mean
// what the Report's do, for that request alone.
type RequestReport struct {
	// Name is the request's name in the plan: 1 to MaxNameLen bytes of
	// printable ASCII other than '"' and '\' (the plan's names are DNS labels).
	Name          string               `json:"name"`
	Requests      int64                `json:"requests"`
	Errors        int64                `json:"errors"`
	ErrorsByClass map[string]int64     `json:"errorsByClass,omitempty"`
	Codes         map[string]int64     `json:"codes,omitempty"`
	Latency       *histogram.Histogram `json:"latency"`
}

// Encode returns the compact document, for the termination message: at most
// MaxEncodedLen bytes, without ByRequest, folding status codes and coarsening
// the latency histogram as needed (see the package doc). It fails only when
// the report is inconsistent, ByRequest included.
func (r Report) Encode() ([]byte, error) {
	r, err := r.prepare()
	if err != nil {
		return nil, err
	}
	r.Compact, r.ByRequest = true, nil
	r.Codes = foldCodes(r.Codes, codesBudget)
	hist, cloned := r.Latency, false
	for {
		r.Latency = hist
		b, err := marshal(r)
		if err != nil {
			return nil, fmt.Errorf("failed to encode report: %w", err)
		}
		if len(b) <= MaxEncodedLen {
			return b, nil
		}
		if hist.Precision() == 1 {
			return nil, fmt.Errorf("failed to encode report: %d bytes even at the lowest precision", len(b))
		}
		if !cloned {
			hist, cloned = hist.Clone(), true
		}
		hist.Coarsen(hist.Precision() - 1)
	}
}

// EncodeFull returns the full document, for the last line of the agent's
// stdout: one line of at most MaxFullLen bytes holding everything the report
// does, nothing folded or coarsened. It fails when the report is
// inconsistent, compact (what Encode dropped cannot be restored), or holds a
// histogram finer than the agent records at.
func (r Report) EncodeFull() ([]byte, error) {
	if r.Compact {
		return nil, errors.New("failed to encode report: a compact report has lost its per-request part and exact codes")
	}
	r, err := r.prepare()
	if err != nil {
		return nil, err
	}
	if err := r.checkFullPrecision(); err != nil {
		return nil, fmt.Errorf("failed to encode report: %w", err)
	}
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("failed to encode report: %w", err)
	}
	if len(b) > MaxFullLen { // the bound makes this unreachable for a consistent report
		return nil, fmt.Errorf("failed to encode report: %d bytes, more than %d", len(b), MaxFullLen)
	}
	return b, nil
}

// prepare is the report as both encodings write it: the version set, times
// in UTC, the TLS error cleaned, a missing histogram empty; or why it is
// inconsistent.
func (r Report) prepare() (Report, error) {
	if r.Latency == nil {
		// An empty histogram at the agent's precision, so that merging it
		// does not coarsen the other pods' histograms.
		r.Latency = histogram.New(histogram.DefaultPrecision)
	}
	r.Version = Version
	r.Start, r.End, r.FirstRequest = r.Start.UTC(), r.End.UTC(), r.FirstRequest.UTC()
	r.TLSError = cleanTLSError(r.TLSError)
	if err := r.validate(); err != nil {
		return Report{}, fmt.Errorf("failed to encode report: %w", err)
	}
	return r, nil
}

// marshal is r's JSON without HTML escaping, which would take a TLS error's
// "<" or "&" to six bytes and break the size bounds.
func marshal(r Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Parse decodes a termination message written by Encode, checking that it is
// a consistent compact report of this version of at most MaxEncodedLen bytes.
func Parse(msg string) (Report, error) {
	if len(msg) > MaxEncodedLen {
		return Report{}, fmt.Errorf("report is %d bytes, more than the %d a termination message holds", len(msg), MaxEncodedLen)
	}
	r, err := decode(msg)
	if err != nil {
		return Report{}, err
	}
	if !r.Compact {
		return Report{}, errors.New(`report is not compact: a termination message holds the compact document ("compact":true)`)
	}
	if err := r.validate(); err != nil {
		return Report{}, fmt.Errorf("report is inconsistent: %w", err)
	}
	return r, nil
}

// ParseFull decodes a full document written by EncodeFull, as LastDocument
// finds it in a pod's log, checking that it is a consistent full report of
// this version of at most MaxFullLen bytes.
func ParseFull(doc string) (Report, error) {
	if len(doc) > MaxFullLen {
		return Report{}, fmt.Errorf("report is %d bytes, more than the %d of a full document", len(doc), MaxFullLen)
	}
	r, err := decode(doc)
	if err != nil {
		return Report{}, err
	}
	if r.Compact {
		return Report{}, errors.New("report is compact: the log holds the full document")
	}
	if err := r.checkFullPrecision(); err != nil {
		return Report{}, fmt.Errorf("report is inconsistent: %w", err)
	}
	if err := r.validate(); err != nil {
		return Report{}, fmt.Errorf("report is inconsistent: %w", err)
	}
	return r, nil
}

// decode reads one JSON document of this version, with every histogram present.
func decode(msg string) (Report, error) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return Report{}, errors.New("report is empty")
	}
	if msg[0] != '{' {
		if len(msg) > 80 {
			msg = msg[:80] + "..."
		}
		return Report{}, fmt.Errorf("report is not a result document: %q", msg)
	}
	var r Report
	dec := json.NewDecoder(strings.NewReader(msg))
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("report is not a result document: %w", err)
	}
	if dec.More() {
		return Report{}, errors.New("report has trailing data after the document")
	}
	if r.Version != Version {
		return Report{}, fmt.Errorf("report version %d, want %d", r.Version, Version)
	}
	if r.Start.Location() != time.UTC || r.End.Location() != time.UTC || r.FirstRequest.Location() != time.UTC {
		// Encode writes UTC; an offset could put a time outside the years
		// JSON writes once converted back.
		return Report{}, errors.New(`report start, end and firstRequest must be in UTC ("Z")`)
	}
	if r.Latency == nil {
		return Report{}, errors.New(`report has no "latency" histogram`)
	}
	for i, q := range r.ByRequest {
		if q.Latency == nil {
			return Report{}, fmt.Errorf(`report has no "latency" histogram for request %d (%q)`, i, q.Name)
		}
	}
	return r, nil
}

// LastDocument returns the last line of a pod's log that starts with
// DocumentPrefix, without its line ending: the full document the agent prints
// last, whatever stderr lines come before or after it. The log must be read
// without timestamps.
func LastDocument(log []byte) (string, bool) {
	for end := len(log); end >= 0; {
		start := bytes.LastIndexByte(log[:end], '\n') + 1
		line := bytes.TrimSuffix(log[start:end], []byte("\r"))
		if bytes.HasPrefix(line, []byte(DocumentPrefix)) {
			return string(line), true
		}
		end = start - 1
	}
	return "", false
}

// validate checks the report adds up: its totals by themselves, its TLS
// error, and the byRequest entries against the totals.
func (r Report) validate() error {
	if r.BytesReceived < 0 {
		return errors.New("negative counter")
	}
	if r.End.Before(r.Start) {
		return fmt.Errorf("end %s before start %s", r.End, r.Start)
	}
	if f := r.FirstRequest; !f.IsZero() && (f.Before(r.Start) || f.After(r.End)) {
		return fmt.Errorf("firstRequest %s outside start %s and end %s", f, r.Start, r.End)
	}
	if err := checkCounts(r.Requests, r.Errors, r.ErrorsByClass, r.Codes, r.Latency, r.Compact); err != nil {
		return err
	}
	if err := checkTLSError(r.TLSError); err != nil {
		return err
	}
	if r.TLSError != "" && r.ErrorsByClass[ClassTLS] == 0 {
		return fmt.Errorf("tlsError set without errors of class %q", ClassTLS)
	}
	if r.Compact && len(r.ByRequest) > 0 {
		return errors.New("a compact report has byRequest")
	}
	return r.checkByRequest()
}

// checkCounts checks one set of counters adds up: requests = responses +
// errors without response; errors = those + responses outside 200-399; one
// latency per response. Folded code keys ("5xx") are allowed when folded.
func checkCounts(requests, errs int64, classes, codes map[string]int64, latency *histogram.Histogram, folded bool) error {
	if requests < 0 || errs < 0 {
		return errors.New("negative counter")
	}
	var noResponse, responses, badResponses int64
	for class, n := range classes {
		if !slices.Contains(Classes, class) {
			return fmt.Errorf("unknown error class %q", class)
		}
		if n < 0 || noResponse > math.MaxInt64-n {
			return fmt.Errorf("bad count %d for error class %q", n, class)
		}
		noResponse += n
	}
	for code, n := range codes {
		ok, valid := codeClass(code)
		if !valid {
			return fmt.Errorf("bad status code key %q", code)
		}
		if !folded && strings.HasSuffix(code, "xx") {
			return fmt.Errorf("status code class %q in a full report: codes are folded only in the compact one", code)
		}
		if n < 0 || responses > math.MaxInt64-n {
			return fmt.Errorf("bad count %d for status code %q", n, code)
		}
		responses += n
		if !ok {
			badResponses += n
		}
	}
	if noResponse > math.MaxInt64-responses || requests != noResponse+responses {
		return fmt.Errorf("requests %d != %d responses + %d without response", requests, responses, noResponse)
	}
	if errs != noResponse+badResponses {
		return fmt.Errorf("errors %d != %d without response + %d responses outside 200-399", errs, noResponse, badResponses)
	}
	if latency != nil && latency.Count() != uint64(responses) {
		return fmt.Errorf("latency histogram holds %d values for %d responses", latency.Count(), responses)
	}
	return nil
}

// checkByRequest checks each byRequest entry by itself and that together they
// are the totals: requests, errors, errors by class and codes sum to the
// totals', and the histograms merge into the totals' (at the lower precision).
func (r Report) checkByRequest() error {
	if len(r.ByRequest) == 0 {
		return nil
	}
	if len(r.ByRequest) > MaxRequests {
		return fmt.Errorf("%d byRequest entries, more than %d", len(r.ByRequest), MaxRequests)
	}
	seen := make(map[string]bool, len(r.ByRequest))
	var requests, errs int64
	classes, codes := map[string]int64{}, map[string]int64{}
	var merged *histogram.Histogram
	for i, q := range r.ByRequest {
		if err := checkName(q.Name); err != nil {
			return fmt.Errorf("byRequest %d: %w", i, err)
		}
		if seen[q.Name] {
			return fmt.Errorf("byRequest %d: request name %q repeated", i, q.Name)
		}
		seen[q.Name] = true
		if q.Latency == nil {
			return fmt.Errorf("request %q has no latency histogram", q.Name)
		}
		if err := checkCounts(q.Requests, q.Errors, q.ErrorsByClass, q.Codes, q.Latency, false); err != nil {
			return fmt.Errorf("request %q: %w", q.Name, err)
		}
		var ok bool
		if requests, ok = sum(requests, q.Requests); !ok {
			return errors.New("byRequest requests overflow int64")
		}
		if errs, ok = sum(errs, q.Errors); !ok {
			return errors.New("byRequest errors overflow int64")
		}
		if !sumInto(classes, q.ErrorsByClass) || !sumInto(codes, q.Codes) {
			return errors.New("byRequest counts overflow int64")
		}
		if merged == nil {
			merged = q.Latency.Clone()
		} else if err := merged.Merge(q.Latency); err != nil {
			return fmt.Errorf("byRequest latency: %w", err)
		}
	}
	if requests != r.Requests {
		return fmt.Errorf("byRequest requests sum to %d, not the %d of the totals", requests, r.Requests)
	}
	if errs != r.Errors {
		return fmt.Errorf("byRequest errors sum to %d, not the %d of the totals", errs, r.Errors)
	}
	if k, a, b, differ := firstDifference(classes, r.ErrorsByClass); differ {
		return fmt.Errorf("byRequest errors of class %q sum to %d, not the %d of the totals", k, a, b)
	}
	if k, a, b, differ := firstDifference(codes, r.Codes); differ {
		return fmt.Errorf("byRequest codes %q sum to %d, not the %d of the totals", k, a, b)
	}
	total := r.Latency
	if total == nil {
		total = histogram.New(histogram.DefaultPrecision)
	}
	if total.Precision() < merged.Precision() {
		merged.Coarsen(total.Precision())
	} else if total.Precision() > merged.Precision() {
		total = total.Clone()
		total.Coarsen(merged.Precision())
	}
	if !merged.Equal(total) {
		return errors.New("byRequest latency histograms do not merge into the totals' histogram")
	}
	return nil
}

// checkFullPrecision refuses histograms finer than a full document holds.
func (r Report) checkFullPrecision() error {
	if r.Latency != nil && r.Latency.Precision() > fullPrecision {
		return fmt.Errorf("latency histogram of precision %d, more than the %d of a full document", r.Latency.Precision(), fullPrecision)
	}
	for _, q := range r.ByRequest {
		if q.Latency != nil && q.Latency.Precision() > fullPrecision {
			return fmt.Errorf("request %q: latency histogram of precision %d, more than the %d of a full document", q.Name, q.Latency.Precision(), fullPrecision)
		}
	}
	return nil
}

// checkName checks a request name: 1 to MaxNameLen bytes that JSON writes as
// they are, which keeps the size bound without restating the plan's rule.
func checkName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("request name %q is not 1 to %d bytes", name, MaxNameLen)
	}
	for i := range len(name) {
		if c := name[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return fmt.Errorf("request name %q holds a character outside printable ASCII, '\"' or '\\'", name)
		}
	}
	return nil
}

// cleanTLSError is s as the documents carry it: invalid UTF-8 and control
// characters replaced, and cut at a character boundary to MaxTLSErrorLen
// bytes, "..." included. JSON then writes it in at most twice its length.
func cleanTLSError(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, s)
	if len(s) <= MaxTLSErrorLen {
		return s
	}
	cut := MaxTLSErrorLen - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// checkTLSError refuses a TLS error Encode would not have written.
func checkTLSError(s string) error {
	if len(s) > MaxTLSErrorLen {
		return fmt.Errorf("tlsError is %d bytes, more than %d", len(s), MaxTLSErrorLen)
	}
	if cleanTLSError(s) != s {
		return errors.New("tlsError holds control characters or invalid UTF-8")
	}
	return nil
}

// sum is a+b, and whether it fits in an int64 (both are non-negative).
func sum(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// sumInto adds the counts of from into into, reporting false on overflow.
func sumInto(into, from map[string]int64) bool {
	for k, n := range from {
		s, ok := sum(into[k], n)
		if !ok {
			return false
		}
		into[k] = s
	}
	return true
}

// firstDifference is the lowest key whose counts differ between a and b, a
// missing key counting as 0.
func firstDifference(a, b map[string]int64) (key string, na, nb int64, differ bool) {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			return k, a[k], b[k], true
		}
	}
	return "", 0, 0, false
}

// codeClass says whether key is a status code ("100"-"599") or a folded class
// ("1xx"-"5xx"), and whether it counts as success (200-399).
func codeClass(key string) (success, valid bool) {
	if len(key) != 3 || key[0] < '1' || key[0] > '5' {
		return false, false
	}
	if key[1:] != "xx" {
		if key[1] < '0' || key[1] > '9' || key[2] < '0' || key[2] > '9' {
			return false, false
		}
	}
	return key[0] == '2' || key[0] == '3', true
}

// IsSuccess reports whether an HTTP status counts as a success (200-399).
func IsSuccess(status int) bool { return status >= 200 && status <= 399 }

// CodeKey is the Codes key of a status code.
func CodeKey(status int) string { return strconv.Itoa(status) }

// foldCodes keeps the most frequent exact codes whose JSON fits in budget
// bytes and sums the others into their "Nxx" class. Deterministic.
func foldCodes(codes map[string]int64, budget int) map[string]int64 {
	if jsonLen(codes) <= budget {
		return codes
	}
	type entry struct {
		key string
		n   int64
	}
	out := map[string]int64{}
	var exact []entry
	for k, n := range codes {
		if strings.HasSuffix(k, "xx") {
			out[k] += n
		} else {
			exact = append(exact, entry{k, n})
		}
	}
	slices.SortFunc(exact, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.key, b.key))
	})
	// Reserve room for the five class keys with maximal counts.
	const classEntry = len(`"5xx":9223372036854775807,`)
	room := budget - 2 - 5*classEntry
	for _, e := range exact {
		size := len(`"":,`) + len(e.key) + len(strconv.FormatInt(e.n, 10))
		if size <= room {
			out[e.key] = e.n
			room -= size
		} else {
			out[e.key[:1]+"xx"] += e.n
		}
	}
	return out
}

// jsonLen is the length of m's JSON encoding.
func jsonLen(m map[string]int64) int {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(m)
	return b.Len() - 1
}
