package htmlreport

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
)

// The runs the tests render, and helpers that read a rendered page back as a
// person would see it: by the text of its elements.

// runStart is when the test runs started.
var runStart = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// latencies is a histogram of n latencies, log-normal around median with
// spread sigma, from a fixed seed: a realistic, repeatable spectrum.
func latencies(seed uint64, n int, median time.Duration, sigma float64) *histogram.Histogram {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h := histogram.New(histogram.DefaultPrecision)
	for range n {
		h.Record(time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64())))
	}
	return h
}

// fullRun is a finished run of a mix of two requests with everything a
// report can show: results, histograms, a timeline of two minutes, three
// pods and its spec.
func fullRun() Run {
	browse := latencies(1, 9000, 11*time.Millisecond, 0.45)
	checkout := latencies(2, 3000, 27*time.Millisecond, 0.6)
	total := browse.Clone()
	if err := total.Merge(checkout); err != nil {
		panic(err)
	}
	res := &dilov1.Results{
		Pods: 3, Requests: 12000, Errors: 150, ErrorRatio: report.ErrorRatio(150, 12000),
		ErrorsByClass: map[string]int64{"timeout": 40, "reset": 10},
		Codes:         map[string]int64{"200": 11850, "503": 100},
		BytesReceived: 12_345_678, RequestsPerSecond: "99.87",
		Latency:   report.LatencyOf(total),
		StartSkew: &metav1.Duration{Duration: 38_412_345 * time.Nanosecond},
		ByRequest: []dilov1.RequestResults{
			{Name: "browse", Requests: 9000, Errors: 90, ErrorRatio: report.ErrorRatio(90, 9000), Latency: report.LatencyOf(browse),
				Codes: map[string]int64{"200": 8940, "503": 60}},
			{Name: "checkout", Requests: 3000, Errors: 60, ErrorRatio: report.ErrorRatio(60, 3000), Latency: report.LatencyOf(checkout),
				Codes: map[string]int64{"200": 2910, "503": 40}},
		},
	}
	return Run{
		Namespace: "shop", LoadTest: "checkout-api", Run: 7,
		Spec: `replicas: 3
test:
  serviceName: checkout
  totalRate: 100
  durationSeconds: 120
  requests:
  - name: browse
    path: /products
    weight: 3
  - name: checkout
    method: POST
    path: /cart/checkout
thresholds:
  maxErrorRatio: "0.02"
  maxP99: 250ms
`,
		State: string(dilov1.StateFinished), Reason: dilov1.ReasonFinished,
		Message: "all thresholds kept: error ratio 0.0125 within 0.02, p99 within 250ms",
		Start:   runStart, End: runStart.Add(2*time.Minute + 4200*time.Millisecond),
		Results: res, Latency: total,
		ByRequest: map[string]*histogram.Histogram{"browse": browse, "checkout": checkout},
		Timeline:  timeline(120),
		Pods: []Pod{
			{Name: "checkout-api-7-x4k2p", Requests: 4000, Errors: 48, P99: 61_234_567, StartOffset: 0},
			{Name: "checkout-api-7-9qzrt", Requests: 4000, Errors: 51, P99: 63_987_654, StartOffset: 12_345_678},
			{Name: "checkout-api-7-mv7hd", Requests: 4000, Errors: 51, P99: 64_111_111, StartOffset: 38_412_345},
		},
	}
}

// timeline is n windows of a second at about 100 requests a second, with an
// error burst and a latency spike from 60s to 70s.
func timeline(n int) *live.Timeline {
	tl := &live.Timeline{SendStart: runStart.Add(2 * time.Second), Stride: 1}
	for i := range n {
		e := live.Entry{
			Start: time.Duration(i) * time.Second, Length: time.Second, Observations: 1,
			Requests: 100 + int64(8*math.Sin(float64(i)/7)), Errors: int64(i % 13 / 12),
			P50: 11*time.Millisecond + time.Duration(i%5)*200*time.Microsecond,
			P90: 24 * time.Millisecond, P99: 58*time.Millisecond + time.Duration(i%7)*time.Millisecond,
		}
		if i >= 60 && i < 70 {
			e.Errors, e.P99, e.P90 = 9, 140*time.Millisecond, 70*time.Millisecond
		}
		tl.Entries = append(tl.Entries, e)
	}
	return tl
}

// hostile is a value that breaks out of any HTML context that does not
// escape it, and loads a script from a URL if it does.
const hostile = `"'><script src="https://evil.example/x.js">alert(1)</script><img src=x onerror=alert(2)>`

// hostileRun is fullRun with every user-supplied string hostile.
func hostileRun() Run {
	r := fullRun()
	r.Namespace, r.LoadTest, r.Reason, r.Message = hostile, hostile, hostile, hostile
	r.State = hostile
	r.Spec = "</pre>" + hostile + "\n<style>@import url(https://evil.example/x.css)</style>"
	r.ByRequest = map[string]*histogram.Histogram{hostile: r.ByRequest["browse"]}
	res := *r.Results
	res.ByRequest = []dilov1.RequestResults{res.ByRequest[0]}
	res.ByRequest[0].Name = hostile
	res.ErrorsByClass = map[string]int64{hostile: 1}
	res.Codes = map[string]int64{hostile: 2}
	res.ErrorRatio, res.RequestsPerSecond = hostile, hostile
	r.Results = &res
	r.Pods = []Pod{{Name: hostile, Requests: 1}}
	return r
}

// render is Render's output, failing the test on an error.
func render(t *testing.T, r Run) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, r); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.Bytes()
}

// renderCompare is RenderCompare's output, failing the test on an error.
func renderCompare(t *testing.T, a, b Run) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderCompare(&buf, a, b); err != nil {
		t.Fatalf("RenderCompare: %v", err)
	}
	return buf.Bytes()
}

// parse parses a page as a browser does.
func parse(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// walk calls f for n and every node under it, in document order.
func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// attr is n's attribute key, "" if it has none.
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// hasClass reports whether n has the class c.
func hasClass(n *html.Node, c string) bool {
	for f := range strings.FieldsSeq(attr(n, "class")) {
		if f == c {
			return true
		}
	}
	return false
}

// byID is the element of id, nil if there is none.
func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

// all are the elements under n (n included) for which match is true.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n == nil {
		return nil
	}
	walk(n, func(m *html.Node) {
		if m.Type == html.ElementNode && match(m) {
			out = append(out, m)
		}
	})
	return out
}

// textOf is the text under n with its runs of white space as one space, as
// a browser shows it (outside a <pre>).
func textOf(n *html.Node) string {
	return strings.Join(strings.Fields(rawText(n)), " ")
}

// rawText is the text under n as it is.
func rawText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(m *html.Node) {
		if m.Type == html.TextNode {
			b.WriteString(m.Data)
		}
	})
	return b.String()
}

// fields maps each data-field under the element of id to its text.
func fields(doc *html.Node, id string) map[string]string {
	out := map[string]string{}
	for _, n := range all(byID(doc, id), func(n *html.Node) bool { return attr(n, "data-field") != "" }) {
		out[attr(n, "data-field")] = textOf(n)
	}
	return out
}

// summaryOf is what the summary must show of res: the status's strings as
// they are, counts in decimal, durations as RoundDuration rounds them.
func summaryOf(res dilov1.Results) map[string]string {
	d := func(d time.Duration) string { return report.RoundDuration(d).String() }
	m := map[string]string{
		"requests": strconv.FormatInt(res.Requests, 10), "errors": strconv.FormatInt(res.Errors, 10),
		"errorRatio": res.ErrorRatio, "requestsPerSecond": res.RequestsPerSecond,
		"p50": d(res.Latency.P50.Duration), "p90": d(res.Latency.P90.Duration),
		"p99": d(res.Latency.P99.Duration), "max": d(res.Latency.Max.Duration),
		"startSkew": "—", "pods": strconv.Itoa(int(res.Pods)), "bytesReceived": bytesText(res.BytesReceived),
	}
	if res.StartSkew != nil {
		m["startSkew"] = d(res.StartSkew.Duration)
	}
	var classes, codes []string
	for _, c := range countsOf(res.ErrorsByClass) {
		classes = append(classes, c.Key+" "+strconv.FormatInt(c.N, 10))
	}
	for _, c := range countsOf(res.Codes) {
		codes = append(codes, c.Key+" "+strconv.FormatInt(c.N, 10))
	}
	if len(classes) > 0 {
		m["errorsByClass"] = strings.Join(classes, " ")
	}
	if len(codes) > 0 {
		m["codes"] = strings.Join(codes, " ")
	}
	return m
}
