package metrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// The tests read the metrics through a registry's Gather, as a scrape does. (client_golang's
// testutil needs a module go.mod does not list yet; these helpers are its few lines DiLO uses.)

// gather returns the samples of the families named in names that g gathers, as
// "name{label=value,...} value" lines, sorted; histograms as their sample count and sum.
func gather(t *testing.T, g prometheus.Gatherer, names ...string) []string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				out = append(out, fmt.Sprintf("%s %g", key, m.GetGauge().GetValue()))
			case dto.MetricType_COUNTER:
				out = append(out, fmt.Sprintf("%s %g", key, m.GetCounter().GetValue()))
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out = append(out, fmt.Sprintf("%s count=%d sum=%g", key, h.GetSampleCount(), h.GetSampleSum()))
			}
		}
	}
	sort.Strings(out)
	return out
}

func loadTest(ns, name string, state dilov1.State) *dilov1.LoadTest {
	return &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: dilov1.LoadTestStatus{State: state}}
}

func TestRunsCollector(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := dilov1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		loadTest("a", "one", dilov1.StateExecuting),
		loadTest("a", "two", dilov1.StateExecuting),
		loadTest("b", "three", dilov1.StateFailed),
		loadTest("b", "nightly", dilov1.StateScheduled),
		loadTest("b", "new", ""), // not reconciled yet: not counted
	).Build()
	want := []string{
		"dilo_loadtest_runs{state=executing} 2",
		"dilo_loadtest_runs{state=failed} 1",
		"dilo_loadtest_runs{state=finished} 0",
		"dilo_loadtest_runs{state=pending} 0",
		"dilo_loadtest_runs{state=scheduled} 1",
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&RunsCollector{Reader: c})
	if diff := cmp.Diff(want, gather(t, reg, "dilo_loadtest_runs")); diff != "" {
		t.Errorf("dilo_loadtest_runs (-want +got):\n%s", diff)
	}

	failing := interceptor.NewClient(c, interceptor.Funcs{List: func(ctx context.Context, _ client.WithWatch, _ client.ObjectList, _ ...client.ListOption) error {
		return errors.New("cache not synced")
	}})
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(&RunsCollector{Reader: failing})
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "cache not synced") {
		t.Errorf("Gather() with a failing list: %v, want the list's error", err)
	}
}

// TestRunEnded records runs on controller-runtime's registry, as the reconciler does,
// and reads them back as a scrape would.
func TestRunEnded(t *testing.T) {
	RunEnded("ns-ended", "lt", ResultFinished, 90*time.Second, &dilov1.Results{Requests: 300, Errors: 15})
	RunEnded("ns-ended", "lt", ResultFinished, 30*time.Second, &dilov1.Results{Requests: 100, Errors: 0})
	RunEnded("ns-ended", "lt", ResultFailed, 2*time.Second, nil) // failed before any result
	want := []string{
		"dilo_loadtest_errors_total{loadtest=lt,namespace=ns-ended} 15",
		"dilo_loadtest_requests_total{loadtest=lt,namespace=ns-ended} 400",
		"dilo_loadtest_run_duration_seconds{result=failed} count=1 sum=2",
		"dilo_loadtest_run_duration_seconds{result=finished} count=2 sum=120",
	}
	names := []string{"dilo_loadtest_errors_total", "dilo_loadtest_requests_total", "dilo_loadtest_run_duration_seconds"}
	if diff := cmp.Diff(want, gather(t, crmetrics.Registry, names...)); diff != "" {
		t.Errorf("metrics on controller-runtime's registry (-want +got):\n%s", diff)
	}

	Forget("ns-ended", "lt")
	want = []string{
		"dilo_loadtest_run_duration_seconds{result=failed} count=1 sum=2",
		"dilo_loadtest_run_duration_seconds{result=finished} count=2 sum=120",
	}
	if diff := cmp.Diff(want, gather(t, crmetrics.Registry, names...)); diff != "" {
		t.Errorf("metrics after Forget (-want +got):\n%s", diff)
	}
}
