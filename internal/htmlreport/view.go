package htmlreport

import (
	"cmp"
	"fmt"
	"html/template"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
)

// The views are what the templates show, every value already text: the
// decisions (what to say when something is missing, how a number reads,
// which change is worse) are made here, in pure functions, and the templates
// only lay them out.

// runView is the page of one run.
type runView struct {
	header
	// Results is nil for a run without results.
	Results *resultsView
	// NoResults says why there is no summary.
	NoResults string
	Spectrum  figure
	Timeline  figure
	// Requests are the rows of the per-request table, empty with RequestsNote saying why.
	Requests     []requestRow
	RequestsNote string
	// Pods are the rows of the per-pod table, empty with PodsNote saying why.
	Pods     []podRow
	PodsNote string
	// Spec is the spec's YAML, "" with SpecNote saying why.
	Spec, SpecNote string
}

// header is what identifies a run and its verdict, on both pages.
type header struct {
	// Label names the run in titles and legends: "lt-a run 3".
	Label string
	// Which is "a" or "b" in a comparison, "" on the page of one run.
	Which               string
	Namespace, LoadTest string
	Run                 int64
	State               string
	// Tone colours the state and the verdict: "ok", "bad" or "neutral".
	Tone                 string
	Reason, Message      string
	Start, End, Duration string
}

// resultsView is the summary of a run's results.
type resultsView struct {
	// Traffic and Latency are the summary's two rows of cells, in order.
	Traffic, Latency []field
	// ErrorsByClass and Codes are the counts of those maps, in key order.
	ErrorsByClass, Codes []count
}

// field is one cell of a summary; Name is the status field's JSON name.
type field struct {
	Name, Label, Value string
	// Title is a longer form of Value shown on hover, when it has one.
	Title string
}

// count is one entry of a map of counts.
type count struct {
	Key string
	N   int64
}

// requestRow is a row of the per-request table.
type requestRow struct {
	Name, Requests, Errors, ErrorRatio, P50, P90, P99, Max string
}

// podRow is a row of the per-pod table.
type podRow struct {
	Name, Requests, Errors, ErrorRatio, P99, StartOffset string
}

// figure is a plot, or the note that replaces it.
type figure struct {
	ID string
	// SVG is the plot, "" when there is nothing to plot.
	SVG template.HTML
	// Note says why there is no plot, or what is missing from it.
	Note string
}

// compareView is the page that compares run A with run B.
type compareView struct {
	A, B     header
	Deltas   []deltaRow
	Spectrum figure
}

// deltaRow is one metric of both runs and its change from A to B.
type deltaRow struct {
	Metric, Label, A, B, Change string
	// Tone is "worse", "better" or "" (no significant change, or no direction).
	Tone string
}

// none is what a cell shows for a value that does not exist.
const none = "—"

// runViewOf is the page of one run.
func runViewOf(r Run) (runView, error) {
	v := runView{header: headerOf(r, labelOf(r))}
	if r.Results == nil {
		v.NoResults = "No results for this run: it sent nothing yet, or its pods' results could not be read."
	} else {
		v.Results = resultsViewOf(*r.Results)
	}
	var err error
	if v.Spectrum, err = spectrumFigure(r); err != nil {
		return runView{}, err
	}
	if v.Timeline, err = timelineFigure(r.Timeline); err != nil {
		return runView{}, err
	}
	v.Requests, v.RequestsNote = requestRows(r.Results)
	v.Pods, v.PodsNote = podRows(r.Pods)
	v.Spec = r.Spec
	if r.Spec == "" {
		v.SpecNote = "The spec that ran was not kept."
	}
	return v, nil
}

// compareViewOf is the page that compares run a with run b.
func compareViewOf(a, b Run) (compareView, error) {
	la, lb := labelsOf(a, b)
	spectrum, err := compareFigure(a, b, la, lb)
	if err != nil {
		return compareView{}, err
	}
	ha, hb := headerOf(a, la), headerOf(b, lb)
	ha.Which, hb.Which = "a", "b"
	return compareView{
		A: ha, B: hb,
		Deltas:   deltaRows(a.Results, b.Results),
		Spectrum: spectrum,
	}, nil
}

// labelOf names a run in titles and legends: its LoadTest and number.
func labelOf(r Run) string {
	return fmt.Sprintf("%s run %d", cmp.Or(r.LoadTest, "(unnamed)"), r.Run)
}

// labelsOf names two runs so that a reader can tell them apart: with their
// namespaces when those differ, and as "(a)" and "(b)" when they are the
// same run.
func labelsOf(a, b Run) (string, string) {
	la, lb := labelOf(a), labelOf(b)
	if a.Namespace != b.Namespace {
		la, lb = cmp.Or(a.Namespace, "(none)")+"/"+la, cmp.Or(b.Namespace, "(none)")+"/"+lb
	}
	if la == lb {
		la, lb = la+" (a)", lb+" (b)"
	}
	return la, lb
}

// headerOf is the identity and verdict of a run, labelled label.
func headerOf(r Run, label string) header {
	h := header{
		Label: label, Namespace: r.Namespace, LoadTest: cmp.Or(r.LoadTest, "(unnamed)"), Run: r.Run,
		State: cmp.Or(r.State, "unknown"), Tone: toneOf(dilov1.State(r.State)),
		Reason: r.Reason, Message: r.Message,
		Start: timeText(r.Start), End: timeText(r.End), Duration: none,
	}
	if !r.Start.IsZero() && !r.End.IsZero() {
		h.Duration = durationText(r.End.Sub(r.Start))
	}
	return h
}

// toneOf is the colour of a state: green for a run that finished (its
// thresholds kept), red for one that failed, neutral for one under way.
func toneOf(s dilov1.State) string {
	switch s {
	case dilov1.StateFinished:
		return "ok"
	case dilov1.StateFailed:
		return "bad"
	default:
		return "neutral"
	}
}

// resultsViewOf is the summary of results: the status's own strings for its
// decimals, every duration through RoundDuration.
func resultsViewOf(res dilov1.Results) *resultsView {
	skew := field{Name: "startSkew", Label: "Start skew", Value: none, Title: "fewer than two pods sent a request"}
	if res.StartSkew != nil {
		skew.Value, skew.Title = durationText(res.StartSkew.Duration), ""
	}
	return &resultsView{
		Traffic: []field{
			{Name: "requests", Label: "Requests", Value: strconv.FormatInt(res.Requests, 10)},
			{Name: "requestsPerSecond", Label: "Requests/s", Value: cmp.Or(res.RequestsPerSecond, none)},
			{Name: "errors", Label: "Errors", Value: strconv.FormatInt(res.Errors, 10)},
			{Name: "errorRatio", Label: "Error ratio", Value: cmp.Or(res.ErrorRatio, none)},
			{Name: "bytesReceived", Label: "Received", Value: bytesText(res.BytesReceived),
				Title: strconv.FormatInt(res.BytesReceived, 10) + " bytes"},
			{Name: "pods", Label: "Pods", Value: strconv.FormatInt(int64(res.Pods), 10)},
		},
		Latency: []field{
			{Name: "p50", Label: "p50", Value: durationText(res.Latency.P50.Duration)},
			{Name: "p90", Label: "p90", Value: durationText(res.Latency.P90.Duration)},
			{Name: "p99", Label: "p99", Value: durationText(res.Latency.P99.Duration)},
			{Name: "max", Label: "Max", Value: durationText(res.Latency.Max.Duration)},
			skew,
		},
		ErrorsByClass: countsOf(res.ErrorsByClass),
		Codes:         countsOf(res.Codes),
	}
}

// countsOf is a map of counts in key order, so that the page reads the same
// every time.
func countsOf(m map[string]int64) []count {
	out := make([]count, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, count{Key: k, N: m[k]})
	}
	return out
}

// requestRows are the per-request table's rows, in the status's (the plan's)
// order, or the note that says why there are none.
func requestRows(res *dilov1.Results) ([]requestRow, string) {
	switch {
	case res == nil:
		return nil, "No per-request results: the run has no results."
	case len(res.ByRequest) == 0:
		return nil, "No per-request results: the run sent one request, or its pods' full results could not all be read; the summary holds the totals."
	}
	rows := make([]requestRow, len(res.ByRequest))
	for i, q := range res.ByRequest {
		rows[i] = requestRow{
			Name: q.Name, Requests: strconv.FormatInt(q.Requests, 10), Errors: strconv.FormatInt(q.Errors, 10),
			ErrorRatio: cmp.Or(q.ErrorRatio, none),
			P50:        durationText(q.Latency.P50.Duration), P90: durationText(q.Latency.P90.Duration),
			P99: durationText(q.Latency.P99.Duration), Max: durationText(q.Latency.Max.Duration),
		}
	}
	return rows, ""
}

// podRows are the per-pod table's rows, in the caller's order, or the note
// that says why there are none.
func podRows(pods []Pod) ([]podRow, string) {
	if len(pods) == 0 {
		return nil, "No per-pod results for this run."
	}
	rows := make([]podRow, len(pods))
	for i, p := range pods {
		rows[i] = podRow{
			Name: p.Name, Requests: strconv.FormatInt(p.Requests, 10), Errors: strconv.FormatInt(p.Errors, 10),
			ErrorRatio: report.ErrorRatio(p.Errors, p.Requests),
			P99:        durationText(p.P99), StartOffset: durationText(p.StartOffset),
		}
	}
	return rows, ""
}

// deltaMetric is a row of the comparison: how to read it from results, and
// which way is better.
type deltaMetric struct {
	name, label string
	// better is +1 when more is better, -1 when less is, 0 when neither.
	better int
	// value is the text the status shows and the number to compare; ok is
	// false when the text is not a number.
	value func(dilov1.Results) (text string, n float64, ok bool)
}

// deltaMetrics are the rows of the comparison, in order.
var deltaMetrics = []deltaMetric{
	{"requests", "Requests", 0, func(r dilov1.Results) (string, float64, bool) {
		return strconv.FormatInt(r.Requests, 10), float64(r.Requests), true
	}},
	{"requestsPerSecond", "Requests/s", +1, func(r dilov1.Results) (string, float64, bool) { return decimal(r.RequestsPerSecond) }},
	{"errorRatio", "Error ratio", -1, func(r dilov1.Results) (string, float64, bool) { return decimal(r.ErrorRatio) }},
	{"p50", "p50", -1, latency(func(l dilov1.Latency) time.Duration { return l.P50.Duration })},
	{"p90", "p90", -1, latency(func(l dilov1.Latency) time.Duration { return l.P90.Duration })},
	{"p99", "p99", -1, latency(func(l dilov1.Latency) time.Duration { return l.P99.Duration })},
	{"max", "Max", -1, latency(func(l dilov1.Latency) time.Duration { return l.Max.Duration })},
}

// decimal reads one of the status's decimals, shown as it is.
func decimal(s string) (string, float64, bool) {
	n, err := strconv.ParseFloat(s, 64)
	return s, n, err == nil && !math.IsInf(n, 0) && !math.IsNaN(n)
}

// latency reads a latency of the status, shown through RoundDuration.
func latency(of func(dilov1.Latency) time.Duration) func(dilov1.Results) (string, float64, bool) {
	return func(r dilov1.Results) (string, float64, bool) {
		d := of(r.Latency)
		return durationText(d), float64(d), true
	}
}

// significantChange is the change, in percent, from which the comparison
// colours a metric as better or worse: below it, two runs of the same build
// differ as much by chance.
const significantChange = 5

// deltaRows are the comparison's rows; a run without results shows none
// for each value, and a change needs both.
func deltaRows(a, b *dilov1.Results) []deltaRow {
	rows := make([]deltaRow, len(deltaMetrics))
	for i, m := range deltaMetrics {
		row := deltaRow{Metric: m.name, Label: m.label, A: none, B: none, Change: none}
		var na, nb float64
		okA, okB := false, false
		if a != nil {
			row.A, na, okA = m.value(*a)
		}
		if b != nil {
			row.B, nb, okB = m.value(*b)
		}
		if okA && okB {
			row.Change, row.Tone = change(na, nb, m.better)
		}
		rows[i] = row
	}
	return rows
}

// change is the change from a to b in percent, as text, and its tone given
// which way is better; none when a is 0 and b is not, since no percentage
// says that.
func change(a, b float64, better int) (string, string) {
	switch {
	case a == 0 && b == 0:
		return "0.0 %", ""
	case a == 0:
		return none, ""
	}
	pct := (b - a) / math.Abs(a) * 100
	if math.Abs(pct) < 0.05 {
		return "0.0 %", "" // not "-0.0 %"
	}
	tone := ""
	if better != 0 && math.Abs(pct) >= significantChange {
		tone = "worse"
		if (pct > 0) == (better > 0) {
			tone = "better"
		}
	}
	return fmt.Sprintf("%+.1f %%", pct), tone
}

// durationText is how the report shows every duration: rounded as the
// status rounds it, so that it reads 23.7ms.
func durationText(d time.Duration) string {
	return report.RoundDuration(d).String()
}

// timeText is an instant in UTC, to the second, or none for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// bytesText is a byte count in binary units with three significant digits:
// 1.21 GiB.
func bytesText(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n), 0
	for v >= 1024 && unit < len(byteUnits)-1 {
		v /= 1024
		unit++
	}
	digits := 2
	switch {
	case v >= 100:
		digits = 0
	case v >= 10:
		digits = 1
	}
	return strconv.FormatFloat(v, 'f', digits, 64) + " " + byteUnits[unit]
}

var byteUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
