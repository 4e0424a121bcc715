// Package policy holds what a cluster admin allows LoadTest authors, from the manager's
// flags, and the rules that apply it. The admission webhook applies them at apply time
// and the controller again when a run starts, so that running without the webhooks
// lifts none of the limits; both call the functions here.
package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// Policy is what the cluster's DiLO allows a LoadTest. The zero value of a limit means
// no limit beyond the CRD schema's, but for MaxReplicas, which must be set.
type Policy struct {
	// MaxReplicas caps spec.replicas (--max-replicas).
	MaxReplicas int32
	// MaxConnections caps replicas × concurrency of one LoadTest
	// (--max-connections-per-loadtest).
	MaxConnections int64
	// MaxRate caps replicas × rate, the requests per second of one open-model LoadTest
	// (--max-rate-per-loadtest).
	MaxRate int64
	// DefaultDeadline is the deadline of a run whose spec.deadlineSeconds is unset
	// (--default-deadline); MaxDeadline caps spec.deadlineSeconds (--max-deadline).
	DefaultDeadline time.Duration
	MaxDeadline     time.Duration

	// PodLabelPrefixes and PodAnnotationPrefixes are the label and annotation keys
	// spec.podTemplate may set without its author's right to create pods: a key is
	// allowed when it starts with one of them (--pod-label-prefixes,
	// --pod-annotation-prefixes).
	PodLabelPrefixes      []string
	PodAnnotationPrefixes []string
	// MaxPodCPU and MaxPodMemory are the most CPU and memory spec.podTemplate may
	// request or limit per pod without its author's right to create pods
	// (--pod-max-cpu, --pod-max-memory).
	MaxPodCPU    resource.Quantity
	MaxPodMemory resource.Quantity

	// AllowServicesWithoutSelector lets a LoadTest target a Service without a selector,
	// or with EndpointSlices the EndpointSlice controller did not make
	// (--allow-services-without-selector): such endpoints can point anywhere.
	AllowServicesWithoutSelector bool

	// ClusterDomain is the cluster's DNS domain (--cluster-domain): a headless Service
	// is dialled by its fully qualified name in it.
	ClusterDomain string
}

// Default is the policy of a manager started without policy flags.
func Default() Policy {
	return Policy{
		MaxReplicas:     100,
		MaxConnections:  10_000,
		MaxRate:         100_000,
		DefaultDeadline: time.Hour,
		MaxDeadline:     24 * time.Hour,
		MaxPodCPU:       resource.MustParse("2"),
		MaxPodMemory:    resource.MustParse("1Gi"),
		ClusterDomain:   "cluster.local",
	}
}

// Validate says what is wrong with p as the manager's flags set it, naming the flag.
func (p Policy) Validate() error {
	var errs []string
	if p.MaxReplicas < 1 || p.MaxReplicas > dilov1.MaxReplicas {
		errs = append(errs, fmt.Sprintf("--max-replicas=%d: must be from 1 to %d", p.MaxReplicas, dilov1.MaxReplicas))
	}
	if p.MaxConnections < 0 || p.MaxRate < 0 {
		errs = append(errs, "--max-connections-per-loadtest and --max-rate-per-loadtest must not be negative")
	}
	if p.DefaultDeadline < 0 || p.MaxDeadline < 0 || p.MaxDeadline > 0 && p.DefaultDeadline > p.MaxDeadline {
		errs = append(errs, fmt.Sprintf("--default-deadline=%v, --max-deadline=%v: must not be negative, and the default at most the maximum", p.DefaultDeadline, p.MaxDeadline))
	}
	if p.MaxPodCPU.Sign() < 0 || p.MaxPodMemory.Sign() < 0 {
		errs = append(errs, "--pod-max-cpu and --pod-max-memory must not be negative")
	}
	if p.ClusterDomain == "" || strings.HasPrefix(p.ClusterDomain, ".") || strings.HasSuffix(p.ClusterDomain, ".") {
		errs = append(errs, fmt.Sprintf("--cluster-domain=%q: must be a domain such as cluster.local, without leading or trailing dot", p.ClusterDomain))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Deadline is how long a run of spec may go: spec.deadlineSeconds, or the default
// deadline; 0 means none.
func (p Policy) Deadline(spec *dilov1.LoadTestSpec) time.Duration {
	if spec.DeadlineSeconds != nil {
		return time.Duration(*spec.DeadlineSeconds) * time.Second
	}
	return p.DefaultDeadline
}

// CheckLoad checks the load spec asks for against p's ceilings: replicas, connections,
// request rate and the deadline, every problem a field error. Connections and rate are
// the whole test's, however the spec says them: replicas × each pod's concurrency or
// rate, a total field, or the largest target of the stages.
func (p Policy) CheckLoad(spec *dilov1.LoadTestSpec) field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if spec.Replicas < 1 || spec.Replicas > p.MaxReplicas {
		errs = append(errs, field.Invalid(sp.Child("replicas"), spec.Replicas, fmt.Sprintf(
			"must be from 1 to %d, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)", p.MaxReplicas)))
	}
	replicas := int64(max(spec.Replicas, 1))
	if c := connections(spec, replicas); p.MaxConnections > 0 && c.total > p.MaxConnections {
		errs = append(errs, field.Invalid(c.path, c.value, fmt.Sprintf(
			"%s connections, more than the %d this cluster's DiLO allows one LoadTest (the manager's --max-connections-per-loadtest)",
			c.how, p.MaxConnections)))
	}
	if r := rate(spec, replicas); p.MaxRate > 0 && r.total > p.MaxRate {
		errs = append(errs, field.Invalid(r.path, r.value, fmt.Sprintf(
			"%s requests/s, more than the %d this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)",
			r.how, p.MaxRate)))
	}
	if d := spec.DeadlineSeconds; d != nil && p.MaxDeadline > 0 && time.Duration(*d)*time.Second > p.MaxDeadline {
		errs = append(errs, field.Invalid(sp.Child("deadlineSeconds"), *d, fmt.Sprintf(
			"must be at most %d, the longest run this cluster's DiLO allows (the manager's --max-deadline)", int64(p.MaxDeadline/time.Second))))
	}
	if deadline, s := p.Deadline(spec), sending(&spec.Test); deadline > 0 && s.path != nil &&
		time.Duration(s.seconds+dilov1.StartDelaySeconds)*time.Second > deadline {
		detail := fmt.Sprintf("must leave time for the start within the run's deadline of %ds", int64(deadline/time.Second))
		if s.stages {
			detail = fmt.Sprintf("the stages last %ds in all, which %s", s.seconds, detail)
		}
		if spec.DeadlineSeconds == nil {
			detail += " (the manager's --default-deadline, as spec.deadlineSeconds is unset)"
		}
		errs = append(errs, field.Invalid(s.path, s.seconds, detail))
	}
	return errs
}

// amount is how much of something (connections, requests per second) a whole test
// asks for, and the field that says it, for an error message.
type amount struct {
	total int64
	path  *field.Path
	value int64  // the field's value
	how   string // how total is reached, ending with total
}

// connections is how many connections the test holds at most: the largest target of
// stages of totalConcurrency, else totalConcurrency, else replicas × concurrency. A
// total below replicas still gives each pod one.
func connections(spec *dilov1.LoadTestSpec, replicas int64) amount {
	test := field.NewPath("spec", "test")
	if i, n := largestStage(spec.Test.Stages, func(s dilov1.Stage) *int32 { return s.TotalConcurrency }); i >= 0 {
		n = max(n, replicas)
		return amount{n, test.Child("stages").Index(i).Child("totalConcurrency"), n, fmt.Sprint(n)}
	}
	if tc := spec.Test.TotalConcurrency; tc != nil {
		n := max(int64(*tc), replicas)
		return amount{n, test.Child("totalConcurrency"), int64(*tc), fmt.Sprint(n)}
	}
	c := int64(ptr.Deref(spec.Test.Concurrency, dilov1.DefaultConcurrency))
	return amount{replicas * c, test.Child("concurrency"), c, fmt.Sprintf("%d replicas × %d connections = %d", replicas, c, replicas*c)}
}

// rate is how many requests per second the test sends at most: the largest target of
// stages of totalRate, else totalRate, else replicas × rate; 0 for a closed-model test,
// whose rate is its Service's to decide.
func rate(spec *dilov1.LoadTestSpec, replicas int64) amount {
	test := field.NewPath("spec", "test")
	if i, n := largestStage(spec.Test.Stages, func(s dilov1.Stage) *int32 { return s.TotalRate }); i >= 0 {
		return amount{n, test.Child("stages").Index(i).Child("totalRate"), n, fmt.Sprint(n)}
	}
	if tr := spec.Test.TotalRate; tr != nil {
		n := max(int64(*tr), replicas)
		return amount{n, test.Child("totalRate"), int64(*tr), fmt.Sprint(n)}
	}
	if r := spec.Test.Rate; r != nil {
		n := int64(*r)
		return amount{replicas * n, test.Child("rate"), n, fmt.Sprintf("%d replicas × %d requests/s = %d", replicas, n, replicas*n)}
	}
	return amount{}
}

// largestStage is the index and value of the largest target of stages that target
// gives, the first of equals; -1 when no stage has one.
func largestStage(stages []dilov1.Stage, target func(dilov1.Stage) *int32) (int, int64) {
	best, value := -1, int64(0)
	for i, s := range stages {
		if v := target(s); v != nil && (best < 0 || int64(*v) > value) {
			best, value = i, int64(*v)
		}
	}
	return best, value
}

// sendTime is how long a run sends, when the spec says it: the field that says it (nil
// for a closed-model run of repeat requests, whose length nobody knows beforehand), and
// whether that is the stages' total.
type sendTime struct {
	path    *field.Path
	seconds int64
	stages  bool
}

// sending is how long a run of test sends: the stages' total, or durationSeconds.
func sending(test *dilov1.TestSpec) sendTime {
	tp := field.NewPath("spec", "test")
	if len(test.Stages) > 0 {
		var total int64
		for _, s := range test.Stages {
			total += int64(s.DurationSeconds)
		}
		return sendTime{tp.Child("stages"), total, true}
	}
	if d := test.DurationSeconds; d != nil {
		return sendTime{tp.Child("durationSeconds"), int64(*d), false}
	}
	return sendTime{}
}

// CheckReservedKeys refuses the label and annotation keys of pt that are DiLO's.
func CheckReservedKeys(pt *dilov1.AgentPodTemplate) field.ErrorList {
	if pt == nil {
		return nil
	}
	meta := field.NewPath("spec", "podTemplate", "metadata")
	var errs field.ErrorList
	for _, m := range []struct {
		path *field.Path
		keys map[string]string
	}{{meta.Child("labels"), pt.Metadata.Labels}, {meta.Child("annotations"), pt.Metadata.Annotations}} {
		for _, k := range slices.Sorted(maps.Keys(m.keys)) {
			if IsReserved(k) {
				errs = append(errs, field.Forbidden(m.path.Key(k), fmt.Sprintf("keys under %s are DiLO's to set", dilov1.ReservedPrefix)))
			}
		}
	}
	return errs
}

// IsReserved says whether a label or annotation key is DiLO's.
func IsReserved(key string) bool { return strings.HasPrefix(key, dilov1.ReservedPrefix) }

// PodShaping lists what pt asks of the load-generator pods beyond what p allows every
// LoadTest author: labels and annotations outside the allowed prefixes, scheduling
// constraints, resources other than CPU and memory or above the ceilings. Each is a
// Forbidden error the webhook returns when the author may not create pods.
func (p Policy) PodShaping(pt *dilov1.AgentPodTemplate) field.ErrorList {
	if pt == nil {
		return nil
	}
	tp := field.NewPath("spec", "podTemplate")
	meta, spec := tp.Child("metadata"), tp.Child("spec")
	var errs field.ErrorList
	keys := func(path *field.Path, m map[string]string, allowed []string, what string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if IsReserved(k) || hasAnyPrefix(k, allowed) {
				continue
			}
			errs = append(errs, field.Forbidden(path.Key(k), fmt.Sprintf("%s outside the prefixes every LoadTest author may set (%s)", what, describePrefixes(allowed))))
		}
	}
	keys(meta.Child("labels"), pt.Metadata.Labels, p.PodLabelPrefixes, "a label")
	keys(meta.Child("annotations"), pt.Metadata.Annotations, p.PodAnnotationPrefixes, "an annotation")
	if len(pt.Spec.NodeSelector) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("nodeSelector"), "chooses the nodes the pods run on"))
	}
	if len(pt.Spec.Tolerations) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("tolerations"), "lets the pods run on tainted nodes"))
	}
	if pt.Spec.Affinity != nil {
		errs = append(errs, field.Forbidden(spec.Child("affinity"), "chooses the nodes the pods run on"))
	}
	if r := pt.Spec.Resources; r != nil {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := r.Limits[name]; !ok {
				errs = append(errs, field.Forbidden(spec.Child("resources", "limits").Key(string(name)),
					fmt.Sprintf("must be set (at most %s) by a LoadTest author who may not create pods: resources replace DiLO's defaults as a whole, and without a limit the pods could take a node's whole %s", ceilingOf(p, name), name)))
			}
		}
		for _, l := range []struct {
			name string
			list corev1.ResourceList
		}{{"requests", r.Requests}, {"limits", r.Limits}} {
			for _, name := range slices.Sorted(maps.Keys(l.list)) {
				q, path := l.list[name], spec.Child("resources", l.name).Key(string(name))
				var ceiling resource.Quantity
				switch name {
				case corev1.ResourceCPU:
					ceiling = p.MaxPodCPU
				case corev1.ResourceMemory:
					ceiling = p.MaxPodMemory
				default:
					errs = append(errs, field.Forbidden(path, "only cpu and memory are open to every LoadTest author"))
					continue
				}
				if q.Cmp(ceiling) > 0 {
					errs = append(errs, field.Forbidden(path, fmt.Sprintf("%s is more than the %s every LoadTest author may ask for (the manager's --pod-max-%s)", q.String(), ceiling.String(), name)))
				}
			}
		}
	}
	return errs
}

// ServiceProblem says why svc, which exists, cannot be a LoadTest's target, as a
// condition reason and a message naming the Service and nothing else of it; "" when it
// can. slices are its EndpointSlices.
func (p Policy) ServiceProblem(svc *corev1.Service, slices []discoveryv1.EndpointSlice) (reason, message string) {
	name := fmt.Sprintf("Service %q in namespace %q", svc.Name, svc.Namespace)
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return dilov1.ReasonExternalNameService, name + " is of type ExternalName: DiLO sends load only to Services inside the cluster, never to outside hosts"
	case len(svc.Spec.Ports) == 0:
		return dilov1.ReasonServicePortNotFound, name + " has no ports to send to"
	case p.AllowServicesWithoutSelector:
		return "", ""
	case len(svc.Spec.Selector) == 0:
		return dilov1.ReasonServiceWithoutSelector, name + " has no selector, so its endpoints are whatever was written into them, " +
			"which may be outside the namespace or the cluster: this cluster's DiLO sends load only to Services that select pods (the manager's --allow-services-without-selector lifts this)"
	}
	for _, es := range slices {
		if by := es.Labels[discoveryv1.LabelManagedBy]; by != endpointSliceController {
			return dilov1.ReasonForeignEndpoints, fmt.Sprintf("%s has EndpointSlice %q, which the EndpointSlice controller did not make from its selector: "+
				"DiLO sends load only to the pods a Service selects (the manager's --allow-services-without-selector lifts this)", name, es.Name)
		}
	}
	return "", ""
}

// endpointSliceController is the managed-by value of the EndpointSlices Kubernetes
// makes from a Service's selector.
const endpointSliceController = "endpointslice-controller.k8s.io"

func ceilingOf(p Policy, name corev1.ResourceName) string {
	if name == corev1.ResourceCPU {
		return p.MaxPodCPU.String()
	}
	return p.MaxPodMemory.String()
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func describePrefixes(prefixes []string) string {
	if len(prefixes) == 0 {
		return "none"
	}
	return strings.Join(prefixes, ", ")
}
