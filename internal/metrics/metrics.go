// Package metrics holds DiLO's Prometheus metrics, registered on controller-runtime's
// registry (served by the manager's metrics endpoint next to controller-runtime's own):
//
//   - dilo_loadtest_runs{state}: LoadTests by the state of their current run (scheduled,
//     pending, executing, finished, failed), counted from the manager's cache at scrape time.
//   - dilo_loadtest_run_duration_seconds{result}: the duration of each run that ended,
//     from status.startTime to status.completionTime; result is finished or failed.
//   - dilo_loadtest_requests_total{namespace,loadtest} and
//     dilo_loadtest_errors_total{namespace,loadtest}: the requests and errors of the
//     merged results of each run that ended with results.
//
// The runs gauge is computed at scrape time (RunsCollector) rather than kept up to date
// by the reconciler: the cache already holds every LoadTest, so the gauge is right after
// a manager restart and after a deletion without any bookkeeping of previous states.
// The histogram and counters record events (a run ending), so the reconciler records
// them once, when it patches the transition (RunEnded).
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Results of a run, the values of dilo_loadtest_run_duration_seconds' result label.
const (
	ResultFinished = "finished"
	ResultFailed   = "failed"
)

var (
	// RunDuration is dilo_loadtest_run_duration_seconds.
	RunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dilo_loadtest_run_duration_seconds",
		Help: "Duration of the LoadTest runs that ended, from status.startTime to status.completionTime, by result (finished or failed).",
		// 1s to about 9h: a run lasts from seconds to the 24h of the longest open-model run.
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{"result"})

	// Requests is dilo_loadtest_requests_total.
	Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dilo_loadtest_requests_total",
		Help: "Requests sent by the LoadTest runs that ended with results, from their merged results.",
	}, []string{"namespace", "loadtest"})

	// Errors is dilo_loadtest_errors_total.
	Errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dilo_loadtest_errors_total",
		Help: "Failed requests (no response, or a status outside 200-399) of the LoadTest runs that ended with results, from their merged results.",
	}, []string{"namespace", "loadtest"})
)

func init() {
	crmetrics.Registry.MustRegister(RunDuration, Requests, Errors)
}

// RunEnded records a run of the LoadTest namespace/name that ended with result
// (ResultFinished or ResultFailed) after duration; results, when not nil, add to the
// request and error counters.
func RunEnded(namespace, name, result string, duration time.Duration, results *dilov1.Results) {
	RunDuration.WithLabelValues(result).Observe(duration.Seconds())
	if results != nil {
		Requests.WithLabelValues(namespace, name).Add(float64(results.Requests))
		Errors.WithLabelValues(namespace, name).Add(float64(results.Errors))
	}
}

// Forget deletes the series of the LoadTest namespace/name, once it is deleted.
func Forget(namespace, name string) {
	Requests.DeleteLabelValues(namespace, name)
	Errors.DeleteLabelValues(namespace, name)
}

// runsDesc describes dilo_loadtest_runs.
var runsDesc = prometheus.NewDesc("dilo_loadtest_runs",
	"LoadTests by the state of their current run: scheduled, pending, executing, finished or failed.",
	[]string{"state"}, nil)

// RunsCollector collects dilo_loadtest_runs from Reader (the manager's cache) at scrape
// time. Every state is reported, 0 included; a LoadTest not reconciled yet (no state)
// is not counted.
type RunsCollector struct {
	Reader client.Reader
	// Timeout bounds the list; 0 means 5 seconds.
	Timeout time.Duration
}

// Describe sends dilo_loadtest_runs' description.
func (c *RunsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- runsDesc }

// Collect lists the LoadTests and sends their count by state, or an invalid metric
// when the list fails.
func (c *RunsCollector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var list dilov1.LoadTestList
	if err := c.Reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(runsDesc, err)
		return
	}
	counts := map[dilov1.State]int{}
	for _, lt := range list.Items {
		counts[lt.Status.State]++
	}
	for _, state := range dilov1.States {
		ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(counts[state]), string(state))
	}
}

// MustRegisterRuns registers dilo_loadtest_runs, counted from reader (the manager's
// cache), on controller-runtime's registry; it panics when called twice.
func MustRegisterRuns(reader client.Reader) {
	crmetrics.Registry.MustRegister(&RunsCollector{Reader: reader})
}
