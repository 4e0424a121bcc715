package agent

import (
	"io"
	"log"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// The snapshot endpoint's /metrics: the figures of /snapshot in
// Prometheus' form, computed from a snapshot at each scrape. The collector
// is alone on a registry of its own, without Go's runtime and process
// collectors, so that a scrape costs what a snapshot does and no more, and
// says only what the load did.

// latencyBuckets are the upper bounds, in seconds, of the latency
// histogram's buckets: from half a millisecond, where a fast service
// answers in a cluster, to a minute, past any sensible timeout.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// liveCollector is the Prometheus collector of an endpoint's snapshots.
type liveCollector struct {
	e                                                  *liveEndpoint
	requests, errors, responses, latency, firstRequest *prometheus.Desc
}

// newMetricsHandler returns the /metrics handler of e's snapshots; its
// errors go to errorLog.
func newMetricsHandler(e *liveEndpoint, errorLog io.Writer) http.Handler {
	c := &liveCollector{
		e: e,
		requests: prometheus.NewDesc("dilo_agent_requests_total",
			"Requests the agent has sent (or tried to: some got no response).", nil, nil),
		errors: prometheus.NewDesc("dilo_agent_errors_total",
			"Requests that got no response, by the class of the error.", []string{"class"}, nil),
		responses: prometheus.NewDesc("dilo_agent_responses_total",
			"Responses, by status code.", []string{"code"}, nil),
		latency: prometheus.NewDesc("dilo_agent_latency_seconds",
			"Latency of the responses, from each request's intended start (the open model's timetable, the closed model's send).", nil, nil),
		firstRequest: prometheus.NewDesc("dilo_agent_first_request_timestamp_seconds",
			"When the agent began writing its first request, in seconds since the Unix epoch; absent before.", nil, nil),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: log.New(errorLog, "agent: snapshot endpoint: ", 0)})
}

// Describe sends the collector's five metrics' descriptions.
func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.errors, c.responses, c.latency, c.firstRequest} {
		ch <- d
	}
}

// Collect sends the metrics of a snapshot taken now: before the load
// starts, every counter at 0 and no first request.
func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	p, _, err := c.e.snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.requests, err)
		return
	}
	r := p.report
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(r.Requests))
	for _, class := range podreport.Classes { // every class, 0 included, so that rates start from 0
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(r.ErrorsByClass[class]), class)
	}
	for code, n := range r.Codes {
		ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(n), code)
	}
	latency := r.Latency
	if latency == nil { // not started
		latency = histogram.New(histogram.DefaultPrecision)
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, latency.Count(), p.latencySum.Seconds(), bucketCounts(latency, latencyBuckets))
	if !r.FirstRequest.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.firstRequest, prometheus.GaugeValue, float64(r.FirstRequest.UnixNano())/1e9)
	}
}

// bucketCounts is, for each bound (in seconds), how many of h's values are
// at most bound: Prometheus' cumulative buckets. A value counts as at most
// a bound when its whole bucket of h is (or h's largest value is), so that
// a count is never above the truth and below it only by the values within
// one bucket of h (0.78% of the bound, at the agent's precision) under the
// bound. It reads h through Quantile alone, which gives the highest value of
// the bucket of the k-th smallest value: that is at most the bound exactly
// for the values counted, and grows with k, so the count is found by
// bisection.
func bucketCounts(h *histogram.Histogram, bounds []float64) map[float64]uint64 {
	n := h.Count()
	counts := make(map[float64]uint64, len(bounds))
	for _, b := range bounds {
		limit := time.Duration(math.Round(b * float64(time.Second)))
		lo, hi := uint64(0), n // the count is in [lo, hi]
		for lo < hi {
			k := hi - (hi-lo)/2 // in (lo, hi]
			// Quantile reads rank ceil(q*n): with q = (k-0.5)/n that is k,
			// whatever the rounding of q.
			if h.Quantile((float64(k)-0.5)/float64(n)) <= limit {
				lo = k
			} else {
				hi = k - 1
			}
		}
		counts[b] = lo
	}
	return counts
}
