//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// The tests of this file disrupt DiLO's manager (kill it, scale it). They never call
// t.Parallel: Go runs parallel tests only after every sequential one has returned, so a
// sequential test has DiLO to itself. Each restores one ready manager whose webhooks
// answer, in t.Cleanup, before the next test starts.

const (
	managerNamespace  = "dilo-system"
	managerDeployment = "dilo-controller-manager"
	managerSelector   = "control-plane=controller-manager,app.kubernetes.io/name=dilo"
	leaseName         = "dilo.example.org"
)

// TestManagerKilledMidRun kills the manager 10 times at random points of 3 runs (pending,
// waiting at the start gate, sending, collecting): every run still finishes with all its
// results, and no run ever has more pods than replicas, nor a pod created twice.
func TestManagerKilledMidRun(t *testing.T) {
	disruptsManager(t)
	ns := newNamespace(t)
	pods := watchPods(t, ns)
	const replicas, repeat = 3, 150
	kills := []int{4, 3, 3} // per run: 10 in all
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, seed))
	t.Logf("random seed %d", seed)

	var lts []*dilov1.LoadTest
	for i, n := range kills {
		lt := loadTest(ns, fmt.Sprintf("killed-%d", i), replicas, "/slow?ms=200", repeat) // 30 s of load
		createWhenWebhookAnswers(t, lt)
		lts = append(lts, lt)
		for k := range n {
			// the first kill while the pods start or wait at the gate, the others while they send
			time.Sleep(time.Duration(rnd.IntN(4000)) * time.Millisecond)
			cur := get(t, lt)
			killManager(t)
			t0 := time.Now()
			leader := waitLeader(t, time.Minute)
			t.Logf("run %d, kill %d: killed the manager while %s was %q (%d active, %d succeeded); %s leads %v later",
				i, k+1, lt.Name, cur.Status.State, cur.Status.Active, cur.Status.Succeeded, leader,
				time.Since(t0).Round(100*time.Millisecond))
		}
	}
	for _, lt := range lts {
		lt = waitState(t, lt, dilov1.StateFinished, 2*time.Minute)
		s := lt.Status
		if s.Results == nil || s.Results.Pods != replicas || s.Results.Requests != replicas*repeat || s.Results.Errors != 0 {
			t.Errorf("%s: results %+v; want %d pods, %d requests, 0 errors", lt.Name, s.Results, replicas, replicas*repeat)
		}
		if !hasCondition(lt, dilov1.ConditionComplete) {
			t.Errorf("%s: no Complete=True condition: %+v", lt.Name, s.Conditions)
		}
		want := make([]string, replicas)
		for r := range replicas {
			want[r] = fmt.Sprintf("%s-%d-%d", lt.Name, s.Run, r)
		}
		if got := slices.Sorted(slices.Values(s.Children)); !slices.Equal(got, want) || s.Succeeded != replicas {
			t.Errorf("%s: children %v, succeeded %d; want %v and %d", lt.Name, s.Children, s.Succeeded, want, replicas)
		}
		if got := podsOf(t, ns, dilov1.LabelLoadTest+"="+lt.Name); len(got) != replicas {
			t.Errorf("%s: pods %v; want exactly %d", lt.Name, got, replicas)
		}
	}
	// Every pod name ever seen was created once (one UID), and only the replicas' names.
	for name, uids := range pods.seen() {
		if len(uids) != 1 {
			t.Errorf("pod %s was created %d times (UIDs %v)", name, len(uids), uids)
		}
	}
	if got := len(pods.seen()); got != replicas*len(kills) {
		t.Errorf("%d pods were created; want %d: %v", got, replicas*len(kills), pods.seen())
	}
}

// TestLeaderElectionTakeover runs two managers and kills the leader mid-run: the standby
// takes the Lease and finishes the run.
func TestLeaderElectionTakeover(t *testing.T) {
	disruptsManager(t)
	ns := newNamespace(t)
	scaleManager(t, 2)
	eventually(t, 2*time.Minute, "2 ready managers", func() (bool, string) {
		_, ready := managers(t)
		return len(ready) == 2, fmt.Sprintf("ready managers %v", ready)
	})
	leader := waitLeader(t, time.Minute)
	standby := ""
	_, ready := managers(t)
	for _, p := range ready {
		if p != leader {
			standby = p
		}
	}
	t.Logf("leader %s, standby %s", leader, standby)

	lt := loadTest(ns, "takeover", 3, "/slow?ms=200", 40) // ~8 s of load
	createWhenWebhookAnswers(t, lt)
	waitState(t, lt, dilov1.StateExecuting, 2*time.Minute)
	if err := k8s.Delete(ctx(t), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: leader}},
		client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("failed to kill the leader %s: %v", leader, err)
	}
	// Back to one manager at once: the ReplicaSet deletes the leader's not-yet-ready
	// replacement first, so the standby is the only one that can take over.
	scaleManager(t, 1)
	t0 := time.Now()
	eventually(t, time.Minute, "the standby to take the Lease", func() (bool, string) {
		h := leaseHolder(t)
		if h == leader {
			return false, "the killed leader " + leader + " still holds it"
		}
		return h == standby, "holder " + h
	})
	t.Logf("the standby took the Lease %v after the leader was killed", time.Since(t0).Round(time.Second))
	lt = waitState(t, lt, dilov1.StateFinished, 2*time.Minute)
	if r := lt.Status.Results; r == nil || r.Pods != 3 || r.Requests != 120 || r.Errors != 0 {
		t.Errorf("results %+v; want 3 pods, 120 requests, 0 errors", r)
	}
}

// TestWebhookUnreachable applies a LoadTest while no manager runs: the API server refuses it
// (the webhooks' failurePolicy is Fail) with an error naming DiLO's webhook, and nothing is
// created.
func TestWebhookUnreachable(t *testing.T) {
	disruptsManager(t)
	ns := newNamespace(t)
	scaleManager(t, 0)
	eventually(t, 2*time.Minute, "no manager pods", func() (bool, string) {
		pods, _ := managers(t)
		return len(pods) == 0, fmt.Sprintf("pods %v", pods)
	})
	out, err := kubectl(t, `{apiVersion: example.org/v1, kind: LoadTest, metadata: {name: unadmitted},
		spec: {replicas: 1, test: {serviceName: nginx, path: /}}}`, "apply", "-n", ns, "-f", "-")
	t.Logf("kubectl apply: %s", strings.TrimSpace(out))
	if err == nil {
		t.Fatalf("kubectl apply succeeded with no webhook to call; want an error. Output:\n%s", out)
	}
	for _, w := range []string{"failed calling webhook", "example.org", "dilo-webhook-service"} {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl apply's error does not say %q:\n%s", w, out)
		}
	}
	lt := &dilov1.LoadTest{}
	if err := k8s.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: "unadmitted"}, lt); !apierrors.IsNotFound(err) {
		t.Errorf("get the refused LoadTest: %v; want NotFound", err)
	}
	if pods := podsOf(t, ns, dilov1.LabelLoadTest); len(pods) != 0 {
		t.Errorf("pods %v; want none", pods)
	}
}

// ---------------------------------------------------------------- helpers

// disruptsManager registers the restoration of DiLO's manager when the test ends: one
// replica, ready, leading, its webhooks answering.
func disruptsManager(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		scaleManager(t, 1)
		eventually(t, 3*time.Minute, "one ready manager", func() (bool, string) {
			all, ready := managers(t)
			return len(all) == 1 && len(ready) == 1, fmt.Sprintf("pods %v, ready %v", all, ready)
		})
		waitWebhook(t, 2*time.Minute)
		waitLeader(t, time.Minute)
	})
}

// scaleManager sets the manager Deployment's replicas (a merge patch: no conflict with the
// Deployment controller's own writes).
func scaleManager(t *testing.T, replicas int32) {
	t.Helper()
	c := context.Background() // also from t.Cleanup, after the test's context is done
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	if _, err := clientset.AppsV1().Deployments(managerNamespace).Patch(c, managerDeployment,
		types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("failed to scale the manager to %d: %v", replicas, err)
	}
}

// managers are the names of the manager pods, and of those that are Ready and not being deleted.
func managers(t *testing.T) (all, ready []string) {
	t.Helper()
	pods := &corev1.PodList{}
	if err := k8s.List(context.Background(), pods, client.InNamespace(managerNamespace),
		client.MatchingLabelsSelector{Selector: mustSelector(t, managerSelector)}); err != nil {
		t.Fatalf("failed to list the manager's pods: %v", err)
	}
	for _, p := range pods.Items {
		all = append(all, p.Name)
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
				ready = append(ready, p.Name)
			}
		}
	}
	return all, ready
}

// killManager deletes every manager pod with no grace period.
func killManager(t *testing.T) {
	t.Helper()
	if err := k8s.DeleteAllOf(ctx(t), &corev1.Pod{}, client.InNamespace(managerNamespace),
		client.MatchingLabelsSelector{Selector: mustSelector(t, managerSelector)}, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("failed to kill the manager: %v", err)
	}
}

// leaseHolder is the pod name in the manager's leader-election Lease ("" when none holds
// it): controller-runtime's identity is the hostname, the pod's name, then _ and a UUID.
func leaseHolder(t *testing.T) string {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: managerNamespace, Name: leaseName}, l); err != nil {
		if apierrors.IsNotFound(err) {
			return ""
		}
		t.Fatalf("failed to get the Lease: %v", err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return pod
}

// waitLeader waits until a ready manager pod holds the Lease, and returns its name.
func waitLeader(t *testing.T, timeout time.Duration) string {
	t.Helper()
	var h string
	eventually(t, timeout, "a ready manager to lead", func() (bool, string) {
		h = leaseHolder(t)
		_, ready := managers(t)
		return slices.Contains(ready, h), fmt.Sprintf("holder %q, ready managers %v", h, ready)
	})
	return h
}

// waitWebhook waits until DiLO's webhooks answer a server-side dry run.
func waitWebhook(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "DiLO's webhooks to answer", func() (bool, string) {
		sd := &dilov1.SimpleDeployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dilo-e2e-probe"},
			Spec:       dilov1.SimpleDeploymentSpec{Sleepytime: ptr(intstr.FromInt32(1))},
		}
		err := k8s.Create(context.Background(), sd, client.DryRunAll)
		return err == nil, fmt.Sprint(err)
	})
}

// createWhenWebhookAnswers creates o, retrying while DiLO's webhooks are unreachable (a
// manager just killed).
func createWhenWebhookAnswers(t *testing.T, o client.Object) {
	t.Helper()
	eventually(t, 2*time.Minute, "the create of "+o.GetName(), func() (bool, string) {
		err := k8s.Create(ctx(t), o)
		if err != nil && !strings.Contains(err.Error(), "failed calling webhook") {
			t.Fatalf("failed to create %T %s: %v", o, o.GetName(), err)
		}
		return err == nil, fmt.Sprint(err)
	})
}

// podWatch records the UIDs of every pod seen under each name in a namespace.
type podWatch struct {
	mu   sync.Mutex
	uids map[string][]string
}

func (w *podWatch) seen() map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string][]string, len(w.uids))
	for k, v := range w.uids {
		out[k] = slices.Clone(v)
	}
	return out
}

// watchPods records the LoadTest pods of ns until the test ends. It watches with a client
// of its own, without the 30 s timeout, and watches again from where it was when the API
// server ends a watch.
func watchPods(t *testing.T, ns string) *podWatch {
	t.Helper()
	cfg, err := config.GetConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 0
	pods := kubernetes.NewForConfigOrDie(cfg).CoreV1().Pods(ns)
	w := &podWatch{uids: map[string][]string{}}
	c, cancel := context.WithCancel(context.Background())
	list, err := pods.List(c, metav1.ListOptions{LabelSelector: dilov1.LabelLoadTest})
	if err != nil {
		cancel()
		t.Fatalf("failed to list pods: %v", err)
	}
	for i := range list.Items {
		w.record(&list.Items[i])
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		rv := list.ResourceVersion
		for c.Err() == nil {
			wi, err := pods.Watch(c, metav1.ListOptions{LabelSelector: dilov1.LabelLoadTest, ResourceVersion: rv})
			if err != nil {
				t.Logf("failed to watch pods (retrying): %v", err)
				time.Sleep(time.Second)
				continue
			}
			for ev := range wi.ResultChan() {
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Error {
					w.record(p)
					rv = p.ResourceVersion
				} else if ev.Type == watch.Error {
					rv = "" // too old: start again from the current pods
				}
			}
			wi.Stop()
		}
	}()
	return w
}

func (w *podWatch) record(p *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.uids[p.Name], string(p.UID)) {
		w.uids[p.Name] = append(w.uids[p.Name], string(p.UID))
	}
}
