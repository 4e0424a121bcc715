//go:build e2e

// Package e2e checks DiLO end to end on a real cluster: the one $KUBECONFIG names, with DiLO
// deployed (make deploy) and its image, holding /target, loaded. Each test works in its own
// namespace next to the demo target (a Deployment of /target behind a Service named nginx),
// with real pods, and polls with deadlines.
//
//	go test -tags e2e ./e2e/...        (make e2e brings up a local cluster first)
//
// E2E_KEEP=1 keeps the test namespaces for a look afterwards.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
)

var (
	k8s       client.Client
	clientset *kubernetes.Clientset
	image     = envOr("DILO_IMAGE", "localhost/dilo:dev")
)

func TestMain(m *testing.M) {
	cfg, err := config.GetConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: no cluster:", err)
		os.Exit(1)
	}
	cfg.Timeout = 30 * time.Second
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme.New()}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	clientset = kubernetes.NewForConfigOrDie(cfg)
	cleanup := startEveryMinute()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestLoadTestSample runs the tutorial's LoadTest (5 pods, 10 GETs each) to finished.
func TestLoadTestSample(t *testing.T) {
	ns := newNamespace(t)
	lt := &dilov1.LoadTest{}
	readYAML(t, "example-02.yaml", lt)
	lt.Namespace = ns
	create(t, lt)

	lt = waitState(t, lt, dilov1.StateFinished, 3*time.Minute)
	r := lt.Status.Results
	if r == nil {
		t.Fatalf("finished without status.results: %+v", lt.Status)
	}
	if r.Pods != 5 || r.Requests != 50 || r.Errors != 0 {
		t.Errorf("results: pods %d, requests %d, errors %d; want 5, 50, 0", r.Pods, r.Requests, r.Errors)
	}
	if lt.Status.Succeeded != 5 || len(lt.Status.Children) != 5 {
		t.Errorf("status: succeeded %d, children %v; want 5 and 5", lt.Status.Succeeded, lt.Status.Children)
	}
	if !hasCondition(lt, dilov1.ConditionComplete) {
		t.Errorf("no Complete=True condition: %+v", lt.Status.Conditions)
	}
	t.Logf("results: %d requests, %d errors, %s req/s, p50 %v, p99 %v", r.Requests, r.Errors,
		r.RequestsPerSecond, r.Latency.P50.Duration, r.Latency.P99.Duration)
}

// TestSpecUpdateRestartsRun edits a running LoadTest: its pods are replaced by a new run's.
func TestSpecUpdateRestartsRun(t *testing.T) {
	ns := newNamespace(t)
	lt := loadTest(ns, "restart", 2, "/slow?ms=200", 1000) // about 200 s per pod
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateExecuting, 2*time.Minute)
	oldRun := lt.Status.ObservedGeneration
	oldPods := lt.Status.Children

	lt.Spec.Test.Path = "/"
	lt.Spec.Test.Repeat = ptr[int32](10)
	if err := k8s.Update(ctx(t), lt); err != nil {
		t.Fatalf("failed to edit the running LoadTest: %v", err)
	}
	newGen := lt.Generation
	eventually(t, 2*time.Minute, "the new run to finish", func() (bool, string) {
		cur := get(t, lt)
		return cur.Status.ObservedGeneration == newGen && cur.Status.State == dilov1.StateFinished,
			fmt.Sprintf("generation %d, status %+v", newGen, cur.Status)
	})
	eventually(t, time.Minute, "the old run's pods to go", func() (bool, string) {
		pods := podsOf(t, ns, dilov1.LabelLoadTest+"="+lt.Name+","+dilov1.LabelRun+"="+fmt.Sprint(oldRun))
		return len(pods) == 0, fmt.Sprintf("old run %d still has pods %v (were %v)", oldRun, pods, oldPods)
	})
	if got := get(t, lt).Status.Results; got == nil || got.Requests != 20 {
		t.Errorf("new run's results %+v; want 20 requests", got)
	}
}

// TestDeleteRemovesPods deletes a running LoadTest: its pods go with it.
func TestDeleteRemovesPods(t *testing.T) {
	ns := newNamespace(t)
	lt := loadTest(ns, "delete-me", 2, "/slow?ms=200", 1000)
	create(t, lt)
	sel := dilov1.LabelLoadTest + "=" + lt.Name
	eventually(t, 2*time.Minute, "the LoadTest's pods", func() (bool, string) {
		pods := podsOf(t, ns, sel)
		return len(pods) == 2, fmt.Sprintf("pods %v", pods)
	})
	if err := k8s.Delete(ctx(t), lt); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the pods to be deleted", func() (bool, string) {
		pods := podsOf(t, ns, sel)
		return len(pods) == 0, fmt.Sprintf("pods %v", pods)
	})
}

// TestThresholdBreakFails runs a test whose latency breaks its p50 threshold: failed.
func TestThresholdBreakFails(t *testing.T) {
	ns := newNamespace(t)
	lt := loadTest(ns, "too-slow", 1, "/slow?ms=50", 5)
	lt.Spec.Thresholds = &dilov1.Thresholds{MaxP50: &metav1.Duration{Duration: time.Millisecond}}
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateFailed, 3*time.Minute)
	c := findCondition(lt, dilov1.ConditionFailed)
	if c == nil || c.Reason != dilov1.ReasonThresholdBroken {
		t.Errorf("Failed condition %+v; want reason %s", c, dilov1.ReasonThresholdBroken)
	}
	if lt.Status.Results == nil || lt.Status.Results.Requests != 5 {
		t.Errorf("results %+v; want the run's 5 requests", lt.Status.Results)
	}
}

// TestApplyRejectsBadObjects applies invalid objects with kubectl: each is refused with an
// error that names the field.
func TestApplyRejectsBadObjects(t *testing.T) {
	ns := newNamespace(t)
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{{
		name: "zero replicas",
		yaml: `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: bad-replicas},
			spec: {replicas: 0, test: {serviceName: nginx, path: /}}}`,
		want: []string{"spec.replicas"},
	}, {
		name: "replicas above the manager's cap",
		yaml: `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: bad-cap},
			spec: {replicas: 500, test: {serviceName: nginx, path: /}}}`,
		want: []string{"spec.replicas", "500"},
	}, {
		name: "missing service",
		yaml: `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: bad-service},
			spec: {replicas: 1, test: {serviceName: no-such-service, path: /}}}`,
		want: []string{"spec.test.serviceName", "no-such-service"},
	}, {
		name: "relative path",
		yaml: `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: bad-path},
			spec: {replicas: 1, test: {serviceName: nginx, path: "index.html"}}}`,
		want: []string{"spec.test.path"},
	}, {
		name: "rate without duration",
		yaml: `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: bad-rate},
			spec: {replicas: 1, test: {serviceName: nginx, path: /, rate: 10}}}`,
		want: []string{"spec.test.durationSeconds: Required value: must be set when rate is"},
	}, {
		name: "sleepytime not a number",
		yaml: `{apiVersion: example.org/v1, kind: SimpleDeployment, metadata: {name: bad-sleep},
			spec: {sleepytime: "two minutes"}}`,
		want: []string{"spec.sleepytime"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := kubectl(t, tc.yaml, "apply", "-n", ns, "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply succeeded; want an error naming %q. Output:\n%s", tc.want, out)
			}
			t.Logf("kubectl apply: %s", strings.TrimSpace(out))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl apply's error does not name %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestSimpleDeploymentSample applies the tutorial's SimpleDeployment unchanged: its pod runs
// and prints the line; deleting it removes the pod.
func TestSimpleDeploymentSample(t *testing.T) {
	ns := newNamespace(t)
	sd := &dilov1.SimpleDeployment{}
	readYAML(t, "example-01.yaml", sd)
	sd.Namespace = ns
	create(t, sd)
	sel := dilov1.LabelSimpleDeployment + "=" + sd.Name
	var pod string
	eventually(t, 2*time.Minute, "the SimpleDeployment's pod to run", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := k8s.List(ctx(t), pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: mustSelector(t, sel)}); err != nil {
			return false, err.Error()
		}
		if len(pods.Items) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods.Items))
		}
		pod = pods.Items[0].Name
		return pods.Items[0].Status.Phase == corev1.PodRunning, fmt.Sprintf("pod %s is %s", pod, pods.Items[0].Status.Phase)
	})
	eventually(t, time.Minute, "the pod's line", func() (bool, string) {
		b, err := clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).Do(ctx(t)).Raw()
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(string(b), "I'm so very useful!"), fmt.Sprintf("logs: %q", b)
	})
	if got := get(t, sd).Status.Children; len(got) != 1 || got[0] != pod {
		t.Errorf("status.children %v; want [%s]", got, pod)
	}
	if err := k8s.Delete(ctx(t), sd); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the pod to be deleted", func() (bool, string) {
		pods := podsOf(t, ns, sel)
		return len(pods) == 0, fmt.Sprintf("pods %v", pods)
	})
}

// ---------------------------------------------------------------- helpers

// newNamespace creates a namespace for one test, with the demo target in it (Deployment and
// Service "nginx" running /target), ready; it is deleted when the test ends.
func newNamespace(t *testing.T) string {
	t.Helper()
	return newLabelledNamespace(t, nil)
}

// newLabelledNamespace is newNamespace with labels on the namespace.
func newLabelledNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	nsObj, err := createTargetNamespace(ctx(t), "dilo-e2e-", labels)
	if nsObj != nil {
		t.Cleanup(func() {
			if os.Getenv("E2E_KEEP") == "1" || (t.Failed() && os.Getenv("E2E_KEEP_FAILED") == "1") {
				t.Logf("kept namespace %s", nsObj.Name)
				return
			}
			_ = k8s.Delete(context.Background(), nsObj)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	ns := nsObj.Name
	eventually(t, 2*time.Minute, "the demo target", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "nginx"}, d); err != nil {
			return false, err.Error()
		}
		return d.Status.AvailableReplicas >= 1, fmt.Sprintf("deployment status %+v", d.Status)
	})
	return ns
}

// createTargetNamespace creates a namespace named from prefix, with labels, and the demo
// target in it (TargetObjects), without waiting for the target to be ready. The
// namespace is returned, to delete, once it exists, even with an error.
func createTargetNamespace(c context.Context, prefix string, labels map[string]string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Labels: labels}}
	if err := k8s.Create(c, ns); err != nil {
		return nil, fmt.Errorf("failed to create a namespace: %w", err)
	}
	for _, o := range TargetObjects(ns.Name, image) {
		if err := k8s.Create(c, o); err != nil {
			return ns, fmt.Errorf("failed to create %T %s: %w", o, o.GetName(), err)
		}
	}
	return ns, nil
}

// TargetObjects are the demo target: a Deployment running /target of image and a Service
// named nginx on port 80 in front of it (the tutorial's LoadTest sends to "nginx").
func TargetObjects(ns, image string) []client.Object {
	labels := map[string]string{"app": "dilo-target"}
	no := false
	yes := true
	return []client.Object{
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
						Containers: []corev1.Container{{
							Name:            "target",
							Image:           image,
							ImagePullPolicy: corev1.PullIfNotPresent,
							Command:         []string{"/target"},
							Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
								HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
								PeriodSeconds: 1},
							SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
								ReadOnlyRootFilesystem: &yes,
								Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
						}},
					},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
			Spec: corev1.ServiceSpec{
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		},
	}
}

// loadTest returns a LoadTest of replicas pods sending repeat GETs of path to nginx.
func loadTest(ns, name string, replicas int32, path string, repeat int32) *dilov1.LoadTest {
	return &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: dilov1.LoadTestSpec{
			Replicas: replicas,
			Test:     dilov1.TestSpec{ServiceName: "nginx", Path: path, Repeat: ptr(repeat)},
		},
	}
}

// waitState polls the LoadTest until its current run (of its current generation) reaches
// state, and returns it; any other final state fails the test at once.
func waitState(t *testing.T, lt *dilov1.LoadTest, state dilov1.State, timeout time.Duration) *dilov1.LoadTest {
	t.Helper()
	var cur *dilov1.LoadTest
	eventually(t, timeout, "LoadTest "+lt.Name+" to be "+string(state), func() (bool, string) {
		cur = get(t, lt)
		s := cur.Status
		if s.ObservedGeneration == cur.Generation && s.State != state &&
			(s.State == dilov1.StateFinished || s.State == dilov1.StateFailed) {
			t.Fatalf("LoadTest %s is %s, want %s: %+v", lt.Name, s.State, state, s)
		}
		return s.ObservedGeneration == cur.Generation && s.State == state, fmt.Sprintf("status %+v", s)
	})
	return cur
}

func hasCondition(lt *dilov1.LoadTest, typ string) bool {
	c := findCondition(lt, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

func findCondition(lt *dilov1.LoadTest, typ string) *metav1.Condition {
	for i := range lt.Status.Conditions {
		if lt.Status.Conditions[i].Type == typ {
			return &lt.Status.Conditions[i]
		}
	}
	return nil
}

// eventually calls check every second until it reports done, and fails the test with
// check's last message when timeout has passed.
func eventually(t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, msg := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, msg)
		}
		time.Sleep(time.Second)
	}
}

func podsOf(t *testing.T, ns, selector string) []string {
	t.Helper()
	pods := &corev1.PodList{}
	if err := k8s.List(ctx(t), pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: mustSelector(t, selector)}); err != nil {
		t.Fatalf("failed to list pods: %v", err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	return names
}

func create(t *testing.T, o client.Object) {
	t.Helper()
	if err := k8s.Create(ctx(t), o); err != nil {
		t.Fatalf("failed to create %T %s: %v", o, o.GetName(), err)
	}
}

func get[T client.Object](t *testing.T, o T) T {
	t.Helper()
	cur := o.DeepCopyObject().(T)
	if err := k8s.Get(ctx(t), client.ObjectKeyFromObject(o), cur); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("failed to get %s: %v", o.GetName(), err)
	}
	return cur
}

func readYAML(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// kubectl runs kubectl ($KUBECTL, else the pinned one hack/k8s-bin.sh builds, else PATH's)
// with stdin, and returns its combined output.
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, kubectlPath(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func kubectlPath() string {
	if p := os.Getenv("KUBECTL"); p != "" {
		return p
	}
	cache := os.Getenv("DILO_CACHE")
	if cache == "" {
		if c, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(c, "dilo")
		}
	}
	if v := pinnedVersion("K8S_VERSION"); v != "" {
		if p := filepath.Join(cache, "k8s", v, "kubectl"); fileExists(p) {
			return p
		}
	}
	return "kubectl"
}

// pinnedVersion returns the value of name in hack/versions.env, where the repository pins
// the versions it builds and tests against, or "" when the file or the name is missing.
// The file holds NAME=value lines and comments; the tests run in e2e/, so it is one up.
func pinnedVersion(name string) string {
	data, err := os.ReadFile(filepath.Join("..", "hack", "versions.env"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// ctx is the test's context; every API call also has the client's 30 s timeout.
func ctx(t *testing.T) context.Context { return t.Context() }

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func ptr[T any](v T) *T { return &v }
