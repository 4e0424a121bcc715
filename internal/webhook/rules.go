package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// This file holds every admission rule, one small pure function each: given the
// values it judges, it returns the field errors (and warnings) a user sees.

// validateMethod checks that method is one of dilov1.Methods. Empty means the
// default, GET.
func validateMethod(method string, p *field.Path) field.ErrorList {
	if method == "" || slices.Contains(dilov1.Methods, method) {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, method, dilov1.Methods)}
}

// validateRequestPath checks that path can go, as it is, between the method and
// "HTTP/1.1" of a request line without changing the request: an origin-form target
// ("/a/b?q=c") of the characters RFC 3986 allows in a path and query. It reports the
// first problem only, the one that matters most.
func validateRequestPath(path string, p *field.Path) field.ErrorList {
	if path == "" {
		return field.ErrorList{field.Required(p, `an absolute path such as "/" or "/search?q=x"`)}
	}
	if len(path) > dilov1.MaxPathLength {
		return field.ErrorList{field.TooLong(p, path, dilov1.MaxPathLength)}
	}
	invalid := func(detail string) field.ErrorList { return field.ErrorList{field.Invalid(p, path, detail)} }
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\r' || c == '\n':
			return invalid(fmt.Sprintf("must not contain CR or LF (byte %d): they end the HTTP request line, so the path could inject headers or a second request", i))
		case c == ' ' || c == '\t':
			return invalid(fmt.Sprintf("must not contain spaces or tabs (byte %d): they end the request target, so the rest would be read as the HTTP version or a smuggled request; percent-encode a space as %%20", i))
		case c < 0x20 || c == 0x7f:
			return invalid(fmt.Sprintf("must not contain control characters (byte %d is 0x%02x)", i, c))
		case c > 0x7f:
			return invalid(fmt.Sprintf("must be ASCII (byte %d is 0x%02x): percent-encode the UTF-8 bytes of other characters, e.g. \"é\" as %%C3%%A9", i, c))
		}
	}
	switch {
	case path[0] != '/':
		return invalid(`must be an absolute path starting with "/" (origin-form): DiLO sends only to spec.test.serviceName, so absolute URLs ("http://host/...") and "*" are not allowed`)
	case strings.HasPrefix(path, "//"):
		return invalid(`must not start with "//": servers and proxies may read what follows as a host name`)
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '#':
			return invalid(fmt.Sprintf("must not contain a fragment (\"#\" at byte %d): fragments are never sent to servers; percent-encode a literal \"#\" as %%23", i))
		case c == '%':
			if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
				return invalid(fmt.Sprintf("has a malformed percent-escape at byte %d: \"%%\" must be followed by two hex digits; write a literal \"%%\" as %%25", i))
			}
			i += 2
		case !isTargetChar(c):
			return invalid(fmt.Sprintf("must not contain %q (byte %d), which RFC 3986 does not allow in a path or query: percent-encode it as %%%02X", string(c), i, c))
		}
	}
	return nil
}

// validateThresholds checks that maxErrorRatio is a decimal from 0 to 1 and that the
// latency thresholds are positive durations.
func validateThresholds(th *dilov1.Thresholds, p *field.Path) field.ErrorList {
	if th == nil {
		return nil
	}
	var errs field.ErrorList
	if r := th.MaxErrorRatio; r != "" && !isRatio(r) {
		errs = append(errs, field.Invalid(p.Child("maxErrorRatio"), r, `must be a decimal from 0 to 1, such as "0.01"`))
	}
	for _, d := range []struct {
		name string
		d    *metav1.Duration
	}{{"maxP50", th.MaxP50}, {"maxP90", th.MaxP90}, {"maxP99", th.MaxP99}} {
		if d.d != nil && d.d.Duration <= 0 {
			errs = append(errs, field.Invalid(p.Child(d.name), d.d.Duration.String(), `must be a positive duration, such as "250ms"`))
		}
	}
	return errs
}

// validatePodTemplate checks what the API server would otherwise reject only when the
// pods are created, leaving the run pending: label, annotation and nodeSelector
// syntax, resource claims (the pods have none to refer to) and requests above limits.
func validatePodTemplate(pt *dilov1.AgentPodTemplate, p *field.Path) field.ErrorList {
	if pt == nil {
		return nil
	}
	meta, spec := p.Child("metadata"), p.Child("spec")
	errs := metav1validation.ValidateLabels(pt.Metadata.Labels, meta.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(pt.Metadata.Annotations, meta.Child("annotations"))...)
	errs = append(errs, metav1validation.ValidateLabels(pt.Spec.NodeSelector, spec.Child("nodeSelector"))...)
	if r := pt.Spec.Resources; r != nil {
		if len(r.Claims) > 0 {
			errs = append(errs, field.Forbidden(spec.Child("resources", "claims"), "load-generator pods have no resource claims to refer to"))
		}
		for _, name := range slices.Sorted(maps.Keys(r.Requests)) {
			limit, ok := r.Limits[name]
			if req := r.Requests[name]; ok && req.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(spec.Child("resources", "requests").Key(string(name)), req.String(),
					fmt.Sprintf("must be less than or equal to the %s limit (%s)", name, limit.String())))
			}
		}
	}
	return errs
}

// serviceNotFound is the error for a serviceName that names no Service in namespace.
func serviceNotFound(namespace, name string, p *field.Path) *field.Error {
	e := field.NotFound(p, name)
	e.Detail = fmt.Sprintf("no Service with this name in namespace %q: create the Service first, or set spec.test.serviceName to a Service of this namespace", namespace)
	return e
}

// validateEncodedSize refuses a LoadTest whose encoding is over MaxEncodedBytes,
// naming its largest part, so that the author knows what to cut.
func validateEncodedSize(raw []byte) field.ErrorList {
	if len(raw) <= dilov1.MaxEncodedBytes {
		return nil
	}
	var obj any
	_ = json.Unmarshal(raw, &obj)
	var path *field.Path
	size := len(raw)
	// Descend into the largest member while it holds more than half of its parent.
	for {
		m, ok := obj.(map[string]any)
		if !ok {
			break
		}
		best, bestSize := "", 0
		for k, v := range m {
			if b, _ := json.Marshal(v); len(b) > bestSize {
				best, bestSize = k, len(b)
			}
		}
		if best == "" || bestSize*2 < size {
			break
		}
		if path == nil {
			path = field.NewPath(best)
		} else {
			path = path.Child(best)
		}
		obj, size = m[best], bestSize
	}
	if path == nil {
		path = field.NewPath("metadata")
	}
	return field.ErrorList{field.Invalid(path, fmt.Sprintf("<%d bytes>", size), fmt.Sprintf(
		"the LoadTest is %d bytes encoded, and DiLO accepts at most %d: this is its largest part", len(raw), dilov1.MaxEncodedBytes))}
}

// validateServicePort checks that port is one of svc's ports, as dilov1.ServicePort
// resolves it for the run. Unset, it means the Service's first port, which
// policy.ServiceProblem made sure exists.
func validateServicePort(port *intstr.IntOrString, svc *corev1.Service, p *field.Path) field.ErrorList {
	if port == nil {
		return nil
	}
	if _, ok := dilov1.ServicePort(svc, port); ok {
		return nil
	}
	var (
		bad   any = port.IntVal
		which     = fmt.Sprintf("port %d", port.IntVal)
	)
	if port.Type == intstr.String {
		bad, which = port.StrVal, fmt.Sprintf("port named %q", port.StrVal)
	}
	e := field.NotFound(p, bad)
	// Only the name: the author may not be allowed to read the Service.
	e.Detail = fmt.Sprintf("Service %q has no %s (kubectl get service %s lists its ports)", svc.Name, which, svc.Name)
	return field.ErrorList{e}
}

// warnNoReadyEndpoints warns, without denying, when none of the Service's
// EndpointSlices holds a ready endpoint: the run's requests would fail until the
// Service's pods are ready, which they may well be by the time the run starts.
func warnNoReadyEndpoints(namespace string, svc *corev1.Service, endpointSlices []discoveryv1.EndpointSlice) []string {
	for _, es := range endpointSlices {
		for _, ep := range es.Endpoints {
			// The API: a nil ready condition means ready.
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf(
		"spec.test.serviceName: Service %q in namespace %q has no ready endpoints yet: the load test's requests will fail until the Service's pods are ready",
		svc.Name, namespace)}
}

// validateEditWhileRunning denies a spec edit of a LoadTest whose run is pending or
// executing when the stored object's updatePolicy is Reject. An edit of updatePolicy
// alone is always allowed, so that the user can switch to Restart and then edit.
func validateEditWhileRunning(old, updated *dilov1.LoadTest) field.ErrorList {
	if old.Spec.UpdatePolicy != dilov1.UpdatePolicyReject || !isRunning(old.Status.State) {
		return nil
	}
	changed := changedSpecFields(old, updated)
	if len(changed) == 0 {
		return nil
	}
	ns := ""
	if old.Namespace != "" {
		ns = " -n " + old.Namespace
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf(
		"the run is %s and spec.updatePolicy is Reject, so %s cannot change until the run ends; "+
			"to restart the test with this edit, first change only spec.updatePolicy to Restart "+
			`(kubectl patch loadtest %s%s --type=merge -p '{"spec":{"updatePolicy":"Restart"}}'), then edit again; `+
			"or delete and re-create the LoadTest",
		old.Status.State, strings.Join(changed, ", "), old.Name, ns))}
}

// validateSleepytime checks a SimpleDeployment's sleepytime as the controller reads
// it (dilov1.SimpleDeploymentSpec.SleepSeconds), telling its author what to write.
func validateSleepytime(s *intstr.IntOrString, p *field.Path) field.ErrorList {
	_, err := dilov1.SimpleDeploymentSpec{Sleepytime: s}.SleepSeconds()
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("must be a whole number of seconds from 0 to %d, such as 120 or \"120\"", dilov1.MaxSleepytime)
	if errors.Is(err, dilov1.ErrSleepytimeNotDigits) {
		msg += ", written with digits only"
	}
	var bad any = s.StrVal
	if s.Type == intstr.Int {
		bad = s.IntVal
	}
	return field.ErrorList{field.Invalid(p, bad, msg)}
}

// isRunning says whether a LoadTest in state has a run going: its pods are being
// created or are sending.
func isRunning(state dilov1.State) bool {
	return state == dilov1.StatePending || state == dilov1.StateExecuting
}

// changedSpecFields lists the fields of spec that differ between old and updated in
// what a run runs (dilov1.RunSpec): the others never restart a run, so they are always
// allowed to change.
func changedSpecFields(old, updated *dilov1.LoadTest) []string {
	return changedFields("spec", dilov1.RunSpec(old.Spec), dilov1.RunSpec(updated.Spec))
}

// changedFields lists the JSON paths, under prefix, of the leaves that differ
// between a and b, sorted. Lists count as leaves.
func changedFields(prefix string, a, b any) []string {
	var am, bm any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	_ = json.Unmarshal(ja, &am)
	_ = json.Unmarshal(jb, &bm)
	var out []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if !xok || !yok {
			if !reflect.DeepEqual(x, y) {
				out = append(out, path)
			}
			return
		}
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		for k := range keys {
			walk(path+"."+k, xm[k], ym[k])
		}
	}
	walk(prefix, am, bm)
	sort.Strings(out)
	return out
}

// isRatio says whether s is a plain decimal (digits, optionally a point and more
// digits; no sign, exponent, "NaN" nor "Inf") from 0 to 1.
func isRatio(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (hasPoint && frac == "") {
		return false
	}
	v, err := strconv.ParseFloat(s, 64)
	return err == nil && v >= 0 && v <= 1
}

// isTargetChar says whether c may appear as itself in an origin-form request target
// (RFC 3986 pchar, "/" and "?"; "%" is handled apart).
func isTargetChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
