package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Bounds enforced by the CRD schema. The admission webhook may enforce a tighter
// replica cap (the manager's --max-replicas flag); these are the hard limits.
const (
	MaxReplicas        = 1000
	MaxRepeat          = 10_000_000
	MaxConcurrency     = 1000
	MaxRate            = 100_000
	MaxDurationSeconds = 86_400
	MaxPathLength      = 2048
	// MaxNameLength bounds metadata.name so that pod names and label values built
	// from it stay within Kubernetes' 63-character label limit.
	MaxNameLength = 50

	// MaxEncodedBytes is the largest LoadTest, encoded as the API server sends it to
	// the admission webhook, that DiLO accepts: the manager caches every LoadTest, so
	// their size bounds its memory (with a ResourceQuota on count/loadtests.example.org).
	MaxEncodedBytes = 64 << 10
	// MaxPodTemplateKeys bounds each map of spec.podTemplate; MaxTolerations its list.
	MaxPodTemplateKeys = 64
	MaxTolerations     = 32

	// Requests: spec.test.requests, headers and bodies. MaxBodyBytes bounds a body read
	// from a ConfigMap or Secret key (the agent refuses a larger one); an inline
	// body.text is bounded by MaxInlineBodyLength characters and by MaxEncodedBytes.
	MaxRequests          = 16
	MaxWeight            = 1000
	MaxHeaders           = 32
	MaxHeaderNameLength  = 256
	MaxHeaderValueLength = 8192
	MaxInlineBodyLength  = 16384
	MaxBodyBytes         = 1 << 20
	MaxStages            = 32

	// ProtocolHTTP11 and ProtocolHTTP2 are spec.test.protocol's values.
	ProtocolHTTP11 = "HTTP/1.1"
	ProtocolHTTP2  = "HTTP/2"

	DefaultMethod         = "GET"
	DefaultRepeat         = 100
	DefaultConcurrency    = 1
	DefaultTimeoutSeconds = 10
)

// State is where a LoadTest's current run is in its lifecycle.
// +kubebuilder:validation:Enum=scheduled;pending;executing;finished;failed
type State string

// States are every State, in lifecycle order (the enum above lists the same).
var States = []State{StateScheduled, StatePending, StateExecuting, StateFinished, StateFailed}

const (
	// StateScheduled: a LoadTest created with spec.schedule has had no run yet: it waits
	// for its schedule's first tick, as a CronJob does.
	StateScheduled State = "scheduled"
	// StatePending: the run has started; the pods of older runs are being deleted and
	// its own pods created.
	StatePending State = "pending"
	// StateExecuting: every pod of the run exists; they start sending together once all
	// of them are running (the synchronised start).
	StateExecuting State = "executing"
	// StateFinished: every pod of the run succeeded and no threshold was broken. Final
	// until the spec is edited.
	StateFinished State = "finished"
	// StateFailed: the run failed, for the reason in the Failed condition. Final until
	// the spec is edited.
	StateFailed State = "failed"
)

// Condition types set on a LoadTest; `kubectl wait --for=condition=Complete` and
// `--for=condition=Failed` use the first two, as for a Job.
const (
	ConditionComplete = "Complete"
	ConditionFailed   = "Failed"
	// ConditionQueued is set only when the manager caps how many runs execute at once
	// in a namespace: True (reason Queued) while the run waits for a free slot, its
	// message naming the runs it waits behind; False (reason Admitted) once it started.
	ConditionQueued = "Queued"
	// ConditionLiveProgress says whether status.progress follows the run while it
	// executes: True (reason Reporting) while the manager reads every pod's snapshot,
	// False (reason PodsUnreachable) while it cannot read some, the message naming one
	// and why. Only live figures depend on it: the final results never do.
	ConditionLiveProgress = "LiveProgress"
	// ConditionReconciling and ConditionStalled are the conditions kstatus reads (what
	// Flux, kpt and cli-utils appliers wait with): Reconciling is True, its reason the
	// state (Pending, Queued, Executing, Stopping), while the current run is pending or
	// executing, so that they see it in progress; Stalled is True, with the Failed
	// condition's reason and message, once it failed, so that they see it failed. A
	// finished run has neither: kstatus reads it as current.
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"

	// DefaultHistoryLimit is spec.historyLimit's default; DefaultAbortWindowSeconds
	// is spec.thresholds.abort.windowSeconds'.
	DefaultHistoryLimit       = 10
	DefaultAbortWindowSeconds = 30
)

// UpdatePolicy says what an edit of spec does while a run is pending or executing.
// An edit of a finished or failed LoadTest is always allowed and starts a new run.
// +kubebuilder:validation:Enum=Restart;Reject
type UpdatePolicy string

const (
	// UpdatePolicyRestart: a spec edit deletes the running pods and starts a new run.
	UpdatePolicyRestart UpdatePolicy = "Restart"
	// UpdatePolicyReject: the admission webhook denies a spec edit while the run is
	// pending or executing, except an edit of spec.updatePolicy alone, so that a user
	// can always switch to Restart first.
	UpdatePolicyReject UpdatePolicy = "Reject"
)

// ConcurrencyPolicy says what a tick of spec.schedule does while a run is pending or
// executing. There is no Allow, as a CronJob has: a LoadTest has one run at a time (its
// status describes it), so two runs of it can never go together.
// +kubebuilder:validation:Enum=Forbid;Replace
type ConcurrencyPolicy string

const (
	// ConcurrencyPolicyForbid: the tick is skipped (Event TickSkipped) and the run goes
	// on; the next tick may start a run.
	ConcurrencyPolicyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyPolicyReplace: the going run is replaced, recorded Replaced in the
	// history, and a new one starts, as example.org/rerun does.
	ConcurrencyPolicyReplace ConcurrencyPolicy = "Replace"
)

// LoadTestSpec is the load test to run.
type LoadTestSpec struct {
	// replicas is how many load-generator pods run the test at once; each sends the
	// whole test. Between 1 and 1000 (the cluster's admission webhook may allow fewer).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Replicas int32 `json:"replicas"`

	// test is what every load-generator pod sends.
	Test TestSpec `json:"test"`

	// deadlineSeconds bounds a run, from its start (status.startTime) to the end of its
	// last pod: a run still going after it fails with reason DeadlineExceeded, and its
	// running pods are deleted. A run whose pods all ended in time is not failed by it.
	// Unset: the manager's default deadline (--default-deadline, 1 hour unless the
	// admin chose otherwise); above the manager's --max-deadline it is refused.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	// +optional
	DeadlineSeconds *int64 `json:"deadlineSeconds,omitempty"`

	// updatePolicy says what an edit of spec does while a run is pending or executing:
	// Restart (the default) deletes the run's pods and starts again from pending; Reject
	// denies the edit, except an edit of updatePolicy alone (set it to Restart first to
	// restart a running test, or delete and re-create it). Edits of labels and
	// annotations are always allowed, and so is an edit of updatePolicy alone, which
	// never restarts a run. Any other edit of a finished or failed LoadTest is allowed,
	// whatever the policy: it starts a new run.
	// +kubebuilder:default=Restart
	// +optional
	UpdatePolicy UpdatePolicy `json:"updatePolicy,omitempty"`

	// thresholds turn a run that completed into a failed one when its merged results
	// break any of them. Unset: no thresholds.
	// +optional
	Thresholds *Thresholds `json:"thresholds,omitempty"`

	// ttlSecondsAfterFinished, as for a Job, cleans up after a run ends: once the run
	// has been finished or failed for that many seconds (from status.completionTime),
	// DiLO deletes its pods, ended ones included (their logs go with them). The status,
	// results and conditions are kept. 0 deletes them as soon as the run ends. Unset:
	// the pods are kept until the next run or the LoadTest's deletion. Editing it (or
	// ttlDeletesLoadTest) never starts a new run, and is allowed whatever updatePolicy.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// ttlDeletesLoadTest, when true, makes ttlSecondsAfterFinished delete the LoadTest
	// itself (and so its pods, and its status) instead of only its pods. Ignored when
	// ttlSecondsAfterFinished is unset.
	// +optional
	TTLDeletesLoadTest bool `json:"ttlDeletesLoadTest,omitempty"`

	// podTemplate adds to the load-generator pods DiLO builds: labels, annotations,
	// resources, and where they may be scheduled. Unset: DiLO's defaults. It shapes pods,
	// so beyond what the cluster's DiLO allows every LoadTest author (label and
	// annotation key prefixes, CPU and memory up to a ceiling: the manager's flags), the
	// admission webhook accepts it only from a user who may create pods in the namespace.
	// +optional
	PodTemplate *AgentPodTemplate `json:"podTemplate,omitempty"`

	// historyLimit is how many ended runs status.history keeps, oldest first, each with
	// its timeline (a ConfigMap the LoadTest owns); older ones are pruned with their
	// timelines. Between 0 and 100; unset: 10. Editing it never starts a new run.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	HistoryLimit *int32 `json:"historyLimit,omitempty"`

	// schedule, in cron syntax as a CronJob's ("0 2 * * *", "@daily", "@every 1h"),
	// starts a new run of the same spec at each tick, as a new value of
	// example.org/rerun does. A LoadTest created with a schedule does not run at once: it
	// is scheduled until the first tick. Time zones are spec.timeZone's (a schedule
	// starting with TZ= or CRON_TZ= is refused). Only the most recent of the ticks missed
	// while the manager was down runs, within startingDeadlineSeconds. Editing it, or
	// the other schedule fields, never starts a new run. Unset: a run starts only for a
	// spec edit or a rerun.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// timeZone is the IANA time zone ("Europe/Paris") spec.schedule's times are in.
	// Unset: UTC (not the manager's local time).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`

	// startingDeadlineSeconds: a tick not acted on within that many seconds of its
	// scheduled time (the manager was down, or the schedule suspended) starts no run.
	// Unset: no deadline, a late tick still runs.
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// concurrencyPolicy says what a tick does while a run is pending or executing: Forbid
	// (unset means Forbid) skips the tick; Replace replaces the run with a new one. A
	// LoadTest has one run at a time, so there is no Allow.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// suspend, when true, keeps spec.schedule's ticks from starting runs; the run going
	// on goes on. Ticks missed while suspended are missed ticks: on resuming, the most
	// recent one runs unless startingDeadlineSeconds has passed.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
}

// AgentPodTemplate is what a user may add to, or change in, the load-generator pods.
// Only these fields: the pods' security context, command and volumes stay DiLO's.
type AgentPodTemplate struct {
	// metadata holds labels and annotations added to every pod of a run.
	// +optional
	Metadata AgentPodMetadata `json:"metadata,omitempty"`

	// spec holds the agent container's resources and the pods' scheduling constraints.
	// +optional
	Spec AgentPodSpec `json:"spec,omitempty"`
}

// AgentPodMetadata are labels and annotations for the load-generator pods.
type AgentPodMetadata struct {
	// labels are added to every pod. Keys under example.org/ are DiLO's and refused, and
	// DiLO's app.kubernetes.io/managed-by wins over a user's. The pods are never Ready (a
	// readiness gate DiLO never sets), so no Service sends traffic to them whatever their
	// labels.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations are added to every pod, e.g. sidecar.istio.io/inject: "false" to opt
	// out of sidecar injection. Keys under example.org/ (such as example.org/start-at, the
	// synchronised start) are DiLO's and refused.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AgentPodSpec are the agent container's resources and the pods' scheduling constraints.
type AgentPodSpec struct {
	// resources, when set, replace the agent container's default resources (requests
	// 100m CPU and 64Mi memory, limits 1 CPU and 256Mi) as a whole: a resource left out
	// is not requested nor limited (Kubernetes defaults a missing request to its limit).
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// nodeSelector must match a node's labels for the pods to be scheduled on it.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the pods be scheduled on nodes with matching taints.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity holds the pods' node affinity and pod (anti-)affinity.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
}

// TestSpec is what the load-generator pods send, and how much. Load fields come in two
// kinds: rate, concurrency and repeat are each pod's (every pod sends them in full), and
// the fields named total... (and stages) are the whole test's, split exactly across the
// replicas: pod i of n gets total/n, plus one if i < total%n.
// +kubebuilder:validation:XValidation:rule="!has(self.rate) || has(self.durationSeconds)",message="must be set when rate is: an open-model run sends rate requests per second for durationSeconds",fieldPath=".durationSeconds",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.durationSeconds) || has(self.rate) || has(self.totalRate)",message="must be set when durationSeconds is: an open-model run sends rate requests per second for durationSeconds",fieldPath=".rate",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.totalRate) || has(self.durationSeconds)",message="must be set when totalRate is: an open-model run sends totalRate requests per second for durationSeconds",fieldPath=".durationSeconds",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!(has(self.rate) && has(self.totalRate))",message="rate (each pod's) and totalRate (the whole test's) exclude each other",fieldPath=".totalRate"
// +kubebuilder:validation:XValidation:rule="has(self.path) != has(self.requests)",message="exactly one of path (a single request) and requests (a weighted mix) must be set",fieldPath=".path",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.requests) || (!has(self.body) && !has(self.method))",message="a mix of requests takes each request's method and body from requests: set them there",fieldPath=".requests"
// +kubebuilder:validation:XValidation:rule="!has(self.stages) || (!has(self.rate) && !has(self.totalRate) && !has(self.durationSeconds))",message="stages say how much load and for how long: rate, totalRate and durationSeconds must not be set with them",fieldPath=".stages"
// +kubebuilder:validation:XValidation:rule="!has(self.protocol) || self.protocol != 'HTTP/2' || has(self.tls)",message="HTTP/2 is negotiated over TLS (ALPN): set tls",fieldPath=".protocol",reason=FieldValueRequired
type TestSpec struct {
	// method is the HTTP method of every request, when path names a single request.
	// The webhook defaults it to GET and turns it to upper case. With requests, each
	// request has its own method instead.
	// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS
	// +optional
	Method string `json:"method,omitempty"`

	// serviceName is the Service, in the LoadTest's namespace, that receives the
	// requests (http://<serviceName>.<namespace>.svc:<port><path>, or https:// with
	// tls). It must exist and must not be of type ExternalName.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	ServiceName string `json:"serviceName"`

	// port is the Service port to send to, by number or name. Unset: the Service's
	// only port, or its first port if it has several.
	// +kubebuilder:validation:XIntOrString
	// +optional
	Port *intstr.IntOrString `json:"port,omitempty"`

	// path is the request target of a single request: an absolute path, optionally
	// with a query ("/search?q=x"), in printable ASCII with no spaces. The webhook
	// allows only the characters RFC 3986 allows in a path and query (letters, digits,
	// -._~!$&'()*+,;=:@/? and %XX escapes): percent-encode the rest. It must not start
	// with "//" nor hold a fragment ("#"). Exactly one of path and requests is set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^/[!-~]*$`
	// +optional
	Path string `json:"path,omitempty"`

	// headers are sent with every request, after DiLO's own Host, User-Agent, Accept
	// and Content-Length (a header named here replaces DiLO's User-Agent or Accept). A
	// request of requests may add its own; one of the same name replaces the one here.
	// Names are RFC 9110 tokens; Host, Content-Length, Transfer-Encoding, Connection,
	// Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade are the agent's and refused.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Headers []Header `json:"headers,omitempty"`

	// body is the single request's body (with path); Content-Length is set by the
	// agent. With requests, each request has its own body instead.
	// +optional
	Body *Body `json:"body,omitempty"`

	// requests is a weighted mix of named requests, sent in place of the single one of
	// method, path and body: each pod sends request r with probability weight(r) / the
	// sum of the weights, exactly over every cycle of that many requests, in an order
	// spread evenly through the cycle. Results are reported per request name too.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Requests []Request `json:"requests,omitempty"`

	// tls makes the requests HTTPS: TLS to the Service, with SNI and the certificate
	// checked for the name <serviceName>.<namespace>.svc, against the CA bundle of
	// tls.ca (or not checked at all, with tls.insecureSkipVerify).
	// +optional
	TLS *TLS `json:"tls,omitempty"`

	// protocol is the HTTP version: HTTP/1.1 (the default), or HTTP/2, which needs tls
	// and is negotiated by ALPN: a server that does not choose h2 fails every request
	// with an error of class "tls".
	// +kubebuilder:validation:Enum=HTTP/1.1;HTTP/2
	// +optional
	Protocol string `json:"protocol,omitempty"`

	// repeat is how many requests each pod sends. The webhook defaults it to 100.
	// Ignored when rate, totalRate or stages are set.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	// +optional
	Repeat *int32 `json:"repeat,omitempty"`

	// concurrency is how many keep-alive connections each pod sends on at once
	// (closed model: each connection sends its next request when the previous one
	// ended; open model: the most requests a pod has in flight). Defaults to 1.
	// Ignored when totalConcurrency is set, or with stages of totalConcurrency.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Concurrency *int32 `json:"concurrency,omitempty"`

	// totalConcurrency is concurrency for the test as a whole: the connections of all
	// pods together, split across the replicas (at least one each). It replaces
	// concurrency.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	TotalConcurrency *int32 `json:"totalConcurrency,omitempty"`

	// timeoutSeconds bounds each request, from its send to the end of its response;
	// a request past it counts as an error of class "timeout". Defaults to 10.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=300
	// +optional
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`

	// rate switches each pod to the open model: it starts rate requests per second, for
	// durationSeconds, whether or not earlier ones have answered, and measures each
	// latency from the request's intended start (no coordinated omission). Set with
	// durationSeconds; repeat is then ignored.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	Rate *int32 `json:"rate,omitempty"`

	// totalRate is rate for the test as a whole: requests per second of all pods
	// together, split across the replicas (at least one per pod). Set with
	// durationSeconds, in place of rate.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	TotalRate *int32 `json:"totalRate,omitempty"`

	// durationSeconds is how long an open-model (rate or totalRate) run sends.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	DurationSeconds *int32 `json:"durationSeconds,omitempty"`

	// stages make the load change over time, for the test as a whole: each stage goes
	// linearly, over its durationSeconds, from the previous stage's target (0 before the
	// first) to its own; a stage of 0 seconds jumps. Either every stage has totalRate
	// (the open model, as k6's ramping-arrival-rate: the arrival rate ramps, and each
	// latency is still measured from its request's intended start; concurrency or
	// totalConcurrency bound the requests in flight) or every stage has
	// totalConcurrency (the closed model: the number of connections ramps). The run
	// sends for the stages' total duration; each stage's target is split across the
	// replicas as the total fields are.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(s, has(s.totalRate)) || self.all(s, has(s.totalConcurrency))",message="every stage must set totalRate (open model), or every stage totalConcurrency (closed model)"
	// +kubebuilder:validation:XValidation:rule="self.map(s, s.durationSeconds).sum() >= 1 && self.map(s, s.durationSeconds).sum() <= 86400",message="the stages must last 1 to 86400 seconds in total"
	// +optional
	Stages []Stage `json:"stages,omitempty"`
}

// Header is one request header: a name and a value, inline or from a key of a Secret or
// ConfigMap in the LoadTest's namespace.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="exactly one of value and valueFrom must be set"
type Header struct {
	// name is the header's field name, an RFC 9110 token ("Authorization", "X-Trace").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`

	// value is the header's value: visible characters, spaces and tabs, with no space
	// at either end (RFC 9110 field-value). Put secrets in a Secret and use valueFrom.
	// +kubebuilder:validation:MaxLength=8192
	// +optional
	Value *string `json:"value,omitempty"`

	// valueFrom reads the value from a Secret or ConfigMap key when the run starts; a
	// final newline is dropped. A Secret's value is mounted into the pods as a file and
	// is never written into the pods' spec, DiLO's logs, Events or status.
	// +optional
	ValueFrom *ValueSource `json:"valueFrom,omitempty"`
}

// ValueSource is a key of a Secret or ConfigMap in the LoadTest's namespace: exactly one
// of secretKeyRef and configMapKeyRef. A run whose Secret or ConfigMap, or key, is
// missing when it starts fails with reason ReferenceNotFound before any pod exists. The
// author of the LoadTest must be allowed to get it.
// +kubebuilder:validation:XValidation:rule="has(self.secretKeyRef) != has(self.configMapKeyRef)",message="exactly one of secretKeyRef and configMapKeyRef must be set"
type ValueSource struct {
	// secretKeyRef is a key of a Secret.
	// +optional
	SecretKeyRef *KeyRef `json:"secretKeyRef,omitempty"`
	// configMapKeyRef is a key of a ConfigMap.
	// +optional
	ConfigMapKeyRef *KeyRef `json:"configMapKeyRef,omitempty"`
}

// KeyRef names a key of a Secret or ConfigMap in the LoadTest's namespace.
type KeyRef struct {
	// name is the Secret's or ConfigMap's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
	// key is the key in its data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// Body is a request body: inline text, or the bytes of a Secret or ConfigMap key (at
// most 1 MiB). The agent sets Content-Length; set Content-Type with a header.
// +kubebuilder:validation:XValidation:rule="has(self.text) != has(self.valueFrom)",message="exactly one of text and valueFrom must be set"
type Body struct {
	// text is the body, as it is (UTF-8), at most 16384 characters.
	// +kubebuilder:validation:MaxLength=16384
	// +optional
	Text *string `json:"text,omitempty"`
	// valueFrom reads the body from a Secret or ConfigMap key (a ConfigMap's binaryData
	// too), byte for byte, when the run starts.
	// +optional
	ValueFrom *ValueSource `json:"valueFrom,omitempty"`
}

// Request is one request of a weighted mix.
type Request struct {
	// name identifies the request in the results: a DNS label ("get-items").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// weight is the request's share of the mix, relative to the other requests'.
	// Defaults to 1.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Weight *int32 `json:"weight,omitempty"`

	// method is the request's HTTP method; the webhook defaults it to GET and turns it
	// to upper case.
	// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS
	// +optional
	Method string `json:"method,omitempty"`

	// path is the request target, as spec.test.path.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^/[!-~]*$`
	Path string `json:"path"`

	// headers are added to spec.test.headers for this request; one of the same name
	// replaces the one there.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Headers []Header `json:"headers,omitempty"`

	// body is the request's body.
	// +optional
	Body *Body `json:"body,omitempty"`
}

// TLS is how the agents speak TLS to the Service.
// +kubebuilder:validation:XValidation:rule="has(self.ca) != (has(self.insecureSkipVerify) && self.insecureSkipVerify)",message="exactly one of ca and insecureSkipVerify: true must be set"
type TLS struct {
	// ca is the PEM bundle of the certificate authorities the Service's certificate
	// must chain to: a key of a ConfigMap (as trust-manager writes them) or a Secret
	// (as cert-manager does, key ca.crt).
	// +optional
	CA *ValueSource `json:"ca,omitempty"`
	// insecureSkipVerify accepts any certificate: traffic is encrypted but the Service
	// is not authenticated. The webhook warns about it.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// Stage is one stage of a load that changes over time: the test as a whole goes,
// linearly over durationSeconds, from the previous stage's target to this one.
// +kubebuilder:validation:XValidation:rule="has(self.totalRate) != has(self.totalConcurrency)",message="exactly one of totalRate and totalConcurrency must be set"
type Stage struct {
	// durationSeconds is how long the stage lasts; 0 jumps to its target.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	DurationSeconds int32 `json:"durationSeconds"`
	// totalRate is the arrival rate, requests per second of all pods together, at the
	// stage's end.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	TotalRate *int32 `json:"totalRate,omitempty"`
	// totalConcurrency is the number of connections of all pods together at the
	// stage's end.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	TotalConcurrency *int32 `json:"totalConcurrency,omitempty"`
}

// Thresholds are the limits a run's merged results must keep; a run that breaks one
// ends failed with reason ThresholdBroken, naming the threshold and the measured value.
type Thresholds struct {
	// maxErrorRatio is the highest share of requests that may fail (no response, or a
	// status outside 200-399), as a decimal between 0 and 1, e.g. "0.01".
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$`
	// +optional
	MaxErrorRatio string `json:"maxErrorRatio,omitempty"`

	// maxP50 is the highest median latency allowed, as a duration ("250ms").
	// +optional
	MaxP50 *metav1.Duration `json:"maxP50,omitempty"`

	// maxP90 is the highest 90th-percentile latency allowed, as a duration.
	// +optional
	MaxP90 *metav1.Duration `json:"maxP90,omitempty"`

	// maxP99 is the highest 99th-percentile latency allowed, as a duration.
	// +optional
	MaxP99 *metav1.Duration `json:"maxP99,omitempty"`

	// baseline compares the run with an earlier one, once it ended: the previous
	// finished run of this LoadTest, or the last finished run of another LoadTest in the
	// namespace. A run that breaks one of its limits fails, reason ThresholdBroken,
	// naming the baseline run and both values. Checked at the end only, never live.
	// +optional
	Baseline *Baseline `json:"baseline,omitempty"`

	// abort checks the limits above while the run executes too, on the live results of
	// all pods merged over a sliding window, and stops the run at the first breach: it
	// ends failed, reason ThresholdBroken, with the partial results, the message naming
	// the window and the value. Unset: the limits are checked once, at the end.
	// +optional
	Abort *ThresholdAbort `json:"abort,omitempty"`
}

// Baseline says which earlier run a run is compared with, and how far from it the
// run may be. Its figures come from that run's record in status.history (its results:
// requests per second, p50, p90, p99), whatever spec that run ran. A run with no
// baseline to compare with (the first one, or one whose baseline LoadTest is missing
// or has no finished run in its history) is not gated: its Complete condition says
// so. Runs that failed, a baseline gate included, are never a baseline.
type Baseline struct {
	// loadTest names another LoadTest in this namespace: its last finished run is the
	// baseline. Unset: this LoadTest's previous finished run (spec.historyLimit must
	// then keep at least one run).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	LoadTest string `json:"loadTest,omitempty"`

	// maxP50IncreasePercent, maxP90IncreasePercent and maxP99IncreasePercent are how
	// much higher than the baseline's the run's p50, p90 and p99 may be, in percent of
	// the baseline's: 10 allows 110 %.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxP50IncreasePercent *int32 `json:"maxP50IncreasePercent,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxP90IncreasePercent *int32 `json:"maxP90IncreasePercent,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +optional
	MaxP99IncreasePercent *int32 `json:"maxP99IncreasePercent,omitempty"`

	// maxRequestsPerSecondDecreasePercent is how much lower than the baseline's the
	// run's achieved rate may be, in percent of the baseline's: 5 allows 95 %.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxRequestsPerSecondDecreasePercent *int32 `json:"maxRequestsPerSecondDecreasePercent,omitempty"`
}

// BaselineRun is the run a run's results were compared with, and its figures then.
type BaselineRun struct {
	// loadTest is the LoadTest the baseline run belongs to.
	LoadTest string `json:"loadTest"`
	// run is the baseline run's number.
	Run int64 `json:"run"`
	// requestsPerSecond, p50, p90 and p99 are its results' (p90 is unset for a run
	// recorded before DiLO kept it).
	// +optional
	RequestsPerSecond string `json:"requestsPerSecond,omitempty"`
	// +optional
	P50 *metav1.Duration `json:"p50,omitempty"`
	// +optional
	P90 *metav1.Duration `json:"p90,omitempty"`
	// +optional
	P99 *metav1.Duration `json:"p99,omitempty"`
}

// ThresholdAbort says how thresholds are checked while a run executes.
type ThresholdAbort struct {
	// windowSeconds is the sliding window the live limits are checked over: the
	// requests of all pods in the last windowSeconds, as the manager read them. Between
	// 5 and 3600; unset: 30.
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=3600
	// +optional
	WindowSeconds *int32 `json:"windowSeconds,omitempty"`

	// delaySeconds is a warm-up: no live check before the pods have sent for that
	// long. Between 0 and 86400; unset: 0. The final check ignores it.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	DelaySeconds *int32 `json:"delaySeconds,omitempty"`
}

// LoadTestStatus is what DiLO observed of the current run. It is written by the
// controller only, from the pods it sees.
type LoadTestStatus struct {
	// state is where the current run is: pending, executing, finished or failed;
	// scheduled before the first run of a LoadTest with spec.schedule.
	// +optional
	State State `json:"state,omitempty"`

	// observedGeneration is the latest metadata.generation DiLO acted on: the one the
	// current run started for, or a later one that changed only spec.updatePolicy
	// (which does not restart a run).
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// run is the current run's number: the metadata.generation it started for, or, for a
	// run started by example.org/rerun (no new generation), the previous run's plus one;
	// never a number used before. Its pods carry it in their names and in their
	// example.org/run label.
	// +optional
	Run int64 `json:"run,omitempty"`

	// runSpecHash identifies the spec the current run runs, spec.updatePolicy, the TTL
	// fields, historyLimit and the schedule fields left out: a new
	// generation with the same hash goes on with the same run.
	// +optional
	RunSpecHash string `json:"runSpecHash,omitempty"`

	// children are the names of the current run's pods.
	// +listType=atomic
	// +optional
	Children []string `json:"children,omitempty"`

	// active, succeeded and failed count the current run's pods by how they are.
	// +optional
	Active int32 `json:"active,omitempty"`
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`

	// startTime is when the current run started, or, for a run that waited in its
	// namespace's queue, when it left it (deadlineSeconds counts from it).
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when the current run ended, finished or failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// target is what the current run sends to, recorded when its pods were created. The
	// run fails with reason TargetChanged when the Service stops being this one (deleted,
	// re-created, retyped, given another cluster IP or port, or endpoints that the
	// EndpointSlice controller did not make) while the run goes.
	// +optional
	Target *RunTarget `json:"target,omitempty"`

	// results are the current run's results, merged exactly across its pods. They are
	// computed once, when every pod succeeded, from the pods' termination messages, and
	// kept when a threshold is broken, or when the run was stopped early (then they are
	// what the pods sent until they stopped).
	// +optional
	Results *Results `json:"results,omitempty"`

	// baseline is the run the current run's results were compared with
	// (spec.thresholds.baseline), once it ended; unset when there was none.
	// +optional
	Baseline *BaselineRun `json:"baseline,omitempty"`

	// sendStartTime is the start-at instant the current run's pods were given: when
	// they all started sending.
	// +optional
	SendStartTime *metav1.Time `json:"sendStartTime,omitempty"`

	// progress is how far the current run has got: while it executes, the live results
	// of its pods merged (the manager reads every agent's snapshot every few seconds);
	// once it ended with results, the final figures. `kubectl get ld` shows it.
	// +optional
	Progress *Progress `json:"progress,omitempty"`

	// stopping is set once the current run is being stopped early: its agents were told
	// to stop sending (the pods' example.org/stop-at annotation), and the run ends failed
	// with this reason (Stopped, ThresholdBroken) and the results they sent.
	// +optional
	Stopping *Stopping `json:"stopping,omitempty"`

	// lastHandledStop is the last value of the LoadTest's example.org/stop annotation the
	// manager acted on: a new value stops the run then current (see AnnotationStop).
	// +optional
	LastHandledStop string `json:"lastHandledStop,omitempty"`

	// lastHandledRerun is the last value of the LoadTest's example.org/rerun annotation
	// the manager acted on: a new value starts a new run of the same spec (see
	// AnnotationRerun).
	// +optional
	LastHandledRerun string `json:"lastHandledRerun,omitempty"`

	// lastScheduleTime is the scheduled instant of the last tick of spec.schedule acted
	// on: one that started a run, or that concurrencyPolicy Forbid skipped.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// nextScheduleTime is the scheduled instant of spec.schedule's next tick; unset
	// without a schedule, while suspended, or when the schedule cannot be read.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// history summarises the last spec.historyLimit ended or replaced runs, oldest
	// first, the current run included once it ended.
	// +listType=map
	// +listMapKey=run
	// +optional
	History []RunRecord `json:"history,omitempty"`

	// conditions: Complete (the run finished, reason Finished) and Failed (the run
	// failed; its reason says why and its message names the pod, Service or threshold),
	// as for a Job. A new run clears them. Failed reasons: Unschedulable,
	// ImagePullFailed, ContainerCreateFailed, OOMKilled, Evicted, PodDeleted, PodFailed,
	// DeadlineExceeded, ServiceNotFound, ExternalNameService, ServicePortNotFound,
	// ServiceWithoutSelector, ForeignEndpoints, TargetChanged, LimitExceeded,
	// ResultUnreadable, ThresholdBroken, TLSFailed, PodRejected, Stopped. Queued, only when the manager caps
	// how many runs execute at once in the namespace: True (reason Queued) while the run
	// waits, pending and without pods, for a free slot, its message naming the runs
	// running and those ahead of it in the queue; False (reason Admitted) once it started.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RunTarget is the Service a run sends to, as it was when the run's pods were created.
type RunTarget struct {
	// service is the Service's name, in the LoadTest's namespace.
	Service string `json:"service"`
	// uid is the Service's metadata.uid: a Service deleted and re-created under the same
	// name is another Service.
	UID types.UID `json:"uid"`
	// type is the Service's spec.type.
	Type corev1.ServiceType `json:"type"`
	// clusterIP is the Service's spec.clusterIP ("None" for a headless Service).
	ClusterIP string `json:"clusterIP"`
	// port is the Service port the requests go to.
	Port int32 `json:"port"`
	// address is what the agents connect to: the cluster IP, or for a headless Service its
	// fully qualified DNS name (with a trailing dot, so that no DNS search path applies).
	Address string `json:"address"`
	// host is the requests' Host header: <service>.<namespace>.svc, with :port unless 80.
	Host string `json:"host"`
}

// Results are a run's results merged across its pods. Percentiles come from the
// merged latency histograms of all pods, never from averaging per-pod percentiles.
type Results struct {
	// pods is how many pods reported results.
	Pods int32 `json:"pods"`
	// requests is how many requests were sent, plus the dropped ones (errorsByClass).
	Requests int64 `json:"requests"`
	// errors is how many requests failed: no response, or a status outside 200-399.
	Errors int64 `json:"errors"`
	// errorRatio is errors / requests, as a decimal ("0.0125").
	ErrorRatio string `json:"errorRatio"`
	// errorsByClass counts the requests that got no response by why: timeout,
	// refused, reset, dns, other; and dropped: in the open model (rate), requests
	// never sent because every connection was still busy one timeoutSeconds after
	// durationSeconds (the target could not take the rate).
	// +optional
	ErrorsByClass map[string]int64 `json:"errorsByClass,omitempty"`
	// codes counts responses by HTTP status code ("200": 990).
	// +optional
	Codes map[string]int64 `json:"codes,omitempty"`
	// bytesReceived is the total of response bytes read.
	BytesReceived int64 `json:"bytesReceived"`
	// requestsPerSecond is the achieved rate: requests over the run's send window, as a decimal.
	RequestsPerSecond string `json:"requestsPerSecond"`
	// latency summarises the merged latency histogram.
	Latency Latency `json:"latency"`
	// startSkew is how far apart the pods sent their first requests: the latest first
	// request's instant minus the earliest's, by the pods' clocks.
	// +optional
	StartSkew *metav1.Duration `json:"startSkew,omitempty"`
	// byRequest are the results per request name, for a mix of requests
	// (spec.test.requests); their counts add up to the totals above.
	// +listType=map
	// +listMapKey=name
	// +optional
	ByRequest []RequestResults `json:"byRequest,omitempty"`
}

// RequestResults are the merged results of one request of a mix.
type RequestResults struct {
	// name is the request's name in spec.test.requests.
	Name string `json:"name"`
	// requests, errors, errorRatio, errorsByClass, codes and latency are as in Results,
	// for this request alone.
	Requests   int64  `json:"requests"`
	Errors     int64  `json:"errors"`
	ErrorRatio string `json:"errorRatio"`
	// +optional
	ErrorsByClass map[string]int64 `json:"errorsByClass,omitempty"`
	// +optional
	Codes   map[string]int64 `json:"codes,omitempty"`
	Latency Latency          `json:"latency"`
}

// Latency summarises a latency distribution.
type Latency struct {
	P50 metav1.Duration `json:"p50"`
	P90 metav1.Duration `json:"p90"`
	P99 metav1.Duration `json:"p99"`
	Max metav1.Duration `json:"max"`
}

// Progress is how far a run has got, merged across its pods.
type Progress struct {
	// observedTime is when the agents' snapshots these figures merge were taken (the
	// latest of them); for final figures, when the run ended.
	ObservedTime metav1.Time `json:"observedTime"`
	// elapsedSeconds is how long the pods have been sending, from status.sendStartTime
	// to observedTime.
	ElapsedSeconds int64 `json:"elapsedSeconds"`
	// pods is how many of the run's pods the figures include.
	Pods int32 `json:"pods"`
	// requests, errors and errorRatio count the run so far, as in Results.
	Requests   int64  `json:"requests"`
	Errors     int64  `json:"errors"`
	ErrorRatio string `json:"errorRatio"`
	// requestsPerSecond is the run's achieved rate so far: requests over elapsed time.
	RequestsPerSecond string `json:"requestsPerSecond"`
	// latency is the run's latency so far, from the merged histograms.
	Latency Percentiles `json:"latency"`
	// window holds the same figures for the last window alone: what changed between the
	// manager's last two reads (longer when a read was missed). Unset once the run ended.
	// +optional
	Window *ProgressWindow `json:"window,omitempty"`
	// final is true once these are the run's final results.
	// +optional
	Final bool `json:"final,omitempty"`
}

// ProgressWindow is the live figures of one window of a run.
type ProgressWindow struct {
	// seconds is the window's length, as a decimal.
	Seconds           string      `json:"seconds"`
	Requests          int64       `json:"requests"`
	Errors            int64       `json:"errors"`
	ErrorRatio        string      `json:"errorRatio"`
	RequestsPerSecond string      `json:"requestsPerSecond"`
	Latency           Percentiles `json:"latency"`
}

// Percentiles are a latency distribution's 50th, 90th and 99th percentiles.
type Percentiles struct {
	P50 metav1.Duration `json:"p50"`
	P90 metav1.Duration `json:"p90"`
	P99 metav1.Duration `json:"p99"`
}

// Stopping is why, and since when, a run is being stopped early.
type Stopping struct {
	// reason is the reason the run ends with: Stopped (asked by a user) or
	// ThresholdBroken (a live threshold).
	Reason string `json:"reason"`
	// message says who or what stopped it; for a threshold, the window and the value.
	Message string `json:"message"`
	// time is when the agents were told to stop.
	Time metav1.Time `json:"time"`
}

// RunRecord summarises one run of a LoadTest.
type RunRecord struct {
	// run is the run's number (status.run while it was current).
	Run int64 `json:"run"`
	// runSpecHash identifies the spec it ran.
	RunSpecHash string `json:"runSpecHash"`
	// startTime and completionTime are the run's status.startTime and
	// status.completionTime; a run replaced by a spec edit has no completionTime.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// state is how the run ended: finished, failed, or the state it was in when a spec
	// edit replaced it.
	State State `json:"state"`
	// reason is the reason of its Complete or Failed condition; Replaced for a run a
	// spec edit replaced.
	// +optional
	Reason string `json:"reason,omitempty"`
	// requests, requestsPerSecond, errorRatio, p50, p90 and p99 are its results' (or
	// its last progress for a run without results).
	// +optional
	Requests int64 `json:"requests,omitempty"`
	// +optional
	RequestsPerSecond string `json:"requestsPerSecond,omitempty"`
	// +optional
	ErrorRatio string `json:"errorRatio,omitempty"`
	// +optional
	P50 *metav1.Duration `json:"p50,omitempty"`
	// +optional
	P90 *metav1.Duration `json:"p90,omitempty"`
	// +optional
	P99 *metav1.Duration `json:"p99,omitempty"`
	// timeline is the name of the ConfigMap that holds its timeline, if it has one.
	// +optional
	Timeline string `json:"timeline,omitempty"`
}

// LoadTest runs an HTTP load test against a Service in its namespace: it starts
// spec.replicas load-generator pods, each sending spec.test to the Service, and
// reports the merged results in status.
//
// Runs: a run belongs to one metadata.generation. Its pods are named
// <name>-<generation>-<replica> and labelled example.org/run=<generation>; a spec edit
// deletes them and, once they are gone, starts a new run from pending. Each pod runs
// the agent image once (restartPolicy Never) as user 65532 under the restricted Pod
// Security Standard (read-only root file system, no service-account token), requesting
// 100m CPU and 64Mi memory, limited to 1 CPU and 256Mi (spec.podTemplate may change
// these, and add labels, annotations and scheduling constraints). Deleting the LoadTest
// deletes them (owner references).
//
// Synchronised start: every pod waits for its annotation example.org/start-at, which a
// downward-API volume projects into its start file. Once every pod of the run is
// Running, DiLO sets it on all of them to the same instant, 5 seconds ahead (the time
// kubelets take to update the file); all agents start sending then. An agent waits at
// most 10 minutes for it, then fails.
//
// Failing fast: the run fails, with the Failed condition's reason saying why and its
// message naming the pod, as soon as one of its pods stays unschedulable for 2
// minutes (Unschedulable: time for a cluster autoscaler to add a node), cannot pull
// its image (ImagePullFailed) or create its container (ContainerCreateFailed), is
// OOM-killed (OOMKilled), evicted (Evicted), deleted by someone or gone
// (PodDeleted), or ends failed otherwise (PodFailed); when spec.deadlineSeconds passes
// (DeadlineExceeded); when, as the run starts, its Service is missing, of type
// ExternalName, without the port, without a selector or with EndpointSlices the
// EndpointSlice controller did not make (ServiceNotFound, ExternalNameService,
// ServicePortNotFound, ServiceWithoutSelector, ForeignEndpoints), or the run asks for
// more than the manager allows (LimitExceeded); when its Service changes while it goes
// (TargetChanged); when the API server refuses a pod as invalid or forbidden
// (PodRejected); or when a pod's result is unreadable (ResultUnreadable) or
// the merged results break spec.thresholds (ThresholdBroken). The pods of a failed
// run that still run are deleted; ended pods are kept for their logs until the next
// run or the LoadTest's deletion, or until spec.ttlSecondsAfterFinished has passed.
//
// Progress: while a run executes, the manager reads every agent's results so far
// (port 9090, named live) every few seconds and writes them, merged, in
// status.progress, which `kubectl get ld` shows, and the run's timeline in the
// ConfigMap <name>-timeline-<run>; once the run ended with results, status.progress
// holds its final figures.
//
// Recurring runs: with spec.schedule, each tick starts a new run of the same spec, as
// example.org/rerun does; a LoadTest created with one is scheduled, without a run,
// until the first tick (see spec.schedule).
//
// Stopping a run: a new value of the annotation example.org/stop (kubectl annotate
// loadtest NAME example.org/stop="$(date -Is)" --overwrite) stops the current run; so
// does a limit of spec.thresholds.abort broken while it executes (ThresholdBroken). A
// run whose pods have not started sending ends at once, without results; otherwise its
// pods get the annotation example.org/stop-at, their agents stop sending within seconds
// and report, and the run ends failed, reason Stopped or ThresholdBroken, with the
// results they sent in status.results. The value acted on is kept in
// status.lastHandledStop: a value seen before, or one set while no run is going, stops
// nothing. The deadline still applies while the pods stop.
//
// History: status.history keeps a record of each of the last spec.historyLimit runs
// (10 by default) that ended, or that a spec edit replaced before they ended (reason
// Replaced), oldest first: its times, state, reason and main figures, and the name of
// its timeline ConfigMap, which is deleted once its record is pruned.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ld,categories=dilo
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 50",message="metadata.name must be at most 50 characters: it is used in the names and labels of the load test's pods"
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`,description="scheduled, pending, executing, finished or failed"
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`,description="Load-generator pods"
// +kubebuilder:printcolumn:name="Children",type=string,JSONPath=`.status.children`,description="The current run's pods"
// +kubebuilder:printcolumn:name="Requests",type=integer,JSONPath=`.status.progress.requests`,description="Requests sent by all pods so far"
// +kubebuilder:printcolumn:name="RPS",type=string,JSONPath=`.status.progress.requestsPerSecond`,description="Achieved requests per second so far"
// +kubebuilder:printcolumn:name="Errors",type=string,JSONPath=`.status.progress.errorRatio`,description="Share of failed requests so far"
// +kubebuilder:printcolumn:name="P99",type=string,JSONPath=`.status.progress.latency.p99`,description="99th-percentile latency over all pods so far"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LoadTest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LoadTestSpec   `json:"spec"`
	Status LoadTestStatus `json:"status,omitempty"`
}

// LoadTestList is a list of LoadTests.
// +kubebuilder:object:root=true
type LoadTestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LoadTest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LoadTest{}, &LoadTestList{})
}
