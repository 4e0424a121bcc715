package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

const resultsLong = `Show the results of a LoadTest's current run, or of a run of its history.

The current run's results are status.results: merged exactly across the run's
pods once all of them ended (percentiles from the merged latency histograms,
never averaged), kept when the run failed on a threshold or was stopped. The
table shows requests, errors, error ratio, requests per second, p50, p90, p99
and max latency, responses by status code, the requests that got no response by
class (timeout, refused, reset, dns, tls, other, dropped), and, for a mix of
requests, the same per request.

With --run N, a run of status.history (the last spec.historyLimit runs): its
state, reason and the figures a record keeps (requests, requests per second,
error ratio, p50, p99). -o json and -o yaml print status.results, or the
history record, as the API holds them.

A run that has not ended has no results yet: results says so and exits 2
(watch follows it).`

const resultsExample = `  # The current run's results as a table
  kubectl dilo results my-test

  # As JSON, for a script
  kubectl dilo results my-test -o json | jq .latency.p99

  # Run 3, from status.history
  kubectl dilo results my-test --run 3`

func newResultsCommand(c *cli) *cobra.Command {
	var output string
	var run int64
	cmd := &cobra.Command{
		Use:     "results NAME",
		Short:   "Show a run's results",
		Long:    resultsLong,
		Example: resultsExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{"table", "json", "yaml"}, output) {
				return fmt.Errorf("-o %q: want table, json or yaml", output)
			}
			if run < 0 {
				return fmt.Errorf("--run %d: want a run number (1, 2, ...)", run)
			}
			cn, err := c.connect()
			if err != nil {
				return err
			}
			d, err := loadRun(cmd.Context(), cn.c, cn.ns, runRef{Name: args[0], Run: run})
			if err != nil {
				return asAPIError(err)
			}
			return printResults(c.out, d, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().Int64Var(&run, "run", 0, "a run of status.history instead of the current run")
	return cmd
}

// asAPIError marks err as one about the cluster's objects (no --help pointer).
func asAPIError(err error) error {
	if isAPIError(err) {
		return err
	}
	return apiError{err}
}

// printResults writes d's results in output's format, or says why there are none.
func printResults(w io.Writer, d runData, output string) error {
	if d.Current && d.Results == nil {
		return apiError{noResults(d)}
	}
	var doc any = d.Results
	if !d.Current {
		doc = d.Record
	}
	switch output {
	case "json":
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err := io.WriteString(w, resultsTable(d))
	return err
}

// noResults says why the current run d has no results, and what to do.
func noResults(d runData) error {
	what := fmt.Sprintf("run %d of loadtest %q in namespace %q", d.Run, d.LoadTest, d.Namespace)
	if ended(d.State) {
		return fmt.Errorf("%s %s without results (%s: %s)", what, d.State, d.Reason, d.Message)
	}
	so := ""
	if d.Progress != nil {
		so = ", so far " + progressFigures(d.Progress)
	}
	return fmt.Errorf("%s has no results yet: it is %s%s (`kubectl dilo watch %s` follows it)", what, d.State, so, d.LoadTest)
}

// resultsTable is d's results, or its history record, as people read them.
func resultsTable(d runData) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t%s\n", k, fmt.Sprintf(format, a...)) }
	from := ""
	if !d.Current {
		from = ", from status.history"
	}
	row("Run", "%d of loadtest %q in namespace %q%s", d.Run, d.LoadTest, d.Namespace, from)
	row("State", "%s", stateText(d))
	if d.StartTime != nil {
		row("Started", "%s", d.StartTime.UTC().Format(time.RFC3339))
	}
	if d.CompletionTime != nil {
		took := ""
		if d.StartTime != nil {
			took = fmt.Sprintf(" (%s)", d.CompletionTime.Sub(d.StartTime.Time).Round(time.Second))
		}
		row("Completed", "%s%s", d.CompletionTime.UTC().Format(time.RFC3339), took)
	}
	if r := d.Results; r != nil {
		row("Pods", "%d", r.Pods)
		row("Requests", "%d", r.Requests)
		row("Errors", "%d", r.Errors)
		row("Error ratio", "%s", r.ErrorRatio)
		row("Requests/s", "%s", r.RequestsPerSecond)
		row("p50", "%s", dur(r.Latency.P50.Duration))
		row("p90", "%s", dur(r.Latency.P90.Duration))
		row("p99", "%s", dur(r.Latency.P99.Duration))
		row("max", "%s", dur(r.Latency.Max.Duration))
		if r.StartSkew != nil {
			row("Start skew", "%s", dur(r.StartSkew.Duration))
		}
		row("Bytes received", "%d", r.BytesReceived)
		row("Codes", "%s", counts(r.Codes))
		row("Errors by class", "%s", counts(r.ErrorsByClass))
	} else if f := d.Figures; f.Source == "history" {
		row("Requests", "%d", f.Requests)
		row("Error ratio", "%s", orDash(f.ErrorRatio))
		row("Requests/s", "%s", orDash(f.RequestsPerSecond))
		row("p50", "%s", durOrDash(f.P50))
		row("p99", "%s", durOrDash(f.P99))
		if d.Timeline != "" {
			row("Timeline", "ConfigMap %s", d.Timeline)
		}
	}
	_ = tw.Flush()
	if d.Results != nil && len(d.Results.ByRequest) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REQUEST\tREQUESTS\tERRORS\tERROR RATIO\tP50\tP90\tP99\tMAX\tCODES\tERRORS BY CLASS")
		for _, q := range d.Results.ByRequest {
			l := q.Latency
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q.Name, q.Requests, q.Errors, q.ErrorRatio,
				dur(l.P50.Duration), dur(l.P90.Duration), dur(l.P99.Duration), dur(l.Max.Duration),
				counts(q.Codes), counts(q.ErrorsByClass))
		}
		_ = tw.Flush()
	}
	return trimLines(b.String())
}

// stateText is a run's state and, once it ended, why: "failed (Stopped): stopped by ...".
func stateText(d runData) string {
	s := string(d.State)
	if d.Reason != "" {
		s += " (" + d.Reason + ")"
	}
	if d.Message != "" {
		s += ": " + d.Message
	}
	return s
}

// counts writes a map of counts in key order, "200: 990, 503: 10"; "-" when empty.
// Status codes all have three digits, so their order is numeric.
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func durOrDash(d *time.Duration) string {
	if d == nil {
		return "-"
	}
	return dur(*d)
}
