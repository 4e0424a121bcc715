// Package htmlreport writes the report of a LoadTest's run as one
// self-contained HTML file: what `kubectl dilo report` saves, for a release
// ticket or an air-gapped cluster. Render writes one run, RenderCompare two.
//
// The page loads nothing. It has no script, no stylesheet, font or image
// file, and no URL that the browser would fetch: the styles are inline, the
// plots are inline SVG drawn by gonum.org/v1/plot, and a Content Security
// Policy of default-src 'none' makes the browser refuse any load that a bug
// or a hostile value would slip in. Without JavaScript there is nothing to
// turn off in a locked-down browser, and the page prints as it shows.
//
// The plots name the Liberation Sans font (gonum measures their text with its
// metrics) without embedding it, which would cost some 400 KB a plot; the
// page's style falls back to the fonts of the same metrics (Arial, Helvetica)
// and then to any sans-serif, so that the labels keep their places.
//
// Everything the cluster's users wrote (names, messages, the spec, request
// names) is escaped: by html/template in the page, by gonum in the plots.
// The cells that hold numbers carry data-field attributes named after the
// fields of the LoadTest status, so that a test, or a script, can read them.
package htmlreport

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
)

// Run is everything a report shows of one run of a LoadTest. Any field may be
// empty or nil: the page then says what is missing.
type Run struct {
	// Namespace and LoadTest name the LoadTest.
	Namespace, LoadTest string
	// Run is the run's number.
	Run int64
	// Spec is the LoadTest spec that ran, as YAML, shown verbatim.
	Spec string
	// State is the run's state: pending, executing, finished or failed.
	State string
	// Reason and Message are the verdict: the condition's reason and message
	// (the thresholds broken, why the run failed).
	Reason, Message string
	// Start and End are when the run started and ended; either may be zero.
	Start, End time.Time
	// Results are the merged results of the run's status; nil for a run
	// without results.
	Results *dilov1.Results
	// Latency is the merged latency histogram of the run; nil when none was kept.
	Latency *histogram.Histogram
	// ByRequest holds the latency histogram of each request of a mix, by name.
	ByRequest map[string]*histogram.Histogram
	// Timeline is the run's live figures over time; nil when none was kept.
	Timeline *live.Timeline
	// Pods are the results of each load-generator pod.
	Pods []Pod
}

// Pod is one load-generator pod's part of a run.
type Pod struct {
	// Name is the pod's name.
	Name string
	// Requests and Errors count what the pod sent and what failed.
	Requests, Errors int64
	// P99 is the 99th percentile of the pod's latency.
	P99 time.Duration
	// StartOffset is the pod's first request minus the earliest pod's.
	StartOffset time.Duration
}

// Render writes the report of one run to w. It writes nothing when it fails.
func Render(w io.Writer, r Run) error {
	v, err := runViewOf(r)
	if err != nil {
		return fmt.Errorf("failed to render the report of %s: %w", labelOf(r), err)
	}
	return write(w, "run", v)
}

// RenderCompare writes a report that compares run a with run b to w: their
// verdicts, a table of the changes from a to b, and both latency spectra on
// one plot. It writes nothing when it fails.
func RenderCompare(w io.Writer, a, b Run) error {
	v, err := compareViewOf(a, b)
	if err != nil {
		return fmt.Errorf("failed to render the comparison of %s with %s: %w", labelOf(a), labelOf(b), err)
	}
	return write(w, "compare", v)
}

// write executes the named page into a buffer first, so that a failure
// leaves w untouched rather than holding half a page.
func write(w io.Writer, page string, data any) error {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, page, data); err != nil {
		return fmt.Errorf("failed to render the report: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("failed to write the report: %w", err)
	}
	return nil
}

// pages holds the templates of both pages; see page.go.
var pages = template.Must(template.New("").Parse(pageTemplate))
