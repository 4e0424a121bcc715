package v1

// Labels and annotations DiLO puts on the pods it creates. They are part of the API:
// users select a load test's pods with them (kubectl get pods -l example.org/loadtest=NAME).
const (
	// LabelManagedBy marks every pod DiLO creates; the manager's cache holds only these pods.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByDiLO is LabelManagedBy's value.
	ManagedByDiLO = "dilo"

	// LabelLoadTest holds the name of the LoadTest a pod belongs to.
	LabelLoadTest = "example.org/loadtest"
	// LabelRun holds the run a LoadTest pod belongs to: its number, status.run. A spec
	// edit or a rerun starts a new run; pods of older runs are deleted.
	LabelRun = "example.org/run"
	// LabelReplica holds a LoadTest pod's index in its run, from 0 to replicas-1.
	LabelReplica = "example.org/replica"

	// LabelSimpleDeployment holds the name of the SimpleDeployment a pod belongs to.
	LabelSimpleDeployment = "example.org/simpledeployment"

	// ReservedPrefix starts every label and annotation key that is DiLO's to set:
	// spec.podTemplate may not use it.
	ReservedPrefix = "example.org/"

	// ReadinessGateNeverReady is a readiness gate of every load-generator pod that DiLO
	// never sets: the pods are never Ready, so no Service ever sends traffic to them,
	// whatever labels spec.podTemplate gives them.
	ReadinessGateNeverReady = "example.org/load-generator"

	// AnnotationStartAt is set on every pod of a run once all of them are running: the
	// RFC 3339 instant at which their agents start sending (the synchronised start).
	AnnotationStartAt = "example.org/start-at"
	// AnnotationRunPlan is set on every pod of a run when it is created: the agent's
	// run plan (internal/report/runplan), which the pod projects into a file.
	AnnotationRunPlan = "example.org/run-plan"
	// AnnotationStopAt is set on every pod of a run being stopped early: the RFC 3339
	// instant from which their agents stop sending; a downward-API volume projects it
	// into the pod's stop file, next to its start file.
	AnnotationStopAt = "example.org/stop-at"

	// AnnotationStop, on a LoadTest, asks DiLO to stop its current run: any new value
	// (kubectl annotate loadtest NAME example.org/stop="$(date -Is)" --overwrite) stops
	// the run current when the manager sees it, as Flux's reconcile.fluxcd.io/requestedAt
	// asks for a reconcile. The agents stop sending within seconds and the run ends
	// failed, reason Stopped, with the results they sent. The value handled last is
	// status.lastHandledStop: the annotation may stay, and a later run is not stopped
	// by it.
	AnnotationStop = "example.org/stop"

	// AnnotationRerun, on a LoadTest, asks DiLO for a new run of the same spec: any new
	// value (kubectl annotate loadtest NAME example.org/rerun="$(date -Is)" --overwrite,
	// or kubectl dilo rerun NAME) replaces the current run, if one goes, as a spec edit
	// would, and starts the next. The value handled last is status.lastHandledRerun, as
	// for AnnotationStop.
	AnnotationRerun = "example.org/rerun"

	// PortLive is the port of every load-generator pod's read-only snapshot endpoint
	// (GET /snapshot: the agent's results so far; GET /metrics: the same for
	// Prometheus), named PortNameLive in the pod spec.
	PortLive     = 9090
	PortNameLive = "live"
)
