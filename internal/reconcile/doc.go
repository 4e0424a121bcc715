// Package reconcile holds DiLO's controllers: LoadTestReconciler runs a LoadTest's
// load-generator pods through one run after another, SimpleDeploymentReconciler keeps
// a SimpleDeployment's one pod.
//
// # A LoadTest run
//
// A run is identified by its number, status.run and the pods' example.org/run label:
// the LoadTest's metadata.generation when a spec edit started it, the previous run's
// plus one when a new value of the example.org/rerun annotation, or a tick of
// spec.schedule, did (the value is then status.lastHandledRerun, the tick
// status.lastScheduleTime), never a number used before. Its pods are named
// <loadtest>-<run>-<replica>, so creating them again is harmless: a manager restarted
// at any moment finds the run in status and its pods by name, and neither duplicates a
// pod nor loses the run. Reconcile is a list of named steps (see
// LoadTestReconciler.Reconcile, which lists them). Status is computed from what the
// steps observed and patched once, at the end, by a deferred merge patch with an
// optimistic lock; an Event is recorded on every state transition after that patch
// succeeded. Every change of a LoadTest is reconciled, its metadata and status
// included: an annotation stops a run, and the poller's status.stopping must reach the
// pods at once.
//
// # Synchronised start
//
// Every load-generator pod mounts a downward-API volume that projects three of its
// annotations into /etc/dilo/start: example.org/run-plan, set when the pod is created,
// into plan, the agent's run plan (internal/report/runplan: target, load, timeout,
// start, stop and result files, the live port; the agent's only argument is
// --plan-file), example.org/start-at into at and example.org/stop-at into stop. The
// agent waits until at (the plan's start.file) holds an RFC 3339 instant, then until
// that instant. The file stays empty while the annotation is absent. Once every pod of
// the run is Running, the controller sets the annotation on all of them to the same
// instant, now + StartDelaySeconds (5s: the time kubelets need to update the projected
// file), so that all pods start sending together, and records it in
// status.sendStartTime once all of them carry it. If the annotation is already on some
// pods (the manager stopped halfway through setting it), their value is copied to the
// others; once status.sendStartTime is set, it is the instant, whatever the cache shows
// of the pods. Pods are annotated with an optimistic lock, so that a reconcile that read
// them before the previous one annotated them writes nothing, and the StartGateOpened
// Event is recorded by the reconcile that recorded status.sendStartTime alone: once.
//
// Every agent also serves its results so far on the live port (api/v1.PortLive),
// which the manager's poller (internal/progress) reads to write status.progress and
// the run's timeline while the run executes. Once a run ended with results,
// status.progress holds its final figures.
//
// # Stopping a run
//
// A run is stopped early by a user, with a new value of the LoadTest's example.org/stop
// annotation (one that is not status.lastHandledStop), or by the poller, which sets
// status.stopping (reason ThresholdBroken) when a live threshold of
// spec.thresholds.abort breaks. A new annotation value is always recorded in
// status.lastHandledStop, so that it is acted on once; it stops the run only if the run
// is pending or executing (status.stopping, reason Stopped, the message naming the
// value), and is a no-op, with a StopIgnored Event, for a run that already ended. Both
// stops then take the same path, from status.stopping:
//   - a run whose pods have not started sending (pending, queued, its start gate not
//     open, or its start-at instant not come) ends at once: failed with the stop's
//     reason, without results; its running pods are deleted, as a failed run's are;
//   - otherwise every pod of the run that still runs gets the example.org/stop-at
//     annotation, the same RFC 3339 instant on all (stopping.time, or the instant a pod
//     carries already), with an optimistic lock as for the start gate, and a Stopping
//     Event the first time; the agents stop sending then and exit normally with their
//     results so far. Once every pod succeeded, the results are merged as usual and the
//     run ends failed with the stop's reason and message, the results' totals added,
//     and status.results set: the partial results are not judged against the
//     thresholds. Unreadable results or TLS failures keep their own reasons. A run
//     whose pods had all ended before the stop took effect also ends with the stop's
//     reason, the message saying so, since it was asked for.
//
// A pod that breaks meanwhile, and the deadline, still fail the run with their own
// reasons: a stop does not extend the run.
//
// # History
//
// When a run ends, finished or failed, a record of it (run, spec hash, times, state,
// its Complete or Failed condition's reason, and the requests, rate, error ratio, p50
// and p99 of its results, or of its last progress without results) is appended to
// status.history; when a spec edit replaces a run that had not ended, its record has
// reason Replaced and the state it was in. A record names the run's timeline when the
// poller made one: the ConfigMap <loadtest>-timeline-<run>, labelled as the run's pods
// are and owned by the LoadTest. The history keeps the last spec.historyLimit records
// (10 by default), oldest first, one per run; a new run keeps it, and the last stop
// value handled. When records are pruned (a run ended, or the limit was lowered), or a
// new run started, the LoadTest's timelines of runs neither current nor in the history
// are deleted, after the status patch, listed live by their labels (the manager caches
// no ConfigMap) and each with a UID precondition. Editing spec.historyLimit never
// starts a new run.
//
// # Failing fast
//
// A run fails, with the condition reason naming why and the message naming the pod, as
// soon as one of its pods: stays unschedulable for UnschedulableGraceSeconds (2 min);
// cannot pull its image; cannot create its container; is OOM-killed; is evicted
// (through the Eviction API, by its node or by the scheduler: its DisruptionTarget
// condition says so); is deleted by someone else, or disappears, while the run goes on;
// or ends failed. It also fails when spec.deadlineSeconds (or the manager's default
// deadline) passes (a requeue is scheduled for that instant, no polling), when its
// Service is missing or unusable when the run starts or the run asks for more than the
// manager's policy allows, when its Service changes while it goes (see below), when the
// API server refuses one of its pods as
// invalid or forbidden (PodRejected: a bad spec.podTemplate, Pod Security, a
// ResourceQuota), when its results are unreadable or break a threshold, or when it is
// stopped (see Stopping a run). When a run
// fails, its pods that are still running are deleted, once the status patch that
// records the failure succeeded (a failure decided from a stale LoadTest is dropped
// with its patch, and decided again); its ended pods are kept for their
// logs until the next run or the LoadTest's deletion.
//
// # The target
//
// When a run's pods are first created, the Service the LoadTest names is recorded in
// status.target: its UID, type, cluster IP and port. The agents connect to the cluster
// IP (a headless Service: its fully qualified name with a trailing dot), never to a
// short name the pods' DNS search path could complete in another namespace. The
// controller watches Services and EndpointSlices: a going run whose Service is deleted,
// re-created, retyped, re-addressed, loses its selector or gains an EndpointSlice the
// EndpointSlice controller did not make fails with TargetChanged, and its pods stop.
//
// # The queue
//
// With MaxRunningPerNamespace, a pending run without pods waits for a free slot in its
// namespace (Queued=True), in order of status.startTime, then name; see admitRun.
//
// # Cleaning up after a run
//
// With spec.ttlSecondsAfterFinished, an ended (finished or failed) run's pods are
// deleted once that many seconds have passed since status.completionTime; the status
// stays, with its results. With spec.ttlDeletesLoadTest as well, the LoadTest itself is
// deleted instead (the garbage collector deletes its pods). A requeue is scheduled for
// the instant the TTL passes: no polling. The TTL fields are left out of the run spec
// hash (api/v1.RunSpec), as spec.historyLimit is, so editing them never starts a new run.
//
// # Pod template
//
// spec.podTemplate adds labels and annotations to the run's pods (keys under
// example.org/ and DiLO's managed-by label are DiLO's alone), replaces the agent
// container's resources, and sets the pods' nodeSelector, tolerations and affinity;
// nothing else of the pod is the user's. Who may ask for what is the webhook's to judge
// (internal/policy); the pods carry a readiness gate DiLO never sets, so that no
// Service ever sends traffic to them.
package reconcile
