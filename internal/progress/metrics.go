package progress

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Live metrics, computed at scrape time from the runs the poller follows (so a run that
// ended, or a LoadTest deleted, disappears from them without bookkeeping), labelled
// with the LoadTest's namespace and name:
//
//   - dilo_loadtest_live_requests and dilo_loadtest_live_errors: the requests and
//     errors of the executing run so far, merged across its pods (gauges: a new run
//     starts again from 0).
//   - dilo_loadtest_live_latency_seconds: the run's latency so far, as a histogram
//     (buckets of LatencyBuckets) read from the merged histogram.
//   - dilo_loadtest_live_elapsed_seconds: how long the run's pods have been sending.
var (
	liveRequests = prometheus.NewDesc("dilo_loadtest_live_requests",
		"Requests of the executing run of a LoadTest so far, merged across its pods.", []string{"namespace", "loadtest"}, nil)
	liveErrors = prometheus.NewDesc("dilo_loadtest_live_errors",
		"Failed requests of the executing run of a LoadTest so far, merged across its pods.", []string{"namespace", "loadtest"}, nil)
	liveLatency = prometheus.NewDesc("dilo_loadtest_live_latency_seconds",
		"Latency of the executing run of a LoadTest so far, merged across its pods.", []string{"namespace", "loadtest"}, nil)
	liveElapsed = prometheus.NewDesc("dilo_loadtest_live_elapsed_seconds",
		"How long the pods of the executing run of a LoadTest have been sending.", []string{"namespace", "loadtest"}, nil)
)

// LatencyBuckets are dilo_loadtest_live_latency_seconds' upper bounds: 1 ms to about
// 33 s, doubling.
var LatencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

// Describe implements prometheus.Collector.
func (p *Poller) Describe(ch chan<- *prometheus.Desc) {
	ch <- liveRequests
	ch <- liveErrors
	ch <- liveLatency
	ch <- liveElapsed
}

// Collect implements prometheus.Collector.
func (p *Poller) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, f := range p.runs {
		prog := f.tracker.Progress()
		if prog == nil { // not every pod read yet: the figures could go down
			continue
		}
		c, err := f.tracker.Cumulative()
		if err != nil {
			continue
		}
		labels := []string{key.Namespace, key.Name}
		ch <- prometheus.MustNewConstMetric(liveRequests, prometheus.GaugeValue, float64(c.Requests), labels...)
		ch <- prometheus.MustNewConstMetric(liveErrors, prometheus.GaugeValue, float64(c.Errors), labels...)
		ch <- prometheus.MustNewConstMetric(liveElapsed, prometheus.GaugeValue, float64(prog.ElapsedSeconds), labels...)
		buckets := make(map[float64]uint64, len(LatencyBuckets))
		for _, b := range LatencyBuckets {
			buckets[b] = c.Latency.CountAtOrBelow(time.Duration(b * float64(time.Second)))
		}
		ch <- prometheus.MustNewConstHistogram(liveLatency, c.Latency.Count(), c.Latency.Sum().Seconds(), buckets, labels...)
	}
}
