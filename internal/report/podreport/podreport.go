// Package podreport is the result document one load-generator pod writes to
// its termination message, and its checked decoding. It has no Kubernetes
// imports so the agent can use it; internal/report re-exports it and adds the
// merge into the API's Results.
//
// The document is one line of JSON, for example
//
//	{"v":1,"start":"2026-11-28T19:00:00.1Z","end":"2026-11-28T19:01:00.1Z","requests":1000,"errors":2,
//	 "errorsByClass":{"timeout":2},"codes":{"200":998},"bytesReceived":123456,"latency":"CAHk..."}
//
// where latency is a histogram.Histogram in its text form. Encode guarantees
// at most MaxEncodedLen bytes whatever the run, in two deterministic steps:
//   - status codes: if their JSON would take more than codesBudget bytes, the
//     most frequent codes are kept (ties: lowest code first) and the rest are
//     summed into per-class keys "1xx" ... "5xx";
//   - latency: the histogram is coarsened one precision step at a time until
//     the document fits. Its precision is encoded with it, and merging
//     reports of different precisions is exact at the lowest one.
//
// The bound then holds because everything but the histogram is bounded
// (fixed fields, the error classes of Classes, codesBudget) and a histogram of
// precision 2 encodes within histogram.EncodedLenBound(2) = 1448 bytes;
// TestEncodeWorstCase checks the arithmetic on a maximal document.
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

	"github.com/dilo-operator/dilo/internal/report/histogram"
)

const (
	// MaxEncodedLen is Kubernetes' limit on a container's termination message.
	MaxEncodedLen = 4096
	// Version is the document format version written in "v".
	Version = 1
	// codesBudget bounds the JSON of the codes map, braces included.
	codesBudget = 1280
)

// Error classes of requests that got no HTTP response.
const (
	ClassTimeout = "timeout"
	ClassRefused = "refused"
	ClassReset   = "reset"
	ClassDNS     = "dns"
	ClassOther   = "other"
	// ClassDropped: an open-model request never sent, every connection still busy
	// one timeout after the sending window (the target could not take the rate).
	ClassDropped = "dropped"
)

// Classes are all the error classes, in display order.
var Classes = []string{ClassTimeout, ClassRefused, ClassReset, ClassDNS, ClassOther, ClassDropped}

// Report is one pod's result, as the agent writes it to its termination message.
type Report struct {
	// Version is the document format; Parse accepts only Version.
	Version int `json:"v"`
	// Start is when the pod started sending; End when its last request ended.
	// The merged rate is computed over the union of all pods' windows.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Requests is how many requests the pod attempted: Errors of them failed
	// (no response, or a status outside 200-399).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// ErrorsByClass counts requests with no response by Classes.
	ErrorsByClass map[string]int64 `json:"errorsByClass,omitempty"`
	// Codes counts responses by status code ("200"), or by class ("5xx") for
	// codes folded to fit the document.
	Codes map[string]int64 `json:"codes,omitempty"`
	// BytesReceived is the total of response bytes read from the network.
	BytesReceived int64 `json:"bytesReceived"`
	// Latency holds the latency of every response (not of requests without one).
	Latency *histogram.Histogram `json:"latency"`
}

// Encode returns the document, at most MaxEncodedLen bytes, folding status
// codes and coarsening the latency histogram as needed (see the package doc).
// It fails only when the report is inconsistent.
func (r Report) Encode() ([]byte, error) {
	if r.Latency == nil {
		r.Latency = histogram.New(1)
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("failed to encode report: %w", err)
	}
	r.Version = Version
	r.Start, r.End = r.Start.UTC(), r.End.UTC()
	r.Codes = foldCodes(r.Codes, codesBudget)
	hist, cloned := r.Latency, false
	for {
		r.Latency = hist
		b, err := json.Marshal(r)
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

// Parse decodes a termination message written by Encode, checking that it is
// a consistent report of this version.
func Parse(msg string) (Report, error) {
	if len(msg) > MaxEncodedLen {
		return Report{}, fmt.Errorf("report is %d bytes, more than the %d a termination message holds", len(msg), MaxEncodedLen)
	}
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
	if r.Latency == nil {
		return Report{}, errors.New(`report has no "latency" histogram`)
	}
	if err := r.validate(); err != nil {
		return Report{}, fmt.Errorf("report is inconsistent: %w", err)
	}
	return r, nil
}

// validate checks the counters add up: requests = responses + errors without
// response; errors = those + responses outside 200-399; one latency per response.
func (r Report) validate() error {
	if r.Requests < 0 || r.Errors < 0 || r.BytesReceived < 0 {
		return errors.New("negative counter")
	}
	var noResponse, responses, badResponses int64
	for class, n := range r.ErrorsByClass {
		if !slices.Contains(Classes, class) {
			return fmt.Errorf("unknown error class %q", class)
		}
		if n < 0 || noResponse > math.MaxInt64-n {
			return fmt.Errorf("bad count %d for error class %q", n, class)
		}
		noResponse += n
	}
	for code, n := range r.Codes {
		ok, valid := codeClass(code)
		if !valid {
			return fmt.Errorf("bad status code key %q", code)
		}
		if n < 0 || responses > math.MaxInt64-n {
			return fmt.Errorf("bad count %d for status code %q", n, code)
		}
		responses += n
		if !ok {
			badResponses += n
		}
	}
	if noResponse > math.MaxInt64-responses || r.Requests != noResponse+responses {
		return fmt.Errorf("requests %d != %d responses + %d without response", r.Requests, responses, noResponse)
	}
	if r.Errors != noResponse+badResponses {
		return fmt.Errorf("errors %d != %d without response + %d responses outside 200-399", r.Errors, noResponse, badResponses)
	}
	if r.Latency != nil && r.Latency.Count() != uint64(responses) {
		return fmt.Errorf("latency histogram holds %d values for %d responses", r.Latency.Count(), responses)
	}
	if r.End.Before(r.Start) {
		return fmt.Errorf("end %s before start %s", r.End, r.Start)
	}
	return nil
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
