package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// runObservation is what assessRun decides from: a run's pods as the cache shows them.
type runObservation struct {
	// Replicas is spec.replicas: how many pods the run has.
	Replicas int32
	// Names are the run's pod names, by replica.
	Names []string
	// Pods are the run's pods that exist, by name.
	Pods map[string]*corev1.Pod
	// Executing is true once every pod has existed: a missing pod was deleted.
	Executing bool
	// Start is when the run started; Deadline bounds it when not 0: spec.deadlineSeconds
	// or, DeadlineDefault, the manager's default.
	Start           time.Time
	Deadline        time.Duration
	DeadlineDefault bool
	// Now is the time of the reconcile.
	Now time.Time
}

// runAssessment is what assessRun decided.
type runAssessment struct {
	// Failure is why the run failed, nil while it has not.
	Failure *failure
	// AllExist, AllRunning and AllSucceeded say whether every pod of the run exists,
	// is running or succeeded.
	AllExist, AllRunning, AllSucceeded bool
	// Active, Succeeded and Failed count the existing pods.
	Active, Succeeded, Failed int32
	// RequeueAfter is when to look again without any pod changing (a deadline or an
	// unschedulable grace ending); 0 when nothing is due.
	RequeueAfter time.Duration
}

// Container waiting reasons that mean a pod will never start.
var (
	imagePullReasons       = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable", "SignatureValidationFailed"}
	containerCreateReasons = []string{"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "PreCreateHookError", "PreStartHookError", "PostStartHookError"}
)

const unschedulableGrace = dilov1.UnschedulableGraceSeconds * time.Second

// assessRun decides from a run's observed pods whether it failed (the first failing
// pod by replica decides the reason), whether all its pods exist, run or succeeded,
// and when to look again. Completion wins over the deadline; a pod failure wins over both.
func assessRun(o runObservation) runAssessment {
	a := runAssessment{AllExist: true, AllRunning: true, AllSucceeded: true}
	for _, name := range o.Names {
		pod, ok := o.Pods[name]
		if !ok {
			a.AllExist, a.AllRunning, a.AllSucceeded = false, false, false
			if o.Executing && a.Failure == nil {
				a.Failure = &failure{dilov1.ReasonPodDeleted, fmt.Sprintf("pod %s disappeared while the run was going", name)}
			}
			continue
		}
		switch pod.Status.Phase {
		case corev1.PodSucceeded:
			a.Succeeded++
			a.AllRunning = false
		case corev1.PodFailed:
			a.Failed++
			a.AllRunning, a.AllSucceeded = false, false
		case corev1.PodRunning:
			a.Active++
			a.AllSucceeded = false
		default:
			a.Active++
			a.AllRunning, a.AllSucceeded = false, false
		}
		if a.Failure != nil {
			continue
		}
		f, after := assessPod(pod, o.Now)
		a.Failure = f
		a.RequeueAfter = earliest(a.RequeueAfter, after)
	}
	if a.Failure != nil || a.AllSucceeded {
		a.RequeueAfter = 0
		return a
	}
	if o.Deadline > 0 {
		exceeded, left := deadline(o.Start, o.Deadline, o.Now)
		if exceeded {
			source := "spec.deadlineSeconds"
			if o.DeadlineDefault {
				source = "the manager's --default-deadline, as spec.deadlineSeconds is unset"
			}
			a.Failure = &failure{dilov1.ReasonDeadlineExceeded,
				fmt.Sprintf("the run was still going %ds after it started (%s)", int64(o.Deadline/time.Second), source)}
			a.RequeueAfter = 0
			return a
		}
		a.RequeueAfter = earliest(a.RequeueAfter, left)
	}
	return a
}

// assessPod says why pod failed or will never run, or, when it is unschedulable but
// still within its grace, after how long to look again. A pod being deleted was
// evicted when its DisruptionTarget condition says so (the Eviction API marks the pod
// before it deletes it), else deleted.
func assessPod(pod *corev1.Pod, now time.Time) (*failure, time.Duration) {
	name := pod.Name
	if pod.DeletionTimestamp != nil {
		if why, ok := disruption(pod); ok {
			return &failure{dilov1.ReasonEvicted, fmt.Sprintf("pod %s was evicted: %s", name, why)}, 0
		}
		return &failure{dilov1.ReasonPodDeleted, fmt.Sprintf("pod %s was deleted while the run was going", name)}, 0
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
			return &failure{dilov1.ReasonOOMKilled, fmt.Sprintf("pod %s: container %s was OOM-killed (memory limit %s)",
				name, cs.Name, memoryLimit(pod, cs.Name))}, 0
		}
		if w := cs.State.Waiting; w != nil {
			switch {
			case slices.Contains(imagePullReasons, w.Reason):
				return &failure{dilov1.ReasonImagePullFailed, fmt.Sprintf("pod %s cannot pull image %s: %s: %s", name, cs.Image, w.Reason, w.Message)}, 0
			case slices.Contains(containerCreateReasons, w.Reason):
				return &failure{dilov1.ReasonContainerCreateFailed, fmt.Sprintf("pod %s cannot start container %s: %s: %s", name, cs.Name, w.Reason, w.Message)}, 0
			}
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		why, disrupted := disruption(pod)
		if pod.Status.Reason == "Evicted" || pod.Status.Reason == "Preempting" || disrupted {
			return &failure{dilov1.ReasonEvicted, fmt.Sprintf("pod %s was evicted: %s", name, firstNonEmpty(pod.Status.Message, why, pod.Status.Reason))}, 0
		}
		return &failure{dilov1.ReasonPodFailed, fmt.Sprintf("pod %s failed: %s", name, podFailure(pod))}, 0
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			since := time.Duration(0) // no transition time: the grace starts now
			if !c.LastTransitionTime.IsZero() {
				since = now.Sub(c.LastTransitionTime.Time)
			}
			if since >= unschedulableGrace {
				return &failure{dilov1.ReasonUnschedulable, fmt.Sprintf("pod %s has been unschedulable for %s: %s", name, since.Truncate(time.Second), c.Message)}, 0
			}
			return nil, unschedulableGrace - since
		}
	}
	return nil, 0
}

// deadline reports whether a run started at start is past its deadline d at now, and
// otherwise how long it has left.
func deadline(start time.Time, d time.Duration, now time.Time) (exceeded bool, left time.Duration) {
	left = start.Add(d).Sub(now)
	if left <= 0 {
		return true, 0
	}
	return false, left
}

// startGate decides the synchronised start: once every pod of the run is Running, the
// instant all of them start at, and the pods that do not carry it yet. The instant is
// sent, status.sendStartTime, once recorded: a reconcile that reads pods the cache has
// not updated yet must give them the instant the others got, never a new one. Before
// that, it is the one already set on a pod, if any (a gate opened halfway, its status
// not recorded), else now + delay. It returns "" while some pod is not Running.
func startGate(names []string, pods map[string]*corev1.Pod, sent *metav1.Time, now time.Time, delay time.Duration) (at string, missing []string) {
	for _, name := range names {
		pod, ok := pods[name]
		if !ok || pod.Status.Phase != corev1.PodRunning {
			return "", nil
		}
		if v := pod.Annotations[dilov1.AnnotationStartAt]; v != "" && at == "" {
			at = v
		}
	}
	switch {
	case sent != nil:
		at = formatStartAt(sent.Time)
	case at == "":
		at = formatStartAt(now.Add(delay))
	}
	for _, name := range names {
		if pods[name].Annotations[dilov1.AnnotationStartAt] != at {
			missing = append(missing, name)
		}
	}
	return at, missing
}

// formatStartAt writes a start-at instant as the annotation holds it: RFC 3339 in UTC,
// to the second, as status.sendStartTime stores it.
func formatStartAt(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// podResults are what a run's pods left of their results: the logs the manager could
// read (the full document is their last line), by pod name, and the pods themselves
// (their termination messages hold the compact document).
type podResults struct {
	names []string
	pods  map[string]*corev1.Pod
	logs  map[string][]byte
}

// report is pod name's result: the full document of its log, or, when the log holds
// none (it could not be read, or was rotated away), the compact one of its
// termination message.
func (pr podResults) report(name string) (report.Report, error) {
	if doc, ok := report.LastDocument(pr.logs[name]); ok {
		if r, err := report.ParseFull(doc); err == nil {
			return r, nil
		}
	}
	msg, ok := terminationMessage(pr.pods[name])
	if !ok {
		return report.Report{}, fmt.Errorf("pod %s succeeded without a termination message", name)
	}
	r, err := report.Parse(msg)
	if err != nil {
		return report.Report{}, fmt.Errorf("pod %s: %w", name, err)
	}
	return r, nil
}

// collectResults reads every pod's result, merges them and judges them: requests
// that failed the TLS handshake fail the run (TLSFailed: its TLS settings are wrong,
// not the Service slow), then the thresholds, those relative to baseline included
// when there is one. It returns the merged results (nil when a document is
// unreadable), why the run failed, if it did, and, for a mix of requests (mix), why
// the results have no per-request part when they have none.
func collectResults(pr podResults, th *dilov1.Thresholds, baseline *dilov1.BaselineRun, target string, mix bool) (*dilov1.Results, *failure, string) {
	reports := make([]report.Report, 0, len(pr.names))
	tlsError := ""
	for _, name := range pr.names {
		r, err := pr.report(name)
		if err != nil {
			return nil, &failure{dilov1.ReasonResultUnreadable, err.Error()}, ""
		}
		if tlsError == "" {
			tlsError = r.TLSError
		}
		reports = append(reports, r)
	}
	res, err := report.Merge(reports)
	if err != nil {
		return nil, &failure{dilov1.ReasonResultUnreadable, err.Error()}, ""
	}
	note := ""
	if mix {
		note = report.ByRequestUnavailable(pr.names, reports)
	}
	if n := res.ErrorsByClass[podreport.ClassTLS]; n > 0 {
		return &res, &failure{dilov1.ReasonTLSFailed, fmt.Sprintf("%d of %d requests failed the TLS handshake with %s: %s",
			n, res.Requests, target, firstNonEmpty(tlsError, "no error recorded"))}, note
	}
	var broken []string
	if msg, ok := report.CheckThresholds(th, res); !ok {
		broken = append(broken, msg)
	}
	if th != nil && baseline != nil {
		if msg, ok := report.CheckBaseline(th.Baseline, *baseline, res); !ok {
			broken = append(broken, msg)
		}
	}
	if len(broken) > 0 {
		return &res, &failure{dilov1.ReasonThresholdBroken, strings.Join(broken, "; ")}, note
	}
	return &res, nil, note
}

// completeMessage is the Complete condition's message of a run of pods pods that
// finished, saying what it was compared with when a baseline was asked for.
func completeMessage(pods int, run int64, baseline *dilov1.BaselineRun, noBaseline string) string {
	msg := fmt.Sprintf("all %d pods of run %d succeeded", pods, run)
	switch {
	case baseline != nil:
		msg += fmt.Sprintf("; within the limits of baseline %s run %d", baseline.LoadTest, baseline.Run)
	case noBaseline != "":
		msg += "; not compared with a baseline: " + noBaseline
	}
	return msg
}

// lastFinished is the last finished run of history before run before, if any.
func lastFinished(history []dilov1.RunRecord, before int64) (dilov1.RunRecord, bool) {
	for i := len(history) - 1; i >= 0; i-- {
		if rec := history[i]; rec.Run < before && rec.State == dilov1.StateFinished {
			return rec, true
		}
	}
	return dilov1.RunRecord{}, false
}

// baselineRun is the baseline a finished run's record gives, of LoadTest name.
func baselineRun(name string, rec dilov1.RunRecord) *dilov1.BaselineRun {
	return &dilov1.BaselineRun{LoadTest: name, Run: rec.Run, RequestsPerSecond: rec.RequestsPerSecond,
		P50: rec.P50.DeepCopy(), P90: rec.P90.DeepCopy(), P99: rec.P99.DeepCopy()}
}

// terminationMessage is the agent container's termination message.
func terminationMessage(pod *corev1.Pod) (string, bool) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == agentContainer && cs.State.Terminated != nil {
			return cs.State.Terminated.Message, true
		}
	}
	return "", false
}

// podFailure describes why a failed pod failed: its container's exit code and the
// start of its termination message (the agent writes why it could not run there).
func podFailure(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			s := fmt.Sprintf("container %s exited with code %d", cs.Name, t.ExitCode)
			if t.Reason != "" && t.Reason != "Error" {
				s += " (" + t.Reason + ")"
			}
			if msg := strings.TrimSpace(t.Message); msg != "" {
				s += ": " + dilov1.Truncate(msg, 256)
			}
			return s
		}
	}
	return firstNonEmpty(pod.Status.Message, pod.Status.Reason, "phase Failed")
}

// memoryLimit is the memory limit of a pod's container, "none" when it has none.
func memoryLimit(pod *corev1.Pod, container string) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String()
			}
		}
	}
	return "none"
}

// disruption reports whether pod was disrupted, as its DisruptionTarget=True condition
// says: evicted through the Eviction API (a drain), by the kubelet for node pressure,
// preempted by the scheduler, or deleted by the control plane (a NoExecute taint, its
// node gone). It says how: the condition's reason and message.
func disruption(pod *corev1.Pod) (string, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			why := slices.DeleteFunc([]string{c.Reason, c.Message}, func(s string) bool { return s == "" })
			return firstNonEmpty(strings.Join(why, ": "), string(corev1.DisruptionTarget)), true
		}
	}
	return "", false
}

// earliest is the shorter of two positive durations, 0 meaning none.
func earliest(a, b time.Duration) time.Duration {
	if a <= 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// firstNonEmpty is the first of s that is not empty.
func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
