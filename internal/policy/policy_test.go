package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// messages is errs as the lines kubectl prints, for diffs.
func messages(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestCheckLoad(t *testing.T) {
	p := Default()
	p.MaxReplicas, p.MaxConnections, p.MaxRate = 10, 100, 1000
	p.DefaultDeadline, p.MaxDeadline = 10*time.Minute, time.Hour
	spec := func(replicas int32, change func(*dilov1.TestSpec)) *dilov1.LoadTestSpec {
		s := &dilov1.LoadTestSpec{Replicas: replicas, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}}
		if change != nil {
			change(&s.Test)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		spec *dilov1.LoadTestSpec
		want []string
	}{
		{name: "the tutorial's", spec: spec(5, nil)},
		{name: "at every ceiling", spec: spec(10, func(t *dilov1.TestSpec) {
			t.Concurrency, t.Rate, t.DurationSeconds = ptr.To[int32](10), ptr.To[int32](100), ptr.To[int32](595)
		})},
		{name: "replicas", spec: spec(11, nil), want: []string{
			"spec.replicas: Invalid value: 11: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)"}},
		{name: "replicas 0", spec: spec(0, nil), want: []string{
			"spec.replicas: Invalid value: 0: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)"}},
		{name: "connections", spec: spec(10, func(t *dilov1.TestSpec) { t.Concurrency = ptr.To[int32](11) }), want: []string{
			"spec.test.concurrency: Invalid value: 11: 10 replicas × 11 connections = 110 connections, more than the 100 this cluster's DiLO allows one LoadTest (the manager's --max-connections-per-loadtest)"}},
		{name: "rate", spec: spec(4, func(t *dilov1.TestSpec) { t.Rate, t.DurationSeconds = ptr.To[int32](300), ptr.To[int32](60) }), want: []string{
			"spec.test.rate: Invalid value: 300: 4 replicas × 300 requests/s = 1200 requests/s, more than the 1000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)"}},
		{name: "deadline", spec: func() *dilov1.LoadTestSpec { s := spec(1, nil); s.DeadlineSeconds = ptr.To[int64](3601); return s }(), want: []string{
			"spec.deadlineSeconds: Invalid value: 3601: must be at most 3600, the longest run this cluster's DiLO allows (the manager's --max-deadline)"}},
		{name: "a duration past the default deadline", spec: spec(1, func(t *dilov1.TestSpec) { t.Rate, t.DurationSeconds = ptr.To[int32](1), ptr.To[int32](600) }), want: []string{
			"spec.test.durationSeconds: Invalid value: 600: must leave time for the start within the run's deadline of 600s (the manager's --default-deadline, as spec.deadlineSeconds is unset)"}},
		{name: "totals at the ceilings", spec: spec(10, func(t *dilov1.TestSpec) {
			t.TotalConcurrency, t.TotalRate, t.DurationSeconds = ptr.To[int32](100), ptr.To[int32](1000), ptr.To[int32](595)
		})},
		{name: "totalConcurrency", spec: spec(10, func(t *dilov1.TestSpec) { t.TotalConcurrency = ptr.To[int32](101) }), want: []string{
			"spec.test.totalConcurrency: Invalid value: 101: 101 connections, more than the 100 this cluster's DiLO allows one LoadTest (the manager's --max-connections-per-loadtest)"}},
		{name: "totalConcurrency replaces concurrency", spec: spec(10, func(t *dilov1.TestSpec) {
			t.Concurrency, t.TotalConcurrency = ptr.To[int32](1000), ptr.To[int32](20)
		})},
		{name: "totalRate", spec: spec(4, func(t *dilov1.TestSpec) { t.TotalRate, t.DurationSeconds = ptr.To[int32](1001), ptr.To[int32](60) }), want: []string{
			"spec.test.totalRate: Invalid value: 1001: 1001 requests/s, more than the 1000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)"}},
		{name: "stages of totalRate: the highest counts", spec: spec(4, func(t *dilov1.TestSpec) {
			t.Stages = []dilov1.Stage{{DurationSeconds: 60, TotalRate: ptr.To[int32](500)}, {DurationSeconds: 60, TotalRate: ptr.To[int32](1200)}, {DurationSeconds: 60, TotalRate: ptr.To[int32](0)}}
		}), want: []string{
			"spec.test.stages[1].totalRate: Invalid value: 1200: 1200 requests/s, more than the 1000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)"}},
		{name: "stages of totalConcurrency: the highest counts", spec: spec(4, func(t *dilov1.TestSpec) {
			t.Concurrency = ptr.To[int32](1000)
			t.Stages = []dilov1.Stage{{DurationSeconds: 60, TotalConcurrency: ptr.To[int32](150)}, {DurationSeconds: 60, TotalConcurrency: ptr.To[int32](50)}}
		}), want: []string{
			"spec.test.stages[0].totalConcurrency: Invalid value: 150: 150 connections, more than the 100 this cluster's DiLO allows one LoadTest (the manager's --max-connections-per-loadtest)"}},
		{name: "stages within every ceiling", spec: spec(4, func(t *dilov1.TestSpec) {
			t.Stages = []dilov1.Stage{{DurationSeconds: 300, TotalRate: ptr.To[int32](1000)}, {DurationSeconds: 295, TotalRate: ptr.To[int32](0)}}
		})},
		{name: "stages past the default deadline", spec: spec(4, func(t *dilov1.TestSpec) {
			t.Stages = []dilov1.Stage{{DurationSeconds: 300, TotalRate: ptr.To[int32](10)}, {DurationSeconds: 296, TotalRate: ptr.To[int32](10)}}
		}), want: []string{
			"spec.test.stages: Invalid value: 596: the stages last 596s in all, which must leave time for the start within the run's deadline of 600s (the manager's --default-deadline, as spec.deadlineSeconds is unset)"}},
		{name: "every problem at once", spec: spec(20, func(t *dilov1.TestSpec) {
			t.Concurrency, t.Rate, t.DurationSeconds = ptr.To[int32](10), ptr.To[int32](100), ptr.To[int32](1)
		}), want: []string{
			"spec.replicas: Invalid value: 20: must be from 1 to 10, the most load-generator pods this cluster's DiLO runs per LoadTest (the manager's --max-replicas)",
			"spec.test.concurrency: Invalid value: 10: 20 replicas × 10 connections = 200 connections, more than the 100 this cluster's DiLO allows one LoadTest (the manager's --max-connections-per-loadtest)",
			"spec.test.rate: Invalid value: 100: 20 replicas × 100 requests/s = 2000 requests/s, more than the 1000 this cluster's DiLO allows one LoadTest (the manager's --max-rate-per-loadtest)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, messages(p.CheckLoad(tc.spec))); diff != "" {
				t.Errorf("CheckLoad (-want +got):\n%s", diff)
			}
		})
	}
	unlimited := p
	unlimited.MaxConnections, unlimited.MaxRate, unlimited.MaxDeadline, unlimited.DefaultDeadline = 0, 0, 0, 0
	if errs := unlimited.CheckLoad(spec(10, func(t *dilov1.TestSpec) {
		t.Concurrency, t.Rate, t.DurationSeconds = ptr.To[int32](1000), ptr.To[int32](100000), ptr.To[int32](86400)
	})); len(errs) > 0 {
		t.Errorf("CheckLoad with no ceilings: %v", errs)
	}
	if errs := unlimited.CheckLoad(spec(10, func(t *dilov1.TestSpec) {
		t.TotalConcurrency, t.Stages = ptr.To[int32](1_000_000), []dilov1.Stage{{DurationSeconds: 86400, TotalRate: ptr.To[int32](100_000_000)}}
	})); len(errs) > 0 {
		t.Errorf("CheckLoad with no ceilings: %v", errs)
	}
}

func TestDeadline(t *testing.T) {
	p := Default()
	if got := p.Deadline(&dilov1.LoadTestSpec{}); got != time.Hour {
		t.Errorf("Deadline(unset) = %v; want the default, 1h", got)
	}
	if got := p.Deadline(&dilov1.LoadTestSpec{DeadlineSeconds: ptr.To[int64](90)}); got != 90*time.Second {
		t.Errorf("Deadline(90) = %v; want 1m30s", got)
	}
}

func TestPodShaping(t *testing.T) {
	p := Default()
	p.PodLabelPrefixes, p.PodAnnotationPrefixes = []string{"cost.example.com/"}, []string{"sidecar.istio.io/"}
	p.MaxPodCPU, p.MaxPodMemory = resource.MustParse("2"), resource.MustParse("1Gi")
	res := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	for _, tc := range []struct {
		name string
		pt   *dilov1.AgentPodTemplate
		want []string
	}{
		{name: "none", pt: nil},
		{name: "allowed labels, annotations and resources", pt: &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{
				Labels:      map[string]string{"cost.example.com/team": "a"},
				Annotations: map[string]string{"sidecar.istio.io/inject": "false"},
			},
			Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{Requests: res("cpu", "1", "memory", "512Mi"), Limits: res("cpu", "2", "memory", "1Gi")}},
		}},
		{name: "a label that could select a NetworkPolicy or a Service", pt: &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{Labels: map[string]string{"app": "db-client"}},
		}, want: []string{`spec.podTemplate.metadata.labels[app]: Forbidden: a label outside the prefixes every LoadTest author may set (cost.example.com/)`}},
		{name: "an annotation that drives a CNI plugin", pt: &dilov1.AgentPodTemplate{
			Metadata: dilov1.AgentPodMetadata{Annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "host-net"}},
		}, want: []string{`spec.podTemplate.metadata.annotations[k8s.v1.cni.cncf.io/networks]: Forbidden: an annotation outside the prefixes every LoadTest author may set (sidecar.istio.io/)`}},
		{name: "scheduling onto control-plane nodes", pt: &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{
			NodeSelector: map[string]string{"node-role.kubernetes.io/control-plane": ""},
			Tolerations:  []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists}},
			Affinity:     &corev1.Affinity{},
		}}, want: []string{
			"spec.podTemplate.spec.nodeSelector: Forbidden: chooses the nodes the pods run on",
			"spec.podTemplate.spec.tolerations: Forbidden: lets the pods run on tainted nodes",
			"spec.podTemplate.spec.affinity: Forbidden: chooses the nodes the pods run on",
		}},
		{name: "GPUs and too much memory", pt: &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{
			Limits: res("cpu", "1", "memory", "8Gi", "nvidia.com/gpu", "1"),
		}}}, want: []string{
			"spec.podTemplate.spec.resources.limits[memory]: Forbidden: 8Gi is more than the 1Gi every LoadTest author may ask for (the manager's --pod-max-memory)",
			"spec.podTemplate.spec.resources.limits[nvidia.com/gpu]: Forbidden: only cpu and memory are open to every LoadTest author",
		}},
		{name: "no limits: unbounded pods", pt: &dilov1.AgentPodTemplate{Spec: dilov1.AgentPodSpec{Resources: &corev1.ResourceRequirements{
			Requests: res("cpu", "100m"),
		}}}, want: []string{
			"spec.podTemplate.spec.resources.limits[cpu]: Forbidden: must be set (at most 2) by a LoadTest author who may not create pods: resources replace DiLO's defaults as a whole, and without a limit the pods could take a node's whole cpu",
			"spec.podTemplate.spec.resources.limits[memory]: Forbidden: must be set (at most 1Gi) by a LoadTest author who may not create pods: resources replace DiLO's defaults as a whole, and without a limit the pods could take a node's whole memory",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, messages(p.PodShaping(tc.pt))); diff != "" {
				t.Errorf("PodShaping (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckReservedKeys(t *testing.T) {
	pt := &dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{
		Labels:      map[string]string{"example.org/simpledeployment": "x", "team": "a"},
		Annotations: map[string]string{"example.org/start-at": "2026-01-01T00:00:00Z"},
	}}
	want := []string{
		"spec.podTemplate.metadata.labels[example.org/simpledeployment]: Forbidden: keys under example.org/ are DiLO's to set",
		"spec.podTemplate.metadata.annotations[example.org/start-at]: Forbidden: keys under example.org/ are DiLO's to set",
	}
	if diff := cmp.Diff(want, messages(CheckReservedKeys(pt))); diff != "" {
		t.Errorf("CheckReservedKeys (-want +got):\n%s", diff)
	}
}

func TestServiceProblem(t *testing.T) {
	svc := func(change func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}
		if change != nil {
			change(s)
		}
		return s
	}
	slice := func(name, by string) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelManagedBy: by}}}
	}
	for _, tc := range []struct {
		name       string
		svc        *corev1.Service
		slices     []discoveryv1.EndpointSlice
		allow      bool
		wantReason string
		wantIn     string
	}{
		{name: "pods it selects", svc: svc(nil), slices: []discoveryv1.EndpointSlice{slice("web-1", "endpointslice-controller.k8s.io")}},
		{name: "ExternalName", svc: svc(func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "secret-host.example.com"}
		}), wantReason: dilov1.ReasonExternalNameService, wantIn: `Service "web" in namespace "team-a" is of type ExternalName`},
		{name: "ExternalName, even when selectorless Services are allowed", allow: true, svc: svc(func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "secret-host.example.com"}
		}), wantReason: dilov1.ReasonExternalNameService},
		{name: "no ports", svc: svc(func(s *corev1.Service) { s.Spec.Ports = nil }), wantReason: dilov1.ReasonServicePortNotFound, wantIn: "has no ports"},
		{name: "no selector", svc: svc(func(s *corev1.Service) { s.Spec.Selector = nil }), wantReason: dilov1.ReasonServiceWithoutSelector, wantIn: "--allow-services-without-selector"},
		{name: "no selector, allowed", allow: true, svc: svc(func(s *corev1.Service) { s.Spec.Selector = nil }), slices: []discoveryv1.EndpointSlice{slice("by-hand", "")}},
		{name: "a hand-written slice next to the controller's", svc: svc(nil),
			slices:     []discoveryv1.EndpointSlice{slice("web-1", "endpointslice-controller.k8s.io"), slice("web-evil", "mallory")},
			wantReason: dilov1.ReasonForeignEndpoints, wantIn: `EndpointSlice "web-evil"`},
		{name: "a mirrored slice", svc: svc(nil), slices: []discoveryv1.EndpointSlice{slice("web-m", "endpointslicemirroring-controller.k8s.io")},
			wantReason: dilov1.ReasonForeignEndpoints},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Default()
			p.AllowServicesWithoutSelector = tc.allow
			reason, msg := p.ServiceProblem(tc.svc, tc.slices)
			if reason != tc.wantReason || !strings.Contains(msg, tc.wantIn) {
				t.Errorf("ServiceProblem = %q, %q; want %q with %q", reason, msg, tc.wantReason, tc.wantIn)
			}
			if strings.Contains(msg, "secret-host") {
				t.Errorf("message %q reveals the ExternalName's target", msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Policy)
		want   string
	}{
		{"replicas", func(p *Policy) { p.MaxReplicas = 0 }, "--max-replicas=0"},
		{"connections", func(p *Policy) { p.MaxConnections = -1 }, "--max-connections-per-loadtest"},
		{"default above max", func(p *Policy) { p.DefaultDeadline, p.MaxDeadline = 2*time.Hour, time.Hour }, "--default-deadline=2h0m0s"},
		{"domain", func(p *Policy) { p.ClusterDomain = "cluster.local." }, "--cluster-domain"},
		{"cpu", func(p *Policy) { p.MaxPodCPU = resource.MustParse("-1") }, "--pod-max-cpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Default()
			tc.change(&p)
			if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v; want an error naming %s", err, tc.want)
			}
		})
	}
}
