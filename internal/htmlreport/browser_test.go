package htmlreport

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/htmlreport/inbrowser"
	"github.com/dilo-operator/dilo/internal/report"
)

// The browser test opens the rendered pages in headless Chromium, as the
// person who downloads the report does, and checks what the unit tests
// cannot: that the browser loads nothing, logs no error, lays the page out
// with plots of a sensible size, and shows the numbers of the status.
//
// It needs Chromium: CHROMIUM is the path to its binary (hack/chromium.sh
// installs Debian's and prints the path). Without CHROMIUM it is skipped.
// Each page's full-page screenshot is written to the test's temporary
// directory and, when DILO_REPORT_SCREENSHOT is set, to that path for the
// page of one run and to the same path with "-compare" before its extension
// for the comparison.

// pageInBrowser is what the browser made of a page.
type pageInBrowser struct {
	// Requests are the URLs it requested, but the page itself; Problems the
	// console messages, exceptions and log entries of level warning or error.
	Requests, Problems []string
	// Scripts and Resources count the page's scripts and the resources the
	// performance timeline saw: none of either.
	Scripts, Resources int
	// Fields are the data-field cells' text under a selector, as rendered.
	Fields map[string]string
	// Classes and Codes are the errors by class and the status codes
	// shown, key to count.
	Classes, Codes map[string]string
	// Deltas are the comparison's rows: metric to a, b and change.
	Deltas map[string][]string
	// NarrowPlots are the plots less than 600 pixels wide at a 1280 pixel
	// window: too small to read.
	NarrowPlots []string
}

func TestBrowser(t *testing.T) {
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		t.Skip("CHROMIUM is unset: set it to a Chromium binary to run the browser test (hack/chromium.sh installs one and prints its path)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	browser, stop, err := inbrowser.Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	run := fullRun()
	other := fullRun() // the next run, faster in the tail, with fewer errors
	other.Run, other.Latency = 8, latencies(5, 12000, 13*time.Millisecond, 0.5)
	res := *run.Results
	res.Requests, res.Errors, res.RequestsPerSecond = 12480, 25, "103.87"
	res.ErrorRatio, res.Latency = report.ErrorRatio(res.Errors, res.Requests), report.LatencyOf(other.Latency)
	other.Results = &res
	counts := func(m map[string]int64) map[string]string {
		out := map[string]string{}
		for k, n := range m {
			out[k] = strconv.FormatInt(n, 10)
		}
		return out
	}
	summary := summaryOf(*run.Results)
	delete(summary, "errorsByClass") // lists, read through their items' data attributes
	delete(summary, "codes")

	for _, tc := range []struct {
		name   string
		render func(*strings.Builder) error
		// fields is the selector whose data-field cells are read.
		fields     string
		screenshot string
		want       pageInBrowser
	}{
		{
			name:       "run",
			render:     func(b *strings.Builder) error { return Render(b, run) },
			fields:     "#summary",
			screenshot: os.Getenv("DILO_REPORT_SCREENSHOT"),
			want:       pageInBrowser{Fields: summary, Classes: counts(run.Results.ErrorsByClass), Codes: counts(run.Results.Codes)},
		},
		{
			name:       "compare",
			render:     func(b *strings.Builder) error { return RenderCompare(b, run, other) },
			fields:     "#verdict-a",
			screenshot: withSuffix(os.Getenv("DILO_REPORT_SCREENSHOT"), "-compare"),
			want: pageInBrowser{
				Fields: map[string]string{"reason": run.Reason, "message": run.Message},
				Deltas: deltasOf(*run.Results, res),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page strings.Builder
			if err := tc.render(&page); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), tc.name+".html")
			if err := os.WriteFile(file, []byte(page.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			got, shot := open(t, browser, "file://"+file, tc.fields)
			writeScreenshot(t, shot, filepath.Join(filepath.Dir(file), tc.name+".png"), tc.screenshot)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s in the browser (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// deltasOf is what the comparison must show of two results: both values as
// the summary shows them, and the change as change computes it.
func deltasOf(a, b dilov1.Results) map[string][]string {
	sa, sb := summaryOf(a), summaryOf(b)
	out := map[string][]string{}
	for _, m := range deltaMetrics {
		_, na, _ := m.value(a)
		_, nb, _ := m.value(b)
		c, _ := change(na, nb, m.better)
		out[m.name] = []string{sa[m.name], sb[m.name], c}
	}
	return out
}

// open opens url in a new tab of browser and reads what it shows; it
// returns the full-page screenshot too.
func open(t *testing.T, browser context.Context, url, fields string) (pageInBrowser, []byte) {
	t.Helper()
	// What a person reads: innerText is the rendered text, as laid out.
	type dom struct {
		Scripts, Resources int
		Fields, Classes    map[string]string
		Codes              map[string]string
		Deltas             map[string][]string
		NarrowPlots        []string
	}
	p, err := inbrowser.Open[dom](browser, url, `(() => {
		const text = e => e.innerText.trim();
		const byAttr = (sel, key, f) => Object.fromEntries([...document.querySelectorAll(sel)].map(e => [e.getAttribute(key), f(e)]));
		return {
			Scripts: document.scripts.length,
			Resources: performance.getEntriesByType('resource').length,
			Fields: byAttr(`+strconv.Quote(fields+" [data-field]:not(ul)")+`, 'data-field', text),
			Classes: byAttr('[data-class]', 'data-class', e => text(e.querySelector('.n'))),
			Codes: byAttr('[data-code]', 'data-code', e => text(e.querySelector('.n'))),
			Deltas: byAttr('[data-metric]', 'data-metric', e => ['[data-run=a]', '[data-run=b]', '[data-field=change]'].map(s => text(e.querySelector(s)))),
			NarrowPlots: [...document.querySelectorAll('figure svg')].filter(s => s.getBoundingClientRect().width < 600).map(s => s.closest('figure').id),
		};
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Shown
	return pageInBrowser{
		Requests: p.Requests, Problems: p.Problems,
		Scripts: d.Scripts, Resources: d.Resources,
		Fields: d.Fields, Classes: d.Classes, Codes: d.Codes,
		Deltas: d.Deltas, NarrowPlots: d.NarrowPlots,
	}, p.Screenshot
}

// writeScreenshot writes a screenshot to path, and to also when it is set.
func writeScreenshot(t *testing.T, png []byte, path, also string) {
	t.Helper()
	for _, p := range []string{path, also} {
		if p == "" {
			continue
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Errorf("write the screenshot: %v", err)
		}
	}
	t.Logf("screenshot: %s", path)
}

// withSuffix is path with suffix before its extension, "" for "".
func withSuffix(path, suffix string) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}
