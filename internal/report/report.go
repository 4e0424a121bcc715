// Package report turns the load-generator pods' result documents into a
// LoadTest's Results: Parse reads one pod's termination message, Merge
// combines all pods exactly, CheckThresholds judges the merged results.
//
// The document itself (Report, Encode, the size bound) lives in
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

// Report is one pod's result, as the agent writes it to its termination message.
type Report = podreport.Report

// MaxEncodedLen is the most bytes Report.Encode ever returns.
const MaxEncodedLen = podreport.MaxEncodedLen

// Parse decodes one pod's termination message into its Report, with a clear
// error on anything that is not a consistent result document of at most
// MaxEncodedLen bytes.
func Parse(msg string) (Report, error) { return podreport.Parse(msg) }

// Merge combines the pods' reports exactly: counters and status codes are
// summed, latency histograms are merged bucket by bucket (at the lowest
// precision among them) and the percentiles read from the merged histogram,
// and the rate is the total requests over the union send window, from the
// earliest start to the latest end.
func Merge(reports []Report) (v1.Results, error) {
	if len(reports) == 0 {
		return v1.Results{}, errors.New("failed to merge results: no reports")
	}
	if len(reports) > math.MaxInt32 {
		return v1.Results{}, errors.New("failed to merge results: too many reports")
	}
	res := v1.Results{Pods: int32(len(reports))}
	var hist *histogram.Histogram
	var start, end time.Time
	for i, r := range reports {
		if r.Latency == nil {
			return v1.Results{}, fmt.Errorf("failed to merge results: report %d has no latency histogram", i)
		}
		var err error
		if res.Requests, err = add(res.Requests, r.Requests); err != nil {
			return v1.Results{}, err
		}
		if res.Errors, err = add(res.Errors, r.Errors); err != nil {
			return v1.Results{}, err
		}
		if res.BytesReceived, err = add(res.BytesReceived, r.BytesReceived); err != nil {
			return v1.Results{}, err
		}
		if res.ErrorsByClass, err = addMap(res.ErrorsByClass, r.ErrorsByClass); err != nil {
			return v1.Results{}, err
		}
		if res.Codes, err = addMap(res.Codes, r.Codes); err != nil {
			return v1.Results{}, err
		}
		if hist == nil {
			hist = r.Latency.Clone()
		} else if err := hist.Merge(r.Latency); err != nil {
			return v1.Results{}, fmt.Errorf("failed to merge results: %w", err)
		}
		if i == 0 || r.Start.Before(start) {
			start = r.Start
		}
		if i == 0 || r.End.After(end) {
			end = r.End
		}
	}
	res.ErrorRatio = "0"
	if res.Requests > 0 {
		res.ErrorRatio = big.NewRat(res.Errors, res.Requests).FloatString(4)
	}
	res.RequestsPerSecond = "0"
	if window := end.Sub(start); window > 0 {
		res.RequestsPerSecond = strconv.FormatFloat(float64(res.Requests)/window.Seconds(), 'f', 2, 64)
	}
	res.Latency = v1.Latency{
		P50: metav1.Duration{Duration: hist.Quantile(0.50)},
		P90: metav1.Duration{Duration: hist.Quantile(0.90)},
		P99: metav1.Duration{Duration: hist.Quantile(0.99)},
		Max: metav1.Duration{Duration: hist.Max()},
	}
	return res, nil
}

// add is a+b, or an error when it overflows.
func add(a, b int64) (int64, error) {
	if b > 0 && a > math.MaxInt64-b {
		return 0, errors.New("failed to merge results: counter overflows int64")
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
