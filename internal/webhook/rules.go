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
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/httpfield"
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

// validateRequestMix checks that a test with a mix of requests leaves the single
// request's fields unset: each request of the mix has its own path, method and body,
// and a path, method or body beside them would be silently ignored.
func validateRequestMix(t *dilov1.TestSpec, p *field.Path) field.ErrorList {
	if len(t.Requests) == 0 {
		return nil
	}
	var errs field.ErrorList
	if t.Path != "" {
		errs = append(errs, field.Forbidden(p.Child("path"), "must not be set with requests: exactly one of path (a single request) and requests (a weighted mix) must be set"))
	}
	if t.Method != "" {
		errs = append(errs, field.Forbidden(p.Child("method"), "must not be set with requests: each request of the mix has its own method"))
	}
	if t.Body != nil {
		errs = append(errs, field.Forbidden(p.Child("body"), "must not be set with requests: each request of the mix has its own body"))
	}
	return errs
}

// validateRequests checks each request of a mix as the single request's fields are
// checked (path, method, headers, body), that its name is a DNS label no other request
// has (results are reported per name) and that its weight is from 1 to
// dilov1.MaxWeight: the weights of a non-empty mix then add up to at least 1, so that
// every cycle of the mix holds a request. It returns the body warnings too.
func validateRequests(reqs []dilov1.Request, p *field.Path) (field.ErrorList, []string) {
	var (
		errs     field.ErrorList
		warnings []string
	)
	if len(reqs) > dilov1.MaxRequests {
		errs = append(errs, field.TooMany(p, len(reqs), dilov1.MaxRequests))
	}
	first := map[string]int{}
	for i, r := range reqs {
		rp := p.Index(i)
		for _, msg := range validation.IsDNS1123Label(r.Name) {
			errs = append(errs, field.Invalid(rp.Child("name"), r.Name, msg))
		}
		if j, dup := first[r.Name]; dup {
			e := field.Duplicate(rp.Child("name"), r.Name)
			e.Detail = fmt.Sprintf("%s has this name too: each request needs its own, under which its results are reported", p.Index(j).Child("name"))
			errs = append(errs, e)
		} else {
			first[r.Name] = i
		}
		if w := r.Weight; w != nil && (*w < 1 || *w > dilov1.MaxWeight) {
			errs = append(errs, field.Invalid(rp.Child("weight"), *w, fmt.Sprintf(
				"must be from 1 to %d: the request's share of the mix, relative to the other requests' weights", dilov1.MaxWeight)))
		}
		errs = append(errs, validateMethod(r.Method, rp.Child("method"))...)
		errs = append(errs, validateRequestPath(r.Path, rp.Child("path"))...)
		errs = append(errs, validateHeaders(r.Headers, rp.Child("headers"))...)
		bodyErrs, bodyWarnings := validateBody(r.Body, r.Method, rp.Child("body"))
		errs, warnings = append(errs, bodyErrs...), append(warnings, bodyWarnings...)
	}
	return errs, warnings
}

// validateHeaders checks headers as the agent will send them: each name an RFC 9110
// token that is not one of the agent's own (httpfield), set once in the list (names
// are case-insensitive, and a second field of the same name is joined to the first or
// refused, as each server pleases), and exactly one of value and valueFrom, an inline
// value being a field value that cannot end the header. Inline values are not echoed
// in errors: one may be a credential that belonged in a Secret.
func validateHeaders(headers []dilov1.Header, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(headers) > dilov1.MaxHeaders {
		errs = append(errs, field.TooMany(p, len(headers), dilov1.MaxHeaders))
	}
	first := map[string]int{}
	for i, h := range headers {
		hp := p.Index(i)
		np := hp.Child("name")
		switch msg := httpfield.CheckName(h.Name); {
		case len(h.Name) > dilov1.MaxHeaderNameLength:
			errs = append(errs, field.TooLong(np, "", dilov1.MaxHeaderNameLength))
		case msg != "" && httpfield.IsAgentOwned(h.Name):
			errs = append(errs, field.Forbidden(np, fmt.Sprintf("%s %s", strconv.Quote(h.Name), msg)))
		case msg != "":
			errs = append(errs, field.Invalid(np, h.Name, msg))
		default:
			key := strings.ToLower(h.Name)
			if j, dup := first[key]; dup {
				e := field.Duplicate(np, h.Name)
				e.Detail = fmt.Sprintf("%s names this header too (header names are case-insensitive): set each header once", p.Index(j).Child("name"))
				errs = append(errs, e)
			} else {
				first[key] = i
			}
		}
		switch {
		case h.Value != nil && h.ValueFrom != nil:
			errs = append(errs, field.Forbidden(hp.Child("valueFrom"), "must not be set with value: exactly one of value and valueFrom must be set"))
		case h.Value == nil && h.ValueFrom == nil:
			errs = append(errs, field.Required(hp.Child("value"), "exactly one of value and valueFrom (a key of a Secret or ConfigMap) must be set"))
		case h.Value != nil && len(*h.Value) > dilov1.MaxHeaderValueLength:
			errs = append(errs, field.TooLong(hp.Child("value"), "", dilov1.MaxHeaderValueLength))
		case h.Value != nil:
			if msg := httpfield.CheckValue(*h.Value); msg != "" {
				errs = append(errs, field.Invalid(hp.Child("value"), field.OmitValueType{}, msg))
			}
		default:
			errs = append(errs, validateValueSource(h.ValueFrom, hp.Child("valueFrom"))...)
		}
	}
	return errs
}

// validateBody checks that a body is given one way, inline text of at most
// dilov1.MaxInlineBodyLength characters or a key of a Secret or ConfigMap, and warns
// when method (empty means GET) is GET or HEAD: DiLO sends the body, but it means
// nothing to most servers there.
func validateBody(b *dilov1.Body, method string, p *field.Path) (field.ErrorList, []string) {
	if b == nil {
		return nil, nil
	}
	var errs field.ErrorList
	switch {
	case b.Text != nil && b.ValueFrom != nil:
		errs = append(errs, field.Forbidden(p.Child("valueFrom"), "must not be set with text: exactly one of text and valueFrom must be set"))
	case b.Text == nil && b.ValueFrom == nil:
		errs = append(errs, field.Required(p.Child("text"), "exactly one of text and valueFrom (a key of a Secret or ConfigMap) must be set"))
	case b.Text != nil:
		if utf8.RuneCountInString(*b.Text) > dilov1.MaxInlineBodyLength {
			e := field.TooLongCharacters(p.Child("text"), "", dilov1.MaxInlineBodyLength)
			e.Detail += ": put a larger body (up to 1 MiB) in a ConfigMap and read it with valueFrom"
			errs = append(errs, e)
		}
	default:
		errs = append(errs, validateValueSource(b.ValueFrom, p.Child("valueFrom"))...)
	}
	if method == "" {
		method = dilov1.DefaultMethod
	}
	var warnings []string
	if method == "GET" || method == "HEAD" {
		warnings = append(warnings, fmt.Sprintf(
			"%s: the request's method is %s: DiLO sends the body, but many servers ignore a body on GET or HEAD, and some refuse the request; POST, PUT and PATCH are the methods for a body",
			p, method))
	}
	return errs, warnings
}

// validateValueSource checks that vs names exactly one key, of a Secret or of a
// ConfigMap, with names the API server allows.
func validateValueSource(vs *dilov1.ValueSource, p *field.Path) field.ErrorList {
	switch {
	case vs.SecretKeyRef != nil && vs.ConfigMapKeyRef != nil:
		return field.ErrorList{field.Forbidden(p.Child("configMapKeyRef"), "must not be set with secretKeyRef: exactly one of secretKeyRef and configMapKeyRef must be set")}
	case vs.SecretKeyRef != nil:
		return validateKeyRef(vs.SecretKeyRef, p.Child("secretKeyRef"))
	case vs.ConfigMapKeyRef != nil:
		return validateKeyRef(vs.ConfigMapKeyRef, p.Child("configMapKeyRef"))
	}
	return field.ErrorList{field.Required(p.Child("secretKeyRef"), "exactly one of secretKeyRef and configMapKeyRef must be set")}
}

// validateKeyRef checks that r's name could be a Secret's or ConfigMap's and its key a
// key of their data.
func validateKeyRef(r *dilov1.KeyRef, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), r.Name, msg))
	}
	for _, msg := range validation.IsConfigMapKey(r.Key) {
		errs = append(errs, field.Invalid(p.Child("key"), r.Key, msg))
	}
	return errs
}

// validateTLS checks the test's TLS and protocol: tls names exactly one way to trust the
// Service's certificate, a CA bundle or none at all (insecureSkipVerify: true, which
// is allowed with a warning), and HTTP/2 comes with tls, since the agents negotiate it
// by ALPN and never speak it in cleartext.
func validateTLS(tls *dilov1.TLS, protocol string, p *field.Path) (field.ErrorList, []string) {
	var errs field.ErrorList
	switch protocol {
	case "", "HTTP/1.1":
	case "HTTP/2":
		if tls == nil {
			errs = append(errs, field.Invalid(p.Child("protocol"), protocol,
				"needs tls: HTTP/2 is negotiated over TLS (ALPN), and DiLO does not send it in cleartext (h2c); set tls.ca, or tls.insecureSkipVerify: true"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("protocol"), protocol, []string{"HTTP/1.1", "HTTP/2"}))
	}
	if tls == nil {
		return errs, nil
	}
	tp := p.Child("tls")
	switch {
	case tls.CA != nil && tls.InsecureSkipVerify:
		errs = append(errs, field.Forbidden(tp.Child("insecureSkipVerify"), "must not be true with ca: exactly one of ca and insecureSkipVerify: true must be set"))
	case tls.CA != nil:
		errs = append(errs, validateValueSource(tls.CA, tp.Child("ca"))...)
	case tls.InsecureSkipVerify:
		return errs, []string{tp.Child("insecureSkipVerify").String() +
			": the Service's certificate is not checked: the traffic is encrypted, but whatever answers at the Service's address gets the requests, " +
			"headers read from Secrets included; set tls.ca to the bundle of the CA that signed the Service's certificate instead"}
	default:
		errs = append(errs, field.Required(tp.Child("ca"),
			"exactly one of ca (the CA bundle the Service's certificate must chain to) and insecureSkipVerify: true must be set"))
	}
	return errs, nil
}

// validateLoad checks what the CRD schema cannot of the load a test asks for, its
// errors under p (spec.test): rate and totalRate exclude each other; a total, split
// across the replicas, gives each pod at least one request per second or connection,
// and no pod more than one pod may be asked for (dilov1.MaxRate, MaxConcurrency); and
// stages are validateStages'. Replicas out of range are policy.CheckLoad's to report;
// here they count as at least one.
func validateLoad(spec *dilov1.LoadTestSpec, p *field.Path) field.ErrorList {
	t, replicas := &spec.Test, max(int64(spec.Replicas), 1)
	var errs field.ErrorList
	if t.Rate != nil && t.TotalRate != nil {
		errs = append(errs, field.Forbidden(p.Child("totalRate"), "must not be set with rate: rate is each pod's and totalRate the whole test's; set one of them"))
	}
	if t.TotalRate != nil {
		errs = append(errs, validateTotal(int64(*t.TotalRate), replicas, rateUnits, p.Child("totalRate"))...)
	}
	if t.TotalConcurrency != nil {
		errs = append(errs, validateTotal(int64(*t.TotalConcurrency), replicas, connectionUnits, p.Child("totalConcurrency"))...)
	}
	if len(t.Stages) > 0 {
		errs = append(errs, validateStages(t, replicas, p)...)
	}
	return errs
}

// units are what a total counts, for validateTotal's messages.
type units struct {
	one, many string
	perPodMax int64  // the most of them one pod may be asked for
	perPod    string // the field of each pod's
}

var (
	rateUnits       = units{"request per second", "requests per second", dilov1.MaxRate, "spec.test.rate"}
	connectionUnits = units{"connection", "connections", dilov1.MaxConcurrency, "spec.test.concurrency"}
)

// validateTotal checks a whole test's total of u, split across replicas pods: at least
// one each, and at most u.perPodMax for the busiest pod.
func validateTotal(total, replicas int64, u units, p *field.Path) field.ErrorList {
	if total < replicas {
		return field.ErrorList{field.Invalid(p, total, fmt.Sprintf(
			"must be at least spec.replicas (%d): it is split across the pods, and each pod gets at least 1 %s", replicas, u.one))}
	}
	return validatePerPod(total, replicas, u, p)
}

// validatePerPod checks that the busiest of replicas pods sharing total gets at most
// u.perPodMax.
func validatePerPod(total, replicas int64, u units, p *field.Path) field.ErrorList {
	if busiest := (total + replicas - 1) / replicas; busiest > u.perPodMax {
		return field.ErrorList{field.Invalid(p, total, fmt.Sprintf(
			"split across %d replicas, it asks %d %s of one pod, more than the %d one pod sends (%s's maximum): add replicas",
			replicas, busiest, u.many, u.perPodMax, u.perPod))}
	}
	return nil
}

// validateStages checks a test's stages: they replace rate, totalRate, durationSeconds
// and repeat (set with them, those would mean nothing); each stage has exactly one
// target, and all of the same kind, totalRate (open model) or totalConcurrency (closed
// model, which then also replaces totalConcurrency); they last 1 to
// dilov1.MaxDurationSeconds in total; and the largest target, split across the
// replicas, asks no pod more than it may send, and, for connections, gives every pod
// at least one at the peak (a pod with none for a while only waits).
func validateStages(t *dilov1.TestSpec, replicas int64, p *field.Path) field.ErrorList {
	sp := p.Child("stages")
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		set  bool
	}{{"rate", t.Rate != nil}, {"totalRate", t.TotalRate != nil}, {"durationSeconds", t.DurationSeconds != nil}} {
		if f.set {
			errs = append(errs, field.Forbidden(p.Child(f.name), "must not be set with stages, which say how much load to send and for how long"))
		}
	}
	if len(t.Stages) > dilov1.MaxStages {
		errs = append(errs, field.TooMany(sp, len(t.Stages), dilov1.MaxStages))
	}
	var (
		kind            string // totalRate or totalConcurrency: the first stage's with exactly one
		kindOf, largest = -1, -1
		target          int64 // stage largest's
		seconds         int64
	)
	for i, s := range t.Stages {
		ip := sp.Index(i)
		if s.DurationSeconds < 0 || s.DurationSeconds > dilov1.MaxDurationSeconds {
			errs = append(errs, field.Invalid(ip.Child("durationSeconds"), s.DurationSeconds, fmt.Sprintf("must be from 0 to %d", dilov1.MaxDurationSeconds)))
		} else {
			seconds += int64(s.DurationSeconds)
		}
		var (
			k string
			v int32
		)
		switch {
		case s.TotalRate != nil && s.TotalConcurrency != nil:
			errs = append(errs, field.Forbidden(ip.Child("totalConcurrency"), "must not be set with totalRate: exactly one of totalRate and totalConcurrency must be set"))
			continue
		case s.TotalRate != nil:
			k, v = "totalRate", *s.TotalRate
		case s.TotalConcurrency != nil:
			k, v = "totalConcurrency", *s.TotalConcurrency
		default:
			errs = append(errs, field.Required(ip.Child("totalRate"), "exactly one of totalRate (open model) and totalConcurrency (closed model) must be set"))
			continue
		}
		switch {
		case kind == "":
			kind, kindOf = k, i
		case k != kind:
			errs = append(errs, field.Invalid(ip.Child(k), v, fmt.Sprintf(
				"%s sets %s: every stage must set totalRate (open model), or every stage totalConcurrency (closed model)", sp.Index(kindOf), kind)))
			continue
		}
		if v < 0 {
			errs = append(errs, field.Invalid(ip.Child(k), v, "must not be negative"))
		} else if largest < 0 || int64(v) > target {
			largest, target = i, int64(v)
		}
	}
	if seconds < 1 || seconds > dilov1.MaxDurationSeconds {
		errs = append(errs, field.Invalid(sp, seconds, fmt.Sprintf("must last 1 to %d seconds in total", dilov1.MaxDurationSeconds)))
	}
	if largest < 0 {
		return errs
	}
	lp := sp.Index(largest).Child(kind)
	switch kind {
	case "totalRate":
		errs = append(errs, validatePerPod(target, replicas, rateUnits, lp)...)
	case "totalConcurrency":
		if t.TotalConcurrency != nil {
			errs = append(errs, field.Forbidden(p.Child("totalConcurrency"), "must not be set with stages of totalConcurrency, which say how many connections there are over time"))
		}
		if target < replicas {
			errs = append(errs, field.Invalid(lp, target, fmt.Sprintf(
				"the stages' largest totalConcurrency must be at least spec.replicas (%d): it is split across the pods, and each pod needs at least 1 connection at the peak", replicas)))
		} else {
			errs = append(errs, validatePerPod(target, replicas, connectionUnits, lp)...)
		}
	}
	return errs
}

// reference is a key of a Secret or ConfigMap that a test reads, and the field that
// names it.
type reference struct {
	object
	key  string
	path *field.Path // the secretKeyRef or configMapKeyRef
}

// object is a Secret or ConfigMap of the LoadTest's namespace.
type object struct {
	resource string // "secrets" or "configmaps", as RBAC names them
	name     string
}

// kind is o's kind, for messages.
func (o object) kind() string {
	if o.resource == "secrets" {
		return "Secret"
	}
	return "ConfigMap"
}

// references lists the Secret and ConfigMap keys test (under p, spec.test) reads, in
// the order of its fields: headers, body, each request's headers and body, the TLS CA.
func references(t *dilov1.TestSpec, p *field.Path) []reference {
	var refs []reference
	t.ValueSources(p, func(vs *dilov1.ValueSource, vp *field.Path) {
		if r := vs.SecretKeyRef; r != nil {
			refs = append(refs, reference{object{"secrets", r.Name}, r.Key, vp.Child("secretKeyRef")})
		}
		if r := vs.ConfigMapKeyRef; r != nil {
			refs = append(refs, reference{object{"configmaps", r.Name}, r.Key, vp.Child("configMapKeyRef")})
		}
	})
	return refs
}

// objects lists the distinct Secrets and ConfigMaps of refs, each with the first
// reference to it, in the order of refs: one access review and one read each.
func objects(refs []reference) []reference {
	var out []reference
	seen := map[object]bool{}
	for _, r := range refs {
		if !seen[r.object] {
			seen[r.object] = true
			out = append(out, r)
		}
	}
	return out
}

// referenceForbidden is the error for a reference to a Secret or ConfigMap that user
// may not get: DiLO would read it for them.
func referenceForbidden(user, namespace string, r reference) *field.Error {
	return field.Forbidden(r.path, fmt.Sprintf("user %q may not get %s %q in namespace %q, so may not have DiLO read it either",
		user, r.resource, r.name, namespace))
}

// found is what the webhook read of a referenced Secret or ConfigMap: whether it
// exists and, for a ConfigMap, its keys (data and binaryData). A Secret's keys stay
// unknown (nil): the webhook reads its metadata only.
type found struct {
	exists bool
	keys   map[string]bool
}

// warnMissingReferences warns, without denying, about the references of refs whose
// Secret or ConfigMap does not exist, once per object, or whose ConfigMap lacks the
// key, once per key: a run started so fails with reason ReferenceNotFound, but the
// author may well create them before it starts. Objects not in read (not looked at)
// are skipped.
func warnMissingReferences(namespace string, refs []reference, read map[object]found) []string {
	var warnings []string
	warned := map[reference]bool{}
	for _, r := range refs {
		f, ok := read[r.object]
		if !ok {
			continue
		}
		once, what := reference{object: r.object}, ""
		switch {
		case !f.exists:
			what = fmt.Sprintf("%s %q in namespace %q does not exist: a run that starts before it does", r.kind(), r.name, namespace)
		case f.keys != nil && !f.keys[r.key]:
			once.key = r.key
			what = fmt.Sprintf("%s %q in namespace %q has no key %q: a run that starts before it has", r.kind(), r.name, namespace, r.key)
		default:
			continue
		}
		if !warned[once] {
			warned[once] = true
			warnings = append(warnings, fmt.Sprintf("%s: %s fails with reason %s", r.path, what, dilov1.ReasonReferenceNotFound))
		}
	}
	return warnings
}

// validateThresholds checks that maxErrorRatio is a decimal from 0 to 1 and that the
// latency thresholds are positive durations, and abort (validateAbort). It returns
// abort's warnings too.
func validateThresholds(th *dilov1.Thresholds, p *field.Path) (field.ErrorList, []string) {
	if th == nil {
		return nil, nil
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
	abortErrs, warnings := validateAbort(th, p)
	return append(errs, abortErrs...), warnings
}

// validateBaseline checks spec.thresholds.baseline: it names a LoadTest by a valid
// name, sets at least one limit, and, comparing with this LoadTest's own previous
// run, has a history to read that run from.
func validateBaseline(spec *dilov1.LoadTestSpec, p *field.Path) field.ErrorList {
	if spec.Thresholds == nil || spec.Thresholds.Baseline == nil {
		return nil
	}
	b, bp := spec.Thresholds.Baseline, p.Child("thresholds", "baseline")
	var errs field.ErrorList
	if b.LoadTest != "" {
		for _, msg := range validation.IsDNS1123Subdomain(b.LoadTest) {
			errs = append(errs, field.Invalid(bp.Child("loadTest"), b.LoadTest, msg))
		}
	}
	if b.MaxP50IncreasePercent == nil && b.MaxP90IncreasePercent == nil && b.MaxP99IncreasePercent == nil && b.MaxRequestsPerSecondDecreasePercent == nil {
		errs = append(errs, field.Forbidden(bp, fmt.Sprintf(
			"compares the run with a baseline, but sets no limit: set at least one of %s, %s, %s and %s, or remove baseline",
			bp.Child("maxP50IncreasePercent"), bp.Child("maxP90IncreasePercent"), bp.Child("maxP99IncreasePercent"),
			bp.Child("maxRequestsPerSecondDecreasePercent"))))
	}
	if b.LoadTest == "" && spec.HistoryLimit != nil && *spec.HistoryLimit == 0 {
		errs = append(errs, field.Invalid(p.Child("historyLimit"), 0, fmt.Sprintf(
			"%s compares each run with the previous one, which the history must keep: set historyLimit to 1 or more, or %s",
			bp, bp.Child("loadTest"))))
	}
	return errs
}

// minAbortWindowSeconds is the shortest abort window that holds a few of the
// manager's reads of the agents, which come every few seconds (more with many pods).
const minAbortWindowSeconds = 10

// validateAbort checks what the CRD schema cannot of thresholds.abort (its bounds are
// the schema's): it checks the limits while the run executes, so it needs one; and it
// warns of a window so short that it holds one or two reads, where a single late read
// makes a rate or a ratio jump and may stop a healthy run.
func validateAbort(th *dilov1.Thresholds, p *field.Path) (field.ErrorList, []string) {
	if th.Abort == nil {
		return nil, nil
	}
	ap := p.Child("abort")
	if th.MaxErrorRatio == "" && th.MaxP50 == nil && th.MaxP90 == nil && th.MaxP99 == nil {
		return field.ErrorList{field.Forbidden(ap, fmt.Sprintf(
			"checks the limits while the run executes, but none is set: set at least one of %s, %s, %s and %s, or remove abort",
			p.Child("maxErrorRatio"), p.Child("maxP50"), p.Child("maxP90"), p.Child("maxP99")))}, nil
	}
	if w := th.Abort.WindowSeconds; w != nil && *w < minAbortWindowSeconds {
		return nil, []string{fmt.Sprintf(
			"%s: a window of %ds holds only one or two of the manager's reads of the agents (every few seconds): a single late read can break a limit and stop a healthy run; %ds or more is safer (unset: %ds)",
			ap.Child("windowSeconds"), *w, minAbortWindowSeconds, dilov1.DefaultAbortWindowSeconds)}
	}
	return nil, nil
}

// maxStopValueBytes bounds the example.org/stop annotation: DiLO copies its value into
// status (lastHandledStop, the Failed condition's message) and Events.
const maxStopValueBytes = 256

// validateStopAnnotation checks the example.org/stop annotation of updated when it is
// new or changed since old (nil: a create), so that a value stored while the webhook
// was off never blocks an edit: any value asks for a stop, and it needs no other
// check than its size.
func validateStopAnnotation(old, updated *dilov1.LoadTest) field.ErrorList {
	v, ok := updated.Annotations[dilov1.AnnotationStop]
	if !ok || old != nil && old.Annotations[dilov1.AnnotationStop] == v || len(v) <= maxStopValueBytes {
		return nil
	}
	e := field.TooLong(field.NewPath("metadata", "annotations").Key(dilov1.AnnotationStop), "", maxStopValueBytes)
	e.Detail += ": any new value stops the run, such as the time of the request (kubectl annotate loadtest NAME " +
		dilov1.AnnotationStop + `="$(date -Is)" --overwrite)`
	return field.ErrorList{e}
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

// validateSchedule checks spec.schedule and spec.timeZone as the manager reads them
// (dilov1.ParseSchedule), naming the field at fault: a schedule the manager cannot
// read would never start a run, and only a Warning Event would say why. A time zone
// without a schedule is checked too, so that adding a schedule later cannot fail on it.
func validateSchedule(spec *dilov1.LoadTestSpec, p *field.Path) field.ErrorList {
	var err error
	switch {
	case spec.Schedule != "":
		_, err = dilov1.ParseSchedule(spec)
	case spec.TimeZone != nil:
		_, err = dilov1.ScheduleLocation(spec.TimeZone)
	}
	var errs field.ErrorList
	if se := (*dilov1.ScheduleError)(nil); errors.As(err, &se) {
		errs = append(errs, field.Invalid(p.Child(se.Field), se.Value, se.Detail))
	}
	if spec.Schedule != "" && spec.TTLDeletesLoadTest && spec.TTLSecondsAfterFinished != nil {
		errs = append(errs, field.Forbidden(p.Child("ttlDeletesLoadTest"), fmt.Sprintf(
			"deletes the LoadTest once its first run ended, which would end %s: remove ttlDeletesLoadTest, or the schedule",
			p.Child("schedule"))))
	}
	return errs
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
