package reconcile

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Stopping a run early. A stop is asked for either by a user, with a new value of the
// LoadTest's example.org/stop annotation (takeStopRequest turns it into
// status.stopping), or by the manager's poller, which sets status.stopping itself when
// a live threshold breaks. Either way stopRun acts on status.stopping, and
// collectResults ends the run with its reason: see the package documentation.

// takeStopRequest acts on a new value of the LoadTest's example.org/stop annotation
// (see stopRequest): it is recorded as handled in status.lastHandledStop whatever the
// run's state, and stops the run if it is going, by setting status.stopping. A run
// already stopping keeps the stop it has; an ended one is left as it is.
func (r *LoadTestReconciler) takeStopRequest(_ context.Context, s *runScope) (bool, error) {
	st := &s.lt.Status
	value, ok := stopRequest(s.lt)
	if !ok {
		return false, nil
	}
	st.LastHandledStop = value
	switch {
	case !isGoing(st.State):
		s.stopIgnored = true
	case st.Stopping == nil:
		st.Stopping = userStop(value, s.now)
	}
	return false, nil
}

// stopRequest is the value of lt's example.org/stop annotation and whether it asks for
// a stop: it is set and is not the value handled last, status.lastHandledStop. The
// annotation may stay on the LoadTest, and a later run is not stopped by it.
func stopRequest(lt *dilov1.LoadTest) (string, bool) {
	v := lt.Annotations[dilov1.AnnotationStop]
	return v, v != "" && v != lt.Status.LastHandledStop
}

// userStop is the status.stopping of a run a user stopped at now with value of the
// example.org/stop annotation.
func userStop(value string, now time.Time) *dilov1.Stopping {
	return &dilov1.Stopping{
		Reason:  dilov1.ReasonStopped,
		Message: dilov1.Truncate(fmt.Sprintf("stopped by the LoadTest's %s annotation (%q)", dilov1.AnnotationStop, value), 1024),
		Time:    metav1.Time{Time: now},
	}
}

// stopRun acts on status.stopping of a going run, unless the run failed already (a
// broken pod, the deadline: the failure is the better account of the run): see
// decideStop. A run whose pods have not started sending ends at once, failed with the
// stop's reason and no results, and stopFailedRun deletes its pods. Otherwise the
// pods that still run are given the stop-at instant, their agents stop sending and
// report, and collectResults ends the run once they all succeeded.
func (r *LoadTestReconciler) stopRun(ctx context.Context, s *runScope) (bool, error) {
	st := &s.lt.Status
	if st.Stopping == nil || s.failure != nil || !isGoing(st.State) {
		return false, nil
	}
	d := decideStop(stopObservation{Stopping: st.Stopping, SendStart: st.SendStartTime, Names: s.names, Pods: s.pods, Now: s.now})
	if d.AtOnce {
		s.failure = &failure{st.Stopping.Reason, st.Stopping.Message + "; its pods had not started sending, so there are no results"}
		return false, nil
	}
	s.stopComplete = d.Complete
	for _, name := range d.Missing {
		if ok, err := r.annotatePod(ctx, s.pods[name], dilov1.AnnotationStopAt, d.At); !ok || err != nil {
			return false, err
		}
	}
	if !d.Told && len(d.Missing) > 0 && r.Recorder != nil {
		// Recorded now, not after the status patch: the pods were told, whatever
		// becomes of the patch, and the optimistic lock on them lets one reconcile
		// alone be the first to tell them.
		r.Recorder.Eventf(s.lt, nil, corev1.EventTypeNormal, "Stopping", "StopRun", "%s",
			dilov1.Truncate(fmt.Sprintf("Run %d is stopping (%s: %s): its %d running pods stop sending at %s",
				s.run, st.Stopping.Reason, st.Stopping.Message, len(d.Missing), d.At), maxEventNote))
	}
	return false, nil
}

// stopObservation is what decideStop decides from.
type stopObservation struct {
	// Stopping is status.stopping; SendStart status.sendStartTime (nil: not recorded).
	Stopping  *dilov1.Stopping
	SendStart *metav1.Time
	// Names are the run's pod names, by replica; Pods those that exist.
	Names []string
	Pods  map[string]*corev1.Pod
	Now   time.Time
}

// stopDecision is what decideStop decided.
type stopDecision struct {
	// AtOnce: the pods have not started sending (the start gate is not open, or its
	// instant has not come): the run ends now, without results.
	AtOnce bool
	// At is the stop-at instant; Missing are the pods still running that do not carry
	// it yet; Told says that some pod carries it already.
	At      string
	Missing []string
	Told    bool
	// Complete: every pod ended before any was told to stop, so the results are the
	// whole run's.
	Complete bool
}

// decideStop decides how a run being stopped stops. The instant the pods are given is
// the one some pod carries already (a stop told halfway), else stopping.time, to the
// nanosecond while this reconcile holds it (RFC 3339). A pod that ended, or is being
// deleted, is not told: its agent has stopped sending.
func decideStop(o stopObservation) stopDecision {
	start, ok := sendStart(o.SendStart, o.Names, o.Pods)
	if !ok || o.Now.Before(start) {
		return stopDecision{AtOnce: true}
	}
	d := stopDecision{Complete: true}
	for _, name := range o.Names {
		pod, ok := o.Pods[name]
		if !ok {
			d.Complete = false
			continue
		}
		if v := pod.Annotations[dilov1.AnnotationStopAt]; v != "" {
			d.Told, d.Complete = true, false
			if d.At == "" {
				d.At = v
			}
		}
		if !podEnded(pod) {
			d.Complete = false
		}
	}
	if d.At == "" {
		d.At = o.Stopping.Time.UTC().Format(time.RFC3339Nano)
	}
	for _, name := range o.Names {
		pod, ok := o.Pods[name]
		if ok && !podEnded(pod) && pod.DeletionTimestamp == nil && pod.Annotations[dilov1.AnnotationStopAt] == "" {
			d.Missing = append(d.Missing, name)
		}
	}
	return d
}

// sendStart is when the run's pods start sending: status.sendStartTime, or, when it
// was not recorded (the status patch that would have was dropped), the start-at
// instant a pod carries. ok is false when the start gate has not opened.
func sendStart(recorded *metav1.Time, names []string, pods map[string]*corev1.Pod) (time.Time, bool) {
	if recorded != nil {
		return recorded.Time, true
	}
	for _, name := range names {
		if pod, ok := pods[name]; ok {
			if t, err := time.Parse(time.RFC3339, pod.Annotations[dilov1.AnnotationStartAt]); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// stoppedFailure is how a run being stopped ends once its pods succeeded, from what
// collectResults found (res, nil when unreadable, and f): with the stop's reason and
// message, the results' totals added, whether or not they break a threshold (a
// ThresholdBroken stop was judged on the live results, a Stopped one is not judged);
// but unreadable results, or TLS failures, say more of the run than the stop does,
// and keep their own reason. complete says the pods had all ended before they were
// told to stop.
func stoppedFailure(stop *dilov1.Stopping, res *dilov1.Results, f *failure, complete bool) *failure {
	if res == nil || f != nil && f.Reason != dilov1.ReasonThresholdBroken {
		return f
	}
	totals := fmt.Sprintf("%d requests, error ratio %s, p99 %s", res.Requests, res.ErrorRatio, res.Latency.P99.Duration)
	msg := stop.Message + "; its pods sent " + totals + " before they stopped"
	if complete {
		msg = stop.Message + "; its pods had all ended before the stop took effect, so these are the whole run's results: " + totals
	}
	return &failure{stop.Reason, msg}
}
