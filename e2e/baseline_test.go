//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/htmlreport/inbrowser"
	"github.com/dilo-operator/dilo/internal/report"
)

// TestBaselineGateAndReport: a LoadTest gated on its previous run passes its first run
// (nothing to compare with) and fails the next, made slower with the target's /slow,
// naming the baseline run and both values; `kubectl dilo report` of that run, opened in
// headless Chromium, loads nothing, logs no error and shows the status' numbers.
func TestBaselineGateAndReport(t *testing.T) {
	ns := newNamespace(t)
	lt := openLoadTest(ns, "gate", 2, "/", 50, 15) // long enough for a timeline in the report
	lt.Spec.Thresholds = &dilov1.Thresholds{Baseline: &dilov1.Baseline{MaxP99IncreasePercent: ptr[int32](100)}}
	if out, code := dilo(t, ns, "run", "-f", writeLoadTest(t, lt)); code != 0 {
		t.Fatalf("first run: exit %d, want 0 (no baseline yet):\n%s", code, out)
	}
	got := get(t, lt)
	if c := findCondition(got, dilov1.ConditionComplete); c == nil || !strings.Contains(c.Message, "not compared with a baseline") {
		t.Errorf("first run's Complete condition %+v, want it to say there was no baseline", c)
	}

	// 50 ms a request against a few milliseconds: far beyond the 100 % allowed.
	lt.Spec.Test.Path = "/slow?ms=50"
	out, code := dilo(t, ns, "run", "-f", writeLoadTest(t, lt))
	if code != 1 || !strings.Contains(out, dilov1.ReasonThresholdBroken) {
		t.Fatalf("slower run: exit %d, want 1 and %s:\n%s", code, dilov1.ReasonThresholdBroken, out)
	}
	got = get(t, lt)
	c := findCondition(got, dilov1.ConditionFailed)
	if c == nil || !strings.Contains(c.Message, "above baseline gate run 1's") || !strings.Contains(c.Message, "(maxP99IncreasePercent 100)") {
		t.Errorf("Failed condition %+v, want it to name baseline gate run 1, both values and the limit", c)
	}
	if b := got.Status.Baseline; b == nil || b.Run != 1 || b.P99 == nil || got.Status.Results == nil ||
		got.Status.Results.Latency.P99.Duration <= 2*b.P99.Duration {
		t.Fatalf("status.baseline %+v, results %+v: want run 1, and a p99 more than twice its", b, got.Status.Results)
	}
	t.Logf("baseline gate: %s", c.Message)

	file := filepath.Join(t.TempDir(), "report.html")
	if out, code := dilo(t, ns, "report", "gate", "-o", file); code != 0 {
		t.Fatalf("report: exit %d:\n%s", code, out)
	}
	page := openReport(t, file)
	res := got.Status.Results
	d := func(d metav1.Duration) string { return report.RoundDuration(d.Duration).String() }
	want := reportPage{
		State: string(dilov1.StateFailed), Reason: dilov1.ReasonThresholdBroken,
		Summary: map[string]string{"requests": strconv.FormatInt(res.Requests, 10), "errors": strconv.FormatInt(res.Errors, 10),
			"requestsPerSecond": res.RequestsPerSecond, "p50": d(res.Latency.P50), "p99": d(res.Latency.P99)},
		Plots: page.Plots,
	}
	for k := range page.Summary {
		if _, ok := want.Summary[k]; !ok {
			delete(page.Summary, k)
		}
	}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("the report in Chromium (-want +got):\n%s", diff)
	}
	if page.Plots < 2 {
		t.Errorf("the report shows %d plots, want the spectrum and the timeline", page.Plots)
	}
}

// reportPage is what Chromium shows of a run's report.
type reportPage struct {
	// Requests are the URLs it loaded but the page; Problems its console errors,
	// warnings and exceptions; Scripts the page's scripts: none of any.
	Requests, Problems []string
	Scripts            int
	State, Reason      string
	// Summary is the summary's cells, by data-field; Plots counts the SVG plots.
	Summary map[string]string
	Plots   int
}

// openReport opens an HTML report in headless Chromium ($CHROMIUM, from
// hack/chromium.sh), writes its screenshot next to it (and to
// $DILO_E2E_REPORT_SCREENSHOT when set) and reads what it shows.
func openReport(t *testing.T, file string) reportPage {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		t.Fatal("CHROMIUM is unset: make e2e sets it (hack/chromium.sh installs Chromium and prints its path)")
	}
	c, cancel := context.WithTimeout(ctx(t), 2*time.Minute)
	defer cancel()
	browser, stop, err := inbrowser.Start(c, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	p, err := inbrowser.Open[reportPage](browser, "file://"+file, `(() => {
		const text = e => e ? e.innerText.trim() : '';
		return {
			Scripts: document.scripts.length,
			State: text(document.querySelector('#run [data-field=state]')),
			Reason: text(document.querySelector('[data-field=reason]')),
			Summary: Object.fromEntries([...document.querySelectorAll('#summary [data-field]:not(ul)')].map(e => [e.getAttribute('data-field'), text(e)])),
			Plots: document.querySelectorAll('figure svg').length,
		};
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	shot := strings.TrimSuffix(file, ".html") + ".png"
	for _, path := range []string{shot, os.Getenv("DILO_E2E_REPORT_SCREENSHOT")} {
		if path != "" {
			if err := os.WriteFile(path, p.Screenshot, 0o644); err != nil {
				t.Errorf("write the screenshot: %v", err)
			}
		}
	}
	t.Logf("report screenshot: %s", shot)
	page := p.Shown
	page.Requests, page.Problems = p.Requests, p.Problems
	return page
}
