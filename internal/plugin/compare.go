package plugin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dilo-operator/dilo/internal/htmlreport"
	"github.com/dilo-operator/dilo/internal/report"
)

const compareLong = `Compare two runs side by side, with the change from A to B in percent.

A and B are each NAME, a LoadTest's current run, or NAME:RUN, a run of its
status.history (kubectl dilo results NAME --run RUN shows one; the history keeps
the last spec.historyLimit runs, 10 by default). Both may be runs of the same
LoadTest or of two.

The rows are requests, requests per second, error ratio, p50 and p99 latency,
which every run has, and p90 and max when both are current runs (a history
record keeps no more). A current run that has not ended is compared on its live
figures so far. A change from 0 has no percentage: it reads "n/a (from 0)"
(null in JSON).

-o html writes one self-contained HTML page instead, as 'kubectl dilo report'
does for one run: both runs' verdicts, the changes from A to B in their
results, and both latency spectra on one plot, merged from each run's pods
while they exist (see 'kubectl dilo report --help'). The page compares results
only: a run of status.history, whose record keeps a summary only, shows none
(the table compares its summary), nor does a run that has not ended. The page
goes to stdout, or with --output-file FILE to FILE; a line on stderr says what
it holds.`

const compareExample = `  # The current run of my-test against its run 3
  kubectl dilo compare my-test:3 my-test

  # Two LoadTests' current runs, as JSON
  kubectl dilo compare baseline candidate -o json

  # The same, as an HTML page with both latency spectra
  kubectl dilo compare baseline candidate -o html --output-file compare.html`

func newCompareCommand(c *cli) *cobra.Command {
	var output, file string
	cmd := &cobra.Command{
		Use:     "compare A B",
		Short:   "Compare two runs side by side",
		Long:    compareLong,
		Example: compareExample,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains([]string{"table", "json", "html"}, output) {
				return fmt.Errorf("-o %q: want table, json or html", output)
			}
			if file != "" && output != "html" {
				return fmt.Errorf("--output-file %q: only -o html writes a file; -o %s prints to stdout", file, output)
			}
			refs := make([]runRef, 2)
			for i, a := range args {
				r, err := parseRunRef(a)
				if err != nil {
					return err
				}
				refs[i] = r
			}
			cn, err := c.connect()
			if err != nil {
				return err
			}
			if output == "html" {
				return comparePage(cmd.Context(), c, cn, refs[0], refs[1], cmp.Or(file, "-"))
			}
			runs := make([]runData, 2)
			for i, r := range refs {
				if runs[i], err = loadRun(cmd.Context(), cn.c, cn.ns, r); err != nil {
					return asAPIError(err)
				}
			}
			cmp := compareRuns(refs[0], runs[0], refs[1], runs[1])
			if output == "json" {
				b, err := json.MarshalIndent(cmp, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(c.out, "%s\n", b)
				return err
			}
			_, err = io.WriteString(c.out, compareTable(cmp))
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or html")
	cmd.Flags().StringVar(&file, "output-file", "", "with -o html, the file to write the page to (default stdout)")
	return cmd
}

// comparePage writes the HTML page comparing run a with run b to path ("-": stdout).
func comparePage(ctx context.Context, c *cli, cn *conn, a, b runRef, path string) error {
	ra, err := gatherReport(ctx, cn, a, false, c.errOut)
	if err != nil {
		return err
	}
	rb, err := gatherReport(ctx, cn, b, false, c.errOut)
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := htmlreport.RenderCompare(&page, ra.Run, rb.Run); err != nil {
		return &codeError{code: exitError, err: err}
	}
	if err := writePage(c.out, path, page.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "wrote %s: A %s: %s; B %s: %s\n", destination(path),
		ra.label(), strings.Join(ra.holds(false), ", "), rb.label(), strings.Join(rb.holds(false), ", "))
	return nil
}

// comparison is two runs side by side: what compare prints.
type comparison struct {
	A    compareSide  `json:"a"`
	B    compareSide  `json:"b"`
	Rows []compareRow `json:"rows"`
}

// compareSide says which run a side of a comparison is.
type compareSide struct {
	Ref       string `json:"ref"`
	Namespace string `json:"namespace"`
	LoadTest  string `json:"loadTest"`
	Run       int64  `json:"run"`
	Current   bool   `json:"current"`
	State     string `json:"state"`
	// Figures says where the figures come from: results, progress (so far) or history.
	Figures string `json:"figures"`
}

// compareRow is one figure of both runs, as shown, and the change from A to B.
type compareRow struct {
	Metric string `json:"metric"`
	A      string `json:"a"`
	B      string `json:"b"`
	// ChangePercent is (B-A)/A in percent, to two decimals; nil when a side lacks the
	// figure, or A is 0 and B is not (no percentage of nothing). 0 when both are 0.
	ChangePercent *float64 `json:"changePercent"`
	// change is ChangePercent as the table shows it.
	change string
}

// compareRuns compares run a (named ar) with run b (br).
func compareRuns(ar runRef, a runData, br runRef, b runData) comparison {
	side := func(r runRef, d runData) compareSide {
		return compareSide{Ref: r.String(), Namespace: d.Namespace, LoadTest: d.LoadTest, Run: d.Run,
			Current: d.Current, State: stateShort(d), Figures: d.Figures.Source}
	}
	fa, fb := a.Figures, b.Figures
	rows := []compareRow{
		numberRow("requests", strconv.FormatInt(fa.Requests, 10), strconv.FormatInt(fb.Requests, 10)),
		numberRow("requests/s", fa.RequestsPerSecond, fb.RequestsPerSecond),
		numberRow("error ratio", fa.ErrorRatio, fb.ErrorRatio),
		durationRow("p50", fa.P50, fb.P50),
	}
	both := a.Current && b.Current
	if both {
		rows = append(rows, durationRow("p90", fa.P90, fb.P90))
	}
	rows = append(rows, durationRow("p99", fa.P99, fb.P99))
	if both {
		rows = append(rows, durationRow("max", fa.Max, fb.Max))
	}
	return comparison{A: side(ar, a), B: side(br, b), Rows: rows}
}

// stateShort is a run's state, with its reason when it failed.
func stateShort(d runData) string {
	if d.Reason != "" && d.State != "finished" {
		return fmt.Sprintf("%s (%s)", d.State, d.Reason)
	}
	return string(d.State)
}

// numberRow compares two decimals as the API writes them ("" when missing).
func numberRow(metric, a, b string) compareRow {
	va, errA := strconv.ParseFloat(a, 64)
	vb, errB := strconv.ParseFloat(b, 64)
	return changeRow(metric, orDash(a), orDash(b), va, vb, errA == nil && a != "", errB == nil && b != "")
}

// durationRow compares two latencies, as DiLO shows them.
func durationRow(metric string, a, b *time.Duration) compareRow {
	var va, vb time.Duration
	if a != nil {
		va = report.RoundDuration(*a)
	}
	if b != nil {
		vb = report.RoundDuration(*b)
	}
	return changeRow(metric, durOrDash(a), durOrDash(b), float64(va), float64(vb), a != nil, b != nil)
}

// changeRow is a row of values shown as sa and sb, of amounts va and vb when okA and
// okB say there are.
func changeRow(metric, sa, sb string, va, vb float64, okA, okB bool) compareRow {
	r := compareRow{Metric: metric, A: sa, B: sb}
	switch {
	case !okA || !okB:
	case va == 0 && vb == 0:
		r.ChangePercent, r.change = new(float64), "+0.0%"
	case va == 0:
		r.change = "n/a (from 0)"
	default:
		p := math.Round((vb-va)/va*100*100) / 100
		r.ChangePercent, r.change = &p, fmt.Sprintf("%+.1f%%", p)
	}
	return r
}

// compareTable is cmp as people read it.
func compareTable(cmp comparison) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	head := func(s compareSide) string {
		h := fmt.Sprintf("%s (run %d)", s.Ref, s.Run)
		if s.Figures == "progress" {
			h += " so far"
		}
		return h
	}
	fmt.Fprintf(tw, "\tA: %s\tB: %s\tCHANGE\n", head(cmp.A), head(cmp.B))
	fmt.Fprintf(tw, "state\t%s\t%s\t\n", cmp.A.State, cmp.B.State)
	for _, r := range cmp.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Metric, r.A, r.B, r.change)
	}
	_ = tw.Flush()
	return trimLines(b.String())
}

// trimLines drops the spaces tabwriter leaves at the end of lines with empty last cells.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
