package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

func TestAgentPlan(t *testing.T) {
	tgt := &dilov1.RunTarget{Address: "10.97.0.7", Port: 8080, Host: "web.ns.svc:8080"}
	plan := func(addr, host, path, method string, load runplan.Load, timeout time.Duration) runplan.Plan {
		return runplan.Plan{
			Version: runplan.Version,
			Target:  runplan.Target{Address: addr, Host: host, Path: path, Method: method},
			Load:    load, Timeout: runplan.Duration(timeout),
			Start:      &runplan.Start{File: "/etc/dilo/start/at", Timeout: runplan.Duration(10 * time.Minute)},
			ResultFile: "/dev/termination-log",
		}
	}
	closed := func(c int, n int64) runplan.Load {
		return runplan.Load{Closed: &runplan.Closed{Concurrency: c, Requests: n}}
	}
	for _, tc := range []struct {
		name string
		test dilov1.TestSpec
		tgt  *dilov1.RunTarget
		want runplan.Plan
	}{{
		name: "defaults when unset",
		test: dilov1.TestSpec{Path: "/x"},
		want: plan("10.97.0.7:8080", "web.ns.svc:8080", "/x", "GET", closed(1, 100), 10*time.Second),
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
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tgt == nil {
				tc.tgt = tgt
			}
			got := agentPlan(tc.test, tc.tgt)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("agentPlan (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil { // the agent takes it
				t.Errorf("agentPlan is invalid: %v", err)
			}
		})
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
			Annotations: map[string]string{"example.org/run-plan": `{"version":"dilo.example.org/runplan/v1",` +
				`"target":{"address":"10.97.0.7:80","host":"web.ns.svc","path":"/","method":"GET"},` +
				`"load":{"closed":{"concurrency":1,"requests":100}},"timeout":"10s",` +
				`"start":{"file":"/etc/dilo/start/at","timeout":"10m0s"},"resultFile":"/dev/termination-log"}`},
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
				VolumeMounts:             []corev1.VolumeMount{{Name: "start", MountPath: "/etc/dilo/start", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "start", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
				Items: []corev1.DownwardAPIVolumeFile{{Path: "at", FieldRef: &corev1.ObjectFieldSelector{
					APIVersion: "v1", FieldPath: "metadata.annotations['example.org/start-at']",
				}}, {Path: "plan", FieldRef: &corev1.ObjectFieldSelector{
					APIVersion: "v1", FieldPath: "metadata.annotations['example.org/run-plan']",
				}}},
			}}}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("desiredLoadTestPod (-want +got):\n%s", diff)
	}
	if n := len(loadTestPodName(strings.Repeat("a", dilov1.MaxNameLength), 1<<62, dilov1.MaxReplicas-1)); n > 253 {
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
	for _, tc := range []struct {
		name        string
		pods        []*corev1.Pod
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
	}} {
		t.Run(tc.name, func(t *testing.T) {
			at, missing := startGate(names, podMap(tc.pods...), now, 5*time.Second)
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
	for _, tc := range []struct {
		name        string
		msgs        []string
		th          *dilov1.Thresholds
		wantReq     int64 // 0: no results
		wantReason  string
		wantMessage string
	}{
		{name: "merged", msgs: []string{ok0, ok1}, wantReq: 200},
		{name: "thresholds kept", msgs: []string{ok0, ok1}, th: &dilov1.Thresholds{MaxErrorRatio: "0.05", MaxP99: &metav1.Duration{Duration: time.Second}}, wantReq: 200},
		{name: "threshold broken", msgs: []string{ok0, ok1}, th: &dilov1.Thresholds{MaxErrorRatio: "0.01"}, wantReq: 200,
			wantReason: dilov1.ReasonThresholdBroken, wantMessage: "error ratio 0.0500 exceeds maxErrorRatio 0.01"},
		{name: "unreadable", msgs: []string{ok0, "agent: could not run"}, wantReason: dilov1.ReasonResultUnreadable, wantMessage: "pod p-1: "},
		{name: "empty", msgs: []string{"", ok1}, wantReason: dilov1.ReasonResultUnreadable, wantMessage: "pod p-0: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := podMap(testPod("p-0", corev1.PodSucceeded, terminated("Completed", 0, tc.msgs[0])),
				testPod("p-1", corev1.PodSucceeded, terminated("Completed", 0, tc.msgs[1])))
			res, f := collectResults(names, pods, tc.th)
			var gotReq int64
			if res != nil {
				gotReq = res.Requests
				if res.Pods != 2 {
					t.Errorf("results from %d pods, want 2", res.Pods)
				}
			}
			gotReason, gotMessage := "", ""
			if f != nil {
				gotReason, gotMessage = f.Reason, f.Message
			}
			if gotReq != tc.wantReq || gotReason != tc.wantReason || !strings.Contains(gotMessage, tc.wantMessage) {
				t.Errorf("collectResults = %d requests, %q %q; want %d, %q containing %q", gotReq, gotReason, gotMessage, tc.wantReq, tc.wantReason, tc.wantMessage)
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
