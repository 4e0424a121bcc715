package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/progress"
	"github.com/dilo-operator/dilo/internal/report/live"
)

// runRef names a run of a LoadTest as commands take it: NAME (its current run) or
// NAME:RUN.
type runRef struct {
	Name string
	// Run is the run's number; 0 for the LoadTest's current run.
	Run int64
}

// parseRunRef reads NAME or NAME:RUN. A LoadTest's name never holds a colon (it is a
// DNS subdomain), so a colon always separates the run.
func parseRunRef(s string) (runRef, error) {
	name, run, hasRun := strings.Cut(s, ":")
	if errs := validation.IsDNS1123Subdomain(name); name == "" || len(errs) > 0 {
		return runRef{}, fmt.Errorf("%q is not NAME or NAME:RUN: %q is not a LoadTest name", s, name)
	}
	if !hasRun {
		return runRef{Name: name}, nil
	}
	n, err := strconv.ParseInt(run, 10, 64)
	if err != nil || n < 1 || strings.HasPrefix(run, "+") {
		return runRef{}, fmt.Errorf("%q is not NAME or NAME:RUN: the run %q is not a run number (1, 2, ...: status.run, or a run of status.history)", s, run)
	}
	return runRef{Name: name, Run: n}, nil
}

func (r runRef) String() string {
	if r.Run == 0 {
		return r.Name
	}
	return r.Name + ":" + strconv.FormatInt(r.Run, 10)
}

// runData is everything kubectl-dilo knows of one run of a LoadTest: what `results`
// and `compare` show, and what `report` hands internal/htmlreport. A
// run is either the LoadTest's current run (Current: its status, with full results,
// live progress, conditions and the spec) or a record of status.history (Record: the
// figures a record keeps). Figures holds what both kinds have, for side-by-side views.
type runData struct {
	Namespace string
	LoadTest  string
	Run       int64
	Current   bool
	State     dilov1.State
	// Reason and Message say how the run ended: its Complete or Failed condition's (a
	// history record has only the reason; Replaced for a run a spec edit replaced).
	Reason, Message string
	StartTime       *metav1.Time
	CompletionTime  *metav1.Time
	Figures         figures

	// Current run only: its results (once it ended with some), live or final progress
	// and conditions.
	Results    *dilov1.Results
	Progress   *dilov1.Progress
	Conditions []metav1.Condition

	// Spec is the spec the run ran, when it is known: the LoadTest's, for its current
	// run once the manager acted on its latest generation (until then the spec may not
	// be the run's), and for a run of status.history, which keeps no spec, when the
	// record's runSpecHash is the current run's (the same spec, spec.updatePolicy and
	// the TTL fields aside: they are not in the hash); nil otherwise.
	Spec *dilov1.LoadTestSpec

	// Record is the run's history record, for a run that is not current.
	Record *dilov1.RunRecord

	// Timeline names the ConfigMap holding the run's figures over time (loadTimeline
	// reads it), when the manager made one.
	Timeline string
}

// figures are a run's main figures, from its results, else its progress, else its
// history record; pointers are nil where the source has no such figure (a record has
// no p90 nor max).
type figures struct {
	// Source says where they come from: "results", "progress" (live: so far), "history",
	// or "" when the run has none yet.
	Source            string
	Requests          int64
	Errors            *int64
	ErrorRatio        string
	RequestsPerSecond string
	P50, P90, P99     *time.Duration
	Max               *time.Duration
}

// loadRun gathers the data of the run ref names, in namespace ns: one GET of the
// LoadTest. `report` calls it, then loadTimeline.
func loadRun(ctx context.Context, c client.Reader, ns string, ref runRef) (runData, error) {
	lt, err := getLoadTest(ctx, c, ns, ref.Name)
	if err != nil {
		return runData{}, err
	}
	return runDataOf(lt, ref.Run)
}

// runDataOf is the data of run (0: the current run) of lt, with an error naming the
// runs lt has when it has not that one.
func runDataOf(lt *dilov1.LoadTest, run int64) (runData, error) {
	st := &lt.Status
	d := runData{Namespace: lt.Namespace, LoadTest: lt.Name}
	if run == 0 || run == st.Run {
		if st.Run == 0 {
			return runData{}, fmt.Errorf("loadtest %q in namespace %q has no run yet: DiLO's manager has not started one (is it running?)", lt.Name, lt.Namespace)
		}
		d.Run, d.Current, d.State = st.Run, true, st.State
		d.StartTime, d.CompletionTime = st.StartTime, st.CompletionTime
		d.Results, d.Progress, d.Conditions = st.Results, st.Progress, st.Conditions
		if st.ObservedGeneration == lt.Generation {
			d.Spec = &lt.Spec
		}
		d.Reason, d.Message = endedBecause(st)
		d.Figures = currentFigures(st)
		d.Timeline = dilov1.TimelineName(lt.Name, st.Run)
		if i := slices.IndexFunc(st.History, func(r dilov1.RunRecord) bool { return r.Run == st.Run }); i >= 0 {
			d.Timeline = st.History[i].Timeline
		}
		return d, nil
	}
	i := slices.IndexFunc(st.History, func(r dilov1.RunRecord) bool { return r.Run == run })
	if i < 0 {
		return runData{}, fmt.Errorf("loadtest %q in namespace %q has no run %d: %s", lt.Name, lt.Namespace, run, runsOf(st))
	}
	r := st.History[i]
	d.Run, d.State, d.Reason, d.Record = r.Run, r.State, r.Reason, &r
	d.StartTime, d.CompletionTime, d.Timeline = r.StartTime, r.CompletionTime, r.Timeline
	if r.RunSpecHash != "" && r.RunSpecHash == st.RunSpecHash && st.ObservedGeneration == lt.Generation {
		d.Spec = &lt.Spec
	}
	d.Figures = figures{Source: "history", Requests: r.Requests, ErrorRatio: r.ErrorRatio,
		RequestsPerSecond: r.RequestsPerSecond, P50: durationOf(r.P50), P99: durationOf(r.P99)}
	return d, nil
}

// endedBecause is the reason and message of a run's Complete or Failed condition
// (True); empty while it goes.
func endedBecause(st *dilov1.LoadTestStatus) (string, string) {
	switch st.State {
	case dilov1.StateFailed:
		return failure(st)
	case dilov1.StateFinished:
		if c := conditionIs(st, dilov1.ConditionComplete, metav1.ConditionTrue); c != nil {
			return c.Reason, c.Message
		}
		return dilov1.ReasonFinished, ""
	}
	return "", ""
}

// currentFigures are the current run's figures: its results, else its progress.
func currentFigures(st *dilov1.LoadTestStatus) figures {
	if r := st.Results; r != nil {
		l := r.Latency
		return figures{Source: "results", Requests: r.Requests, Errors: &r.Errors, ErrorRatio: r.ErrorRatio,
			RequestsPerSecond: r.RequestsPerSecond,
			P50:               &l.P50.Duration, P90: &l.P90.Duration, P99: &l.P99.Duration, Max: &l.Max.Duration}
	}
	if p := st.Progress; p != nil {
		l := p.Latency
		return figures{Source: "progress", Requests: p.Requests, Errors: &p.Errors, ErrorRatio: p.ErrorRatio,
			RequestsPerSecond: p.RequestsPerSecond, P50: &l.P50.Duration, P90: &l.P90.Duration, P99: &l.P99.Duration}
	}
	return figures{}
}

func durationOf(d *metav1.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	return &d.Duration
}

// runsOf lists the runs a LoadTest's status knows, for an error naming a run it has not.
func runsOf(st *dilov1.LoadTestStatus) string {
	var runs []string
	for _, r := range st.History {
		if r.Run != st.Run {
			runs = append(runs, strconv.FormatInt(r.Run, 10))
		}
	}
	s := "status.history has no other run"
	if len(runs) > 0 {
		s = "status.history has runs " + strings.Join(runs, ", ")
	}
	if st.Run == 0 {
		return s + " and there is no current run"
	}
	return fmt.Sprintf("%s; the current run is %d", s, st.Run)
}

// loadTimeline reads the run's figures over time from its timeline ConfigMap; nil
// when it has none (the manager could not read its pods, or the run's timeline was
// pruned with its history record). Reading ConfigMaps is a permission of its own, so
// only the commands that plot a run call it.
func loadTimeline(ctx context.Context, c client.Reader, d runData) (*live.Timeline, error) {
	if d.Timeline == "" {
		return nil, nil
	}
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: d.Timeline}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, apiError{fmt.Errorf("failed to read the timeline of run %d of loadtest %q (ConfigMap %s): %w", d.Run, d.LoadTest, d.Timeline, err)}
	}
	data, ok := cm.Data[progress.KeyTimeline]
	if !ok {
		return nil, errors.New("ConfigMap " + d.Timeline + " has no " + progress.KeyTimeline)
	}
	tl, err := live.DecodeTimeline([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s: %w", d.Timeline, err)
	}
	return &tl, nil
}
