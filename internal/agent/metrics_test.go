package agent

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricFamily is a metric family as Prometheus reads it, plain for cmp.
type metricFamily struct {
	Type, Help string
	// Samples are the values by series, as Prometheus prints one:
	// name{label="value"}, a histogram's _bucket, _sum and _count included.
	Samples map[string]float64
}

// parseMetrics reads text as Prometheus does (expfmt, the parser of its
// text format), failing the test on anything it refuses.
func parseMetrics(t *testing.T, text string) map[string]metricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not Prometheus' text format: %v\n%s", err, text)
	}
	families := make(map[string]metricFamily, len(mfs))
	for name, mf := range mfs {
		samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, mf)
		if err != nil {
			t.Fatalf("family %s: %v", name, err)
		}
		f := metricFamily{Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Samples: map[string]float64{}}
		for _, s := range samples {
			f.Samples[s.Metric.String()] = float64(s.Value)
		}
		families[name] = f
	}
	return families
}

// The families of every snapshot, before the samples.
var (
	errorsFamily  = metricFamily{Type: "counter", Help: "Requests that got no response, by the class of the error."}
	latencyFamily = metricFamily{Type: "histogram",
		Help: "Latency of the responses, from each request's intended start (the open model's timetable, the closed model's send)."}
	requestsFamily = metricFamily{Type: "counter", Help: "Requests the agent has sent (or tried to: some got no response)."}
)

// withSamples is f with samples.
func withSamples(f metricFamily, samples map[string]float64) metricFamily {
	f.Samples = samples
	return f
}

// errorSamples are dilo_agent_errors_total's samples: every class at 0 but
// those of counts.
func errorSamples(counts map[string]float64) map[string]float64 {
	s := map[string]float64{}
	for _, c := range []string{"dns", "dropped", "other", "refused", "reset", "timeout", "tls"} {
		s[`dilo_agent_errors_total{class="`+c+`"}`] = counts[c]
	}
	return s
}

// latencySamples are dilo_agent_latency_seconds' samples: the buckets'
// counts, the last one repeated to the end, +Inf included, and the sum.
func latencySamples(sum float64, counts ...float64) map[string]float64 {
	les := []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"}
	s := map[string]float64{"dilo_agent_latency_seconds_sum": sum}
	for i, le := range les {
		s[`dilo_agent_latency_seconds_bucket{le="`+le+`"}`] = counts[min(i, len(counts)-1)]
	}
	s["dilo_agent_latency_seconds_count"] = counts[len(counts)-1]
	return s
}

// TestLiveMetrics: /metrics holds the snapshot's figures in Prometheus' text
// format, and nothing of the Go runtime or the process; before the load
// starts, its counters are 0; HEAD has the headers and no body.
func TestLiveMetrics(t *testing.T) {
	e, errs := testEndpoint(t)
	got := fetch(t, e.addr, "GET", "/metrics")
	if got.Status != 200 || got.ContentType != "text/plain; version=0.0.4; charset=utf-8" || got.Length != strconv.Itoa(len(got.Body)) {
		t.Fatalf("before the start: %+v", got)
	}
	before := map[string]metricFamily{
		"dilo_agent_errors_total":    withSamples(errorsFamily, errorSamples(nil)),
		"dilo_agent_latency_seconds": withSamples(latencyFamily, latencySamples(0, 0)),
		"dilo_agent_requests_total":  withSamples(requestsFamily, map[string]float64{"dilo_agent_requests_total": 0}),
	}
	if diff := cmp.Diff(before, parseMetrics(t, got.Body)); diff != "" {
		t.Fatalf("before the start (-want +got):\n%s", diff)
	}

	l := fakeLoad(t)
	e.publish(l)
	first := float64(l.start.Add(time.Millisecond).UnixNano()) / 1e9
	after := map[string]metricFamily{
		"dilo_agent_errors_total": withSamples(errorsFamily, errorSamples(map[string]float64{"timeout": 1})),
		"dilo_agent_first_request_timestamp_seconds": {Type: "gauge",
			Help:    "When the agent began writing its first request, in seconds since the Unix epoch; absent before.",
			Samples: map[string]float64{"dilo_agent_first_request_timestamp_seconds": first}},
		// 0.8ms, 2ms and 40ms, summed exactly.
		"dilo_agent_latency_seconds": withSamples(latencyFamily, latencySamples(0.0428, 0, 1, 2, 2, 2, 2, 3)),
		"dilo_agent_requests_total":  withSamples(requestsFamily, map[string]float64{"dilo_agent_requests_total": 4}),
		"dilo_agent_responses_total": {Type: "counter", Help: "Responses, by status code.",
			Samples: map[string]float64{`dilo_agent_responses_total{code="200"}`: 2, `dilo_agent_responses_total{code="503"}`: 1}},
	}
	got = fetch(t, e.addr, "GET", "/metrics")
	if diff := cmp.Diff(after, parseMetrics(t, got.Body)); diff != "" {
		t.Fatalf("after the start (-want +got):\n%s", diff)
	}
	// Byte for byte what Prometheus' Go client wrote: the families by name,
	// the samples by label value, numbers in Go's shortest form.
	if diff := cmp.Diff(afterText(first), got.Body); diff != "" {
		t.Errorf("after the start, the text (-want +got):\n%s", diff)
	}
	head := fetch(t, e.addr, "HEAD", "/metrics")
	if want := (response{Status: 200, ContentType: got.ContentType, Length: got.Length}); head != want {
		t.Errorf("HEAD: %+v, want %+v", head, want)
	}
	if s := errs.String(); s != "" {
		t.Errorf("server errors: %s", s)
	}
}

// afterText is fakeLoad's /metrics document, its first request at first.
func afterText(first float64) string {
	var b strings.Builder
	b.WriteString("# HELP dilo_agent_errors_total Requests that got no response, by the class of the error.\n" +
		"# TYPE dilo_agent_errors_total counter\n")
	for _, c := range []string{"dns", "dropped", "other", "refused", "reset", "timeout", "tls"} {
		n := "0"
		if c == "timeout" {
			n = "1"
		}
		b.WriteString(`dilo_agent_errors_total{class="` + c + `"} ` + n + "\n")
	}
	b.WriteString("# HELP dilo_agent_first_request_timestamp_seconds When the agent began writing its first request, in seconds since the Unix epoch; absent before.\n" +
		"# TYPE dilo_agent_first_request_timestamp_seconds gauge\n" +
		"dilo_agent_first_request_timestamp_seconds " + strconv.FormatFloat(first, 'g', -1, 64) + "\n" +
		"# HELP dilo_agent_latency_seconds Latency of the responses, from each request's intended start (the open model's timetable, the closed model's send).\n" +
		"# TYPE dilo_agent_latency_seconds histogram\n")
	counts := []int{0, 1, 2, 2, 2, 2, 3}
	for i, le := range []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"} {
		b.WriteString(`dilo_agent_latency_seconds_bucket{le="` + le + `"} ` + strconv.Itoa(counts[min(i, len(counts)-1)]) + "\n")
	}
	b.WriteString("dilo_agent_latency_seconds_sum 0.0428\ndilo_agent_latency_seconds_count 3\n" +
		"# HELP dilo_agent_requests_total Requests the agent has sent (or tried to: some got no response).\n" +
		"# TYPE dilo_agent_requests_total counter\n" +
		"dilo_agent_requests_total 4\n" +
		"# HELP dilo_agent_responses_total Responses, by status code.\n" +
		"# TYPE dilo_agent_responses_total counter\n" +
		`dilo_agent_responses_total{code="200"} 2` + "\n" +
		`dilo_agent_responses_total{code="503"} 1` + "\n")
	return b.String()
}

// TestBucketCounts: a value counts below a bound when its whole bucket of
// the histogram is, or it is the largest value, exactly known.
func TestBucketCounts(t *testing.T) {
	us, ms := time.Microsecond, time.Millisecond
	bounds := []time.Duration{500 * us, ms, 5 * ms, 10 * ms, time.Minute}
	for _, tc := range []struct {
		name   string
		values []time.Duration
		want   []uint64 // by bound
	}{
		{"empty", nil, []uint64{0, 0, 0, 0, 0}},
		// 999µs's bucket ends below 1ms, 1ms's above it, as 5ms's above 5ms.
		{"around the bounds", []time.Duration{100 * us, 999 * us, ms, 5 * ms, 70 * time.Second}, []uint64{1, 2, 3, 4, 4}},
		{"the largest value exact", []time.Duration{ms}, []uint64{0, 1, 1, 1, 1}},
		{"many of one", []time.Duration{2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 2 * ms, 20 * ms}, []uint64{0, 0, 7, 7, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]promBucket, len(bounds))
			for i, d := range bounds {
				want[i] = promBucket{le: d.Seconds(), count: tc.want[i]}
			}
			if diff := cmp.Diff(want, bucketCounts(hist(tc.values...), bounds), cmp.AllowUnexported(promBucket{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestBucketCountsBound: over random latencies, at every bound of
// latencyBuckets, the count is never above the truth, short of it only by
// values less than 1/128 (0.78%) of the bound under it, and never smaller
// than at a lower bound.
func TestBucketCountsBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var values []time.Duration
		for range rng.IntN(200) {
			d := latencyBuckets[rng.IntN(len(latencyBuckets))]
			switch rng.IntN(3) {
			case 0: // near a bound
				d += time.Duration(rng.Int64N(int64(d)/50+1) - int64(d)/100)
			case 1: // anywhere up to past the last
				d = time.Duration(rng.Int64N(int64(2 * time.Minute)))
			}
			values = append(values, d)
		}
		got := bucketCounts(hist(values...), latencyBuckets)
		for i, d := range latencyBuckets {
			var truth, near uint64
			for _, v := range values {
				if v <= d {
					truth++
					if 128*(d-v) < d {
						near++
					}
				}
			}
			if n := got[i].count; n > truth || truth-n > near || i > 0 && n < got[i-1].count {
				t.Fatalf("at %v: %d counted, %d at most %v, %d of them within 0.78%% under it; %d at the bound before\nvalues %v",
					d, n, truth, d, near, got[max(i-1, 0)].count, values)
			}
		}
	}
}
