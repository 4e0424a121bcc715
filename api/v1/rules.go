package v1

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file holds the rules of a spec that the admission webhook and the controllers
// both apply: written once, they cannot disagree about what a spec means.

// Methods are the HTTP methods DiLO sends. The enum marker on TestSpec.Method has to
// spell them again, as a literal; a test holds the generated CRD's enum to this list.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Default fills in what the author left out and upper-cases the method. The mutating
// webhook applies it at admission; the controller applies it again to a copy, because
// a LoadTest admitted while the webhooks were off has only the CRD schema's defaults
// and must run as if it had been defaulted. It is idempotent.
func (lt *LoadTest) Default() {
	lt.Spec.Test.Default()
	if lt.Spec.UpdatePolicy == "" {
		lt.Spec.UpdatePolicy = UpdatePolicyRestart
	}
}

// Default fills in the test's unset fields and upper-cases its method in ASCII only:
// strings.ToUpper would turn "poſt" into "POST", a method its author never wrote, which
// the validator would then let through. It sets pointers and never writes through
// them, so that defaulting a shallow copy leaves the original as it was. It is
// idempotent.
func (t *TestSpec) Default() {
	if len(t.Requests) == 0 {
		if t.Method == "" {
			t.Method = DefaultMethod
		}
		t.Method = asciiUpper(t.Method)
	} else {
		// A new slice: the requests are written, and the caller's must stay as they are.
		t.Requests = slices.Clone(t.Requests)
		for i := range t.Requests {
			r := &t.Requests[i]
			if r.Method == "" {
				r.Method = DefaultMethod
			}
			r.Method = asciiUpper(r.Method)
			if r.Weight == nil {
				r.Weight = ptrTo(int32(1))
			}
		}
	}
	if t.Repeat == nil {
		t.Repeat = ptrTo(int32(DefaultRepeat))
	}
	if t.Concurrency == nil {
		t.Concurrency = ptrTo(int32(DefaultConcurrency))
	}
	if t.TimeoutSeconds == nil {
		t.TimeoutSeconds = ptrTo(int32(DefaultTimeoutSeconds))
	}
}

// RunSpec is what a run runs: spec without the fields whose edit goes on with the same
// run. updatePolicy only tells the webhook what an edit may do while a run goes, and
// the TTL fields only say when an ended run is cleaned up, historyLimit only how many
// ended runs status keeps, and the schedule fields only when the next run starts. The
// result shares spec's pointers and maps.
func RunSpec(spec LoadTestSpec) LoadTestSpec {
	spec.UpdatePolicy = ""
	spec.TTLSecondsAfterFinished, spec.TTLDeletesLoadTest = nil, false
	spec.HistoryLimit = nil
	spec.Schedule, spec.TimeZone, spec.StartingDeadlineSeconds = "", nil, nil
	spec.ConcurrencyPolicy, spec.Suspend = "", nil
	return spec
}

// ScheduleLocation is the time zone spec.timeZone names: UTC when unset. The error is
// a *ScheduleError.
func ScheduleLocation(timeZone *string) (*time.Location, error) {
	if timeZone == nil {
		return time.UTC, nil
	}
	tz := *timeZone
	if tz == "" || strings.EqualFold(tz, "Local") {
		return nil, &ScheduleError{"timeZone", tz, `must be an IANA time zone name such as "Europe/Paris", or unset for UTC`}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, &ScheduleError{"timeZone", tz, "unknown time zone: " + err.Error()}
	}
	return loc, nil
}

// ScheduleError says which field, schedule or timeZone, keeps a LoadTest's schedule
// from being read, so that the webhook can name it and the manager say it.
type ScheduleError struct {
	// Field is the field's name in spec: "schedule" or "timeZone".
	Field  string
	Value  string
	Detail string
}

func (e *ScheduleError) Error() string {
	return fmt.Sprintf("spec.%s %q: %s", e.Field, e.Value, e.Detail)
}

// ParseSchedule reads spec.schedule, in spec.timeZone (UTC when unset), as a CronJob's
// schedule is read: five fields or a descriptor (@daily, @every 1h). The time zone has
// one place to be said: a schedule carrying its own (TZ= or CRON_TZ=) is refused, and
// so is "Local", the manager's time zone, which no user can know. The error is a
// *ScheduleError.
func ParseSchedule(spec *LoadTestSpec) (cron.Schedule, error) {
	if p := strings.TrimSpace(spec.Schedule); strings.HasPrefix(p, "TZ=") || strings.HasPrefix(p, "CRON_TZ=") {
		return nil, &ScheduleError{"schedule", spec.Schedule, "must not set a time zone (TZ= or CRON_TZ=): set spec.timeZone instead"}
	}
	loc, err := ScheduleLocation(spec.TimeZone)
	if err != nil {
		return nil, err
	}
	sched, err := cron.ParseStandard(spec.Schedule)
	if err != nil {
		return nil, &ScheduleError{"schedule", spec.Schedule, err.Error()}
	}
	// The parser puts five-field schedules in the process's local time zone; a
	// descriptor such as @every has none to set.
	if s, ok := sched.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	return sched, nil
}

// ServicePort is the port of svc that want names, and whether there is one: unset, the
// Service's first port; a number, the Service port (not a target port) of that number;
// a string, the port of that name. An unnamed port has no name for a string to match,
// so "" matches none: the webhook refuses such a spec, and a run of one admitted
// without the webhook must fail the same way rather than pick the unnamed port.
func ServicePort(svc *corev1.Service, want *intstr.IntOrString) (int32, bool) {
	ports := svc.Spec.Ports
	if want == nil {
		if len(ports) == 0 {
			return 0, false
		}
		return ports[0].Port, true
	}
	for _, p := range ports {
		if want.Type == intstr.Int && p.Port == want.IntVal ||
			want.Type == intstr.String && want.StrVal != "" && p.Name == want.StrVal {
			return p.Port, true
		}
	}
	return 0, false
}

// Why a sleepytime is not a number of seconds to sleep; SleepSeconds's errors wrap one,
// so that the webhook can tell its author which.
var (
	ErrSleepytimeNotDigits  = errors.New("not written with digits only")
	ErrSleepytimeOutOfRange = fmt.Errorf("not a whole number of seconds from 0 to %d", MaxSleepytime)
)

// SleepSeconds is how many seconds the pod sleeps: 0 when sleepytime is unset. A
// string must hold ASCII digits only (no sign, space or unit), which is what the
// schema's pattern allows; the error names the value and wraps ErrSleepytimeNotDigits
// or ErrSleepytimeOutOfRange.
func (s SimpleDeploymentSpec) SleepSeconds() (int, error) {
	v := s.Sleepytime
	if v == nil {
		return 0, nil
	}
	if v.Type == intstr.Int {
		if v.IntVal < 0 || v.IntVal > MaxSleepytime {
			return 0, fmt.Errorf("spec.sleepytime %d is %w", v.IntVal, ErrSleepytimeOutOfRange)
		}
		return int(v.IntVal), nil
	}
	if v.StrVal == "" || strings.Trim(v.StrVal, "0123456789") != "" {
		return 0, fmt.Errorf("spec.sleepytime %q is %w", v.StrVal, ErrSleepytimeNotDigits)
	}
	n, err := strconv.ParseUint(v.StrVal, 10, 32)
	if err != nil || n > MaxSleepytime {
		return 0, fmt.Errorf("spec.sleepytime %q is %w", v.StrVal, ErrSleepytimeOutOfRange)
	}
	return int(n), nil
}

// asciiUpper upper-cases the ASCII letters of s and nothing else.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func ptrTo[T any](v T) *T { return &v }

// Share is replica's part of total, a load given for the test as a whole, split
// across replicas pods: total/replicas each, and one more for the first
// total%replicas of them, so that the shares add up to total exactly.
func Share(total, replicas, replica int32) int32 {
	if replicas <= 0 {
		return 0
	}
	s := total / replicas
	if replica < total%replicas {
		s++
	}
	return s
}

// ValueRef is a Secret or ConfigMap key the test reads, and the first field that
// names it.
type ValueRef struct {
	Secret    bool // a Secret's key; else a ConfigMap's
	Name, Key string
	Field     string // e.g. spec.test.requests[1].headers[0].valueFrom
}

// Kind is "Secret" or "ConfigMap".
func (r ValueRef) Kind() string {
	if r.Secret {
		return "Secret"
	}
	return "ConfigMap"
}

// ValueSources calls f with every value source of the test (header values, bodies,
// the TLS CA), in the order the spec names them, each with its field path under p
// (spec.test). It is the one walk of a test's Secret and ConfigMap references: the
// webhook checks them with it, the controller mounts them.
func (t *TestSpec) ValueSources(p *field.Path, f func(vs *ValueSource, vp *field.Path)) {
	add := func(vs *ValueSource, vp *field.Path) {
		if vs != nil {
			f(vs, vp)
		}
	}
	headers := func(hs []Header, hp *field.Path) {
		for i, h := range hs {
			add(h.ValueFrom, hp.Index(i).Child("valueFrom"))
		}
	}
	body := func(b *Body, bp *field.Path) {
		if b != nil {
			add(b.ValueFrom, bp.Child("valueFrom"))
		}
	}
	headers(t.Headers, p.Child("headers"))
	body(t.Body, p.Child("body"))
	for i, r := range t.Requests {
		headers(r.Headers, p.Child("requests").Index(i).Child("headers"))
		body(r.Body, p.Child("requests").Index(i).Child("body"))
	}
	if t.TLS != nil {
		add(t.TLS.CA, p.Child("tls", "ca"))
	}
}

// Ref is the key vs names, with field; false when it names none.
func (vs *ValueSource) Ref(field string) (ValueRef, bool) {
	switch {
	case vs == nil:
		return ValueRef{}, false
	case vs.SecretKeyRef != nil:
		return ValueRef{Secret: true, Name: vs.SecretKeyRef.Name, Key: vs.SecretKeyRef.Key, Field: field}, true
	case vs.ConfigMapKeyRef != nil:
		return ValueRef{Name: vs.ConfigMapKeyRef.Name, Key: vs.ConfigMapKeyRef.Key, Field: field}, true
	}
	return ValueRef{}, false
}

// SameKey reports whether r and o name the same key of the same object, whatever
// field names them.
func (r ValueRef) SameKey(o ValueRef) bool {
	return r.Secret == o.Secret && r.Name == o.Name && r.Key == o.Key
}

// ValueRefs lists the distinct Secret and ConfigMap keys the test reads, in the order
// the spec names them (ValueSources), each with the first field naming it.
func (t *TestSpec) ValueRefs() []ValueRef {
	var refs []ValueRef
	t.ValueSources(field.NewPath("spec", "test"), func(vs *ValueSource, vp *field.Path) {
		if r, ok := vs.Ref(vp.String()); ok && !slices.ContainsFunc(refs, r.SameKey) {
			refs = append(refs, r)
		}
	})
	return refs
}

// PodName is the deterministic name of a run's replica: <loadtest>-<run>-<replica>.
func PodName(loadTest string, run int64, replica int32) string {
	return loadTest + "-" + strconv.FormatInt(run, 10) + "-" + strconv.FormatInt(int64(replica), 10)
}

// RunLabels are the labels every pod of a LoadTest's run carries, without the replica
// (and its timeline ConfigMap too).
func RunLabels(loadTest string, run int64) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedByDiLO,
		LabelLoadTest:  loadTest,
		LabelRun:       strconv.FormatInt(run, 10),
	}
}

// TimelineName is the name of the ConfigMap that holds the timeline of a LoadTest's run:
// the manager writes it while the run executes, labelled as the run's pods are (without
// the replica) and owned by the LoadTest, and deletes it once the run is neither current
// nor in status.history.
func TimelineName(loadTest string, run int64) string {
	return loadTest + "-timeline-" + strconv.FormatInt(run, 10)
}

// Truncate cuts s to at most n bytes, at a rune boundary, marking the cut: the one way
// DiLO shortens what it writes into a condition's message or an Event's note, which
// quote API errors and authors' values and can be longer than the API server takes.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
