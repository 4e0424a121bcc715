// Package reconcile holds DiLO's controllers: LoadTestReconciler runs a LoadTest's
// load-generator pods through one run after another, SimpleDeploymentReconciler keeps
// a SimpleDeployment's one pod.
//
// # A LoadTest run
//
// A run is identified by the LoadTest's metadata.generation when it started (the pods'
// example.org/run label and status.observedGeneration). Its pods are named
// <loadtest>-<run>-<replica>, so creating them again is harmless: a manager restarted
// at any moment finds the run in status and its pods by name, and neither duplicates a
// pod nor loses the run. Reconcile is a list of named steps (see
// LoadTestReconciler.Reconcile): start a run when the generation changed, delete the
// pods of older runs and wait until they are gone, create the run's missing pods while
// it is pending, assess the pods (fail fast), open the start gate, collect the results,
// stop a failed run's pods. Status is computed from what the steps observed and
// patched once, at the end, by a deferred merge patch with an optimistic lock; an
// Event is recorded on every state transition after that patch succeeded.
//
// # Synchronised start
//
// Every load-generator pod mounts a downward-API volume that projects two of its
// annotations into /etc/dilo/start: example.org/run-plan, set when the pod is created,
// into plan, the agent's run plan (internal/report/runplan: target, load, timeout, start
// and result files; the agent's only argument is --plan-file), and example.org/start-at
// into at. The agent waits until at (the plan's start.file) holds an RFC 3339 instant,
// then until that instant. The file stays empty while the annotation is absent. Once every pod of the run is Running, the controller
// sets the annotation on all of them to the same instant, now + StartDelaySeconds (5s:
// the time kubelets need to update the projected file), so that all pods start sending
// together. If the annotation is already on some pods (the manager stopped halfway
// through setting it), their value is copied to the others.
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
// ResourceQuota), or when its results are unreadable or break a threshold. When a run
// fails, its pods that are still running are deleted; its ended pods are kept for their
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
// hash, so editing them never starts a new run.
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
