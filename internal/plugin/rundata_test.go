package plugin

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dilo-operator/dilo/internal/progress"
	"github.com/dilo-operator/dilo/internal/report/live"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// TestLoadTimeline checks a run's timeline is read from the ConfigMap its data names,
// and that a run without one, or whose ConfigMap is gone, has none.
func TestLoadTimeline(t *testing.T) {
	tl := live.Timeline{SendStart: t0, Stride: 1, Entries: []live.Entry{
		{Start: 0, Length: 2 * time.Second, Observations: 1, Requests: 200, P50: 2 * time.Millisecond, P90: 6 * time.Millisecond, P99: 12 * time.Millisecond},
		{Start: 2 * time.Second, Length: 2 * time.Second, Observations: 1, Requests: 201, Errors: 1, P50: 2 * time.Millisecond, P90: 7 * time.Millisecond, P99: 13 * time.Millisecond},
	}}
	doc, err := tl.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-timeline-3"},
		Data:       map[string]string{progress.KeyTimeline: string(doc)},
	}).Build()
	cases := []struct {
		name string
		d    runData
		want *live.Timeline
	}{
		{name: "the run's timeline", d: runData{Namespace: "ns", LoadTest: "web", Run: 3, Timeline: "web-timeline-3"}, want: &tl},
		{name: "a run without one", d: runData{Namespace: "ns", LoadTest: "web", Run: 2}},
		{name: "its ConfigMap gone", d: runData{Namespace: "ns", LoadTest: "web", Run: 1, Timeline: "web-timeline-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadTimeline(context.Background(), c, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("loadTimeline (-want +got):\n%s", diff)
			}
		})
	}
}
