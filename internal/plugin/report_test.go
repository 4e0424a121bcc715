package plugin

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/htmlreport"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// The agents' result documents below are built as the agent builds them, with
// podreport, and encoded into a log as it prints them (EncodeFull, the last line), so
// that reportOf reads them as it reads a real pod's log.

// sent is n responses of status code to request name, each taking lat.
type sent struct {
	name string
	n    int
	code string
	lat  time.Duration
}

// hist is a histogram of precision p holding what ss sent.
func hist(p int, ss ...sent) *histogram.Histogram {
	h := histogram.New(p)
	for _, s := range ss {
		for range s.n {
			h.Record(s.lat)
		}
	}
	return h
}

// document is the report of an agent that recorded at precision p and sent ss, its
// first request at first (zero: it sent none); with more than one request name, per
// request too, as the agent does for a mix.
func document(p int, first time.Time, ss ...sent) podreport.Report {
	r := podreport.Report{Start: t0, End: t0.Add(40 * time.Second), FirstRequest: first, Latency: hist(p, ss...)}
	if !first.IsZero() {
		r.Start = first
	}
	byName := map[string]*podreport.RequestReport{}
	var names []string
	for _, s := range ss {
		q := byName[s.name]
		if q == nil {
			q = &podreport.RequestReport{Name: s.name, Codes: map[string]int64{}, Latency: histogram.New(p)}
			byName[s.name] = q
			names = append(names, s.name)
		}
		n := int64(s.n)
		q.Requests, r.Requests = q.Requests+n, r.Requests+n
		if code, _ := strconv.Atoi(s.code); !podreport.IsSuccess(code) {
			q.Errors, r.Errors = q.Errors+n, r.Errors+n
		}
		q.Codes[s.code] += n
		if r.Codes == nil {
			r.Codes = map[string]int64{}
		}
		r.Codes[s.code] += n
		for range s.n {
			q.Latency.Record(s.lat)
		}
	}
	if len(names) > 1 {
		for _, name := range names {
			r.ByRequest = append(r.ByRequest, *byName[name])
		}
	}
	return r
}

// agentLog is the log of an agent that printed a line, then r's full document.
func agentLog(t *testing.T, r podreport.Report) []byte {
	t.Helper()
	doc, err := r.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	return []byte("dilo-agent: sending to target:80 for 30s\n" + string(doc) + "\n")
}

// sameHistogram compares histograms by their counts, precision and extremes.
var sameHistogram = cmp.Comparer(func(a, b *histogram.Histogram) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Precision() == b.Precision() && a.Equal(b)
})

func TestReportOf(t *testing.T) {
	p := histogram.DefaultPrecision
	sendStart := t0.Add(5 * time.Second)
	current := newLoadTest("web", finished(3), func(lt *dilov1.LoadTest) { lt.Status.RunSpecHash = "h" },
		withHistory(record(1, "50.00"), dilov1.RunRecord{Run: 2, RunSpecHash: "other", State: dilov1.StateFinished}))
	tl := &live.Timeline{SendStart: sendStart, Stride: 1, Entries: []live.Entry{{Length: 2 * time.Second, Observations: 1, Requests: 200}}}
	load := func(run int64) runData {
		t.Helper()
		d, err := runDataOf(current, run)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	const spec = "replicas: 2\ntest:\n  path: /\n  serviceName: target\n"
	// What the page of the current run shows from its status alone.
	base := htmlreport.Run{Namespace: "ns", LoadTest: "web", Run: 3, Spec: spec, State: "finished",
		Reason: dilov1.ReasonFinished, Message: "every pod succeeded", Start: t0, End: t0.Add(36 * time.Second),
		Results: results()}
	with := func(mod func(*htmlreport.Run)) htmlreport.Run {
		r := base
		mod(&r)
		return r
	}

	cases := []struct {
		name    string
		d       runData
		tl      *live.Timeline
		logs    []podLog
		want    htmlreport.Run
		skipped []string
	}{{
		name: "the pods' histograms merged, in total and per request; offsets from the earliest first request",
		d:    load(3), tl: tl,
		logs: []podLog{
			{Pod: "web-3-0", Log: agentLog(t, document(p, sendStart.Add(3*time.Millisecond),
				sent{"get", 200, "200", 2 * time.Millisecond}, sent{"post", 99, "200", 2 * time.Millisecond}, sent{"post", 1, "503", 2 * time.Millisecond}))},
			{Pod: "web-3-1", Log: agentLog(t, document(p, sendStart,
				sent{"get", 100, "200", 4 * time.Millisecond}, sent{"post", 100, "200", 4 * time.Millisecond}))},
		},
		want: with(func(r *htmlreport.Run) {
			r.Timeline = tl
			r.Latency = hist(p, sent{n: 300, lat: 2 * time.Millisecond}, sent{n: 200, lat: 4 * time.Millisecond})
			r.ByRequest = map[string]*histogram.Histogram{
				"get":  hist(p, sent{n: 200, lat: 2 * time.Millisecond}, sent{n: 100, lat: 4 * time.Millisecond}),
				"post": hist(p, sent{n: 100, lat: 2 * time.Millisecond}, sent{n: 100, lat: 4 * time.Millisecond}),
			}
			r.Pods = []htmlreport.Pod{
				{Name: "web-3-0", Requests: 300, Errors: 1, P99: 2 * time.Millisecond, StartOffset: 3 * time.Millisecond},
				{Name: "web-3-1", Requests: 200, P99: 4 * time.Millisecond},
			}
		}),
	}, {
		name: "pods whose logs are unreadable, hold no document or a broken one are left out",
		d:    load(3),
		logs: []podLog{
			{Pod: "web-3-0", Err: errors.New(`container "agent" in pod "web-3-0" is waiting to start: ContainerCreating`)},
			{Pod: "web-3-1", Log: agentLog(t, document(p, sendStart.Add(time.Second), sent{"get", 10, "200", time.Millisecond}))},
			{Pod: "web-3-2", Log: []byte("dilo-agent: sending to target:80 for 30s\n")},
			{Pod: "web-3-3", Log: []byte("dilo-agent: sending to target:80 for 30s\n" + `{"v":2,"requests":` + "\n")},
			{Pod: "web-3-4", Log: agentLog(t, document(p, sendStart.Add(2*time.Second),
				sent{"get", 19, "200", time.Millisecond}, sent{"get", 1, "200", 8 * time.Millisecond}))},
		},
		want: with(func(r *htmlreport.Run) {
			r.Latency = hist(p, sent{n: 29, lat: time.Millisecond}, sent{n: 1, lat: 8 * time.Millisecond})
			r.Pods = []htmlreport.Pod{
				{Name: "web-3-1", Requests: 10, P99: time.Millisecond},
				{Name: "web-3-4", Requests: 20, P99: 8 * time.Millisecond, StartOffset: time.Second},
			}
		}),
		skipped: []string{
			`pod web-3-0 left out of the report: its log could not be read: container "agent" in pod "web-3-0" is waiting to start: ContainerCreating`,
			"pod web-3-2 left out of the report: its log holds no result document: the agent is still sending, or could not run",
			"pod web-3-3 left out of the report: its log's result document is unreadable: report is not a result document: unexpected EOF",
		},
	}, {
		name: "histograms of two precisions merge at the lower; a pod that sent nothing starts no offset",
		d:    load(3),
		logs: []podLog{
			{Pod: "web-3-0", Log: agentLog(t, document(p-2, sendStart.Add(time.Second), sent{"get", 10, "200", 3 * time.Millisecond}))},
			{Pod: "web-3-1", Log: agentLog(t, document(p, time.Time{}))},
			{Pod: "web-3-2", Log: agentLog(t, document(p, sendStart.Add(1500*time.Millisecond), sent{"get", 10, "200", 5 * time.Millisecond}))},
		},
		want: with(func(r *htmlreport.Run) {
			r.Latency = hist(p-2, sent{n: 10, lat: 3 * time.Millisecond}, sent{n: 10, lat: 5 * time.Millisecond})
			r.Pods = []htmlreport.Pod{
				{Name: "web-3-0", Requests: 10, P99: 3 * time.Millisecond},
				{Name: "web-3-1"},
				{Name: "web-3-2", Requests: 10, P99: 5 * time.Millisecond, StartOffset: 500 * time.Millisecond},
			}
		}),
	}, {
		name: "a run of status.history that ran the current spec: no results, its pods gone",
		d:    load(1),
		want: htmlreport.Run{Namespace: "ns", LoadTest: "web", Run: 1, State: "finished", Reason: dilov1.ReasonFinished,
			Start: t0, End: t0.Add(20 * time.Second),
			Spec: "# status.history keeps no spec: this is the LoadTest's current spec, which run 1\n" +
				"# ran too (the same runSpecHash). spec.updatePolicy and the TTL fields, outside\n" +
				"# the hash, are as they are now.\n" + spec},
	}, {
		name: "a run of status.history that ran another spec: none known",
		d:    load(2),
		want: htmlreport.Run{Namespace: "ns", LoadTest: "web", Run: 2, State: "finished"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reportOf(tc.d, tc.tl, tc.logs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Run, sameHistogram); diff != "" {
				t.Errorf("reportOf (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.skipped, got.Skipped); diff != "" {
				t.Errorf("pods left out (-want +got):\n%s", diff)
			}
			if got.Listed != len(tc.logs) || got.NoSpectrum != "" {
				t.Errorf("Listed %d, NoSpectrum %q; want %d, none", got.Listed, got.NoSpectrum, len(tc.logs))
			}
		})
	}
}

// TestReportOfKeepsDocuments checks the merge works on copies: the pods' histograms
// are what their documents hold after a report is made of them.
func TestReportOfKeepsDocuments(t *testing.T) {
	a := document(histogram.DefaultPrecision, t0, sent{"get", 10, "200", time.Millisecond})
	b := document(histogram.DefaultPrecision, t0, sent{"get", 10, "200", 2 * time.Millisecond})
	docs := []podDocument{{Pod: "a", Report: a}, {Pod: "b", Report: b}}
	before := a.Latency.Clone()
	total, _, err := mergeLatencies(docs)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Latency.Equal(before) || total == a.Latency || total.Count() != 20 {
		t.Errorf("merging changed the first pod's histogram (%d values, want 10) or returned it", a.Latency.Count())
	}
}

func TestReportHolds(t *testing.T) {
	cases := []struct {
		name string
		rr   runReport
		full bool
		want string
	}{{
		name: "everything",
		rr: runReport{Current: true, Listed: 3, Run: htmlreport.Run{Namespace: "shop", LoadTest: "checkout", Run: 3, State: "finished",
			Results: results(), Timeline: &live.Timeline{}, Spec: "replicas: 3\n", Latency: histogram.New(8),
			Pods: make([]htmlreport.Pod, 3)}},
		full: true,
		want: "run 3 of shop/checkout, finished: results, timeline, spec, latency spectrum and figures of 3 pods",
	}, {
		name: "a run of status.history, its pods gone",
		rr:   runReport{Run: htmlreport.Run{Namespace: "shop", LoadTest: "checkout", Run: 1, State: "failed", Reason: "Stopped"}},
		full: true,
		want: "run 1 of shop/checkout, failed (Stopped): no results (a run of status.history keeps a summary only), no timeline, " +
			"no spec (the spec that ran is not known), no latency spectrum nor pods (the run's pods are gone: " + podsGone + ")",
	}, {
		name: "a run going, some pods read, in a comparison",
		rr: runReport{Current: true, Listed: 3, Run: htmlreport.Run{Namespace: "shop", LoadTest: "checkout", Run: 4, State: "executing",
			Latency: histogram.New(8), Pods: make([]htmlreport.Pod, 1)}},
		want: "run 4 of shop/checkout, executing: no results yet (it is executing), latency spectrum and figures of 1 of 3 pods",
	}, {
		name: "no pod held a document",
		rr:   runReport{Current: true, Listed: 2, Run: htmlreport.Run{Namespace: "shop", LoadTest: "checkout", Run: 4, State: "failed", Reason: "PodsFailed"}},
		want: "run 4 of shop/checkout, failed (PodsFailed): no results (it ended without), no latency spectrum nor pods (no result document could be read from the logs of its 2 pods)",
	}, {
		name: "the pods not listed",
		rr:   runReport{Current: true, Unlisted: true, Run: htmlreport.Run{Namespace: "shop", LoadTest: "checkout", Run: 4, State: "finished", Results: results()}},
		want: "run 4 of shop/checkout, finished: results, no latency spectrum nor pods (they could not be listed)",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rr.label() + ": " + strings.Join(tc.rr.holds(tc.full), ", "); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
