package reconcile

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// resultMessage is the termination message of an agent that sent requests, errors of
// which got a 500, each response taking latency.
func resultMessage(t testing.TB, start time.Time, requests, errors int64, latency time.Duration) string {
	t.Helper()
	h := histogram.New(3)
	for range requests {
		h.Record(latency)
	}
	codes := map[string]int64{}
	if requests-errors > 0 {
		codes["200"] = requests - errors
	}
	if errors > 0 {
		codes["500"] = errors
	}
	b, err := podreport.Report{
		Start: start, End: start.Add(time.Second),
		Requests: requests, Errors: errors, Codes: codes, BytesReceived: requests * 100,
		Latency: h,
	}.Encode()
	if err != nil {
		t.Fatalf("failed to encode a report: %v", err)
	}
	return string(b)
}

// podOpt changes a test pod.
type podOpt func(*corev1.Pod)

// testPod is a pod of the given name in phase, changed by opts.
func testPod(name string, phase corev1.PodPhase, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func waiting(reason string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: agentContainer, Image: "img", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "msg"}},
		})
	}
}

func terminated(reason string, code int32, msg string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: agentContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, Message: msg}},
		})
	}
}

func unschedulableSince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/3 nodes are available", LastTransitionTime: metav1.NewTime(t),
		})
	}
}

func statusReason(reason string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Reason, p.Status.Message = reason, "The node was low on resource: memory."
	}
}

// disrupted sets the DisruptionTarget condition the Eviction API, the scheduler, the
// kubelet or the control plane sets on a pod they are about to stop.
func disrupted(status corev1.ConditionStatus, reason, message string) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: status, Reason: reason, Message: message,
		})
	}
}

func deleting() podOpt {
	return func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(0, 0)} }
}

func startAt(v string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{"example.org/start-at": v} }
}

// podMap indexes pods by name.
func podMap(pods ...*corev1.Pod) map[string]*corev1.Pod {
	m := map[string]*corev1.Pod{}
	for _, p := range pods {
		m[p.Name] = p
	}
	return m
}
