package reconcile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

func TestAgentPlan(t *testing.T) {
	tgt := &dilov1.RunTarget{Address: "10.97.0.7", Port: 8080, Host: "web.ns.svc:8080"}
	one := func(path, method string) []runplan.Request {
		return []runplan.Request{{Name: "default", Weight: 1, Method: method, Path: path}}
	}
	plan := func(addr, host, path, method string, load runplan.Load, timeout time.Duration) runplan.Plan {
		return runplan.Plan{
			Version:  runplan.Version,
			Target:   runplan.Target{Address: addr, Host: host},
			Requests: one(path, method),
			Load:     load, Timeout: runplan.Duration(timeout),
			Start:      &runplan.Start{File: "/etc/dilo/start/at", Timeout: runplan.Duration(10 * time.Minute)},
			ResultFile: "/dev/termination-log",
			Live:       &runplan.Live{Port: 9090},
			Stop:       &runplan.Stop{File: "/etc/dilo/start/stop"},
		}
	}
	closed := func(c int, n int64) runplan.Load {
		return runplan.Load{Closed: &runplan.Closed{Concurrency: c, Requests: n}}
	}
	with := func(p runplan.Plan, f func(*runplan.Plan)) runplan.Plan { f(&p); return p }
	base := plan("10.97.0.7:8080", "web.ns.svc:8080", "/x", "GET", closed(1, 100), 10*time.Second)
	secret := func(name, key string) *dilov1.ValueSource {
		return &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: name, Key: key}}
	}
	configMap := func(name, key string) *dilov1.ValueSource {
		return &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: name, Key: key}}
	}
	sec := func(n int32) runplan.Duration { return runplan.Duration(time.Duration(n) * time.Second) }
	for _, tc := range []struct {
		name              string
		test              dilov1.TestSpec
		tgt               *dilov1.RunTarget
		replica, replicas int32
		want              runplan.Plan
	}{{
		name: "defaults when unset",
		test: dilov1.TestSpec{Path: "/x"},
		want: base,
	}, {
		name: "closed model",
		test: dilov1.TestSpec{Path: "/x", Method: "POST", Repeat: ptr.To[int32](5000), Concurrency: ptr.To[int32](8), TimeoutSeconds: ptr.To[int32](3)},
		want: plan("10.97.0.7:8080", "web.ns.svc:8080", "/x", "POST", closed(8, 5000), 3*time.Second),
	}, {
		name: "open model ignores repeat",
		test: dilov1.TestSpec{Path: "/x", Repeat: ptr.To[int32](5), Rate: ptr.To[int32](200), DurationSeconds: ptr.To[int32](90), Concurrency: ptr.To[int32](4)},
		want: plan("10.97.0.7:8080", "web.ns.svc:8080", "/x", "GET",
			runplan.Load{Open: &runplan.Open{Rate: 200, Duration: runplan.Duration(90 * time.Second), Concurrency: 4}}, 10*time.Second),
	}, {
		name: "IPv6 cluster IP",
		test: dilov1.TestSpec{Path: "/"},
		tgt:  &dilov1.RunTarget{Address: "fd00::7", Port: 80, Host: "web.ns.svc"},
		want: plan("[fd00::7]:80", "web.ns.svc", "/", "GET", closed(1, 100), 10*time.Second),
	}, {
		name: "headless: the fully qualified name",
		test: dilov1.TestSpec{Path: "/"},
		tgt:  &dilov1.RunTarget{Address: "web.ns.svc.cluster.local.", Port: 80, Host: "web.ns.svc"},
		want: plan("web.ns.svc.cluster.local.:80", "web.ns.svc", "/", "GET", closed(1, 100), 10*time.Second),
	}, {
		name:     "totalConcurrency: the remainder goes to the first replicas",
		test:     dilov1.TestSpec{Path: "/x", TotalConcurrency: ptr.To[int32](10), Concurrency: ptr.To[int32](1)},
		replica:  1,
		replicas: 3, // 4 3 3
		want:     with(base, func(p *runplan.Plan) { p.Load = closed(3, 100) }),
	}, {
		name:     "totalRate split, replica 0 takes the remainder",
		test:     dilov1.TestSpec{Path: "/x", TotalRate: ptr.To[int32](1001), DurationSeconds: ptr.To[int32](60)},
		replicas: 4, // 251 250 250 250
		want: with(base, func(p *runplan.Plan) {
			p.Load = runplan.Load{Open: &runplan.Open{Rate: 251, Duration: sec(60), Concurrency: 1}}
		}),
	}, {
		name: "stages of totalRate, split per stage",
		test: dilov1.TestSpec{Path: "/x", Concurrency: ptr.To[int32](50), Stages: []dilov1.Stage{
			{DurationSeconds: 60, TotalRate: ptr.To[int32](1000)}, {DurationSeconds: 300, TotalRate: ptr.To[int32](1000)}, {DurationSeconds: 60, TotalRate: ptr.To[int32](1)}}},
		replica: 1, replicas: 3,
		want: with(base, func(p *runplan.Plan) {
			p.Load = runplan.Load{Open: &runplan.Open{Concurrency: 50, Stages: []runplan.Stage{
				{Duration: sec(60), Target: 333}, {Duration: sec(300), Target: 333}, {Duration: sec(60), Target: 0}}}}
		}),
	}, {
		name: "stages of totalConcurrency: the pool is the largest share",
		test: dilov1.TestSpec{Path: "/x", Stages: []dilov1.Stage{
			{DurationSeconds: 0, TotalConcurrency: ptr.To[int32](4)}, {DurationSeconds: 30, TotalConcurrency: ptr.To[int32](9)}}},
		replica: 0, replicas: 2,
		want: with(base, func(p *runplan.Plan) {
			p.Load = runplan.Load{Closed: &runplan.Closed{Concurrency: 5, Stages: []runplan.Stage{
				{Duration: 0, Target: 2}, {Duration: sec(30), Target: 5}}}}
		}),
	}, {
		name: "a mix with headers and bodies: Secret and ConfigMap values are files, in the order the spec names them",
		test: dilov1.TestSpec{
			Headers: []dilov1.Header{{Name: "Authorization", ValueFrom: secret("token", "value")}, {Name: "X-Team", Value: ptr.To("a")}},
			Requests: []dilov1.Request{
				{Name: "list", Weight: ptr.To[int32](4), Path: "/items"},
				{Name: "order", Method: "post", Path: "/orders",
					Headers: []dilov1.Header{{Name: "Content-Type", Value: ptr.To("application/json")}, {Name: "X-Key", ValueFrom: secret("token", "value")}},
					Body:    &dilov1.Body{ValueFrom: configMap("orders", "order.json")}},
				{Name: "echo", Method: "PUT", Path: "/echo", Body: &dilov1.Body{Text: ptr.To(`{"a":"<b>"}`)}},
			},
		},
		want: with(base, func(p *runplan.Plan) {
			p.Headers = []runplan.Header{{Name: "Authorization", File: "/etc/dilo/values/0"}, {Name: "X-Team", Value: "a"}}
			p.Requests = []runplan.Request{
				{Name: "list", Weight: 4, Method: "GET", Path: "/items"},
				{Name: "order", Weight: 1, Method: "POST", Path: "/orders",
					Headers: []runplan.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Key", File: "/etc/dilo/values/0"}},
					Body:    &runplan.Body{File: "/etc/dilo/values/1"}},
				{Name: "echo", Weight: 1, Method: "PUT", Path: "/echo", Body: &runplan.Body{Text: `{"a":"<b>"}`}},
			}
		}),
	}, {
		name: "HTTPS with a CA, and HTTP/2: the certificate name is the Service's",
		test: dilov1.TestSpec{Path: "/x", TLS: &dilov1.TLS{CA: configMap("ca", "ca.crt")}, Protocol: "HTTP/2"},
		want: with(base, func(p *runplan.Plan) {
			p.Target.TLS = &runplan.TLS{ServerName: "web.ns.svc", CAFile: "/etc/dilo/values/0", HTTP2: true}
		}),
	}, {
		name: "HTTPS without verification",
		test: dilov1.TestSpec{Path: "/x", TLS: &dilov1.TLS{InsecureSkipVerify: true}},
		want: with(base, func(p *runplan.Plan) {
			p.Target.TLS = &runplan.TLS{ServerName: "web.ns.svc", InsecureSkipVerify: true}
		}),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tgt == nil {
				tc.tgt = tgt
			}
			if tc.replicas == 0 {
				tc.replicas = 1
			}
			got := agentPlan(tc.test, tc.tgt, tc.replica, tc.replicas, tc.test.ValueRefs())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("agentPlan (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil { // the agent takes it
				t.Errorf("agentPlan is invalid: %v", err)
			}
		})
	}
}

// TestAgentLoadSharesAddUp: whatever the split, the replicas' shares of a load given
// for the whole test add up to it, at every stage.
func TestAgentLoadSharesAddUp(t *testing.T) {
	for _, replicas := range []int32{1, 2, 3, 7, 1000} {
		for _, total := range []int32{1000, 1001, 999_999, 7} {
			if total < replicas {
				continue
			}
			test := dilov1.TestSpec{Path: "/", Stages: []dilov1.Stage{{DurationSeconds: 10, TotalRate: ptr.To(total)}, {DurationSeconds: 10, TotalRate: ptr.To(total / 2)}}}
			test.Default()
			sums := make([]int, 2)
			for i := range replicas {
				for s, st := range agentLoad(test, i, replicas).Open.Stages {
					sums[s] += st.Target
				}
			}
			if sums[0] != int(total) || sums[1] != int(total/2) {
				t.Errorf("%d replicas of total %d: stage sums %v", replicas, total, sums)
			}
		}
	}
}

// TestValuesVolume: one projected file per key, named by its index, with no value in
// the pod's spec.
func TestValuesVolume(t *testing.T) {
	refs := []dilov1.ValueRef{{Secret: true, Name: "token", Key: "value"}, {Name: "orders", Key: "order.json"}}
	want := &corev1.Volume{Name: "values", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o444),
		Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "token"}, Items: []corev1.KeyToPath{{Key: "value", Path: "0"}}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "orders"}, Items: []corev1.KeyToPath{{Key: "order.json", Path: "1"}}}},
		},
	}}}
	if diff := cmp.Diff(want, valuesVolume(refs)); diff != "" {
		t.Errorf("valuesVolume (-want +got):\n%s", diff)
	}
	if v := valuesVolume(nil); v != nil {
		t.Errorf("valuesVolume(nil) = %+v, want nil", v)
	}
}

func TestResolveTarget(t *testing.T) {
	svc := func(typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid"},
			Spec:       corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports, ExternalName: "example.com", Selector: map[string]string{"app": "web"}},
		}
	}
	selectorless := svc(corev1.ServiceTypeClusterIP, "10.97.0.7", corev1.ServicePort{Port: 80})
	selectorless.Spec.Selector = nil
	http := corev1.ServicePort{Name: "http", Port: 80}
	admin := corev1.ServicePort{Name: "admin", Port: 9090}
	handWritten := []discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Name: "web-by-hand", Labels: map[string]string{discoveryv1.LabelManagedBy: "bob"}}}}
	ours := []discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}}}}
	for _, tc := range []struct {
		name       string
		port       *intstr.IntOrString
		svc        *corev1.Service
		slices     []discoveryv1.EndpointSlice
		allow      bool
		want       *dilov1.RunTarget
		wantReason string
	}{
		{name: "first port by default, the cluster IP", svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", http, admin), slices: ours,
			want: &dilov1.RunTarget{Service: "web", UID: "svc-uid", Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.97.0.7", Port: 80, Address: "10.97.0.7", Host: "web.ns.svc"}},
		{name: "port by number", port: ptr.To(intstr.FromInt32(9090)), svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", http, admin),
			want: &dilov1.RunTarget{Service: "web", UID: "svc-uid", Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.97.0.7", Port: 9090, Address: "10.97.0.7", Host: "web.ns.svc:9090"}},
		{name: "port by name", port: ptr.To(intstr.FromString("admin")), svc: svc(corev1.ServiceTypeNodePort, "10.97.0.7", http, admin),
			want: &dilov1.RunTarget{Service: "web", UID: "svc-uid", Type: corev1.ServiceTypeNodePort, ClusterIP: "10.97.0.7", Port: 9090, Address: "10.97.0.7", Host: "web.ns.svc:9090"}},
		{name: "headless: the fully qualified name, no search path", svc: svc(corev1.ServiceTypeClusterIP, "None", http),
			want: &dilov1.RunTarget{Service: "web", UID: "svc-uid", Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", Port: 80, Address: "web.ns.svc.example.internal.", Host: "web.ns.svc"}},
		{name: "missing service", svc: nil, wantReason: dilov1.ReasonServiceNotFound},
		{name: "external name", svc: svc(corev1.ServiceTypeExternalName, ""), wantReason: dilov1.ReasonExternalNameService},
		{name: "no such port number", port: ptr.To(intstr.FromInt32(81)), svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", http), wantReason: dilov1.ReasonServicePortNotFound},
		{name: "no such port name", port: ptr.To(intstr.FromString("grpc")), svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", http), wantReason: dilov1.ReasonServicePortNotFound},
		{name: "no ports", svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7"), wantReason: dilov1.ReasonServicePortNotFound},
		{name: `port "" names no port, not the unnamed one`, port: ptr.To(intstr.FromString("")), svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", corev1.ServicePort{Port: 80}), wantReason: dilov1.ReasonServicePortNotFound},
		{name: "no selector", svc: selectorless, wantReason: dilov1.ReasonServiceWithoutSelector},
		{name: "no selector, allowed", svc: selectorless, allow: true,
			want: &dilov1.RunTarget{Service: "web", UID: "svc-uid", Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.97.0.7", Port: 80, Address: "10.97.0.7", Host: "web.ns.svc"}},
		{name: "hand-written EndpointSlice", svc: svc(corev1.ServiceTypeClusterIP, "10.97.0.7", http), slices: append(ours, handWritten...), wantReason: dilov1.ReasonForeignEndpoints},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns"},
				Spec: dilov1.LoadTestSpec{Test: dilov1.TestSpec{ServiceName: "web", Path: "/p?q=1", Port: tc.port}}}
			pol := policy.Default()
			pol.ClusterDomain, pol.AllowServicesWithoutSelector = "example.internal", tc.allow
			got, f := resolveTarget(lt, tc.svc, tc.slices, pol)
			gotReason := ""
			if f != nil {
				gotReason = f.Reason
				if !strings.Contains(f.Message, "ns/web") && !strings.Contains(f.Message, `"web" in namespace "ns"`) {
					t.Errorf("message %q does not name the Service ns/web", f.Message)
				}
				if strings.Contains(f.Message, "example.com") {
					t.Errorf("message %q reveals the ExternalName's target", f.Message)
				}
			}
			if gotReason != tc.wantReason {
				t.Errorf("resolveTarget reason %q; want %q", gotReason, tc.wantReason)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("resolveTarget (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTargetChange(t *testing.T) {
	lt := &dilov1.LoadTest{ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns"},
		Spec: dilov1.LoadTestSpec{Test: dilov1.TestSpec{ServiceName: "web", Path: "/", Port: ptr.To(intstr.FromString("http"))}}}
	rec := &dilov1.RunTarget{Service: "web", UID: "u1", Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.97.0.7", Port: 80, Address: "10.97.0.7", Host: "web.ns.svc"}
	svc := func(change func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.97.0.7", Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}
		if change != nil {
			change(s)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		svc    *corev1.Service
		slices []discoveryv1.EndpointSlice
		want   string // a substring of the change; "" for none
	}{
		{name: "unchanged", svc: svc(nil), want: ""},
		{name: "labels edited", svc: svc(func(s *corev1.Service) { s.Labels = map[string]string{"x": "y"} }), want: ""},
		{name: "deleted", svc: nil, want: "was deleted while"},
		{name: "re-created", svc: svc(func(s *corev1.Service) { s.UID = "u2" }), want: "deleted and created again"},
		{name: "re-created as ExternalName", svc: svc(func(s *corev1.Service) {
			s.UID, s.Spec = "u2", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "evil.example.com"}
		}), want: "deleted and created again"},
		{name: "retyped ExternalName", svc: svc(func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "evil.example.com"}
		}), want: "ExternalName"},
		{name: "selector removed", svc: svc(func(s *corev1.Service) { s.Spec.Selector = nil }), want: "has no selector"},
		{name: "hand-written EndpointSlice added", svc: svc(nil),
			slices: []discoveryv1.EndpointSlice{{ObjectMeta: metav1.ObjectMeta{Name: "evil", Labels: map[string]string{discoveryv1.LabelManagedBy: "mallory"}}}},
			want:   `EndpointSlice "evil"`},
		{name: "type changed", svc: svc(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }), want: "from type ClusterIP to NodePort"},
		{name: "port renumbered", svc: svc(func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }), want: "no longer sends port http to port 80"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := targetChange(lt, rec, tc.svc, tc.slices, policy.Default())
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("targetChange = %q; want it to contain %q", got, tc.want)
			}
			if strings.Contains(got, "evil.example.com") {
				t.Errorf("targetChange %q reveals the ExternalName's target", got)
			}
		})
	}
}

func TestDesiredLoadTestPod(t *testing.T) {
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns", UID: "uid-1", Generation: 3},
		Spec:       dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}},
	}
	tgt := &dilov1.RunTarget{Address: "10.97.0.7", Port: 80, Host: "web.ns.svc"}
	got, err := desiredLoadTestPod(lt, 3, 1, tgt, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "lt-3-1", Namespace: "ns",
			Annotations: map[string]string{"example.org/run-plan": `{"version":"dilo.example.org/runplan/v2",` +
				`"target":{"address":"10.97.0.7:80","host":"web.ns.svc"},"requests":[{"name":"default","weight":1,"method":"GET","path":"/"}],` +
				`"load":{"closed":{"concurrency":1,"requests":100}},"timeout":"10s",` +
				`"start":{"file":"/etc/dilo/start/at","timeout":"10m0s"},"resultFile":"/dev/termination-log",` +
				`"live":{"port":9090},"stop":{"file":"/etc/dilo/start/stop"}}`},
			Labels: map[string]string{
				"app.kubernetes.io/managed-by": "dilo", "example.org/loadtest": "lt", "example.org/run": "3", "example.org/replica": "1",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "example.org/v1", Kind: "LoadTest", Name: "lt", UID: "uid-1",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](10),
			ReadinessGates:                []corev1.PodReadinessGate{{ConditionType: "example.org/load-generator"}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    "agent",
				Image:   "img:1",
				Command: []string{"/agent", "run", "--plan-file=/etc/dilo/start/plan"},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
				},
				Resources:                resources("100m", "64Mi", "1", "256Mi"),
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Ports:                    []corev1.ContainerPort{{Name: "live", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
				VolumeMounts:             []corev1.VolumeMount{{Name: "start", MountPath: "/etc/dilo/start", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "start", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
				Items: []corev1.DownwardAPIVolumeFile{{Path: "at", FieldRef: &corev1.ObjectFieldSelector{
					APIVersion: "v1", FieldPath: "metadata.annotations['example.org/start-at']",
				}}, {Path: "stop", FieldRef: &corev1.ObjectFieldSelector{
					APIVersion: "v1", FieldPath: "metadata.annotations['example.org/stop-at']",
				}}, {Path: "plan", FieldRef: &corev1.ObjectFieldSelector{
					APIVersion: "v1", FieldPath: "metadata.annotations['example.org/run-plan']",
				}}},
			}}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desiredLoadTestPod (-want +got):\n%s", diff)
	}
	if n := len(dilov1.PodName(strings.Repeat("a", dilov1.MaxNameLength), 1<<62, dilov1.MaxReplicas-1)); n > 253 {
		t.Errorf("longest pod name is %d characters, more than 253", n)
	}
}

func TestAssessRun(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	names := []string{"p-0", "p-1"}
	type want struct {
		Reason                             string
		Pod                                string // the failure message names it
		Says                               string // and says it too
		AllExist, AllRunning, AllSucceeded bool
		Active, Succeeded, Failed          int32
		RequeueAfter                       time.Duration
	}
	for _, tc := range []struct {
		name      string
		pods      []*corev1.Pod
		executing bool
		start     time.Time
		deadline  *int64
		want      want
	}{{
		name: "pending: pods missing, not yet executing",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending)},
		want: want{Active: 1},
	}, {
		name: "all exist, pending",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending), testPod("p-1", corev1.PodRunning)},
		want: want{AllExist: true, Active: 2},
	}, {
		name: "all running",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning)},
		want: want{AllExist: true, AllRunning: true, Active: 2},
	}, {
		name: "all succeeded",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodSucceeded), testPod("p-1", corev1.PodSucceeded)},
		want: want{AllExist: true, AllSucceeded: true, Succeeded: 2},
	}, {
		name:  "all succeeded past the deadline: completion wins",
		pods:  []*corev1.Pod{testPod("p-0", corev1.PodSucceeded), testPod("p-1", corev1.PodSucceeded)},
		start: now.Add(-time.Hour), deadline: ptr.To[int64](60),
		want: want{AllExist: true, AllSucceeded: true, Succeeded: 2},
	}, {
		name: "pod failed",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodSucceeded), testPod("p-1", corev1.PodFailed, terminated("Error", 1, "agent: could not run: no start time"))},
		want: want{Reason: dilov1.ReasonPodFailed, Pod: "p-1", AllExist: true, Succeeded: 1, Failed: 1},
	}, {
		name: "first failing pod by replica decides",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending, waiting("ImagePullBackOff")), testPod("p-1", corev1.PodFailed)},
		want: want{Reason: dilov1.ReasonImagePullFailed, Pod: "p-0", AllExist: true, Active: 1, Failed: 1},
	}, {
		name: "ErrImagePull",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodPending, waiting("ErrImagePull"))},
		want: want{Reason: dilov1.ReasonImagePullFailed, Pod: "p-1", AllExist: true, Active: 2},
	}, {
		name: "InvalidImageName",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending, waiting("InvalidImageName")), testPod("p-1", corev1.PodPending)},
		want: want{Reason: dilov1.ReasonImagePullFailed, Pod: "p-0", AllExist: true, Active: 2},
	}, {
		name: "CreateContainerConfigError",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending), testPod("p-1", corev1.PodPending, waiting("CreateContainerConfigError"))},
		want: want{Reason: dilov1.ReasonContainerCreateFailed, Pod: "p-1", AllExist: true, Active: 2},
	}, {
		name: "ContainerCreating is normal",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending, waiting("ContainerCreating")), testPod("p-1", corev1.PodPending)},
		want: want{AllExist: true, Active: 2},
	}, {
		name: "OOMKilled, even before the phase says Failed",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning, terminated("OOMKilled", 137, ""))},
		want: want{Reason: dilov1.ReasonOOMKilled, Pod: "p-1", AllExist: true, AllRunning: true, Active: 2},
	}, {
		name: "evicted",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodFailed, statusReason("Evicted")), testPod("p-1", corev1.PodRunning)},
		want: want{Reason: dilov1.ReasonEvicted, Pod: "p-0", AllExist: true, Active: 1, Failed: 1},
	}, {
		name: "evicted through the Eviction API: marked, then deleted",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning),
			testPod("p-1", corev1.PodRunning, disrupted(corev1.ConditionTrue, "EvictionByEvictionAPI", "Eviction API: evicting"), deleting())},
		want: want{Reason: dilov1.ReasonEvicted, Pod: "p-1", Says: "EvictionByEvictionAPI: Eviction API: evicting",
			AllExist: true, AllRunning: true, Active: 2},
	}, {
		name: "preempted by the scheduler, ended",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodFailed, disrupted(corev1.ConditionTrue, "PreemptionByScheduler", "")), testPod("p-1", corev1.PodRunning)},
		want: want{Reason: dilov1.ReasonEvicted, Pod: "p-0", Says: "PreemptionByScheduler", AllExist: true, Active: 1, Failed: 1},
	}, {
		name: "deleted with DisruptionTarget not True: deleted, not evicted",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, disrupted(corev1.ConditionFalse, "EvictionByEvictionAPI", ""), deleting()), testPod("p-1", corev1.PodRunning)},
		want: want{Reason: dilov1.ReasonPodDeleted, Pod: "p-0", Says: "was deleted", AllExist: true, AllRunning: true, Active: 2},
	}, {
		name: "deleted by someone",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, deleting()), testPod("p-1", corev1.PodRunning)},
		want: want{Reason: dilov1.ReasonPodDeleted, Pod: "p-0", AllExist: true, AllRunning: true, Active: 2},
	}, {
		name:      "gone while executing",
		pods:      []*corev1.Pod{testPod("p-0", corev1.PodRunning)},
		executing: true,
		want:      want{Reason: dilov1.ReasonPodDeleted, Pod: "p-1", Active: 1},
	}, {
		name: "unschedulable within the grace: look again when it ends",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending, unschedulableSince(now.Add(-30*time.Second))), testPod("p-1", corev1.PodPending)},
		want: want{AllExist: true, Active: 2, RequeueAfter: 90 * time.Second},
	}, {
		name: "unschedulable without a transition time: the grace starts now",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending, unschedulableSince(time.Time{})), testPod("p-1", corev1.PodPending)},
		want: want{AllExist: true, Active: 2, RequeueAfter: 120 * time.Second},
	}, {
		name: "unschedulable past the grace",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodPending), testPod("p-1", corev1.PodPending, unschedulableSince(now.Add(-120*time.Second)))},
		want: want{Reason: dilov1.ReasonUnschedulable, Pod: "p-1", AllExist: true, Active: 2},
	}, {
		name:  "deadline ahead: look again then",
		pods:  []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning)},
		start: now.Add(-10 * time.Second), deadline: ptr.To[int64](60),
		want: want{AllExist: true, AllRunning: true, Active: 2, RequeueAfter: 50 * time.Second},
	}, {
		name:  "deadline and grace: the earlier",
		pods:  []*corev1.Pod{testPod("p-0", corev1.PodPending, unschedulableSince(now.Add(-100*time.Second))), testPod("p-1", corev1.PodRunning)},
		start: now.Add(-10 * time.Second), deadline: ptr.To[int64](60),
		want: want{AllExist: true, Active: 2, RequeueAfter: 20 * time.Second},
	}, {
		name:  "deadline exceeded",
		pods:  []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodSucceeded)},
		start: now.Add(-60 * time.Second), deadline: ptr.To[int64](60),
		want: want{Reason: dilov1.ReasonDeadlineExceeded, Active: 1, Succeeded: 1, AllExist: true},
	}, {
		name:  "a pod failure wins over the deadline",
		pods:  []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodFailed)},
		start: now.Add(-time.Hour), deadline: ptr.To[int64](60),
		want: want{Reason: dilov1.ReasonPodFailed, Pod: "p-1", Active: 1, Failed: 1, AllExist: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.start.IsZero() {
				tc.start = now
			}
			a := assessRun(runObservation{
				Replicas: 2, Names: names, Pods: podMap(tc.pods...), Executing: tc.executing,
				Start: tc.start, Deadline: time.Duration(ptr.Deref(tc.deadline, 0)) * time.Second, Now: now,
			})
			got := want{AllExist: a.AllExist, AllRunning: a.AllRunning, AllSucceeded: a.AllSucceeded,
				Active: a.Active, Succeeded: a.Succeeded, Failed: a.Failed, RequeueAfter: a.RequeueAfter}
			if a.Failure != nil {
				got.Reason = a.Failure.Reason
				got.Pod, got.Says = tc.want.Pod, tc.want.Says
				if tc.want.Pod != "" && !strings.Contains(a.Failure.Message, "pod "+tc.want.Pod) {
					t.Errorf("failure message %q does not name pod %s", a.Failure.Message, tc.want.Pod)
				}
				if !strings.Contains(a.Failure.Message, tc.want.Says) {
					t.Errorf("failure message %q does not say %q", a.Failure.Message, tc.want.Says)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("assessRun (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		seconds      int64
		now          time.Time
		wantExceeded bool
		wantLeft     time.Duration
	}{
		{"just started", 60, start, false, time.Minute},
		{"half way", 60, start.Add(30500 * time.Millisecond), false, 29500 * time.Millisecond},
		{"exactly at the deadline", 60, start.Add(time.Minute), true, 0},
		{"past it", 60, start.Add(time.Hour), true, 0},
		{"a week", 604800, start.Add(time.Hour), false, 167 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exceeded, left := deadline(start, time.Duration(tc.seconds)*time.Second, tc.now)
			if exceeded != tc.wantExceeded || left != tc.wantLeft {
				t.Errorf("deadline = %v, %v; want %v, %v", exceeded, left, tc.wantExceeded, tc.wantLeft)
			}
		})
	}
}

func TestStartGate(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	names := []string{"p-0", "p-1", "p-2"}
	sent := &metav1.Time{Time: time.Date(2026, 11, 28, 11, 59, 59, 0, time.UTC)}
	for _, tc := range []struct {
		name        string
		pods        []*corev1.Pod
		sent        *metav1.Time
		wantAt      string
		wantMissing []string
	}{{
		name: "not every pod exists",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning)},
	}, {
		name: "not every pod runs",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodPending), testPod("p-2", corev1.PodRunning)},
	}, {
		name:        "all running: now + delay on all",
		pods:        []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning), testPod("p-2", corev1.PodRunning)},
		wantAt:      "2026-11-28T12:00:05Z",
		wantMissing: names,
	}, {
		name: "opened halfway: the same instant on the rest",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")),
			testPod("p-2", corev1.PodRunning)},
		wantAt:      "2026-11-28T11:59:59Z",
		wantMissing: []string{"p-0", "p-2"},
	}, {
		name: "open: nothing to do",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")), testPod("p-1", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")),
			testPod("p-2", corev1.PodRunning, startAt("2026-11-28T11:59:59Z"))},
		wantAt: "2026-11-28T11:59:59Z",
	}, {
		// A reconcile that reads the pods before the cache saw the previous one annotate
		// them: the recorded instant, never a new one.
		name:        "recorded, pods stale in the cache: the recorded instant",
		pods:        []*corev1.Pod{testPod("p-0", corev1.PodRunning), testPod("p-1", corev1.PodRunning), testPod("p-2", corev1.PodRunning)},
		sent:        sent,
		wantAt:      "2026-11-28T11:59:59Z",
		wantMissing: names,
	}, {
		name: "recorded, all annotated: nothing to do",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")), testPod("p-1", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")),
			testPod("p-2", corev1.PodRunning, startAt("2026-11-28T11:59:59Z"))},
		sent:   sent,
		wantAt: "2026-11-28T11:59:59Z",
	}, {
		name: "recorded: it wins over a pod's other instant",
		pods: []*corev1.Pod{testPod("p-0", corev1.PodRunning, startAt("2026-11-28T12:00:30Z")), testPod("p-1", corev1.PodRunning, startAt("2026-11-28T11:59:59Z")),
			testPod("p-2", corev1.PodRunning, startAt("2026-11-28T11:59:59Z"))},
		sent:        sent,
		wantAt:      "2026-11-28T11:59:59Z",
		wantMissing: []string{"p-0"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			at, missing := startGate(names, podMap(tc.pods...), tc.sent, now, 5*time.Second)
			if at != tc.wantAt {
				t.Errorf("start at %q, want %q", at, tc.wantAt)
			}
			if diff := cmp.Diff(tc.wantMissing, missing, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("pods to annotate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectResults(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	names := []string{"p-0", "p-1"}
	ok0 := resultMessage(t, start, 100, 0, 10*time.Millisecond)
	ok1 := resultMessage(t, start, 100, 10, 10*time.Millisecond)
	// The logs of a two-request mix: 60 "list" and 40 "order" per pod.
	mixLog := func(tlsErrors int64) []byte {
		h := func(n int64) *histogram.Histogram {
			h := histogram.New(histogram.DefaultPrecision)
			for range n {
				h.Record(10 * time.Millisecond)
			}
			return h
		}
		order := podreport.RequestReport{Name: "order", Requests: 40, Codes: map[string]int64{"201": 40 - tlsErrors}, Latency: h(40 - tlsErrors)}
		rep := podreport.Report{Start: start, End: start.Add(time.Second), Requests: 100, Codes: map[string]int64{"200": 60}, Latency: h(100 - tlsErrors),
			ByRequest: []podreport.RequestReport{{Name: "list", Requests: 60, Codes: map[string]int64{"200": 60}, Latency: h(60)}, order}}
		if tlsErrors > 0 {
			rep.ByRequest[1].Errors, rep.ByRequest[1].ErrorsByClass = tlsErrors, map[string]int64{podreport.ClassTLS: tlsErrors}
			rep.Errors, rep.ErrorsByClass, rep.TLSError = tlsErrors, map[string]int64{podreport.ClassTLS: tlsErrors}, "x509: certificate signed by unknown authority"
		}
		if n := 40 - tlsErrors; n > 0 {
			rep.Codes["201"] = n
		}
		b, err := rep.EncodeFull()
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte("100 requests in 1.00s\nagent: a line on stderr\n"), append(b, '\n')...)
	}
	for _, tc := range []struct {
		name        string
		msgs        []string
		logs        map[string][]byte
		th          *dilov1.Thresholds
		mix         bool
		wantReq     int64 // 0: no results
		wantByReq   []string
		wantReason  string
		wantMessage string
		wantNote    string
	}{
		{name: "merged", msgs: []string{ok0, ok1}, wantReq: 200},
		{name: "thresholds kept", msgs: []string{ok0, ok1}, th: &dilov1.Thresholds{MaxErrorRatio: "0.05", MaxP99: &metav1.Duration{Duration: time.Second}}, wantReq: 200},
		{name: "threshold broken", msgs: []string{ok0, ok1}, th: &dilov1.Thresholds{MaxErrorRatio: "0.01"}, wantReq: 200,
			wantReason: dilov1.ReasonThresholdBroken, wantMessage: "error ratio 0.0500 exceeds maxErrorRatio 0.01"},
		{name: "unreadable", msgs: []string{ok0, "agent: could not run"}, wantReason: dilov1.ReasonResultUnreadable, wantMessage: "pod p-1: "},
		{name: "empty", msgs: []string{"", ok1}, wantReason: dilov1.ReasonResultUnreadable, wantMessage: "pod p-0: "},
		{name: "the logs' full documents win", msgs: []string{ok0, ok1}, mix: true,
			logs:    map[string][]byte{"p-0": mixLog(0), "p-1": mixLog(0)},
			wantReq: 200, wantByReq: []string{"list 120", "order 80"}},
		{name: "a log unreadable: totals only, and a note why", msgs: []string{ok0, ok1}, mix: true,
			logs:    map[string][]byte{"p-0": mixLog(0), "p-1": []byte("rotated away\n")},
			wantReq: 200, wantNote: "pod p-1"},
		{name: "TLS errors fail the run, naming the first", msgs: []string{ok0, ok1}, mix: true,
			logs:    map[string][]byte{"p-0": mixLog(0), "p-1": mixLog(40)},
			wantReq: 200, wantByReq: []string{"list 120", "order 80"},
			wantReason: dilov1.ReasonTLSFailed, wantMessage: "40 of 200 requests failed the TLS handshake with Service ns/web: x509: certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := podMap(testPod("p-0", corev1.PodSucceeded, terminated("Completed", 0, tc.msgs[0])),
				testPod("p-1", corev1.PodSucceeded, terminated("Completed", 0, tc.msgs[1])))
			res, f, note := collectResults(podResults{names: names, pods: pods, logs: tc.logs}, tc.th, nil, "Service ns/web", tc.mix)
			var gotReq int64
			var gotByReq []string
			if res != nil {
				gotReq = res.Requests
				if res.Pods != 2 {
					t.Errorf("results from %d pods, want 2", res.Pods)
				}
				for _, r := range res.ByRequest {
					gotByReq = append(gotByReq, fmt.Sprintf("%s %d", r.Name, r.Requests))
				}
			}
			gotReason, gotMessage := "", ""
			if f != nil {
				gotReason, gotMessage = f.Reason, f.Message
			}
			if gotReq != tc.wantReq || gotReason != tc.wantReason || !strings.Contains(gotMessage, tc.wantMessage) {
				t.Errorf("collectResults = %d requests, %q %q; want %d, %q containing %q", gotReq, gotReason, gotMessage, tc.wantReq, tc.wantReason, tc.wantMessage)
			}
			if diff := cmp.Diff(tc.wantByReq, gotByReq); diff != "" {
				t.Errorf("results by request (-want +got):\n%s", diff)
			}
			if (tc.wantNote == "") != (note == "") || !strings.Contains(note, tc.wantNote) {
				t.Errorf("note %q, want one containing %q", note, tc.wantNote)
			}
		})
	}
}

func TestTTLLeft(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ended := func(state dilov1.State, ttl *int32, end time.Time) *dilov1.LoadTest {
		lt := &dilov1.LoadTest{Spec: dilov1.LoadTestSpec{TTLSecondsAfterFinished: ttl}, Status: dilov1.LoadTestStatus{State: state}}
		if !end.IsZero() {
			lt.Status.CompletionTime = &metav1.Time{Time: end}
		}
		return lt
	}
	for _, tc := range []struct {
		name     string
		lt       *dilov1.LoadTest
		wantLeft time.Duration
		wantOK   bool
	}{
		{"no TTL", ended(dilov1.StateFinished, nil, now), 0, false},
		{"executing", ended(dilov1.StateExecuting, ptr.To[int32](10), time.Time{}), 0, false},
		{"finished, not yet", ended(dilov1.StateFinished, ptr.To[int32](10), now.Add(-4*time.Second)), 6 * time.Second, true},
		{"failed, passed", ended(dilov1.StateFailed, ptr.To[int32](10), now.Add(-11*time.Second)), -time.Second, true},
		{"0: at once", ended(dilov1.StateFinished, ptr.To[int32](0), now), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			left, ok := ttlLeft(tc.lt, now)
			if left != tc.wantLeft || ok != tc.wantOK {
				t.Errorf("ttlLeft() = %v, %v; want %v, %v", left, ok, tc.wantLeft, tc.wantOK)
			}
		})
	}
}

// TestRunSpecHashIgnoresTTL: editing the TTL fields of an ended run does not start a
// new run; editing the pod template does.
func TestRunSpecHashIgnoresTTL(t *testing.T) {
	spec := dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}}
	base, _ := runSpecHash(spec)
	withTTL := spec
	withTTL.TTLSecondsAfterFinished, withTTL.TTLDeletesLoadTest = ptr.To[int32](5), true
	if h, _ := runSpecHash(withTTL); h != base {
		t.Errorf("the TTL fields changed the run spec hash")
	}
	withTemplate := spec
	withTemplate.PodTemplate = &dilov1.AgentPodTemplate{Metadata: dilov1.AgentPodMetadata{Labels: map[string]string{"team": "a"}}}
	if h, _ := runSpecHash(withTemplate); h == base {
		t.Errorf("the pod template did not change the run spec hash")
	}
}

// TestDesiredLoadTestPodTemplate: spec.podTemplate adds labels, annotations, resources
// and scheduling constraints; DiLO's labels and its start-at and run-plan annotations win.
func TestDesiredLoadTestPodTemplate(t *testing.T) {
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: "lt", Namespace: "ns", UID: "uid-1", Generation: 3},
		Spec:       dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{ServiceName: "web", Path: "/"}},
	}
	tgt := &dilov1.RunTarget{Address: "10.97.0.7", Port: 80, Host: "web.ns.svc"}
	want, err := desiredLoadTestPod(lt, 3, 1, tgt, "img:1")
	if err != nil {
		t.Fatal(err)
	}

	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "load", Effect: corev1.TaintEffectNoSchedule}}
	affinity := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}},
		}}},
	}}
	lt.Spec.PodTemplate = &dilov1.AgentPodTemplate{
		Metadata: dilov1.AgentPodMetadata{
			Labels: map[string]string{"team": "perf", "example.org/run": "999", "app.kubernetes.io/managed-by": "me"},
			Annotations: map[string]string{"sidecar.istio.io/inject": "false", "example.org/start-at": "2020-01-01T00:00:00Z",
				"example.org/run-plan": `{"version":"dilo.example.org/runplan/v1"}`},
		},
		Spec: dilov1.AgentPodSpec{
			Resources: resources.DeepCopy(), NodeSelector: map[string]string{"pool": "load"},
			Tolerations: tolerations, Affinity: affinity.DeepCopy(),
		},
	}
	got, err := desiredLoadTestPod(lt, 3, 1, tgt, "img:1")
	if err != nil {
		t.Fatal(err)
	}

	want.Labels["team"] = "perf"
	want.Annotations["sidecar.istio.io/inject"] = "false"
	want.Spec.Containers[0].Resources = resources
	want.Spec.NodeSelector = map[string]string{"pool": "load"}
	want.Spec.Tolerations = tolerations
	want.Spec.Affinity = affinity
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desiredLoadTestPod with a pod template (-want +got):\n%s", diff)
	}
	got.Spec.Affinity.NodeAffinity = nil
	if lt.Spec.PodTemplate.Spec.Affinity.NodeAffinity == nil {
		t.Errorf("the pod shares the LoadTest's affinity: a change of the pod changed the spec")
	}
}

func TestReferenceProblem(t *testing.T) {
	secret := dilov1.ValueRef{Secret: true, Name: "token", Key: "value", Field: "spec.test.headers[0].valueFrom"}
	cm := dilov1.ValueRef{Name: "orders", Key: "order.json", Field: "spec.test.body.valueFrom"}
	notFound := apierrors.NewNotFound(corev1.Resource("secrets"), "token")
	forbidden := apierrors.NewForbidden(corev1.Resource("configmaps"), "orders", errors.New("no"))
	for _, tc := range []struct {
		name string
		ref  dilov1.ValueRef
		err  error
		keys []string
		want string // the message; "" for no failure
	}{
		{"there", secret, nil, []string{"value"}, ""},
		{"missing", secret, notFound, nil, "Secret ns/token (spec.test.headers[0].valueFrom) does not exist"},
		{"no key", cm, nil, []string{"a", "b"}, `ConfigMap ns/orders (spec.test.body.valueFrom) has no key "order.json"`},
		{"forbidden", cm, forbidden, nil, "ConfigMap ns/orders (spec.test.body.valueFrom) cannot be read by DiLO's manager"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := referenceProblem("ns", tc.ref, tc.err, tc.keys)
			switch {
			case tc.want == "" && f != nil:
				t.Errorf("referenceProblem = %+v, want none", f)
			case tc.want != "" && (f == nil || f.Reason != dilov1.ReasonReferenceNotFound || !strings.HasPrefix(f.Message, tc.want)):
				t.Errorf("referenceProblem = %+v, want ReferenceNotFound %q", f, tc.want)
			}
		})
	}
}
