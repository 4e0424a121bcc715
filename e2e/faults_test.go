//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestPodFaults breaks one pod of a run that is sending load, the way a cluster does, and
// checks the documented outcome (api/v1/loadtest_reasons.go): the run ends failed with
// the reason of the fault and a message naming the pod, a Warning event of that reason
// is recorded, and the run's pods that had not ended are deleted (the broken pod, if it
// ended, stays for its logs).
func TestPodFaults(t *testing.T) {
	ns := newNamespace(t)

	t.Run("deleted", func(t *testing.T) {
		lt, pods := startedRun(t, ns, "deleted")
		victim := pods[1]
		if err := k8s.Delete(ctx(t), &victim); err != nil {
			t.Fatalf("failed to delete pod %s: %v", victim.Name, err)
		}
		t.Logf("deleted pod %s", victim.Name)
		waitFailure(t, lt, dilov1.ReasonPodDeleted, "pod "+victim.Name)
		waitRunPods(t, lt)
	})

	t.Run("evicted", func(t *testing.T) {
		lt, pods := startedRun(t, ns, "evicted")
		victim := pods[1]
		err := clientset.CoreV1().Pods(ns).EvictV1(ctx(t), &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: victim.Name},
		})
		if err != nil {
			t.Fatalf("failed to evict pod %s: %v", victim.Name, err)
		}
		t.Logf("evicted pod %s through the Eviction API", victim.Name)
		// The Eviction API marks the pod DisruptionTarget=True (EvictionByEvictionAPI)
		// before it deletes it: an eviction, not a plain delete.
		waitFailure(t, lt, dilov1.ReasonEvicted, "pod "+victim.Name, "EvictionByEvictionAPI")
		waitRunPods(t, lt)
	})

	t.Run("agent killed on the node", func(t *testing.T) {
		ctrd := nodeContainerd(t)
		lt, pods := startedRun(t, ns, "killed")
		victim := pods[1]
		ctrd.kill(t, &victim)
		t.Logf("killed the agent of pod %s with SIGKILL through containerd", victim.Name)
		waitFailure(t, lt, dilov1.ReasonPodFailed, "pod "+victim.Name, "exited with code 137")
		// The killed pod ended (Failed): it stays, for its logs; the others are deleted.
		waitRunPods(t, lt, victim.Name)
	})
}

// faultReplicas is how many pods a run of TestPodFaults has: the second one is broken.
const faultReplicas = 3

// startedRun creates a LoadTest name in ns of faultReplicas pods sending 20 GETs a second
// each for 10 minutes (far longer than the test), waits until it is executing and every
// agent has passed the start gate, and returns it and its pods, by replica.
func startedRun(t *testing.T, ns, name string) (*dilov1.LoadTest, []corev1.Pod) {
	t.Helper()
	lt := loadTest(ns, name, faultReplicas, "/", 0)
	lt.Spec.Test.Repeat = nil
	lt.Spec.Test.Rate, lt.Spec.Test.DurationSeconds = ptr[int32](20), ptr[int32](600)
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateExecuting, 2*time.Minute)
	names := make([]string, faultReplicas)
	for r := range names {
		names[r] = fmt.Sprintf("%s-%d-%d", lt.Name, lt.Status.Run, r)
	}
	var pods []corev1.Pod
	// The agents start sending at the start-at instant DiLO sets on all pods once they
	// all run; a second past it, every agent is sending.
	eventually(t, 2*time.Minute, "the agents of "+lt.Name+" to start sending", func() (bool, string) {
		pods = pods[:0]
		var at time.Time
		for _, n := range names {
			p := &corev1.Pod{}
			if err := k8s.Get(ctx(t), client.ObjectKey{Namespace: ns, Name: n}, p); err != nil {
				return false, fmt.Sprintf("pod %s: %v", n, err)
			}
			if p.Status.Phase != corev1.PodRunning {
				return false, fmt.Sprintf("pod %s is %s", n, p.Status.Phase)
			}
			v := p.Annotations[dilov1.AnnotationStartAt]
			a, err := time.Parse(time.RFC3339, v)
			if err != nil || (!at.IsZero() && !a.Equal(at)) {
				return false, fmt.Sprintf("pod %s has %s=%q (others %v)", n, dilov1.AnnotationStartAt, v, at)
			}
			at = a
			pods = append(pods, *p)
		}
		return time.Now().After(at.Add(time.Second)), fmt.Sprintf("the agents start at %v", at)
	})
	if s := get(t, lt).Status.State; s != dilov1.StateExecuting {
		t.Fatalf("LoadTest %s is %s once its agents started; want %s", lt.Name, s, dilov1.StateExecuting)
	}
	return lt, pods
}

// waitFailure waits until lt's run has failed, and checks its Failed condition's reason,
// that its message holds each of want, and that a Warning event of that reason was
// recorded for lt.
func waitFailure(t *testing.T, lt *dilov1.LoadTest, reason string, want ...string) {
	t.Helper()
	lt = waitState(t, lt, dilov1.StateFailed, 2*time.Minute)
	c := findCondition(lt, dilov1.ConditionFailed)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("LoadTest %s is failed without a Failed=True condition: %+v", lt.Name, lt.Status.Conditions)
	}
	t.Logf("Failed condition: reason %s, message %q", c.Reason, c.Message)
	for _, w := range want {
		if !strings.Contains(c.Message, w) {
			t.Errorf("Failed condition message %q does not say %q", c.Message, w)
		}
	}
	if c.Reason != reason {
		t.Fatalf("Failed condition reason %s; want %s (message %q)", c.Reason, reason, c.Message)
	}
	sel := fields.Set{"involvedObject.name": lt.Name, "reason": reason, "type": corev1.EventTypeWarning}.String()
	eventually(t, time.Minute, "a Warning event "+reason+" for "+lt.Name, func() (bool, string) {
		evs, err := clientset.CoreV1().Events(lt.Namespace).List(ctx(t), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return false, err.Error()
		}
		return len(evs.Items) > 0, fmt.Sprintf("no event matches %s", sel)
	})
}

// waitRunPods waits until the pods of lt's run are exactly keep: the failed run's pods
// that were still running are deleted, and none is created again.
func waitRunPods(t *testing.T, lt *dilov1.LoadTest, keep ...string) {
	t.Helper()
	lt = get(t, lt)
	sel := dilov1.LabelLoadTest + "=" + lt.Name + "," + dilov1.LabelRun + "=" + fmt.Sprint(lt.Status.Run)
	slices.Sort(keep)
	eventually(t, 2*time.Minute, fmt.Sprintf("the pods of run %s/%d to be %v", lt.Name, lt.Status.Run, keep), func() (bool, string) {
		pods := podsOf(t, lt.Namespace, sel)
		slices.Sort(pods)
		return slices.Equal(pods, keep), fmt.Sprintf("pods %v", pods)
	})
}

// containerd is the containerd the cluster's kubelet runs containers with, driven by its
// ctr client in the Kubernetes namespace: the local cluster's (hack/cluster/up.sh), or a
// kind node's through docker exec.
type containerd struct {
	cmd   []string // ctr and its connection flags
	where string   // for messages
}

// nodeContainerd is the kind node's containerd when $DILO_KIND_NODE names the node's
// container (make e2e-kind sets it), else the local cluster's. It skips the test when
// there is none to reach: docker or ctr missing, or no socket ($CONTAINERD_ADDRESS, else
// $DILO_CACHE/cluster/run/containerd.sock).
func nodeContainerd(t *testing.T) containerd {
	t.Helper()
	if node := os.Getenv("DILO_KIND_NODE"); node != "" {
		docker, err := exec.LookPath("docker")
		if err != nil {
			t.Skip("needs docker to reach the kind node's containerd; not found:", err)
		}
		return containerd{cmd: []string{docker, "exec", node, "ctr", "--namespace", "k8s.io"}, where: "kind node " + node}
	}
	ctr, err := exec.LookPath("ctr")
	if err != nil {
		t.Skip("needs containerd's ctr to kill a container from the node; not found:", err)
	}
	address := os.Getenv("CONTAINERD_ADDRESS")
	if address == "" {
		address = filepath.Join(diloCache(), "cluster", "run", "containerd.sock")
	}
	if !fileExists(address) {
		t.Skipf("needs the cluster's containerd socket on this machine (the local cluster of make cluster-up; "+
			"set CONTAINERD_ADDRESS otherwise); %s does not exist", address)
	}
	return containerd{cmd: []string{ctr, "--address", address, "--namespace", "k8s.io"}, where: address}
}

// kill sends SIGKILL to the agent container of pod through containerd, as the node's
// kernel or runtime would; it skips the test when that container is not in this
// containerd (the cluster runs elsewhere).
func (c containerd) kill(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	var id string
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == "agent" {
			id = cs.ContainerID
		}
	}
	rt, cid, ok := strings.Cut(id, "://")
	if !ok || rt != "containerd" {
		t.Skipf("pod %s's agent container is %q, not a containerd container", pod.Name, id)
	}
	if out, err := c.run(t, "task", "ps", cid); err != nil {
		t.Skipf("pod %s's agent container %s is not a task of the containerd of %s (the cluster does not run there?): %v: %s",
			pod.Name, cid, c.where, err, out)
	}
	if out, err := c.run(t, "task", "kill", "--signal", "SIGKILL", cid); err != nil {
		t.Fatalf("failed to kill pod %s's agent container %s: %v: %s", pod.Name, cid, err, out)
	}
}

// run runs ctr, and returns its combined output.
func (c containerd) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cx, c.cmd[0], append(c.cmd[1:], args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// diloCache is where DiLO's scripts keep what they build and run: $DILO_CACHE, else
// ~/.cache/dilo.
func diloCache() string {
	if c := os.Getenv("DILO_CACHE"); c != "" {
		return c
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(c, "dilo")
}
