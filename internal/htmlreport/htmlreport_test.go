package htmlreport

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
)

// runPage is what a reader finds on the page of one run.
type runPage struct {
	Title, Heading string
	// Header holds the data-fields of the header: state, times, verdict.
	Header map[string]string
	// Verdict is the verdict box's class: its colour.
	Verdict string
	Summary map[string]string
	// Figures are the ids of the figures that hold a plot.
	Figures            []string
	Notes              []string
	Requests, Pods     []string
	RequestRow, PodRow map[string]string // the first row of each table
	Spec               string
}

// readRun reads a page of one run.
func readRun(t *testing.T, page []byte) runPage {
	t.Helper()
	doc := parse(t, page)
	p := runPage{
		Header:     fields(doc, "run"),
		Summary:    fields(doc, "summary"),
		RequestRow: map[string]string{}, PodRow: map[string]string{},
	}
	if ts := all(doc, func(n *html.Node) bool { return n.Data == "title" }); len(ts) > 0 {
		p.Title = textOf(ts[0])
	}
	if hs := all(doc, func(n *html.Node) bool { return n.Data == "h1" }); len(hs) > 0 {
		p.Heading = textOf(hs[0])
	}
	if v := byID(doc, "verdict"); v != nil {
		p.Verdict = attr(v, "class")
	}
	for _, f := range all(doc, func(n *html.Node) bool { return n.Data == "figure" }) {
		if len(all(f, func(n *html.Node) bool { return n.Data == "svg" })) > 0 {
			p.Figures = append(p.Figures, attr(f, "id"))
		}
	}
	for _, n := range all(doc, func(n *html.Node) bool { return hasClass(n, "note") }) {
		p.Notes = append(p.Notes, textOf(n))
	}
	for _, tr := range all(doc, func(n *html.Node) bool { return attr(n, "data-request") != "" }) {
		p.Requests = append(p.Requests, attr(tr, "data-request"))
	}
	for _, tr := range all(doc, func(n *html.Node) bool { return attr(n, "data-pod") != "" }) {
		p.Pods = append(p.Pods, attr(tr, "data-pod"))
	}
	firstRow := func(section string, into map[string]string) {
		rows := all(byID(doc, section), func(n *html.Node) bool {
			return n.Data == "tr" && attr(n, "data-"+strings.TrimSuffix(section, "s")) != ""
		})
		if len(rows) > 0 {
			for _, c := range all(rows[0], func(n *html.Node) bool { return attr(n, "data-field") != "" }) {
				into[attr(c, "data-field")] = textOf(c)
			}
		}
	}
	firstRow("requests", p.RequestRow)
	firstRow("pods", p.PodRow)
	if pre := all(byID(doc, "spec"), func(n *html.Node) bool { return n.Data == "pre" }); len(pre) > 0 {
		p.Spec = rawText(pre[0])
	}
	return p
}

func TestRender(t *testing.T) {
	full := fullRun()
	partial := Run{
		Namespace: "shop", LoadTest: "cart", Run: 3,
		State: string(dilov1.StateFailed), Reason: dilov1.ReasonThresholdBroken, Message: "p99 23.8ms exceeds maxP99 20ms",
		Start: runStart,
		Results: &dilov1.Results{
			Pods: 1, Requests: 8000, Errors: 100, ErrorRatio: "0.0125", RequestsPerSecond: "99.87",
			ErrorsByClass: map[string]int64{"timeout": 100}, Codes: map[string]int64{"200": 7900}, BytesReceived: 999,
			Latency: dilov1.Latency{
				P50: metav1.Duration{Duration: 4_500_001}, P90: metav1.Duration{Duration: 12_345_678},
				P99: metav1.Duration{Duration: 23_700_111}, Max: metav1.Duration{Duration: 1_234_567_890},
			},
		},
	}
	empty := histogram.New(histogram.DefaultPrecision)
	executing := Run{
		LoadTest: "cart", Run: 4, State: string(dilov1.StateExecuting), Start: runStart, End: runStart.Add(90 * time.Second),
		Results:   &dilov1.Results{},
		Latency:   empty,
		ByRequest: map[string]*histogram.Histogram{"a": nil, "b": empty},
		Timeline: &live.Timeline{SendStart: runStart, Stride: 1, Entries: []live.Entry{
			{Start: 0, Length: 2 * time.Second, Observations: 1, Requests: 10, P50: time.Millisecond, P90: time.Millisecond, P99: time.Millisecond},
		}},
		Pods: []Pod{{Name: "cart-4-abcde"}},
	}
	instant := Run{Timeline: &live.Timeline{Stride: 1, Entries: []live.Entry{{Observations: 1}}}}

	for _, tc := range []struct {
		name string
		run  Run
		want runPage
	}{
		{
			name: "everything",
			run:  full,
			want: runPage{
				Title: "checkout-api run 7 — DiLO report", Heading: "shop/checkout-api run 7",
				Header: map[string]string{
					"state": "finished", "start": "2026-11-28 19:00:00 UTC", "end": "2026-11-28 19:02:04 UTC",
					"duration": "2m5s", // 2m4.2s, rounded up to three digits as every duration is
					"reason":   "Finished", "message": full.Message,
				},
				Verdict:  "verdict ok",
				Summary:  summaryOf(*full.Results),
				Figures:  []string{"spectrum-plot", "timeline-plot"},
				Requests: []string{"browse", "checkout"},
				Pods:     []string{"checkout-api-7-x4k2p", "checkout-api-7-9qzrt", "checkout-api-7-mv7hd"},
				RequestRow: map[string]string{
					"name": "browse", "requests": "9000", "errors": "90", "errorRatio": "0.0100",
					"p50": summaryOfLatency(full.Results.ByRequest[0].Latency)["p50"], "p90": summaryOfLatency(full.Results.ByRequest[0].Latency)["p90"],
					"p99": summaryOfLatency(full.Results.ByRequest[0].Latency)["p99"], "max": summaryOfLatency(full.Results.ByRequest[0].Latency)["max"],
				},
				PodRow: map[string]string{"name": "checkout-api-7-x4k2p", "requests": "4000", "errors": "48", "errorRatio": "0.0120", "p99": "61.3ms", "startOffset": "0s"},
				Spec:   full.Spec,
			},
		},
		{
			name: "results without histograms, timeline, pods or spec",
			run:  partial,
			want: runPage{
				Title: "cart run 3 — DiLO report", Heading: "shop/cart run 3",
				Header: map[string]string{
					"state": "failed", "start": "2026-11-28 19:00:00 UTC", "end": "—", "duration": "—",
					"reason": "ThresholdBroken", "message": "p99 23.8ms exceeds maxP99 20ms",
				},
				Verdict: "verdict bad",
				Summary: map[string]string{
					"requests": "8000", "errors": "100", "errorRatio": "0.0125", "requestsPerSecond": "99.87",
					"p50": "4.51ms", "p90": "12.4ms", "p99": "23.8ms", "max": "1.24s", "startSkew": "—",
					"pods": "1", "bytesReceived": "999 B", "errorsByClass": "timeout 100", "codes": "200 7900",
				},
				Notes: []string{
					"No latency histogram kept for this run.",
					"No timeline kept for this run.",
					"No per-request results: the run sent one request, or its pods' full results could not all be read; the summary holds the totals.",
					"No per-pod results for this run.",
					"The spec that ran was not kept.",
				},
				RequestRow: map[string]string{}, PodRow: map[string]string{},
			},
		},
		{
			name: "empty results and histograms, one window, a pod that sent nothing",
			run:  executing,
			want: runPage{
				Title: "cart run 4 — DiLO report", Heading: "cart run 4",
				Header:  map[string]string{"state": "executing", "start": "2026-11-28 19:00:00 UTC", "end": "2026-11-28 19:01:30 UTC", "duration": "1m30s"},
				Verdict: "verdict neutral",
				Summary: map[string]string{
					"requests": "0", "errors": "0", "errorRatio": "—", "requestsPerSecond": "—",
					"p50": "0s", "p90": "0s", "p99": "0s", "max": "0s", "startSkew": "—", "pods": "0", "bytesReceived": "0 B",
				},
				Figures: []string{"timeline-plot"},
				Notes: []string{
					"No request went unanswered.",
					"No response was received.",
					"The latency histogram is empty: no request was recorded.",
					"No per-request results: the run sent one request, or its pods' full results could not all be read; the summary holds the totals.",
					"The spec that ran was not kept.",
				},
				Pods:       []string{"cart-4-abcde"},
				RequestRow: map[string]string{},
				PodRow:     map[string]string{"name": "cart-4-abcde", "requests": "0", "errors": "0", "errorRatio": "0", "p99": "0s", "startOffset": "0s"},
			},
		},
		{
			name: "a timeline of an instant",
			run:  instant,
			want: runPage{
				Title: "(unnamed) run 0 — DiLO report", Heading: "(unnamed) run 0",
				Header:  map[string]string{"state": "unknown", "start": "—", "end": "—", "duration": "—"},
				Verdict: "verdict neutral", Summary: map[string]string{},
				Notes: []string{
					"No results for this run: it sent nothing yet, or its pods' results could not be read.",
					"No latency histogram kept for this run.",
					"The timeline has no window of any length.",
					"No per-request results: the run has no results.",
					"No per-pod results for this run.",
					"The spec that ran was not kept.",
				},
				RequestRow: map[string]string{}, PodRow: map[string]string{},
			},
		},
		{
			name: "nothing at all",
			run:  Run{},
			want: runPage{
				Title: "(unnamed) run 0 — DiLO report", Heading: "(unnamed) run 0",
				Header:  map[string]string{"state": "unknown", "start": "—", "end": "—", "duration": "—"},
				Verdict: "verdict neutral", Summary: map[string]string{},
				Notes: []string{
					"No results for this run: it sent nothing yet, or its pods' results could not be read.",
					"No latency histogram kept for this run.",
					"No timeline kept for this run.",
					"No per-request results: the run has no results.",
					"No per-pod results for this run.",
					"The spec that ran was not kept.",
				},
				RequestRow: map[string]string{}, PodRow: map[string]string{},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readRun(t, render(t, tc.run))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

// summaryOfLatency is what a table must show of a latency summary.
func summaryOfLatency(l dilov1.Latency) map[string]string {
	return summaryOf(dilov1.Results{Latency: l})
}

func TestRenderLegends(t *testing.T) {
	a, b := fullRun(), fullRun()
	b.Run = 8
	partial := fullRun() // a request without a histogram, one with an empty one, and one the status does not name
	partial.ByRequest["checkout"], partial.ByRequest["search"] = nil, histogram.New(histogram.DefaultPrecision)
	partial.ByRequest["admin"] = partial.ByRequest["browse"]
	for _, tc := range []struct {
		name string
		page []byte
		want map[string][]string
	}{
		{"requests without histograms left out, unknown ones last", render(t, partial), map[string][]string{
			"spectrum-plot": {"all requests", "browse", "admin"},
			"timeline-plot": {"p50", "p99"},
		}},
		{"one run: the total and each request", render(t, a), map[string][]string{
			"spectrum-plot": {"all requests", "browse", "checkout"},
			"timeline-plot": {"p50", "p99"},
		}},
		{"two runs: one line each", renderCompare(t, a, b), map[string][]string{
			"compare-plot": {"checkout-api run 7", "checkout-api run 8"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, legends(parse(t, tc.page))); diff != "" {
				t.Errorf("legends (-want +got):\n%s", diff)
			}
		})
	}
}

// legends are the legend texts of each plot, by figure id: the texts of its
// SVG that are neither tick labels, axis labels nor panel titles.
func legends(doc *html.Node) map[string][]string {
	notLegend := map[string]bool{"percentile": true, "latency (ms)": true, "requests/s": true, "errors/s": true,
		"seconds since the send start": true, "Requests per second": true, "Errors per second": true, "Latency": true}
	out := map[string][]string{}
	for _, f := range all(doc, func(n *html.Node) bool { return n.Data == "figure" }) {
		for _, tx := range all(f, func(n *html.Node) bool { return n.Data == "text" }) {
			s := rawText(tx)
			if notLegend[s] || slices.Contains(spectrumTicks, s) || strings.Trim(s, "0123456789.") == "" {
				continue
			}
			out[attr(f, "id")] = append(out[attr(f, "id")], s)
		}
	}
	return out
}

// escaping is what a hostile value managed to do to a page.
type escaping struct {
	// Scripts, Images and Styles count those elements; Handlers lists the
	// attributes that would run script.
	Scripts, Images, Styles int
	Handlers                []string
	// Shown are the hostile values a reader sees, as text, by where.
	Shown map[string]bool
}

// escapingOf reads what a page made of the hostile values.
func escapingOf(doc *html.Node) escaping {
	e := escaping{Shown: map[string]bool{}}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			e.Scripts++
		case "img", "image":
			e.Images++
		case "style":
			e.Styles++
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				e.Handlers = append(e.Handlers, n.Data+" "+a.Key)
			}
		}
	})
	shown := func(where string, n *html.Node) { e.Shown[where] = n != nil && strings.Contains(rawText(n), hostile) }
	shown("heading", first(all(doc, func(n *html.Node) bool { return n.Data == "h1" })))
	for _, id := range []string{"verdict", "verdict-a"} {
		if v := byID(doc, id); v != nil {
			shown("verdict", v)
		}
	}
	if s := byID(doc, "spec"); s != nil {
		shown("spec", s)
		shown("summary", byID(doc, "summary"))
		shown("requests", byID(doc, "requests"))
		shown("pods", byID(doc, "pods"))
		shown("spectrum legend", byID(doc, "spectrum-plot"))
	} else {
		shown("deltas", byID(doc, "deltas"))
		shown("spectrum legend", byID(doc, "compare-plot"))
	}
	return e
}

// first is the first of ns, nil if there is none.
func first(ns []*html.Node) *html.Node {
	if len(ns) == 0 {
		return nil
	}
	return ns[0]
}

func TestRenderEscapes(t *testing.T) {
	r := hostileRun()
	for _, tc := range []struct {
		name string
		page []byte
		want escaping
	}{
		{"one run", render(t, r), escaping{Styles: 1, Shown: map[string]bool{
			"heading": true, "verdict": true, "spec": true, "summary": true, "requests": true, "pods": true, "spectrum legend": true,
		}}},
		{"two runs", renderCompare(t, r, r), escaping{Styles: 1, Shown: map[string]bool{
			"heading": true, "verdict": true, "deltas": true, "spectrum legend": true,
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, escapingOf(parse(t, tc.page))); diff != "" {
				t.Errorf("escaping (-want +got):\n%s", diff)
			}
		})
	}
	if got := readRun(t, render(t, r)).Spec; got != r.Spec {
		t.Errorf("spec shown as %q, want it verbatim: %q", got, r.Spec)
	}
}

// namespaceURIs are the URIs a page may hold: names of XML namespaces,
// which nothing loads.
var namespaceURIs = map[string]bool{
	"http://www.w3.org/2000/svg": true, "http://www.w3.org/1999/xlink": true, "http://www.w3.org/1999/xhtml": true,
}

// loadsOf lists everything in a page that would make a browser load
// something or run a script: elements that load, attributes that name a
// resource, CSS imports and url()s, unknown namespaces. It also returns the
// namespace URIs it found, the only URLs a page may hold.
func loadsOf(doc *html.Node) (loads []string, namespaces int) {
	css := func(where, s string) {
		l := strings.ToLower(s)
		if strings.Contains(l, "@import") || strings.Contains(l, "url(") {
			loads = append(loads, where+": "+s)
		}
	}
	walk(doc, func(n *html.Node) {
		if n.Type == html.TextNode && n.Parent != nil && n.Parent.Data == "style" {
			css("<style>", n.Data)
		}
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script", "link", "img", "image", "iframe", "frame", "object", "embed", "audio", "video",
			"source", "track", "picture", "use", "base", "form", "input", "feimage", "foreignobject":
			loads = append(loads, "<"+n.Data+">")
		}
		for _, a := range n.Attr {
			key := strings.ToLower(strings.TrimPrefix(a.Namespace+":"+a.Key, ":"))
			switch {
			case a.Namespace == "xmlns" || key == "xmlns":
				if !namespaceURIs[a.Val] {
					loads = append(loads, key+"="+a.Val)
				}
				namespaces++
			case slices.Contains([]string{"src", "srcset", "poster", "data", "action", "formaction", "background", "ping", "manifest"}, key):
				loads = append(loads, key+"="+a.Val)
			case (key == "href" || key == "xlink:href") && !strings.HasPrefix(a.Val, "#"):
				loads = append(loads, key+"="+a.Val)
			case key == "http-equiv" && strings.EqualFold(a.Val, "refresh"):
				loads = append(loads, "meta refresh")
			case strings.HasPrefix(key, "on"):
				loads = append(loads, key+"="+a.Val)
			case key == "style":
				css(n.Data+" style", a.Val)
			}
		}
	})
	return loads, namespaces
}

// policyOf is the page's Content Security Policy.
func policyOf(doc *html.Node) string {
	for _, m := range all(doc, func(n *html.Node) bool { return n.Data == "meta" }) {
		if strings.EqualFold(attr(m, "http-equiv"), "Content-Security-Policy") {
			return attr(m, "content")
		}
	}
	return ""
}

func TestRenderLoadsNothing(t *testing.T) {
	a, b := fullRun(), fullRun()
	b.Run = 8
	type loads struct {
		Loads  []string
		Policy string
		// URLs counts the http:// and https:// in the page's source that are
		// not namespace names: none, unless the inputs hold some as text.
		URLs int
	}
	for _, tc := range []struct {
		name string
		page []byte
		// textURLs is whether the inputs hold URLs as text, which the page
		// shows and does not load.
		textURLs bool
	}{
		{"one run", render(t, a), false},
		{"nothing", render(t, Run{}), false},
		{"hostile", render(t, hostileRun()), true},
		{"two runs", renderCompare(t, a, b), false},
		{"two hostile runs", renderCompare(t, hostileRun(), Run{}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parse(t, tc.page)
			l, namespaces := loadsOf(doc)
			got := loads{Loads: l, Policy: policyOf(doc), URLs: strings.Count(string(tc.page), "http://") + strings.Count(string(tc.page), "https://") - namespaces}
			want := loads{Policy: "default-src 'none'; style-src 'unsafe-inline'"}
			if tc.textURLs {
				want.URLs = got.URLs
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("loads (-want +got):\n%s", diff)
			}
		})
	}
}

// comparePage is what a reader finds on the page of two runs.
type comparePage struct {
	Title, Heading string
	// Cards are the runs' card headings, by run ("a", "b").
	Cards map[string]string
	// Deltas are the rows of the table, by metric: a, b, change, the change's class.
	Deltas map[string][4]string
	Notes  []string
	Plot   bool
}

// readCompare reads a page of two runs.
func readCompare(t *testing.T, page []byte) comparePage {
	t.Helper()
	doc := parse(t, page)
	p := comparePage{Cards: map[string]string{}, Deltas: map[string][4]string{}}
	p.Title = textOf(first(all(doc, func(n *html.Node) bool { return n.Data == "title" })))
	p.Heading = textOf(first(all(doc, func(n *html.Node) bool { return n.Data == "h1" })))
	for _, c := range all(doc, func(n *html.Node) bool { return hasClass(n, "card") }) {
		p.Cards[attr(c, "data-run")] = textOf(first(all(c, func(n *html.Node) bool { return n.Data == "h2" })))
	}
	for _, tr := range all(byID(doc, "deltas"), func(n *html.Node) bool { return attr(n, "data-metric") != "" }) {
		var row [4]string
		for _, td := range all(tr, func(n *html.Node) bool { return n.Data == "td" }) {
			switch {
			case attr(td, "data-run") == "a":
				row[0] = textOf(td)
			case attr(td, "data-run") == "b":
				row[1] = textOf(td)
			case attr(td, "data-field") == "change":
				row[2], row[3] = textOf(td), attr(td, "class")
			}
		}
		p.Deltas[attr(tr, "data-metric")] = row
	}
	for _, n := range all(doc, func(n *html.Node) bool { return hasClass(n, "note") }) {
		p.Notes = append(p.Notes, textOf(n))
	}
	p.Plot = len(all(byID(doc, "compare-plot"), func(n *html.Node) bool { return n.Data == "svg" })) > 0
	return p
}

func TestRenderCompare(t *testing.T) {
	lat := func(p50, p90, p99, maxi time.Duration) dilov1.Latency {
		return dilov1.Latency{P50: metav1.Duration{Duration: p50}, P90: metav1.Duration{Duration: p90},
			P99: metav1.Duration{Duration: p99}, Max: metav1.Duration{Duration: maxi}}
	}
	a, b := fullRun(), fullRun()
	a.Results = &dilov1.Results{Requests: 12000, RequestsPerSecond: "99.87", ErrorRatio: "0.0125",
		Latency: lat(12*time.Millisecond, 30*time.Millisecond, 80*time.Millisecond, 400*time.Millisecond)}
	b.Run, b.State = 8, string(dilov1.StateFailed)
	b.Results = &dilov1.Results{Requests: 12500, RequestsPerSecond: "104.10", ErrorRatio: "0.0020",
		Latency: lat(12_100_000, 33*time.Millisecond, 120*time.Millisecond, 380*time.Millisecond)}
	other := fullRun()
	other.Namespace = "staging"

	for _, tc := range []struct {
		name string
		a, b Run
		want comparePage
	}{
		{
			name: "two runs of a LoadTest",
			a:    a, b: b,
			want: comparePage{
				Title: "checkout-api run 7 vs checkout-api run 8 — DiLO report", Heading: "checkout-api run 7 vs checkout-api run 8",
				Cards: map[string]string{"a": "a checkout-api run 7", "b": "b checkout-api run 8"},
				Deltas: map[string][4]string{
					"requests":          {"12000", "12500", "+4.2 %", ""},  // neither better nor worse
					"requestsPerSecond": {"99.87", "104.10", "+4.2 %", ""}, // under 5 %
					"errorRatio":        {"0.0125", "0.0020", "-84.0 %", "better"},
					"p50":               {"12ms", "12.1ms", "+0.8 %", ""},
					"p90":               {"30ms", "33ms", "+10.0 %", "worse"},
					"p99":               {"80ms", "120ms", "+50.0 %", "worse"},
					"max":               {"400ms", "380ms", "-5.0 %", "better"},
				},
				Plot: true,
			},
		},
		{
			name: "the same run in two namespaces",
			a:    fullRun(), b: other,
			want: comparePage{
				Title:   "shop/checkout-api run 7 vs staging/checkout-api run 7 — DiLO report",
				Heading: "shop/checkout-api run 7 vs staging/checkout-api run 7",
				Cards:   map[string]string{"a": "a shop/checkout-api run 7", "b": "b staging/checkout-api run 7"},
				Deltas:  sameDeltas(*fullRun().Results),
				Plot:    true,
			},
		},
		{
			name: "a run without results",
			a:    Run{LoadTest: "cart", Run: 1}, b: a,
			want: comparePage{
				// Their namespaces differ: the labels name them.
				Title:   "(none)/cart run 1 vs shop/checkout-api run 7 — DiLO report",
				Heading: "(none)/cart run 1 vs shop/checkout-api run 7",
				Cards:   map[string]string{"a": "a (none)/cart run 1", "b": "b shop/checkout-api run 7"},
				Deltas: map[string][4]string{
					"requests": {"—", "12000", "—", ""}, "requestsPerSecond": {"—", "99.87", "—", ""},
					"errorRatio": {"—", "0.0125", "—", ""}, "p50": {"—", "12ms", "—", ""}, "p90": {"—", "30ms", "—", ""},
					"p99": {"—", "80ms", "—", ""}, "max": {"—", "400ms", "—", ""},
				},
				Notes: []string{"No latency histogram kept for (none)/cart run 1."},
				Plot:  true,
			},
		},
		{
			name: "nothing at all, twice",
			a:    Run{}, b: Run{},
			want: comparePage{
				Title: "(unnamed) run 0 (a) vs (unnamed) run 0 (b) — DiLO report", Heading: "(unnamed) run 0 (a) vs (unnamed) run 0 (b)",
				Cards: map[string]string{"a": "a (unnamed) run 0 (a)", "b": "b (unnamed) run 0 (b)"},
				Deltas: map[string][4]string{
					"requests": {"—", "—", "—", ""}, "requestsPerSecond": {"—", "—", "—", ""}, "errorRatio": {"—", "—", "—", ""},
					"p50": {"—", "—", "—", ""}, "p90": {"—", "—", "—", ""}, "p99": {"—", "—", "—", ""}, "max": {"—", "—", "—", ""},
				},
				Notes: []string{"No latency histogram kept for either run."},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readCompare(t, renderCompare(t, tc.a, tc.b))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

// sameDeltas are the comparison's rows for two runs of the same results.
func sameDeltas(r dilov1.Results) map[string][4]string {
	s := summaryOf(r)
	out := map[string][4]string{}
	for _, m := range []string{"requests", "requestsPerSecond", "errorRatio", "p50", "p90", "p99", "max"} {
		out[m] = [4]string{s[m], s[m], "0.0 %", ""}
	}
	return out
}

func TestChange(t *testing.T) {
	for _, tc := range []struct {
		a, b       float64
		better     int
		text, tone string
	}{
		{100, 110, -1, "+10.0 %", "worse"},
		{100, 110, +1, "+10.0 %", "better"},
		{100, 110, 0, "+10.0 %", ""},
		{100, 95, -1, "-5.0 %", "better"},
		{100, 95.1, -1, "-4.9 %", ""},
		{100, 99.96, -1, "0.0 %", ""},
		{0, 0, -1, "0.0 %", ""},
		{0, 3, -1, "—", ""},
		{-2, -1, +1, "+50.0 %", "better"},
	} {
		text, tone := change(tc.a, tc.b, tc.better)
		if diff := cmp.Diff([2]string{tc.text, tc.tone}, [2]string{text, tone}); diff != "" {
			t.Errorf("change(%v, %v, %d) (-want +got):\n%s", tc.a, tc.b, tc.better, diff)
		}
	}
}

func TestBytesText(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.00 KiB"}, {12_345_678, "11.8 MiB"},
		{150 << 20, "150 MiB"}, {5 << 40, "5.00 TiB"}, {1<<63 - 1, "8.00 EiB"},
	} {
		if got := bytesText(tc.n); got != tc.want {
			t.Errorf("bytesText(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteFails(t *testing.T) {
	for name, err := range map[string]error{
		"Render":        Render(failingWriter{}, fullRun()),
		"RenderCompare": RenderCompare(failingWriter{}, fullRun(), Run{}),
	} {
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s to a failing writer: %v, want the write's error", name, err)
		}
	}
}
