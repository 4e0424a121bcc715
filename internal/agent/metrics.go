package agent

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// The snapshot endpoint's /metrics: the figures of /snapshot in
// Prometheus' text format, computed from a snapshot at each scrape, so that
// a scrape costs what a snapshot does and no more; nothing of Go's runtime
// or the process, only what the load did. The document is written by
// promText rather than a Prometheus client library: a load generator runs by
// the thousand, and the library cost each agent 2.6 MB of its binary and
// some 4 MB of its memory for five fixed families.

// The metric families, in the order they are written: by name, as
// Prometheus' own clients write them.
const (
	metricErrors       = "dilo_agent_errors_total"
	metricFirstRequest = "dilo_agent_first_request_timestamp_seconds"
	metricLatency      = "dilo_agent_latency_seconds"
	metricRequests     = "dilo_agent_requests_total"
	metricResponses    = "dilo_agent_responses_total"
)

// latencyBuckets are the upper bounds of the latency histogram's buckets:
// from half a millisecond, where a fast service answers in a cluster, to a
// minute, past any sensible timeout.
var latencyBuckets = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// errorClasses are podreport's error classes in the order of their samples.
var errorClasses = slices.Sorted(slices.Values(podreport.Classes))

// serveMetrics answers with the metrics of a snapshot taken now: before the
// load starts, every counter at 0 and no first request.
func (e *liveEndpoint) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	p, _, err := e.snapshot()
	if err != nil { // an inconsistent report: the agent's bug, not the client's
		e.server.ErrorLog.Printf("failed to gather metrics: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	doc := appendMetrics(nil, p)
	h := w.Header()
	h.Set("Content-Type", promContentType)
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	_, _ = w.Write(doc)
}

// appendMetrics appends p's metrics to b in Prometheus' text format: the
// families by name, each family's samples by label value. A family without
// samples is left out: the responses before the first, the first request's
// time before it.
func appendMetrics(b []byte, p progress) []byte {
	r := p.report
	t := promText{b: b}
	t.family(metricErrors, "counter", "Requests that got no response, by the class of the error.")
	for _, class := range errorClasses { // every class, 0 included, so that rates start from 0
		t.sample(float64(r.ErrorsByClass[class]), promLabel{"class", class})
	}
	if !r.FirstRequest.IsZero() {
		t.family(metricFirstRequest, "gauge", "When the agent began writing its first request, in seconds since the Unix epoch; absent before.")
		t.sample(float64(r.FirstRequest.UnixNano()) / 1e9)
	}
	latency := r.Latency
	if latency == nil { // not started
		latency = histogram.New(histogram.DefaultPrecision)
	}
	t.family(metricLatency, "histogram", "Latency of the responses, from each request's intended start (the open model's timetable, the closed model's send).")
	t.histogram(bucketCounts(latency, latencyBuckets), latency.Count(), p.latencySum.Seconds())
	t.family(metricRequests, "counter", "Requests the agent has sent (or tried to: some got no response).")
	t.sample(float64(r.Requests))
	if len(r.Codes) > 0 {
		t.family(metricResponses, "counter", "Responses, by status code.")
		for _, code := range slices.Sorted(maps.Keys(r.Codes)) {
			t.sample(float64(r.Codes[code]), promLabel{"code", code})
		}
	}
	return t.b
}

// bucketCounts is, for each bound, how many of h's values are at most it:
// Prometheus' cumulative buckets, never above the truth (see
// histogram.CountAtOrBelow).
func bucketCounts(h *histogram.Histogram, bounds []time.Duration) []promBucket {
	buckets := make([]promBucket, len(bounds))
	for i, d := range bounds {
		buckets[i] = promBucket{le: d.Seconds(), count: h.CountAtOrBelow(d)}
	}
	return buckets
}
