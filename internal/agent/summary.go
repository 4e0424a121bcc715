package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// Summary is the JSON line printed on stdout for scripts, which read "rps"
// and "errors".
type Summary struct {
	RPS      float64 `json:"rps"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	P50      string  `json:"p50"`
	P90      string  `json:"p90"`
	P99      string  `json:"p99"`
	Max      string  `json:"max"`
}

// Summarize returns the summary of a run's report.
func Summarize(r podreport.Report) Summary {
	elapsed := r.End.Sub(r.Start)
	s := Summary{
		Requests: r.Requests, Errors: r.Errors, Seconds: elapsed.Seconds(),
		P50: r.Latency.Quantile(0.5).String(), P90: r.Latency.Quantile(0.9).String(),
		P99: r.Latency.Quantile(0.99).String(), Max: r.Latency.Max().String(),
	}
	if elapsed > 0 {
		s.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	return s
}

// printSummary writes a human-readable summary of r, line as JSON and the
// result document.
func printSummary(w io.Writer, r podreport.Report, s Summary, line any, doc []byte) {
	fmt.Fprintf(w, "%d requests in %.2fs, %.1f requests/s, %d errors, %d bytes received\n",
		r.Requests, s.Seconds, s.RPS, r.Errors, r.BytesReceived)
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s  (%d responses)\n", s.P50, s.P90, s.P99, s.Max, r.Latency.Count())
	fmt.Fprintf(w, "codes: %s\n", formatCounts(r.Codes))
	if len(r.ErrorsByClass) > 0 {
		fmt.Fprintf(w, "errors without response: %s\n", formatCounts(r.ErrorsByClass))
	}
	j, _ := json.Marshal(line)
	fmt.Fprintf(w, "%s\n%s\n", j, doc)
}

// formatCounts prints a map as "k=v k=v" in key order.
func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		if out != "" {
			out += " "
		}
		out += k + "=" + strconv.FormatInt(m[k], 10)
	}
	if out == "" {
		return "none"
	}
	return out
}
