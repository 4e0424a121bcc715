package reconcile

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// valuesDir is where the Secret and ConfigMap keys a test reads are projected, one
// file per key, named by its index in the test's ValueRefs.
const valuesDir = "/etc/dilo/values"

// singleRequest names the request of a test with one request (spec.test.path).
const singleRequest = "default"

// agentPlan is the run plan of replica (of replicas) of a run sending t to tgt. It
// reads a defaulted copy of t: a LoadTest admitted while the webhooks were off (as in
// development mode) has only the CRD schema's defaults, and must run as if the
// mutating webhook had defaulted it. Values from Secrets and ConfigMaps are files of
// the values volume (refs, from t.ValueRefs()): the plan names the file, never the
// value. Loads given for the whole test are split across replicas (dilov1.Share).
// Every agent serves its results so far on dilov1.PortLive, for the manager's live
// progress, and watches the stop file, for a run stopped early.
func agentPlan(t dilov1.TestSpec, tgt *dilov1.RunTarget, replica, replicas int32, refs []dilov1.ValueRef) runplan.Plan {
	t.Default()
	files := valueFiles{refs}
	p := runplan.Plan{
		Version: runplan.Version,
		Target: runplan.Target{
			Address: net.JoinHostPort(tgt.Address, strconv.Itoa(int(tgt.Port))),
			Host:    tgt.Host,
		},
		Headers:    files.headers(t.Headers),
		Timeout:    seconds(*t.TimeoutSeconds),
		Start:      &runplan.Start{File: startFile, Timeout: runplan.Duration(runplan.DefaultStartTimeout)},
		ResultFile: corev1.TerminationMessagePathDefault,
		Live:       &runplan.Live{Port: dilov1.PortLive},
		Stop:       &runplan.Stop{File: stopFile},
	}
	if t.TLS != nil {
		host, _, _ := strings.Cut(tgt.Host, ":") // <svc>.<ns>.svc: never an IPv6 address
		p.Target.TLS = &runplan.TLS{
			ServerName:         host,
			CAFile:             files.file(t.TLS.CA),
			InsecureSkipVerify: t.TLS.InsecureSkipVerify,
			HTTP2:              t.Protocol == dilov1.ProtocolHTTP2,
		}
	}
	if len(t.Requests) == 0 {
		p.Requests = []runplan.Request{{Name: singleRequest, Weight: 1, Method: t.Method, Path: t.Path, Body: files.body(t.Body)}}
	}
	for _, r := range t.Requests {
		p.Requests = append(p.Requests, runplan.Request{
			Name: r.Name, Weight: int(*r.Weight), Method: r.Method, Path: r.Path,
			Headers: files.headers(r.Headers), Body: files.body(r.Body),
		})
	}
	p.Load = agentLoad(t, replica, replicas)
	return p
}

// agentLoad is replica's share of t's load, t defaulted: per-pod fields as they are,
// fields of the whole test (total..., stages) split across replicas.
func agentLoad(t dilov1.TestSpec, replica, replicas int32) runplan.Load {
	share := func(total int32) int { return int(dilov1.Share(total, replicas, replica)) }
	conns := int(*t.Concurrency)
	if t.TotalConcurrency != nil {
		conns = share(*t.TotalConcurrency)
	}
	if len(t.Stages) > 0 {
		stages := make([]runplan.Stage, len(t.Stages))
		most := 0
		open := t.Stages[0].TotalRate != nil
		for i, st := range t.Stages {
			total := ptr.Deref(st.TotalConcurrency, 0)
			if open {
				total = ptr.Deref(st.TotalRate, 0)
			}
			stages[i] = runplan.Stage{Duration: seconds(st.DurationSeconds), Target: share(total)}
			most = max(most, stages[i].Target)
		}
		if open {
			return runplan.Load{Open: &runplan.Open{Concurrency: conns, Stages: stages}}
		}
		// A pod whose share is 0 all along keeps one idle connection slot: a plan has at least one.
		return runplan.Load{Closed: &runplan.Closed{Concurrency: max(most, 1), Stages: stages}}
	}
	switch {
	case t.Rate != nil && t.DurationSeconds != nil:
		return runplan.Load{Open: &runplan.Open{Rate: int(*t.Rate), Duration: seconds(*t.DurationSeconds), Concurrency: conns}}
	case t.TotalRate != nil && t.DurationSeconds != nil:
		return runplan.Load{Open: &runplan.Open{Rate: share(*t.TotalRate), Duration: seconds(*t.DurationSeconds), Concurrency: conns}}
	}
	return runplan.Load{Closed: &runplan.Closed{Concurrency: conns, Requests: int64(*t.Repeat)}}
}

// seconds is n seconds as a plan's duration.
func seconds(n int32) runplan.Duration { return runplan.Duration(time.Duration(n) * time.Second) }

// valueFiles turns the spec's value sources into the files of the values volume.
type valueFiles struct{ refs []dilov1.ValueRef }

// file is where the value of vs is projected; "" for nil.
func (f valueFiles) file(vs *dilov1.ValueSource) string {
	r, ok := vs.Ref("")
	if i := slices.IndexFunc(f.refs, r.SameKey); ok && i >= 0 {
		return valuesDir + "/" + strconv.Itoa(i)
	}
	return ""
}

// headers are hs as the plan's headers.
func (f valueFiles) headers(hs []dilov1.Header) []runplan.Header {
	var out []runplan.Header
	for _, h := range hs {
		ph := runplan.Header{Name: h.Name, Value: ptr.Deref(h.Value, ""), File: f.file(h.ValueFrom)}
		out = append(out, ph)
	}
	return out
}

// body is b as the plan's body; nil for none.
func (f valueFiles) body(b *dilov1.Body) *runplan.Body {
	if b == nil {
		return nil
	}
	return &runplan.Body{Text: ptr.Deref(b.Text, ""), File: f.file(b.ValueFrom)}
}

// valuesVolume projects every key of refs into valuesDir, file i holding refs[i]; nil
// when there are none. The kubelet reads the Secrets and ConfigMaps: their values are
// never in the pod's spec. The files are root's, so they must be readable by all for
// the agent's user to read them: the pod has no other container.
func valuesVolume(refs []dilov1.ValueRef) *corev1.Volume {
	if len(refs) == 0 {
		return nil
	}
	sources := make([]corev1.VolumeProjection, len(refs))
	for i, r := range refs {
		items := []corev1.KeyToPath{{Key: r.Key, Path: strconv.Itoa(i)}}
		if r.Secret {
			sources[i].Secret = &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: r.Name}, Items: items}
		} else {
			sources[i].ConfigMap = &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: r.Name}, Items: items}
		}
	}
	return &corev1.Volume{Name: "values", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: sources, DefaultMode: ptr.To[int32](0o444),
	}}}
}
