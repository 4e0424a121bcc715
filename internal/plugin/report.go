package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/htmlreport"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
)

const reportLong = `Write the report of a run as one self-contained HTML page: its verdict,
results, latency spectrum, figures over time, pods and spec. The page loads
nothing (no script, stylesheet, font or image file), so it opens in a
locked-down or air-gapped browser, attaches to a ticket and prints as it shows.

NAME is a LoadTest's current run, NAME:RUN a run of its status.history. The
page holds what the cluster still keeps of the run:
  - its state, verdict, start and end, from the LoadTest's status;
  - its results (status.results): the current run's, once it ended with some.
    A run of status.history has none on the page: its record keeps a summary
    only, which 'kubectl dilo results NAME --run RUN' shows;
  - its figures over time, from the run's timeline ConfigMap, which DiLO's
    manager keeps for the current run and those of status.history;
  - while the run's pods exist (until the next run starts, the LoadTest is
    deleted or spec.ttlSecondsAfterFinished passes), what only they hold: the
    latency spectrum of all requests, and of each request of a mix, merged
    exactly from the pods' histograms, and each pod's requests, errors, p99 and
    start offset (its first request after the earliest pod's). They come from
    the result document each agent prints last in its log; a pod whose log
    cannot be read, or holds no document yet (it is still sending), is left
    out with a warning;
  - the spec that ran, as YAML: the LoadTest's spec for its current run (none
    when the LoadTest was edited since and DiLO's manager has not yet acted on
    the edit); status.history keeps no spec, so for one of its runs the
    current spec, marked as such, when the run ran the same one (the same
    runSpecHash), else none.

The page goes to stdout, or with -o FILE to FILE (replaced if it exists); a
line on stderr says where and what it holds. What could not be read (a
timeline ConfigMap, the pods' list, a pod's log) is left out with a warning on
stderr, never an error: the status alone makes a report.`

const reportExample = `  # The report of my-test's current run, to open in a browser
  kubectl dilo report my-test -o report.html

  # Run 3, from status.history
  kubectl dilo report my-test:3 -o my-test-3.html

  # To stdout, for a script to store
  kubectl dilo report my-test > report.html`

func newReportCommand(c *cli) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "report NAME[:RUN]",
		Short:   "Write a run's report as one self-contained HTML page",
		Long:    reportLong,
		Example: reportExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return fmt.Errorf("-o %q: want a file, or - for stdout", output)
			}
			ref, err := parseRunRef(args[0])
			if err != nil {
				return err
			}
			cn, err := c.connect()
			if err != nil {
				return err
			}
			rr, err := gatherReport(cmd.Context(), cn, ref, true, c.errOut)
			if err != nil {
				return err
			}
			var page bytes.Buffer
			if err := htmlreport.Render(&page, rr.Run); err != nil {
				return &codeError{code: exitError, err: err}
			}
			if err := writePage(c.out, output, page.Bytes()); err != nil {
				return err
			}
			fmt.Fprintf(c.errOut, "wrote %s: %s: %s\n", destination(output), rr.label(), strings.Join(rr.holds(true), ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "-", "the file to write the page to; - for stdout")
	return cmd
}

// writePage writes an HTML page to path, or to stdout for "-".
func writePage(stdout io.Writer, path string, page []byte) error {
	if path == "-" {
		if _, err := stdout.Write(page); err != nil {
			return &codeError{code: exitError, err: fmt.Errorf("failed to write the page to stdout: %w", err)}
		}
		return nil
	}
	// 0666 before the umask, as a shell's redirection creates a file.
	if err := os.WriteFile(path, page, 0o666); err != nil {
		return &codeError{code: exitError, err: fmt.Errorf("failed to write the page: %w", err)}
	}
	return nil
}

// destination names where a page went, for the line that says so.
func destination(path string) string {
	if path == "-" {
		return "stdout"
	}
	return path
}

// runReport is one run as a page shows it, and what the command could not put in
// it, for the line that says what the page holds.
type runReport struct {
	Run htmlreport.Run
	// Current says the run is its LoadTest's current run, not one of status.history.
	Current bool
	// Listed is how many pods the run had when they were listed; Unlisted says the
	// list failed.
	Listed   int
	Unlisted bool
	// Skipped says, for each pod left out of Pods, why.
	Skipped []string
	// NoSpectrum says why the pods' histograms are not on the page when some were
	// read but did not merge; "" otherwise.
	NoSpectrum string
}

// gatherReport gathers what a page shows of the run ref names: its status, its
// timeline (when withTimeline: the page of one run plots it, a comparison does not)
// and its pods' result documents, while they exist. It warns on warn of what it
// leaves out; it fails only when the LoadTest or the run cannot be read.
func gatherReport(ctx context.Context, cn *conn, ref runRef, withTimeline bool, warn io.Writer) (runReport, error) {
	d, err := loadRun(ctx, cn.c, cn.ns, ref)
	if err != nil {
		return runReport{}, asAPIError(err)
	}
	var tl *live.Timeline
	if withTimeline {
		if tl, err = loadTimeline(ctx, cn.c, d); err != nil {
			if ctx.Err() != nil {
				return runReport{}, ctx.Err()
			}
			fmt.Fprintf(warn, "warning: the report has no timeline: %v\n", err)
		}
	}
	pods, listErr := listRunPods(ctx, cn.cs, d.Namespace, d.LoadTest, d.Run)
	if listErr != nil {
		if ctx.Err() != nil {
			return runReport{}, ctx.Err()
		}
		fmt.Fprintf(warn, "warning: the report has no latency spectrum nor pods: %v\n", listErr)
	}
	logs := readPodLogs(ctx, cn.cs, pods)
	if ctx.Err() != nil {
		return runReport{}, ctx.Err()
	}
	rr, err := reportOf(d, tl, logs)
	if err != nil {
		return runReport{}, err
	}
	rr.Unlisted = listErr != nil
	for _, s := range rr.Skipped {
		fmt.Fprintf(warn, "warning: %s\n", s)
	}
	if rr.NoSpectrum != "" {
		fmt.Fprintf(warn, "warning: the report has no latency spectrum: %s\n", rr.NoSpectrum)
	}
	return rr, nil
}

// podLog is a run's pod and its log, or why the log could not be read.
type podLog struct {
	Pod string
	Log []byte
	Err error
}

// logReads is how many pods' logs are read at once: a run of many pods is read in a
// few seconds without a burst of requests to the API server (each goes on to a
// kubelet).
const logReads = 8

// readPodLogs reads the logs of pods (their agent containers'), logReads at once, in
// the pods' order.
func readPodLogs(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod) []podLog {
	logs := make([]podLog, len(pods))
	slots := make(chan struct{}, logReads)
	var wg sync.WaitGroup
	for i, p := range pods {
		logs[i].Pod = p.Name
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			limit := int64(report.MaxLogLen)
			logs[i].Log, logs[i].Err = cs.CoreV1().Pods(p.Namespace).
				GetLogs(p.Name, &corev1.PodLogOptions{Container: agentContainer(p), LimitBytes: &limit}).DoRaw(ctx)
		})
	}
	wg.Wait()
	return logs
}

// reportOf is run d as a page shows it: its status, its timeline tl (nil when it has
// none), and what its pods' logs hold (none when its pods are gone).
func reportOf(d runData, tl *live.Timeline, logs []podLog) (runReport, error) {
	spec, err := specYAML(d)
	if err != nil {
		return runReport{}, err
	}
	r := htmlreport.Run{
		Namespace: d.Namespace, LoadTest: d.LoadTest, Run: d.Run, Spec: spec,
		State: string(d.State), Reason: d.Reason, Message: d.Message,
		Results: d.Results, Timeline: tl,
	}
	if d.StartTime != nil {
		r.Start = d.StartTime.Time
	}
	if d.CompletionTime != nil {
		r.End = d.CompletionTime.Time
	}
	rr := runReport{Run: r, Current: d.Current, Listed: len(logs)}
	docs := make([]podDocument, 0, len(logs))
	for _, l := range logs {
		doc, err := documentOf(l)
		if err != nil {
			rr.Skipped = append(rr.Skipped, fmt.Sprintf("pod %s left out of the report: %v", l.Pod, err))
			continue
		}
		docs = append(docs, doc)
	}
	rr.Run.Pods = podsOf(docs)
	if rr.Run.Latency, rr.Run.ByRequest, err = mergeLatencies(docs); err != nil {
		rr.NoSpectrum = err.Error()
	}
	return rr, nil
}

// podDocument is a pod's result document, as its log holds it.
type podDocument struct {
	Pod    string
	Report report.Report
}

// documentOf reads the result document of a pod's log: the last line of the agent's,
// which it prints once its load is over.
func documentOf(l podLog) (podDocument, error) {
	if l.Err != nil {
		return podDocument{}, fmt.Errorf("its log could not be read: %w", l.Err)
	}
	doc, ok := report.LastDocument(l.Log)
	if !ok {
		return podDocument{}, fmt.Errorf("its log holds no result document: the agent is still sending, or could not run")
	}
	r, err := report.ParseFull(doc)
	if err != nil {
		return podDocument{}, fmt.Errorf("its log's result document is unreadable: %w", err)
	}
	return podDocument{Pod: l.Pod, Report: r}, nil
}

// podsOf are each pod's figures, in the order of docs. A pod's start offset is its
// first request after the earliest pod's; 0 for a pod that sent nothing.
func podsOf(docs []podDocument) []htmlreport.Pod {
	var first time.Time
	for _, d := range docs {
		if f := d.Report.FirstRequest; !f.IsZero() && (first.IsZero() || f.Before(first)) {
			first = f
		}
	}
	pods := make([]htmlreport.Pod, len(docs))
	for i, d := range docs {
		r := d.Report
		pods[i] = htmlreport.Pod{Name: d.Pod, Requests: r.Requests, Errors: r.Errors, P99: r.Latency.Quantile(0.99)}
		if !r.FirstRequest.IsZero() {
			pods[i].StartOffset = r.FirstRequest.Sub(first)
		}
	}
	if len(pods) == 0 {
		return nil
	}
	return pods
}

// mergeLatencies merges the pods' latency histograms exactly, in total and per
// request (by name), into copies: nil when there are no pods. Merging fails only when
// a count overflows, which no run's documents add up to; then neither is kept.
func mergeLatencies(docs []podDocument) (*histogram.Histogram, map[string]*histogram.Histogram, error) {
	var total *histogram.Histogram
	var byRequest map[string]*histogram.Histogram
	merge := func(into, h *histogram.Histogram) (*histogram.Histogram, error) {
		if into == nil {
			return h.Clone(), nil
		}
		return into, into.Merge(h)
	}
	for _, d := range docs {
		var err error
		if total, err = merge(total, d.Report.Latency); err != nil {
			return nil, nil, fmt.Errorf("the latency histogram of pod %s does not merge with the others': %w", d.Pod, err)
		}
		for _, q := range d.Report.ByRequest {
			if byRequest == nil {
				byRequest = map[string]*histogram.Histogram{}
			}
			if byRequest[q.Name], err = merge(byRequest[q.Name], q.Latency); err != nil {
				return nil, nil, fmt.Errorf("the latency histogram of request %q of pod %s does not merge with the others': %w", q.Name, d.Pod, err)
			}
		}
	}
	return total, byRequest, nil
}

// specYAML is the spec run d ran, as YAML; "" when it is not known. A run of
// status.history has the LoadTest's current spec only when it ran the same one: a
// comment says so, and that the fields outside the run's hash are today's.
func specYAML(d runData) (string, error) {
	if d.Spec == nil {
		return "", nil
	}
	b, err := yaml.Marshal(d.Spec)
	if err != nil {
		return "", fmt.Errorf("failed to write the spec of run %d of loadtest %q as YAML: %w", d.Run, d.LoadTest, err)
	}
	if d.Current {
		return string(b), nil
	}
	return fmt.Sprintf("# status.history keeps no spec: this is the LoadTest's current spec, which run %d\n"+
		"# ran too (the same runSpecHash). spec.updatePolicy and the TTL fields, outside\n"+
		"# the hash, are as they are now.\n", d.Run) + string(b), nil
}

// label names the run in the line that says what a page holds: "run 3 of shop/web,
// finished".
func (rr runReport) label() string {
	r := rr.Run
	return fmt.Sprintf("run %d of %s/%s, %s", r.Run, r.Namespace, r.LoadTest, stateShort(runData{State: dilov1.State(r.State), Reason: r.Reason}))
}

// holds says what of the run the page shows, and why a part is missing: results,
// the timeline and the spec when full (the page of one run), the latency spectrum and
// the pods.
func (rr runReport) holds(full bool) []string {
	r := rr.Run
	var parts []string
	switch {
	case r.Results != nil:
		parts = append(parts, "results")
	case !rr.Current:
		parts = append(parts, "no results (a run of status.history keeps a summary only)")
	case ended(dilov1.State(r.State)):
		parts = append(parts, "no results (it ended without)")
	default:
		parts = append(parts, "no results yet (it is "+r.State+")")
	}
	if full {
		parts = append(parts, either(r.Timeline != nil, "timeline", "no timeline"))
		parts = append(parts, either(r.Spec != "", "spec", "no spec (the spec that ran is not known)"))
	}
	n := len(r.Pods)
	of := fmt.Sprintf("%d pods", rr.Listed)
	if rr.Listed == 1 {
		of = "1 pod"
	}
	if 0 < n && n < rr.Listed {
		of = fmt.Sprintf("%d of %s", n, of)
	}
	switch {
	case rr.Unlisted:
		parts = append(parts, "no latency spectrum nor pods (they could not be listed)")
	case rr.Listed == 0:
		parts = append(parts, "no latency spectrum nor pods (the run's pods are gone: "+podsGone+")")
	case n == 0:
		parts = append(parts, "no latency spectrum nor pods (no result document could be read from the logs of its "+of+")")
	case r.Latency == nil:
		parts = append(parts, "figures of "+of+", no latency spectrum")
	default:
		parts = append(parts, "latency spectrum and figures of "+of)
	}
	return parts
}

// either is a when cond holds, else b.
func either(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
