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
		if err != nil || !r.Live || r.Requests > 0 && r.FirstRequest.IsZero() || r.Errors != 0 {
			t.Fatalf("snapshot %v: %s", err, got.Body)
		}
		if r.Requests == 0 { // the gate just opened: no request has ended yet
			return false
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
