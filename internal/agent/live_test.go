package agent

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// fakeLoad is a load of one worker, started a second ago, that got
// responses 200 in 0.8ms and 2ms and 503 in 40ms and no response (a timeout)
// to a fourth request, its first request 1ms after the start, and that
// would count 5 requests as dropped at its end.
func fakeLoad(t *testing.T) *load {
	t.Helper()
	start := time.Now().Add(-time.Second)
	w, _ := fakeWorker(t, 0)
	w.record(0, 200, classNone, 800*time.Microsecond)
	w.record(0, 200, classNone, 2*time.Millisecond)
	w.record(0, 503, classNone, 40*time.Millisecond)
	w.record(0, 0, classTimeout, 0)
	w.first, w.bytes = start.Add(time.Millisecond), 300
	return testLoad(start, []*worker{w}, unsentPacer(5), namedSource(t, []int{1}, "default"))
}

// testEndpoint serves a snapshot endpoint on a free port of 127.0.0.1's,
// closed at the test's end, its server's errors in the returned buffer.
func testEndpoint(t *testing.T) (*liveEndpoint, *syncBuffer) {
	t.Helper()
	var errs syncBuffer
	e, err := serveLive(0, &errs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e, &errs
}

// syncBuffer is a bytes.Buffer safe for concurrent use: what a run's
// goroutines complain into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// response is what an HTTP request got.
type response struct {
	Status      int
	ContentType string
	Allow       string
	Length      string // the Content-Length header
	Body        string
}

// fetch sends method path to the endpoint at addr and returns its response.
func fetch(t *testing.T, addr net.Addr, method, path string) response {
	t.Helper()
	port := addr.(*net.TCPAddr).Port
	req, err := http.NewRequest(method, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Allow: resp.Header.Get("Allow"),
		Length: resp.Header.Get("Content-Length"), Body: string(body)}
}

// TestLiveEndpointRoutes: GET and HEAD of /snapshot and /metrics, 404 for
// any other path and 405 for any other method, before the load starts
// (/snapshot: 503) and after.
func TestLiveEndpointRoutes(t *testing.T) {
	e, errs := testEndpoint(t)
	const notFound = "404 page not found\n"
	const notAllowed = "method not allowed\n"
	text := "text/plain; charset=utf-8"
	for _, tc := range []struct {
		name, method, path string
		published          bool
		want               response
	}{
		{"snapshot before the start", "GET", "/snapshot", false, response{Status: 503, ContentType: text, Length: "12", Body: "not started\n"}},
		{"snapshot head before the start", "HEAD", "/snapshot", false, response{Status: 503, ContentType: text, Length: "12"}},
		{"root", "GET", "/", false, response{Status: 404, ContentType: text, Length: "19", Body: notFound}},
		{"pprof", "GET", "/debug/pprof/", true, response{Status: 404, ContentType: text, Length: "19", Body: notFound}},
		{"trailing slash", "GET", "/snapshot/", true, response{Status: 404, ContentType: text, Length: "19", Body: notFound}},
		{"case", "GET", "/Snapshot", true, response{Status: 404, ContentType: text, Length: "19", Body: notFound}},
		{"post to an unknown path", "POST", "/stop", true, response{Status: 404, ContentType: text, Length: "19", Body: notFound}},
		{"post", "POST", "/snapshot", true, response{Status: 405, ContentType: text, Allow: "GET, HEAD", Length: "19", Body: notAllowed}},
		{"put", "PUT", "/metrics", true, response{Status: 405, ContentType: text, Allow: "GET, HEAD", Length: "19", Body: notAllowed}},
		{"delete", "DELETE", "/snapshot", true, response{Status: 405, ContentType: text, Allow: "GET, HEAD", Length: "19", Body: notAllowed}},
		{"options", "OPTIONS", "/metrics", true, response{Status: 405, ContentType: text, Allow: "GET, HEAD", Length: "19", Body: notAllowed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.published {
				e.publish(fakeLoad(t))
			}
			if diff := cmp.Diff(tc.want, fetch(t, e.addr, tc.method, tc.path)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if s := errs.String(); s != "" {
		t.Errorf("server errors: %s", s)
	}
}

// TestLiveSnapshot: /snapshot is the full result document of the load so
// far, Live, none dropped, ending when it was taken; HEAD has its headers
// and no body.
func TestLiveSnapshot(t *testing.T) {
	e, _ := testEndpoint(t)
	l := fakeLoad(t)
	e.publish(l)
	before := time.Now()
	got := fetch(t, e.addr, "GET", "/snapshot")
	after := time.Now()
	if got.Status != 200 || got.ContentType != "application/json" || !strings.HasSuffix(got.Body, "}\n") || got.Length != strconv.Itoa(len(got.Body)) {
		t.Fatalf("response %+v", got)
	}
	rep, err := podreport.ParseFull(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	if rep.End.Before(before.Truncate(time.Microsecond)) || rep.End.After(after) {
		t.Errorf("end %v, not between %v and %v", rep.End, before, after)
	}
	want := podreport.Report{Version: podreport.Version, Start: l.start, FirstRequest: l.start.Add(time.Millisecond), Live: true,
		Requests: 4, Errors: 2, ErrorsByClass: map[string]int64{"timeout": 1}, Codes: map[string]int64{"200": 2, "503": 1},
		BytesReceived: 300, Latency: hist(800*time.Microsecond, 2*time.Millisecond, 40*time.Millisecond)}
	if diff := cmp.Diff(want, rep, histEqual, cmpopts.IgnoreFields(podreport.Report{}, "End")); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	head := fetch(t, e.addr, "HEAD", "/snapshot")
	if head.Status != 200 || head.ContentType != "application/json" || head.Body != "" || head.Length == "" {
		t.Errorf("HEAD: %+v", head)
	}
	// The end-of-run report of the same load counts the unsent as dropped.
	final, err := l.report(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if final.Live || final.ErrorsByClass["dropped"] != 5 || final.Requests != 9 {
		t.Errorf("final report: live %v, %d requests, errors %v", final.Live, final.Requests, final.ErrorsByClass)
	}
}

// hist is a histogram of ds at the agent's precision.
func hist(ds ...time.Duration) *histogram.Histogram {
	h := histogram.New(histogram.DefaultPrecision)
	for _, d := range ds {
		h.Record(d)
	}
	return h
}

// histEqual compares histograms by content.
var histEqual = cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })

// TestLiveMetrics: /metrics holds the snapshot's figures in Prometheus' text
// format, and nothing of the Go runtime or the process; before the load
// starts, its counters are 0.
func TestLiveMetrics(t *testing.T) {
	e, _ := testEndpoint(t)
	zeroClasses := func(except string) string {
		var b strings.Builder
		for _, c := range []string{"dns", "dropped", "other", "refused", "reset", "timeout", "tls"} {
			n := "0"
			if c == except {
				n = "1"
			}
			b.WriteString(`dilo_agent_errors_total{class="` + c + `"} ` + n + "\n")
		}
		return b.String()
	}
	const help = "# HELP dilo_agent_errors_total Requests that got no response, by the class of the error.\n" +
		"# TYPE dilo_agent_errors_total counter\n"
	const latencyHelp = "# HELP dilo_agent_latency_seconds Latency of the responses, from each request's intended start (the open model's timetable, the closed model's send).\n" +
		"# TYPE dilo_agent_latency_seconds histogram\n"
	buckets := func(counts ...int) string {
		var b strings.Builder
		for i, le := range []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"} {
			b.WriteString(`dilo_agent_latency_seconds_bucket{le="` + le + `"} ` + strconv.Itoa(counts[min(i, len(counts)-1)]) + "\n")
		}
		return b.String()
	}
	const requestsHelp = "# HELP dilo_agent_requests_total Requests the agent has sent (or tried to: some got no response).\n" +
		"# TYPE dilo_agent_requests_total counter\n"
	before := help + zeroClasses("") + latencyHelp + buckets(0) +
		"dilo_agent_latency_seconds_sum 0\ndilo_agent_latency_seconds_count 0\n" +
		requestsHelp + "dilo_agent_requests_total 0\n"
	got := fetch(t, e.addr, "GET", "/metrics")
	if diff := cmp.Diff(response{Status: 200, ContentType: "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", Body: before},
		response{Status: got.Status, ContentType: got.ContentType, Body: got.Body}); diff != "" {
		t.Fatalf("before the start (-want +got):\n%s", diff)
	}
	l := fakeLoad(t)
	e.publish(l)
	first := strconv.FormatFloat(float64(l.start.Add(time.Millisecond).UnixNano())/1e9, 'g', -1, 64)
	after := help + zeroClasses("timeout") +
		"# HELP dilo_agent_first_request_timestamp_seconds When the agent began writing its first request, in seconds since the Unix epoch; absent before.\n" +
		"# TYPE dilo_agent_first_request_timestamp_seconds gauge\n" +
		"dilo_agent_first_request_timestamp_seconds " + first + "\n" +
		latencyHelp + buckets(0, 1, 2, 2, 2, 2, 3) +
		"dilo_agent_latency_seconds_sum 0.0428\ndilo_agent_latency_seconds_count 3\n" +
		requestsHelp + "dilo_agent_requests_total 4\n" +
		"# HELP dilo_agent_responses_total Responses, by status code.\n" +
		"# TYPE dilo_agent_responses_total counter\n" +
		`dilo_agent_responses_total{code="200"} 2` + "\n" +
		`dilo_agent_responses_total{code="503"} 1` + "\n"
	got = fetch(t, e.addr, "GET", "/metrics")
	if diff := cmp.Diff(after, got.Body); diff != "" {
		t.Fatalf("after the start (-want +got):\n%s", diff)
	}
	if head := fetch(t, e.addr, "HEAD", "/metrics"); head.Status != 200 || head.Body != "" {
		t.Errorf("HEAD: %+v", head)
	}
}

// TestBucketCounts: a value counts below a bound when its whole bucket of
// the histogram is, or it is the largest value, exactly known.
func TestBucketCounts(t *testing.T) {
	us, ms := time.Microsecond, time.Millisecond
	bounds := []float64{0.0005, 0.001, 0.005, 0.01, 60}
	for _, tc := range []struct {
		name   string
		values []time.Duration
		want   map[float64]uint64
	}{
		{"empty", nil, map[float64]uint64{0.0005: 0, 0.001: 0, 0.005: 0, 0.01: 0, 60: 0}},
		// 999µs's bucket ends below 1ms, 1ms's above it, as 5ms's above 5ms.
		{"around the bounds", []time.Duration{100 * us, 999 * us, ms, 5 * ms, 70 * time.Second},
			map[float64]uint64{0.0005: 1, 0.001: 2, 0.005: 3, 0.01: 4, 60: 4}},
		{"the largest value exact", []time.Duration{ms}, map[float64]uint64{0.0005: 0, 0.001: 1, 0.005: 1, 0.01: 1, 60: 1}},
		{"many of one", []time.Duration{2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 20 * ms},
			map[float64]uint64{0.0005: 0, 0.001: 0, 0.005: 7, 0.01: 7, 60: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, bucketCounts(hist(tc.values...), bounds)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSnapshotWhileSending: snapshots read a worker's tally while it sends
// (the race detector watches), each consistent and none smaller than the
// one before.
func TestSnapshotWhileSending(t *testing.T) {
	plan := testPlan(t, "--url="+keepAliveServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "--requests=1")
	src := testMix(t, plan)
	w := newTestWorker(t, src, "--url=http://"+plan.Target.Address+"/", "--requests=1")
	defer w.fetch.Close()
	l := testLoad(time.Now(), []*worker{w}, unsentPacer(0), src)
	const n = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			now := time.Now()
			w.send(now, now)
		}
	}()
	var last int64
	var snapshots int
	for sending := true; sending; {
		select {
		case <-done:
			sending = false
		default:
		}
		p, err := l.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		r := p.report
		if _, err := r.EncodeFull(); err != nil {
			t.Fatalf("snapshot %d: %v", snapshots, err)
		}
		if r.Requests < last || !r.Live || r.Codes["200"] != r.Requests {
			t.Fatalf("snapshot %d: %d requests after %d, live %v, codes %v", snapshots, r.Requests, last, r.Live, r.Codes)
		}
		last = r.Requests
		snapshots++
	}
	if last != n {
		t.Fatalf("the last snapshot holds %d requests, want %d", last, n)
	}
	t.Logf("%d snapshots", snapshots)
}

// TestRunServesSnapshots: with plan.Live, the endpoint answers from before
// the start gate (503), then with the load so far, growing; it is closed
// when Run returns.
func TestRunServesSnapshots(t *testing.T) {
	url := keepAliveServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	dir := t.TempDir()
	startFile := filepath.Join(dir, "at")
	plan := testPlan(t, "--url="+url, "-c", "2", "-d", "600ms", "--start-file="+startFile)
	port := freePort(t)
	plan.Live = &runplan.Live{Port: port}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	type result struct {
		rep podreport.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Run(context.Background(), plan)
		done <- result{r, err}
	}()
	waitFor(t, "the endpoint", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr.String())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if got := fetch(t, addr, "GET", "/snapshot"); got.Status != 503 {
		t.Fatalf("before the gate: %+v", got)
	}
	if err := os.WriteFile(startFile, []byte(time.Now().Add(200*time.Millisecond).Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	waitFor(t, "two snapshots of a growing load", 10*time.Second, func() bool {
		got := fetch(t, addr, "GET", "/snapshot")
		if got.Status != 200 {
			return false
		}
		r, err := podreport.ParseFull(got.Body)
		if err != nil || !r.Live || r.FirstRequest.IsZero() || r.Errors != 0 {
			t.Fatalf("snapshot %v: %s", err, got.Body)
		}
		if len(seen) > 0 && r.Requests < seen[len(seen)-1] {
			t.Fatalf("snapshot of %d requests after one of %d", r.Requests, seen[len(seen)-1])
		}
		seen = append(seen, r.Requests)
		return len(seen) >= 2 && r.Requests > seen[0]
	})
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end")
	}
	if res.err != nil || res.rep.Live || res.rep.Requests < seen[len(seen)-1] {
		t.Fatalf("report %+v, %v after snapshots of %v requests", res.rep, res.err, seen)
	}
	if c, err := net.Dial("tcp", addr.String()); err == nil {
		c.Close()
		t.Fatal("the endpoint still listens after Run returned")
	}
}

// freePort is a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
