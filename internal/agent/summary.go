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

// printSummary writes a human-readable summary of r, with a line for each
// request of a mix, then line as JSON. It names requests and counts them,
// and says nothing of what they send.
func printSummary(w io.Writer, r podreport.Report, s Summary, line any) {
	fmt.Fprintf(w, "%d requests in %.2fs, %.1f requests/s, %d errors, %d bytes received\n",
		r.Requests, s.Seconds, s.RPS, r.Errors, r.BytesReceived)
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s  (%d responses)\n", s.P50, s.P90, s.P99, s.Max, r.Latency.Count())
	fmt.Fprintf(w, "codes: %s\n", formatCounts(r.Codes))
	if len(r.ErrorsByClass) > 0 {
		fmt.Fprintf(w, "errors without response: %s\n", formatCounts(r.ErrorsByClass))
	}
	for _, q := range r.ByRequest {
		fmt.Fprintf(w, "request %s: %d requests, %d errors, p50 %s  p99 %s, codes: %s", q.Name, q.Requests, q.Errors,
			q.Latency.Quantile(0.5), q.Latency.Quantile(0.99), formatCounts(q.Codes))
		if len(q.ErrorsByClass) > 0 {
			fmt.Fprintf(w, ", errors without response: %s", formatCounts(q.ErrorsByClass))
		}
		fmt.Fprintln(w)
	}
	j, _ := json.Marshal(line)
	fmt.Fprintf(w, "%s\n", j)
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
