//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestSearchPathLookAlike is the attack on the pods' DNS search path: in a namespace
// named "svc", a headless Service named like the victim's namespace, with a pod whose
// hostname is the victim Service's name, answers for "nginx.<victim>.svc.svc.cluster.local",
// which the search path tries for the short name "nginx.<victim>.svc" before the real
// one. Every request of the victim's LoadTest must reach its own Service, Host header
// its name, and none the look-alike.
func TestSearchPathLookAlike(t *testing.T) {
	victim := newNamespace(t)
	attacker := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "svc"}}
	if err := k8s.Create(ctx(t), attacker); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), attacker) })
	lookAlike := map[string]string{"app": "look-alike"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc", Name: "look-alike-" + victim, Labels: lookAlike},
		Spec: corev1.PodSpec{
			Hostname: "nginx", Subdomain: victim,
			// It serves on port 80, the victim Service's port, where the search path
			// sends the victim's requests.
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				Sysctls:        []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}},
			Containers: []corev1.Container{{
				Name: "target", Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"/target", "-addr=:80"},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc", Name: victim},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: lookAlike, PublishNotReadyAddresses: true,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	create(t, headless)
	create(t, pod)
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), pod)
		_ = k8s.Delete(context.Background(), headless)
	})
	eventually(t, 2*time.Minute, "the look-alike pod", func() (bool, string) {
		p := get(t, pod)
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "", fmt.Sprintf("phase %s", p.Status.Phase)
	})
	lookAlikeIP := get(t, pod).Status.PodIP
	checkLookAlikeAnswers(t, "nginx."+victim+".svc.svc.cluster.local.", lookAlikeIP)

	lt := loadTest(victim, "pinned", 2, "/", 25)
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateFinished, 3*time.Minute)
	if r := lt.Status.Results; r == nil || r.Requests != 50 || r.Errors != 0 {
		t.Errorf("results %+v; want 50 requests, no error", r)
	}
	if got := servedByHost(t, "svc", pod.Name, "80"); len(got) != 0 {
		t.Errorf("the look-alike pod was sent %v; want nothing", got)
	}
	host := "nginx." + victim + ".svc"
	if got := servedByTarget(t, victim); got[host] != 50 || len(got) != 1 {
		t.Errorf("the victim's target was sent %v; want 50 requests with Host %s", got, host)
	}
}

// checkLookAlikeAnswers makes sure the attack is set up: cluster DNS answers name with
// the look-alike's address. Where the cluster's DNS is not reachable from here,
// it only says so.
func checkLookAlikeAnswers(t *testing.T, name, ip string) {
	t.Helper()
	dns := &corev1.Service{}
	if err := k8s.Get(ctx(t), client.ObjectKey{Namespace: "kube-system", Name: "kube-dns"}, dns); err != nil {
		t.Logf("no kube-dns Service to ask (%v)", err)
		return
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, net.JoinHostPort(dns.Spec.ClusterIP, "53"))
	}}
	var addrs []string
	eventually(t, 30*time.Second, "cluster DNS to answer "+name, func() (bool, string) {
		c, cancel := context.WithTimeout(ctx(t), 3*time.Second)
		defer cancel()
		var err error
		addrs, err = r.LookupHost(c, name)
		if err != nil && strings.Contains(err.Error(), "i/o timeout") {
			return true, ""
		}
		return err == nil && len(addrs) > 0, fmt.Sprint(err)
	})
	if len(addrs) == 0 {
		t.Logf("cluster DNS at %s is not reachable from here: the look-alike's answer is not checked", dns.Spec.ClusterIP)
		return
	}
	if len(addrs) != 1 || addrs[0] != ip {
		t.Fatalf("cluster DNS answers %s with %v; want the look-alike's %s (the attack is not set up)", name, addrs, ip)
	}
}

// TestTargetReplacedMidRun deletes the Service of a going run and creates it again as an
// ExternalName alias of an outside host: the run fails, TargetChanged, and its pods stop.
func TestTargetReplacedMidRun(t *testing.T) {
	ns := newNamespace(t)
	lt := loadTest(ns, "replaced", 2, "/", 1)
	lt.Spec.Test.Repeat = nil
	lt.Spec.Test.Rate, lt.Spec.Test.DurationSeconds = ptr[int32](20), ptr[int32](120)
	create(t, lt)
	eventually(t, 2*time.Minute, "the run to send", func() (bool, string) {
		got := servedByTarget(t, ns)
		return got["nginx."+ns+".svc"] > 0, fmt.Sprintf("target served %v", got)
	})
	// A Service selecting the load pods (as a podTemplate label could make one) never
	// gets them as ready endpoints: they are never Ready.
	catch := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "catch"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{dilov1.LabelLoadTest: lt.Name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	create(t, catch)
	eventually(t, time.Minute, "the load pods listed as endpoints of Service catch, not ready", func() (bool, string) {
		var slices discoveryv1.EndpointSliceList
		if err := k8s.List(ctx(t), &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "catch"}); err != nil {
			return false, err.Error()
		}
		var seen int
		for _, es := range slices.Items {
			for _, ep := range es.Endpoints {
				if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
					t.Fatalf("load pod %v is a ready endpoint of Service catch", ep.TargetRef)
				}
				seen++
			}
		}
		return seen == 2, fmt.Sprintf("%d endpoints", seen)
	})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx"}}
	if err := k8s.Delete(ctx(t), svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the Service to be gone", func() (bool, string) {
		err := k8s.Get(ctx(t), client.ObjectKeyFromObject(svc), &corev1.Service{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	create(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"},
	})
	waitFailure(t, lt, dilov1.ReasonTargetChanged, "deleted")
	eventually(t, time.Minute, "the run's pods to stop", func() (bool, string) {
		pods := podsOf(t, ns, dilov1.LabelLoadTest+"="+lt.Name)
		return len(pods) == 0, fmt.Sprintf("pods %v", pods)
	})
}

// servedByTarget is what the demo target of ns was sent, by Host header.
func servedByTarget(t *testing.T, ns string) map[string]int64 {
	t.Helper()
	var list corev1.PodList
	if err := k8s.List(ctx(t), &list, client.InNamespace(ns), client.MatchingLabels{"app": "dilo-target"}); err != nil {
		t.Fatal(err)
	}
	total := map[string]int64{}
	for _, p := range list.Items {
		for h, n := range servedByHost(t, ns, p.Name, "8080") {
			total[h] += n
		}
	}
	return total
}

// servedByHost asks a pod running /target, through the API server's pod proxy, what it
// was sent, by Host header.
func servedByHost(t *testing.T, ns, pod, port string) map[string]int64 {
	t.Helper()
	raw, err := clientset.CoreV1().Pods(ns).ProxyGet("http", pod, port, "/requests", nil).DoRaw(ctx(t))
	if err != nil {
		t.Fatalf("failed to ask pod %s/%s what it served: %v", ns, pod, err)
	}
	got := map[string]int64{}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("pod %s/%s served %q: %v", ns, pod, raw, err)
	}
	return got
}
