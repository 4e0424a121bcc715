package report

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// podRun simulates one pod: its raw latencies and its report, sent through
// Encode and Parse as the reconciler would see it.
func podRun(t *testing.T, r *rand.Rand, precision int) ([]time.Duration, Report) {
	t.Helper()
	n := 1 + r.IntN(20000)
	scale := time.Duration(1+r.IntN(5000)) * time.Microsecond
	h := histogram.New(precision)
	samples := make([]time.Duration, n)
	for i := range samples {
		v := time.Duration(r.ExpFloat64() * float64(scale))
		if r.IntN(50) == 0 {
			v *= time.Duration(10 + r.IntN(100)) // a tail
		}
		samples[i] = v
		h.Record(v)
	}
	timeouts := int64(r.IntN(10))
	start := t0.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
	rep := Report{
		Start: start, End: start.Add(10 * time.Second),
		Requests: int64(n) + timeouts, Errors: timeouts + 7,
		ErrorsByClass: map[string]int64{podreport.ClassTimeout: timeouts},
		Codes:         map[string]int64{"200": int64(n) - 7, "503": 7},
		BytesReceived: int64(n) * 100,
		Latency:       h,
	}
	if n < 7 {
		rep.Codes = map[string]int64{"200": int64(n)}
		rep.Errors = timeouts
	}
	b, err := rep.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return samples, back
}

// TestMergePercentilesMatchPooledSamples: the merged percentiles equal the
// percentiles of all pods' raw samples pooled, within the precision of the
// coarsest report: never below, at most one bucket above.
func TestMergePercentilesMatchPooledSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	for trial := range 40 {
		pods := 1 + r.IntN(12)
		var pooled []time.Duration
		var reports []Report
		var requests int64
		for range pods {
			p := histogram.DefaultPrecision
			if trial%2 == 1 {
				p = 2 + r.IntN(histogram.MaxPrecision-1)
			}
			s, rep := podRun(t, r, p)
			pooled = append(pooled, s...)
			reports = append(reports, rep)
			requests += rep.Requests
		}
		res, err := Merge(reports)
		if err != nil {
			t.Fatal(err)
		}
		lowest := histogram.MaxPrecision
		for _, rep := range reports {
			lowest = min(lowest, rep.Latency.Precision())
		}
		slices.Sort(pooled)
		for _, c := range []struct {
			q   float64
			got time.Duration
		}{{0.5, res.Latency.P50.Duration}, {0.9, res.Latency.P90.Duration}, {0.99, res.Latency.P99.Duration}, {1, res.Latency.Max.Duration}} {
			rank := int(float64(len(pooled))*c.q + 0.9999999)
			raw := pooled[max(rank, 1)-1]
			tol := time.Duration(float64(raw)*2/float64(int(1)<<lowest)) + 1
			if c.got < raw || c.got > RoundDuration(raw+tol) {
				t.Errorf("trial %d (%d pods, precision %d) q=%v: merged %v, pooled %v, tolerance %v", trial, pods, lowest, c.q, c.got, raw, tol)
			}
		}
		if res.Requests != requests || res.Pods != int32(pods) {
			t.Errorf("trial %d: requests %d pods %d, want %d %d", trial, res.Requests, res.Pods, requests, pods)
		}
	}
}

// TestMerge: totals of two pods, exactly.
func TestMerge(t *testing.T) {
	hist := func(vals ...time.Duration) *histogram.Histogram {
		h := histogram.New(histogram.DefaultPrecision)
		for _, v := range vals {
			h.Record(v)
		}
		return h
	}
	a := Report{
		Start: t0, End: t0.Add(8 * time.Second), Requests: 4, Errors: 2,
		ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 2, "500": 1},
		BytesReceived: 300, Latency: hist(time.Millisecond, time.Millisecond, 3*time.Millisecond),
	}
	b := Report{
		Start: t0.Add(2 * time.Second), End: t0.Add(10 * time.Second), Requests: 6,
		Codes: map[string]int64{"200": 6}, BytesReceived: 600,
		Latency: hist(2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 2*time.Millisecond, 100*time.Millisecond),
	}
	got, err := Merge([]Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Results{
		Pods: 2, Requests: 10, Errors: 2, ErrorRatio: "0.2000",
		ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 8, "500": 1},
		BytesReceived: 900, RequestsPerSecond: "1.00",
		Latency: v1.Latency{
			P50: metav1.Duration{Duration: 2010 * time.Microsecond}, // the top of 2ms's bucket, 2.007039ms, rounded up
			P90: metav1.Duration{Duration: 100 * time.Millisecond},
			P99: metav1.Duration{Duration: 100 * time.Millisecond},
			Max: metav1.Duration{Duration: 100 * time.Millisecond},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Merge (-want +got):\n%s", diff)
	}
	if a.Latency.Count() != 3 {
		t.Fatal("Merge changed its input")
	}
	if _, err := Merge(nil); err == nil {
		t.Fatal("Merge(nil): no error")
	}
	if _, err := Merge([]Report{{Requests: 1}}); err == nil {
		t.Fatal("Merge without histogram: no error")
	}
}

// TestMergeStartSkew: the spread of the pods' first requests, pods that sent
// nothing left out, and none without two pods that sent.
func TestMergeStartSkew(t *testing.T) {
	skew := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var never time.Time
	for _, tc := range []struct {
		name  string
		first []time.Time
		want  *metav1.Duration
	}{
		{"one pod", []time.Time{at(5)}, nil},
		{"none sent", []time.Time{never, never}, nil},
		{"one of two sent", []time.Time{never, at(5)}, nil},
		{"two", []time.Time{at(40), at(5)}, skew(35 * time.Millisecond)},
		{"together", []time.Time{at(7), at(7)}, skew(0)},
		{"the extremes, whatever the order", []time.Time{at(30), at(2), never, at(90), at(11)}, skew(88 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reports []Report
			for _, first := range tc.first {
				reports = append(reports, Report{Start: t0, End: t0.Add(time.Second), FirstRequest: first,
					Latency: histogram.New(histogram.DefaultPrecision)})
			}
			res, err := Merge(reports)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.StartSkew); diff != "" {
				t.Fatalf("StartSkew (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFormats: how the API's ratios, rates and percentiles read.
func TestFormats(t *testing.T) {
	h := histogram.New(histogram.DefaultPrecision)
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	type out struct {
		Ratio, Rate string
		Latency     v1.Percentiles
	}
	for _, tc := range []struct {
		name           string
		errs, requests int64
		window         time.Duration
		hist           *histogram.Histogram
		want           out
	}{
		{"nothing", 0, 0, 0, histogram.New(histogram.DefaultPrecision), out{Ratio: "0", Rate: "0"}},
		{"a third", 1, 3, 1500 * time.Millisecond, h, out{Ratio: "0.3333", Rate: "2.00", Latency: v1.Percentiles{
			P50: metav1.Duration{Duration: RoundDuration(h.Quantile(0.5))}, P90: metav1.Duration{Duration: RoundDuration(h.Quantile(0.9))}, P99: metav1.Duration{Duration: RoundDuration(h.Quantile(0.99))},
		}}},
		{"a negative window", 0, 10, -time.Second, histogram.New(1), out{Ratio: "0.0000", Rate: "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := out{ErrorRatio(tc.errs, tc.requests), RequestsPerSecond(tc.requests, tc.window), PercentilesOf(tc.hist)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if p := PercentilesOf(h); p.P50.Duration < 50*time.Millisecond || p.P99.Duration < 99*time.Millisecond || p.P99.Duration > 100*time.Millisecond {
		t.Fatalf("percentiles of 1..100ms: %+v", p)
	}
}

// mixPod simulates one pod of a mix of the named requests: each request's
// raw latencies and the pod's report, sent through EncodeFull and ParseFull
// as the reconciler would read it from the pod's log.
func mixPod(t testing.TB, r *rand.Rand, names []string, precision int) (map[string][]time.Duration, Report) {
	t.Helper()
	start := t0.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
	rep := Report{
		Start: start, End: start.Add(10 * time.Second),
		ErrorsByClass: map[string]int64{}, Codes: map[string]int64{},
		Latency: histogram.New(precision),
	}
	samples := map[string][]time.Duration{}
	for j, name := range names {
		n := r.IntN(3000) // a request may get no response at all
		scale := time.Duration(1+j*j*200+r.IntN(500)) * time.Microsecond
		h := histogram.New(precision)
		for range n {
			v := time.Duration(r.ExpFloat64() * float64(scale))
			if r.IntN(50) == 0 {
				v *= time.Duration(10 + r.IntN(100)) // a tail
			}
			samples[name] = append(samples[name], v)
			h.Record(v)
		}
		bad := int64(r.IntN(n/10 + 1))
		timeouts := int64(r.IntN(5))
		q := RequestReport{
			Name: name, Requests: int64(n) + timeouts, Errors: bad + timeouts,
			Codes: map[string]int64{}, Latency: h,
		}
		if timeouts > 0 {
			q.ErrorsByClass = map[string]int64{podreport.ClassTimeout: timeouts}
		}
		if ok := int64(n) - bad; ok > 0 {
			q.Codes["200"] = ok
		}
		if bad > 0 {
			q.Codes[strconv.Itoa(500+j)] = bad
		}
		rep.Requests += q.Requests
		rep.Errors += q.Errors
		for k, v := range q.ErrorsByClass {
			rep.ErrorsByClass[k] += v
		}
		for k, v := range q.Codes {
			rep.Codes[k] += v
		}
		if err := rep.Latency.Merge(h); err != nil {
			t.Fatal(err)
		}
		rep.ByRequest = append(rep.ByRequest, q)
	}
	b, err := rep.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFull(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return samples, back
}

// checkQuantiles checks merged percentiles against the pooled raw samples:
// never below, at most one bucket of the given precision above.
func checkQuantiles(t testing.TB, what string, lat v1.Latency, pooled []time.Duration, precision int) {
	t.Helper()
	if len(pooled) == 0 {
		if diff := cmp.Diff(v1.Latency{}, lat); diff != "" {
			t.Errorf("%s: no responses, but latency (-want +got):\n%s", what, diff)
		}
		return
	}
	slices.Sort(pooled)
	for _, c := range []struct {
		q   float64
		got time.Duration
	}{{0.5, lat.P50.Duration}, {0.9, lat.P90.Duration}, {0.99, lat.P99.Duration}, {1, lat.Max.Duration}} {
		rank := int(float64(len(pooled))*c.q + 0.9999999)
		raw := pooled[max(rank, 1)-1]
		tol := time.Duration(float64(raw)*2/float64(int(1)<<precision)) + 1
		if c.got < raw || c.got > RoundDuration(raw+tol) {
			t.Errorf("%s q=%v: merged %v, pooled %v, tolerance %v", what, c.q, c.got, raw, tol)
		}
	}
}

// TestMergeByRequestMatchesPooledSamples: each request's merged percentiles
// equal those of that request's raw samples pooled across pods, as the
// totals' do; its counters are the sums of the pods', and together the
// requests add up to the totals.
func TestMergeByRequestMatchesPooledSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	names := []string{"list", "get", "order", "delete"}
	for trial := range 30 {
		pods := 1 + r.IntN(8)
		pooled := map[string][]time.Duration{}
		var all []time.Duration
		var reports []Report
		want := map[string][2]int64{} // requests, errors
		lowest := histogram.DefaultPrecision
		for range pods {
			p := histogram.DefaultPrecision
			if trial%2 == 1 {
				p = 2 + r.IntN(histogram.DefaultPrecision-1)
			}
			lowest = min(lowest, p)
			s, rep := mixPod(t, r, names, p)
			for k, v := range s {
				pooled[k] = append(pooled[k], v...)
				all = append(all, v...)
			}
			for _, q := range rep.ByRequest {
				w := want[q.Name]
				want[q.Name] = [2]int64{w[0] + q.Requests, w[1] + q.Errors}
			}
			reports = append(reports, rep)
		}
		res, err := Merge(reports)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.ByRequest); got != len(names) {
			t.Fatalf("trial %d: %d requests in byRequest, want %d", trial, got, len(names))
		}
		var requests, errs int64
		codes := map[string]int64{}
		for j, q := range res.ByRequest {
			if q.Name != names[j] {
				t.Errorf("trial %d: byRequest[%d] is %q, want %q (plan order)", trial, j, q.Name, names[j])
			}
			if w := want[q.Name]; q.Requests != w[0] || q.Errors != w[1] {
				t.Errorf("trial %d %s: requests %d errors %d, want %d %d", trial, q.Name, q.Requests, q.Errors, w[0], w[1])
			}
			checkQuantiles(t, fmt.Sprintf("trial %d (%d pods, precision %d) %s", trial, pods, lowest, q.Name), q.Latency, pooled[q.Name], lowest)
			requests += q.Requests
			errs += q.Errors
			for k, n := range q.Codes {
				codes[k] += n
			}
		}
		checkQuantiles(t, fmt.Sprintf("trial %d totals", trial), res.Latency, all, lowest)
		if requests != res.Requests || errs != res.Errors {
			t.Errorf("trial %d: byRequest sums to %d requests %d errors, totals %d %d", trial, requests, errs, res.Requests, res.Errors)
		}
		if diff := cmp.Diff(res.Codes, codes); diff != "" {
			t.Errorf("trial %d: byRequest codes do not sum to the totals' (-totals +sum):\n%s", trial, diff)
		}
	}
}

// TestMergeByRequest: per-request results merged exactly in plan order,
// dropped when a report is compact, refused when the reports disagree.
func TestMergeByRequest(t *testing.T) {
	hist := func(vals ...time.Duration) *histogram.Histogram {
		h := histogram.New(histogram.DefaultPrecision)
		for _, v := range vals {
			h.Record(v)
		}
		return h
	}
	ms := func(n int) metav1.Duration { return metav1.Duration{Duration: time.Duration(n) * time.Millisecond} }
	// pod is a full report of requests "list" (2 responses of 1ms and 3ms,
	// one a 500, and a timeout) and "order" (one response of 10ms), sent at t0+offset.
	pod := func(offset time.Duration) Report {
		list := RequestReport{Name: "list", Requests: 3, Errors: 2, ErrorsByClass: map[string]int64{"timeout": 1},
			Codes: map[string]int64{"200": 1, "500": 1}, Latency: hist(time.Millisecond, 3*time.Millisecond)}
		order := RequestReport{Name: "order", Requests: 1, Codes: map[string]int64{"201": 1}, Latency: hist(10 * time.Millisecond)}
		return Report{
			Start: t0.Add(offset), End: t0.Add(offset + 4*time.Second), Requests: 4, Errors: 2,
			ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 1, "201": 1, "500": 1}, BytesReceived: 10,
			Latency: hist(time.Millisecond, 3*time.Millisecond, 10*time.Millisecond), ByRequest: []RequestReport{list, order},
		}
	}
	// through sends a report through its document, as the reconciler reads it.
	through := func(r Report, full bool) Report {
		encode, parse := r.Encode, Parse
		if full {
			encode, parse = r.EncodeFull, ParseFull
		}
		b, err := encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := parse(string(b))
		if err != nil {
			t.Fatal(err)
		}
		return back
	}
	reversed := pod(0)
	reversed.ByRequest[0], reversed.ByRequest[1] = reversed.ByRequest[1], reversed.ByRequest[0]
	renamed := pod(0)
	renamed.ByRequest[1].Name = "buy"
	single := pod(0)
	single.ByRequest = nil

	totals := v1.Results{
		Pods: 2, Requests: 8, Errors: 4, ErrorRatio: "0.5000",
		ErrorsByClass: map[string]int64{"timeout": 2}, Codes: map[string]int64{"200": 2, "201": 2, "500": 2},
		BytesReceived: 20, RequestsPerSecond: "1.60",
		Latency: v1.Latency{P50: metav1.Duration{Duration: 3020 * time.Microsecond}, P90: ms(10), P99: ms(10), Max: ms(10)}, // p50: the top of 3ms's bucket, rounded up
	}
	withByRequest := totals
	withByRequest.ByRequest = []v1.RequestResults{
		{Name: "list", Requests: 6, Errors: 4, ErrorRatio: "0.6667",
			ErrorsByClass: map[string]int64{"timeout": 2}, Codes: map[string]int64{"200": 2, "500": 2},
			Latency: v1.Latency{P50: metav1.Duration{Duration: 1010 * time.Microsecond}, P90: ms(3), P99: ms(3), Max: ms(3)}}, // p50: the top of 1ms's bucket, rounded up
		{Name: "order", Requests: 2, ErrorRatio: "0.0000", Codes: map[string]int64{"201": 2},
			Latency: v1.Latency{P50: ms(10), P90: ms(10), P99: ms(10), Max: ms(10)}},
	}
	reversedOrder := withByRequest
	reversedOrder.ByRequest = []v1.RequestResults{withByRequest.ByRequest[1], withByRequest.ByRequest[0]}
	for _, tc := range []struct {
		name    string
		reports []Report
		want    v1.Results
		wantErr string
	}{
		{"all full", []Report{through(pod(0), true), through(pod(time.Second), true)}, withByRequest, ""},
		{"plan order of the first report", []Report{through(reversed, true), through(pod(time.Second), true)}, reversedOrder, ""},
		{"one compact: totals only", []Report{through(pod(0), true), through(pod(time.Second), false)}, totals, ""},
		{"all compact", []Report{through(pod(0), false), through(pod(time.Second), false)}, totals, ""},
		{"single request", []Report{through(single, true), through(single, true)}, func() v1.Results {
			r := totals
			r.RequestsPerSecond = "2.00"
			return r
		}(), ""},
		{"names differ", []Report{through(pod(0), true), through(renamed, true)}, v1.Results{},
			`failed to merge results: report 1 has requests ["list" "buy"], report 0 has ["list" "order"]`},
		{"names differ beside a compact report", []Report{through(pod(0), false), through(pod(0), true), through(renamed, true)}, v1.Results{},
			`report 2 has requests ["list" "buy"], report 1 has ["list" "order"]`},
		{"byRequest in some full reports only", []Report{through(single, true), through(pod(0), true)}, v1.Results{},
			`report 1 has requests ["list" "order"], report 0 has []`},
		{"request without histogram", []Report{pod(0), func() Report { r := pod(0); r.ByRequest[1].Latency = nil; return r }()}, v1.Results{},
			`report 1, request "order": no latency histogram`},
		{"request named twice in a later report", []Report{pod(0), func() Report { r := pod(0); r.ByRequest[1].Name = "list"; return r }()}, v1.Results{},
			`report 1 has requests ["list" "list"], report 0 has ["list" "order"]`},
		{"request named twice", []Report{func() Report { r := pod(0); r.ByRequest[1].Name = "list"; return r }()}, v1.Results{},
			`report 0 names request "list" twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.reports)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tc.wantErr == "" && gotErr != "" || !strings.Contains(gotErr, tc.wantErr) {
				t.Fatalf("error %q, want %q", gotErr, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Merge (-want +got):\n%s", diff)
			}
		})
	}
}

// TestByRequestUnavailable: the message names the compact reports' pods,
// a few of them.
func TestByRequestUnavailable(t *testing.T) {
	full, compact := Report{}, Report{Compact: true}
	pods := []string{"run-0", "run-1", "run-2", "run-3", "run-4"}
	for _, tc := range []struct {
		name    string
		reports []Report
		want    string
	}{
		{"all full", []Report{full, full}, ""},
		{"one", []Report{full, compact, full}, "per-request results unavailable: the log of pod run-1 could not be read, and its termination message holds the totals only"},
		{"two", []Report{compact, full, compact}, "per-request results unavailable: the logs of pods run-0 and run-2 could not be read, and their termination messages hold the totals only"},
		{"three", []Report{compact, compact, compact}, "per-request results unavailable: the logs of pods run-0, run-1 and run-2 could not be read, and their termination messages hold the totals only"},
		{"many", []Report{compact, compact, compact, compact, compact}, "per-request results unavailable: the logs of pods run-0, run-1, run-2 and 2 more could not be read, and their termination messages hold the totals only"},
		{"unnamed", []Report{full, full, full, full, full, compact}, "per-request results unavailable: the log of pod #5 could not be read, and its termination message holds the totals only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ByRequestUnavailable(pods, tc.reports)); diff != "" {
				t.Fatalf("ByRequestUnavailable (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLogToResults: the reconciler's path for a pod whose log can be read:
// the full document found among the agent's other lines, parsed and merged.
func TestLogToResults(t *testing.T) {
	_, rep := mixPod(t, rand.New(rand.NewPCG(1, 2)), []string{"a", "b"}, histogram.DefaultPrecision)
	doc, err := rep.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	log := "agent: plan read\n1000 requests in 10.00s\n{\"rps\":100}\n" + string(doc) + "\nagent: closing connections\n"
	line, ok := LastDocument([]byte(log))
	if !ok {
		t.Fatal("no document in the log")
	}
	got, err := ParseFull(line)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Merge([]Report{got})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ByRequest) != 2 || res.Requests != rep.Requests {
		t.Fatalf("results %+v", res)
	}
}

// TestCheckThresholds: each threshold, kept and broken, and how the broken
// ones read.
func TestCheckThresholds(t *testing.T) {
	ms := func(n float64) metav1.Duration {
		return metav1.Duration{Duration: time.Duration(n * float64(time.Millisecond))}
	}
	ptr := func(d metav1.Duration) *metav1.Duration { return &d }
	res := v1.Results{
		Requests: 1000, Errors: 50, ErrorRatio: "0.0500",
		Latency: v1.Latency{P50: ms(20), P90: ms(120.4), P99: ms(312.51234), Max: ms(900)},
	}
	type out struct {
		Broken string
		OK     bool
	}
	for _, tc := range []struct {
		name string
		th   *v1.Thresholds
		res  v1.Results
		want out
	}{
		{"none", nil, res, out{"", true}},
		{"empty", &v1.Thresholds{}, res, out{"", true}},
		{"all kept", &v1.Thresholds{MaxErrorRatio: "0.05", MaxP50: ptr(ms(20)), MaxP90: ptr(ms(200)), MaxP99: ptr(ms(400))}, res, out{"", true}},
		{"p99", &v1.Thresholds{MaxP99: ptr(ms(250))}, res, out{"p99 313ms exceeds maxP99 250ms", false}},
		{"p99 rounds up", &v1.Thresholds{MaxP99: ptr(ms(312.5))}, res, out{"p99 313ms exceeds maxP99 312.5ms", false}},
		{"p99 just above", &v1.Thresholds{MaxP99: ptr(ms(312.4))}, v1.Results{Latency: v1.Latency{P99: ms(312.4004)}},
			out{"p99 312.4004ms exceeds maxP99 312.4ms", false}},
		{"ratio", &v1.Thresholds{MaxErrorRatio: "0.01"}, res, out{"error ratio 0.0500 exceeds maxErrorRatio 0.01", false}},
		{"ratio exact limit", &v1.Thresholds{MaxErrorRatio: "0.050"}, res, out{"", true}},
		{"ratio fine", &v1.Thresholds{MaxErrorRatio: "0.000001"}, v1.Results{Requests: 1_000_000, Errors: 2},
			out{"error ratio 0.00000200 exceeds maxErrorRatio 0.000001", false}},
		{"ratio zero requests", &v1.Thresholds{MaxErrorRatio: "0"}, v1.Results{}, out{"", true}},
		{"ratio bad", &v1.Thresholds{MaxErrorRatio: "lots"}, res, out{`maxErrorRatio "lots" is not a decimal`, false}},
		{"several", &v1.Thresholds{MaxErrorRatio: "0", MaxP50: ptr(ms(10)), MaxP90: ptr(ms(100))}, res,
			out{"error ratio 0.0500 exceeds maxErrorRatio 0; p50 20ms exceeds maxP50 10ms; p90 120ms exceeds maxP90 100ms", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got out
			got.Broken, got.OK = CheckThresholds(tc.th, tc.res)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("CheckThresholds (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParse: report.Parse never panics, and whatever it accepts merges and
// is judged against thresholds without error.
func FuzzParse(f *testing.F) {
	h := histogram.New(histogram.DefaultPrecision)
	h.Record(3 * time.Millisecond)
	good, err := Report{Start: t0, End: t0.Add(time.Second), Requests: 2, Errors: 1,
		ErrorsByClass: map[string]int64{"reset": 1}, Codes: map[string]int64{"200": 1}, Latency: h}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(good), "", "agent: could not run: no start time", `{"v":2,"compact":true}`, `{"v":2,"compact":true,"latency":"AQAA"}`} {
		f.Add(seed)
	}
	th := &v1.Thresholds{MaxErrorRatio: "0.01", MaxP99: &metav1.Duration{Duration: time.Millisecond}}
	f.Fuzz(func(t *testing.T, msg string) {
		r, err := Parse(msg)
		if err != nil {
			return
		}
		res, err := Merge([]Report{r, r})
		if err != nil {
			if strings.Contains(err.Error(), "overflows") { // doubling a near-maximal counter
				return
			}
			t.Fatalf("accepted report does not merge: %v", err)
		}
		if res.Requests != 2*r.Requests {
			t.Fatalf("merged requests %d, want %d", res.Requests, 2*r.Requests)
		}
		CheckThresholds(th, res)
	})
}

// FuzzParseFull: report.ParseFull never panics, and whatever it accepts
// merges, per request too, and is judged against thresholds without error.
func FuzzParseFull(f *testing.F) {
	_, rep := mixPod(f, rand.New(rand.NewPCG(3, 4)), []string{"a", "b"}, histogram.DefaultPrecision)
	good, err := rep.EncodeFull()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(good), "", `{"v":2}`, `{"v":2,"latency":"CAAA","byRequest":[{"name":"a","latency":"CAAA"}]}`} {
		f.Add(seed)
	}
	th := &v1.Thresholds{MaxErrorRatio: "0.01", MaxP99: &metav1.Duration{Duration: time.Millisecond}}
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := ParseFull(doc)
		if err != nil {
			return
		}
		res, err := Merge([]Report{r, r})
		if err != nil {
			if strings.Contains(err.Error(), "overflows") { // doubling a near-maximal counter
				return
			}
			t.Fatalf("accepted report does not merge: %v", err)
		}
		if res.Requests != 2*r.Requests || len(res.ByRequest) != len(r.ByRequest) {
			t.Fatalf("merged %d requests, %d byRequest; want %d, %d", res.Requests, len(res.ByRequest), 2*r.Requests, len(r.ByRequest))
		}
		for j, q := range res.ByRequest {
			if q.Name != r.ByRequest[j].Name || q.Requests != 2*r.ByRequest[j].Requests {
				t.Fatalf("byRequest[%d] %q %d requests, want %q %d", j, q.Name, q.Requests, r.ByRequest[j].Name, 2*r.ByRequest[j].Requests)
			}
		}
		CheckThresholds(th, res)
	})
}

func TestRoundDuration(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{850 * time.Nanosecond, "850ns"},
		{1234 * time.Nanosecond, "1.24µs"},
		{23700000 * time.Nanosecond, "23.7ms"},
		{23700111 * time.Nanosecond, "23.8ms"},
		{999600 * time.Microsecond, "1s"},
		{1234567890 * time.Nanosecond, "1.24s"},
		{312000001 * time.Nanosecond, "313ms"},
		{90 * time.Minute, "1h30m0s"},
		{-23700111 * time.Nanosecond, "-23.8ms"},
	} {
		if got := RoundDuration(c.in).String(); got != c.want {
			t.Errorf("RoundDuration(%d) = %s, want %s", c.in, got, c.want)
		}
	}
}
