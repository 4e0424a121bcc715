package v1

// Reasons of a LoadTest's Complete and Failed conditions. The Failed condition's
// message names the pod (or the Service, or the threshold) the reason is about; the
// same reason is the reason of the Warning event recorded when the run fails.
const (
	// ReasonFinished: every pod of the run succeeded and no threshold was broken.
	ReasonFinished = "Finished"

	// ReasonServiceNotFound: spec.test.serviceName names no Service when the run starts.
	ReasonServiceNotFound = "ServiceNotFound"
	// ReasonExternalNameService: the Service is of type ExternalName.
	ReasonExternalNameService = "ExternalNameService"
	// ReasonServicePortNotFound: the Service has no port matching spec.test.port, or no port at all.
	ReasonServicePortNotFound = "ServicePortNotFound"
	// ReasonServiceWithoutSelector: the Service has no selector, so its endpoints are
	// whatever someone wrote, inside the cluster or not; refused unless the manager runs
	// with --allow-services-without-selector.
	ReasonServiceWithoutSelector = "ServiceWithoutSelector"
	// ReasonForeignEndpoints: an EndpointSlice of the Service was not made by the
	// EndpointSlice controller from its selector (hand-written endpoints can point
	// anywhere); refused unless --allow-services-without-selector.
	ReasonForeignEndpoints = "ForeignEndpoints"
	// ReasonTargetChanged: while the run went, its Service stopped being the one
	// recorded in status.target when the run's pods were created.
	ReasonTargetChanged = "TargetChanged"
	// ReasonLimitExceeded: the run asks for more than the manager allows a LoadTest
	// (replicas, connections, request rate, deadline): checked again when the run starts,
	// so that a LoadTest created while the webhooks were off lifts no limit.
	ReasonLimitExceeded = "LimitExceeded"

	// ReasonUnschedulable: a pod stayed unschedulable (PodScheduled=False, reason
	// Unschedulable) for UnschedulableGraceSeconds.
	ReasonUnschedulable = "Unschedulable"
	// ReasonImagePullFailed: a pod's image cannot be pulled (ErrImagePull,
	// ImagePullBackOff, InvalidImageName, ErrImageNeverPull, ...).
	ReasonImagePullFailed = "ImagePullFailed"
	// ReasonContainerCreateFailed: a pod's container cannot be created or started
	// (CreateContainerConfigError, CreateContainerError, RunContainerError).
	ReasonContainerCreateFailed = "ContainerCreateFailed"
	// ReasonOOMKilled: a pod's container was killed for exceeding its memory limit.
	ReasonOOMKilled = "OOMKilled"
	// ReasonEvicted: a pod was evicted or preempted: through the Eviction API (a drain),
	// by its node (node pressure) or by the scheduler, or deleted by the control plane (a
	// NoExecute taint, its node gone). Such a pod is marked DisruptionTarget=True, or
	// ends failed with reason Evicted; the message quotes why.
	ReasonEvicted = "Evicted"
	// ReasonPodDeleted: a pod of the run was deleted (a plain delete, not an eviction), or
	// disappeared, while the run was going.
	ReasonPodDeleted = "PodDeleted"
	// ReasonPodRejected: the API server refused to create a pod of the run: invalid
	// (e.g. a bad spec.podTemplate) or forbidden by an admission plugin (Pod Security,
	// a ResourceQuota). The message quotes the API server.
	ReasonPodRejected = "PodRejected"
	// ReasonPodFailed: a pod ended failed for another reason (the agent exited non-zero).
	ReasonPodFailed = "PodFailed"
	// ReasonDeadlineExceeded: the run was still going spec.deadlineSeconds after it started.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonResultUnreadable: a pod succeeded but its termination message is not a
	// result document.
	ReasonResultUnreadable = "ResultUnreadable"
	// ReasonThresholdBroken: the merged results break spec.thresholds.
	ReasonThresholdBroken = "ThresholdBroken"
	// ReasonReferenceNotFound: a Secret or ConfigMap, or a key of one, that the test
	// reads (headers, bodies, the TLS CA) does not exist when the run starts.
	ReasonReferenceNotFound = "ReferenceNotFound"
	// ReasonTLSFailed: requests failed the TLS handshake with the Service: its
	// certificate did not verify against spec.test.tls.ca, or it did not negotiate
	// HTTP/2 when spec.test.protocol asked for it.
	ReasonTLSFailed = "TLSFailed"
	// ReasonStopped: a user asked the run to stop (a new value of the LoadTest's
	// example.org/stop annotation); it ended with the results its pods had sent.
	ReasonStopped = "Stopped"
)

// Reasons of the LiveProgress condition, and of a history record.
const (
	// ReasonReporting: the manager reads the agents' snapshots (LiveProgress=True).
	ReasonReporting = "Reporting"
	// ReasonPodsUnreachable: the manager cannot read some pods' snapshots
	// (LiveProgress=False; e.g. a NetworkPolicy, or a manager outside the cluster); the
	// run and its final results are not affected.
	ReasonPodsUnreachable = "PodsUnreachable"
	// ReasonReplaced: a history record of a run a spec edit replaced before it ended.
	ReasonReplaced = "Replaced"
)

// Reasons of a LoadTest's Queued condition (and of the Events recorded when a run is
// queued and when a queued run starts), set only when the manager caps the runs
// executing at once in a namespace.
const (
	// ReasonQueued: the run waits for a free slot (Queued=True); the message names the
	// runs holding the slots and those ahead of it.
	ReasonQueued = "Queued"
	// ReasonAdmitted: the run got a slot and started (Queued=False).
	ReasonAdmitted = "Admitted"

	// ReasonPending, ReasonExecuting and ReasonStopping are the Reconciling condition's
	// reasons for a run pending (and not queued), executing, and being stopped.
	ReasonPending   = "Pending"
	ReasonExecuting = "Executing"
	ReasonStopping  = "Stopping"
)

// Timing rules of a run, in seconds.
const (
	// UnschedulableGraceSeconds is how long a pod of a run may stay unschedulable
	// before the run fails with reason Unschedulable: long enough for a cluster
	// autoscaler to add a node, short enough not to leave a run stuck.
	UnschedulableGraceSeconds = 120
	// StartDelaySeconds is how far in the future the start-at instant is set once
	// every pod of a run is running: the time the kubelets need to project the
	// annotation into the pods' start files.
	StartDelaySeconds = 5
)
