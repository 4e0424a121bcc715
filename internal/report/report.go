// Package report turns the load-generator pods' result documents into a
// LoadTest's Results: LastDocument finds a pod's full document in its log,
// ParseFull reads it (Parse reads the compact one of a termination message,
// when the log cannot be read), Merge combines all pods exactly,
// CheckThresholds judges the merged results.
//
// The document itself (Report, its two forms, their size bounds) lives in
// internal/report/podreport so that the agent can build it without importing
// the Kubernetes API; the latency histogram, and why it is not
// hdrhistogram-go, is in internal/report/histogram.
package report

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// Report is one pod's result, as the agent writes it to its log (in full) and
// to its termination message (compact).
type Report = podreport.Report

// RequestReport is one request's part of a pod's result, for a mix of requests.
type RequestReport = podreport.RequestReport

const (
	// MaxEncodedLen is the most bytes Report.Encode ever returns: a
	// termination message.
	MaxEncodedLen = podreport.MaxEncodedLen
	// MaxFullLen is the most bytes Report.EncodeFull ever returns: the line of
	// a pod's log that ParseFull reads.
	MaxFullLen = podreport.MaxFullLen
	// MaxLogLen is how much of a pod's log, from its start, is read for its result
	// document: the largest one, and room for the agent's lines before it. The manager
	// and kubectl dilo read that much.
	MaxLogLen = MaxFullLen + 64<<10
)

// Parse decodes one pod's termination message into its compact Report, with a
// clear error on anything that is not a consistent compact result document of
// at most MaxEncodedLen bytes.
func Parse(msg string) (Report, error) { return podreport.Parse(msg) }

// ParseFull decodes one pod's full document, as LastDocument finds it in the
// pod's log, with a clear error on anything that is not a consistent full
// result document of at most MaxFullLen bytes.
func ParseFull(doc string) (Report, error) { return podreport.ParseFull(doc) }

// LastDocument returns the full result document in a pod's log (read without
// timestamps): the last line that starts with {"v":, without its line ending.
// It is false when there is none, for example when the agent could not run.
func LastDocument(log []byte) (string, bool) { return podreport.LastDocument(log) }

// Merge combines the pods' reports exactly: counters and status codes are
// summed, latency histograms are merged bucket by bucket (at the lowest
// precision among them) and the percentiles read from the merged histogram,
// and the rate is the total requests over the union send window, from the
// earliest start to the latest end. StartSkew is the latest FirstRequest
// minus the earliest, among the reports that have one; nil when fewer than
// two pods sent a request, since a spread needs two.
//
// Per request: when the reports carry ByRequest, Results.ByRequest holds each
// request merged the same way, in the order of the first report that has
// them (plan order). Every full report of a run must name the same requests;
// Merge fails otherwise. If any report is compact (read from a termination
// message because the pod's log could not be read), the per-request results
// cannot be exact, so Merge returns the totals only, with ByRequest empty;
// ByRequestUnavailable says so in words for the run's status.
func Merge(reports []Report) (v1.Results, error) {
	if len(reports) == 0 {
		return v1.Results{}, errors.New("failed to merge results: no reports")
	}
	if len(reports) > math.MaxInt32 {
		return v1.Results{}, errors.New("failed to merge results: too many reports")
	}
	res := v1.Results{Pods: int32(len(reports))}
	var total counts
	var start, end time.Time
	for i, r := range reports {
		if err := total.add(r.Requests, r.Errors, r.ErrorsByClass, r.Codes, r.Latency); err != nil {
			return v1.Results{}, fmt.Errorf("failed to merge results: report %d: %w", i, err)
		}
		var err error
		if res.BytesReceived, err = add(res.BytesReceived, r.BytesReceived); err != nil {
			return v1.Results{}, fmt.Errorf("failed to merge results: report %d: %w", i, err)
		}
		if i == 0 || r.Start.Before(start) {
			start = r.Start
		}
		if i == 0 || r.End.After(end) {
			end = r.End
		}
	}
	res.Requests, res.Errors = total.requests, total.errors
	res.ErrorsByClass, res.Codes = total.classes, total.codes
	res.ErrorRatio = ErrorRatio(total.errors, total.requests)
	res.Latency = LatencyOf(total.hist)
	res.RequestsPerSecond = RequestsPerSecond(res.Requests, end.Sub(start))
	res.StartSkew = startSkew(reports)
	byRequest, err := mergeByRequest(reports)
	if err != nil {
		return v1.Results{}, err
	}
	res.ByRequest = byRequest
	return res, nil
}

// startSkew is the latest FirstRequest of the reports minus the earliest,
// those without one (pods that sent nothing) left out; nil unless at least
// two have one.
func startSkew(reports []Report) *metav1.Duration {
	var first, last time.Time
	sent := 0
	for _, r := range reports {
		if r.FirstRequest.IsZero() {
			continue
		}
		if sent == 0 || r.FirstRequest.Before(first) {
			first = r.FirstRequest
		}
		if sent == 0 || r.FirstRequest.After(last) {
			last = r.FirstRequest
		}
		sent++
	}
	if sent < 2 {
		return nil
	}
	return &metav1.Duration{Duration: last.Sub(first)}
}

// mergeByRequest merges the reports' per-request parts, checking the full
// reports agree on the request names; nil when none has one or when some
// report is compact.
func mergeByRequest(reports []Report) ([]v1.RequestResults, error) {
	var names []string
	first, compact := -1, false
	index := map[string]int{}
	for i, r := range reports {
		if r.Compact {
			compact = true
			continue
		}
		if first < 0 {
			first = i
			for j, q := range r.ByRequest {
				if _, dup := index[q.Name]; dup {
					return nil, fmt.Errorf("failed to merge results: report %d names request %q twice", i, q.Name)
				}
				index[q.Name] = j
				names = append(names, q.Name)
			}
			continue
		}
		if !sameNames(index, r.ByRequest) {
			return nil, fmt.Errorf("failed to merge results: report %d has requests %q, report %d has %q",
				i, requestNames(r.ByRequest), first, names)
		}
	}
	if compact || len(names) == 0 {
		return nil, nil
	}
	merged := make([]counts, len(names))
	for i, r := range reports {
		for _, q := range r.ByRequest {
			if err := merged[index[q.Name]].add(q.Requests, q.Errors, q.ErrorsByClass, q.Codes, q.Latency); err != nil {
				return nil, fmt.Errorf("failed to merge results: report %d, request %q: %w", i, q.Name, err)
			}
		}
	}
	out := make([]v1.RequestResults, len(names))
	for j, c := range merged {
		out[j] = v1.RequestResults{
			Name: names[j], Requests: c.requests, Errors: c.errors, ErrorRatio: ErrorRatio(c.errors, c.requests),
			ErrorsByClass: c.classes, Codes: c.codes, Latency: LatencyOf(c.hist),
		}
	}
	return out, nil
}

// sameNames reports whether qs names exactly the requests of index, each once.
func sameNames(index map[string]int, qs []RequestReport) bool {
	if len(qs) != len(index) {
		return false
	}
	seen := make(map[string]bool, len(qs))
	for _, q := range qs {
		if _, ok := index[q.Name]; !ok || seen[q.Name] {
			return false
		}
		seen[q.Name] = true
	}
	return true
}

// requestNames are the names of qs, in order.
func requestNames(qs []RequestReport) []string {
	names := make([]string, len(qs))
	for i, q := range qs {
		names[i] = q.Name
	}
	return names
}

// ByRequestUnavailable says why merged results have no per-request part: it
// names the compact reports' pods, pods[i] being the pod of reports[i], whose
// logs could not be read so that their termination messages, which hold the
// totals only, were used. It is "" when every report is full. The caller
// shows it only for a run with a mix of requests: with a single request the
// totals are that request's results.
func ByRequestUnavailable(pods []string, reports []Report) string {
	var names []string
	for i, r := range reports {
		if r.Compact {
			name := fmt.Sprintf("#%d", i)
			if i < len(pods) {
				name = pods[i]
			}
			names = append(names, name)
		}
	}
	const listed = 3 // a condition message stays short with a thousand pods
	switch {
	case len(names) == 0:
		return ""
	case len(names) == 1:
		return fmt.Sprintf("per-request results unavailable: the log of pod %s could not be read, and its termination message holds the totals only", names[0])
	case len(names) <= listed:
		return fmt.Sprintf("per-request results unavailable: the logs of pods %s and %s could not be read, and their termination messages hold the totals only",
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	default:
		return fmt.Sprintf("per-request results unavailable: the logs of pods %s and %d more could not be read, and their termination messages hold the totals only",
			strings.Join(names[:listed], ", "), len(names)-listed)
	}
}

// counts accumulates the counters and latencies of one set of results.
type counts struct {
	requests, errors int64
	classes, codes   map[string]int64
	hist             *histogram.Histogram
}

// add adds one report's (or one request's) counters and histogram.
func (c *counts) add(requests, errs int64, classes, codes map[string]int64, hist *histogram.Histogram) error {
	if hist == nil {
		return errors.New("no latency histogram")
	}
	var err error
	if c.requests, err = add(c.requests, requests); err != nil {
		return err
	}
	if c.errors, err = add(c.errors, errs); err != nil {
		return err
	}
	if c.classes, err = addMap(c.classes, classes); err != nil {
		return err
	}
	if c.codes, err = addMap(c.codes, codes); err != nil {
		return err
	}
	if c.hist == nil {
		c.hist = hist.Clone()
	} else if err := c.hist.Merge(hist); err != nil {
		return err
	}
	return nil
}

// ErrorRatio is how every errorRatio of the API reads: errors/requests with
// four decimals, "0" without requests.
func ErrorRatio(errs, requests int64) string {
	if requests == 0 {
		return "0"
	}
	return big.NewRat(errs, requests).FloatString(4)
}

// RequestsPerSecond is how every requestsPerSecond of the API reads: requests
// over window with two decimals, "0" for an empty or negative window.
func RequestsPerSecond(requests int64, window time.Duration) string {
	if window <= 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(requests)/window.Seconds(), 'f', 2, 64)
}

// LatencyOf summarises a merged histogram: its percentiles and its Max, each
// rounded as RoundDuration does.
func LatencyOf(h *histogram.Histogram) v1.Latency {
	p := PercentilesOf(h)
	return v1.Latency{P50: p.P50, P90: p.P90, P99: p.P99, Max: metav1.Duration{Duration: RoundDuration(h.Max())}}
}

// PercentilesOf is the 50th, 90th and 99th percentiles of a merged histogram,
// as Histogram.Quantile reads them (never below the true value, at most one
// bucket above), rounded as RoundDuration does; all 0 when it is empty.
func PercentilesOf(h *histogram.Histogram) v1.Percentiles {
	return v1.Percentiles{
		P50: metav1.Duration{Duration: RoundDuration(h.Quantile(0.50))},
		P90: metav1.Duration{Duration: RoundDuration(h.Quantile(0.90))},
		P99: metav1.Duration{Duration: RoundDuration(h.Quantile(0.99))},
	}
}

// RoundDuration rounds d up to three significant digits, so that it reads as
// people write durations: 23.71ms is 23.8ms, 1.2345s 1.24s, 850µs stays. Every
// latency DiLO shows goes through it (status, kubectl get ld, reports), and the
// thresholds judge what is shown. Up, so that a percentile stays what
// Histogram.Quantile promises, never below the true value, and a run over a
// limit is never shown under it; the digits dropped were not measured anyway
// (a histogram's buckets are 0.4% wide at the default precision).
func RoundDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -RoundDuration(-d)
	}
	digits := len(strconv.FormatInt(int64(d), 10))
	if digits <= 3 {
		return d
	}
	unit := time.Duration(math.Pow10(digits - 3))
	if r := d.Truncate(unit); r != d {
		return r + unit
	}
	return d
}

// add is a+b, or an error when it overflows.
func add(a, b int64) (int64, error) {
	if b > 0 && a > math.MaxInt64-b {
		return 0, errors.New("counter overflows int64")
	}
	return a + b, nil
}

// addMap adds the counts of from into into, allocating it when needed.
func addMap(into, from map[string]int64) (map[string]int64, error) {
	for k, n := range from {
		if into == nil {
			into = map[string]int64{}
		}
		sum, err := add(into[k], n)
		if err != nil {
			return nil, err
		}
		into[k] = sum
	}
	return into, nil
}

// CheckThresholds reports whether merged results keep every threshold; when
// they do not, broken names each broken threshold with the measured value,
// e.g. "p99 312ms exceeds maxP99 250ms", joined by "; ". The error ratio is
// compared exactly, as errors/requests, not through its rounded decimal.
func CheckThresholds(t *v1.Thresholds, r v1.Results) (broken string, ok bool) {
	if t == nil {
		return "", true
	}
	var out []string
	if t.MaxErrorRatio != "" {
		limit, valid := new(big.Rat).SetString(t.MaxErrorRatio)
		switch {
		case !valid || limit.Sign() < 0:
			out = append(out, fmt.Sprintf("maxErrorRatio %q is not a decimal", t.MaxErrorRatio))
		case r.Requests > 0:
			ratio := big.NewRat(r.Errors, r.Requests)
			if ratio.Cmp(limit) > 0 {
				out = append(out, fmt.Sprintf("error ratio %s exceeds maxErrorRatio %s",
					ratio.FloatString(ratioDigits(t.MaxErrorRatio)), t.MaxErrorRatio))
			}
		}
	}
	for _, c := range []struct {
		name   string
		got    time.Duration
		thresh *metav1.Duration
	}{
		{"p50", r.Latency.P50.Duration, t.MaxP50},
		{"p90", r.Latency.P90.Duration, t.MaxP90},
		{"p99", r.Latency.P99.Duration, t.MaxP99},
	} {
		if c.thresh != nil && c.got > c.thresh.Duration {
			out = append(out, fmt.Sprintf("%s %s exceeds max%s %s",
				c.name, roundAbove(c.got, c.thresh.Duration), strings.ToUpper(c.name[:1])+c.name[1:], c.thresh.Duration))
		}
	}
	return strings.Join(out, "; "), len(out) == 0
}

// ratioDigits is how many decimals to show an error ratio with next to the
// limit: 4, or two more than the limit has, so that the ratio never reads
// as the limit itself.
func ratioDigits(limit string) int {
	_, frac, _ := strings.Cut(limit, ".")
	return max(4, len(frac)+2)
}

// roundAbove rounds v (> limit) to the fewest significant digits, at least
// 3, that still show it above limit: 312.51234ms against 250ms reads 313ms.
func roundAbove(v, limit time.Duration) time.Duration {
	digits := len(strconv.FormatInt(int64(v), 10))
	for sig := 3; sig < digits; sig++ {
		unit := time.Duration(math.Pow10(digits - sig))
		if r := v.Round(unit); r > limit {
			return r
		}
	}
	return v
}
