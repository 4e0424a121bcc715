package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// setupQueue is setup with a manager that lets at most limit runs execute at once in
// the namespace.
func setupQueue(t *testing.T, limit int) (string, *manager) {
	t.Helper()
	t.Parallel()
	ns, err := env.CreateNamespace(context.Background(), nsPrefix(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	createService(t, ns, "web", corev1.ServiceTypeClusterIP)
	return ns, startManagerWith(t, ns, func(r *LoadTestReconciler) { r.MaxRunningPerNamespace = limit })
}

// watchRunning polls, every 20ms until the test ends, which LoadTests of namespace ns
// have pods that have not ended, and fails the test when more than limit do.
func watchRunning(t *testing.T, ns string, limit int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seen []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			var list corev1.PodList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err == nil {
				var running []string
				for i := range list.Items {
					if lt := list.Items[i].Labels[dilov1.LabelLoadTest]; !podEnded(&list.Items[i]) && !slices.Contains(running, lt) {
						running = append(running, lt)
					}
				}
				if mu.Lock(); len(running) > limit && len(seen) < 5 {
					seen = append(seen, strings.Join(running, ","))
				}
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if len(seen) > 0 {
			t.Errorf("more than %d LoadTests had pods that had not ended, e.g. %v", limit, seen)
		}
	})
}

// queueState reads the LoadTests and splits them into those that hold a slot (by name)
// and those that wait, Queued (in queue order).
func queueState(ctx context.Context, lts []*dilov1.LoadTest) (running, queued []*dilov1.LoadTest, err error) {
	for _, lt := range lts {
		got := &dilov1.LoadTest{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lt), got); err != nil {
			return nil, nil, err
		}
		switch {
		case holdsSlot(got):
			running = append(running, got)
		case meta.IsStatusConditionTrue(got.Status.Conditions, dilov1.ConditionQueued):
			queued = append(queued, got)
		}
	}
	slices.SortFunc(queued, queueOrder)
	return running, queued, nil
}

// waitQueue waits until, of lts, nRunning execute with all their pods and nQueued wait
// Queued, without pods, their message naming every running one; it returns them.
func waitQueue(t *testing.T, lts []*dilov1.LoadTest, nRunning, nQueued int) (running, queued []*dilov1.LoadTest) {
	t.Helper()
	err := testenv.Eventually(context.Background(), wait, func(context.Context) error {
		var err error
		// Read without the deadline, so that the last error says what is wrong.
		if running, queued, err = queueState(context.Background(), lts); err != nil {
			return err
		}
		var names []string
		for _, lt := range running {
			if lt.Status.State != dilov1.StateExecuting || len(lt.Status.Children) != int(lt.Spec.Replicas) {
				return fmt.Errorf("%s holds a slot but is not executing with all its pods: %+v", lt.Name, lt.Status)
			}
			names = append(names, lt.Name)
		}
		if len(running) != nRunning || len(queued) != nQueued {
			return fmt.Errorf("running %v, %d queued; want %d running, %d queued", names, len(queued), nRunning, nQueued)
		}
		for _, lt := range queued {
			c := meta.FindStatusCondition(lt.Status.Conditions, dilov1.ConditionQueued)
			want := fmt.Sprintf("waiting for a free slot: %d of 2 runs allowed at once in namespace %s", nRunning, lt.Namespace)
			if lt.Status.State != dilov1.StatePending || c.Reason != dilov1.ReasonQueued || !strings.HasPrefix(c.Message, want) ||
				!strings.Contains(c.Message, "("+strings.Join(names, ", ")+")") {
				return fmt.Errorf("queued %s: state %s, Queued condition %+v, want it to name %v", lt.Name, lt.Status.State, c, names)
			}
			if pods := runPods(t, lt, 0); len(pods) > 0 {
				return fmt.Errorf("queued %s has %d pods", lt.Name, len(pods))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return running, queued
}

// finishRun takes a LoadTest's run through the start gate to its end: every pod
// succeeds with a result.
func finishRun(t *testing.T, lt *dilov1.LoadTest) {
	t.Helper()
	pods := waitPods(t, lt, lt.Status.Run, int(lt.Spec.Replicas))
	runAll(t, pods)
	at, err := time.Parse(time.RFC3339, waitStartAt(t, lt, lt.Status.Run))
	if err != nil {
		t.Fatal(err)
	}
	msg := resultMessage(t, at, 10, 0, time.Millisecond)
	for _, p := range pods {
		setPodStatus(t, p.Name, p.Namespace, succeeded(msg))
	}
	waitState(t, lt, dilov1.StateFinished)
}

// waitAdmitted waits until a LoadTest that was queued executes with all its pods, its
// Queued condition False.
func waitAdmitted(t *testing.T, lt *dilov1.LoadTest) *dilov1.LoadTest {
	t.Helper()
	got := waitFor(t, lt, "admitted and executing", func(got *dilov1.LoadTest) bool {
		c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionQueued)
		return got.Status.State == dilov1.StateExecuting && len(got.Status.Children) == int(got.Spec.Replicas) &&
			c != nil && c.Status == metav1.ConditionFalse && c.Reason == dilov1.ReasonAdmitted &&
			strings.HasPrefix(c.Message, "started after ")
	})
	waitPods(t, lt, got.Status.Run, int(got.Spec.Replicas))
	return got
}

// TestLoadTestQueueFlood is the attack "one author floods the namespace": with at most
// 2 runs at once, 4 LoadTests created together start 2 runs; the other 2 wait, pending,
// without pods, Queued naming the running ones; they start in queue order, the first
// when a run finishes, the second when a running LoadTest is deleted (its pods go
// after it). Nothing fails, and at no moment do more than 2 LoadTests have pods that
// have not ended.
func TestLoadTestQueueFlood(t *testing.T) {
	ns, _ := setupQueue(t, 2)
	watchRunning(t, ns, 2)
	var lts []*dilov1.LoadTest
	for i := range 4 {
		lts = append(lts, createLoadTest(t, ns, fmt.Sprintf("flood-%d", i), 2, nil))
	}

	running, queued := waitQueue(t, lts, 2, 2)
	consistently(t, time.Second, func() error {
		for _, lt := range queued {
			if pods := runPods(t, lt, 0); len(pods) > 0 {
				return fmt.Errorf("queued %s has %d pods", lt.Name, len(pods))
			}
		}
		return nil
	})
	// The runs were created together: the last one's message may have been written
	// before the one ahead of it joined the queue, and is rewritten when it does.
	waitFor(t, queued[1], "naming the run ahead of it, "+queued[0].Name, func(got *dilov1.LoadTest) bool {
		c := meta.FindStatusCondition(got.Status.Conditions, dilov1.ConditionQueued)
		return c != nil && strings.HasSuffix(c.Message, "; 1 run is ahead of this one in the queue ("+queued[0].Name+")")
	})
	waitEvents(t, queued[0], "Queued")
	waitEvents(t, queued[1], "Queued")

	// A run ends: the first queued run starts, counting its deadline from now.
	finished := time.Now().Truncate(time.Second)
	finishRun(t, running[0])
	next := waitAdmitted(t, queued[0])
	if next.Status.StartTime.Before(&metav1.Time{Time: finished}) {
		t.Errorf("admitted run's startTime %v is before the slot freed (%v)", next.Status.StartTime, finished)
	}
	waitEvents(t, next, "Admitted")
	running, queued = waitQueue(t, lts, 2, 1)
	if names := []string{running[0].Name, running[1].Name}; !slices.Contains(names, next.Name) {
		t.Errorf("running %v, want %s among them", names, next.Name)
	}

	// A running LoadTest is deleted: the last queued run starts once its pods are gone.
	last, deleted := queued[0], running[0]
	deleteAndWait(t, deleted)
	waitAdmitted(t, last)
	lts = slices.DeleteFunc(lts, func(lt *dilov1.LoadTest) bool { return lt.Name == deleted.Name })
	waitQueue(t, lts, 2, 0)
	for _, lt := range lts {
		if got := waitFor(t, lt, "read", func(*dilov1.LoadTest) bool { return true }); got.Status.State == dilov1.StateFailed {
			t.Errorf("%s failed: %+v", got.Name, got.Status.Conditions)
		}
	}
}

// TestLoadTestQueueManagerRestart checks that the queue is in status, not in the
// manager: a run queued by one manager starts under the next one once the run ahead of
// it finished while no manager ran.
func TestLoadTestQueueManagerRestart(t *testing.T) {
	ns, mgr := setupQueue(t, 1)
	first := createLoadTest(t, ns, "first", 1, nil)
	first = waitState(t, first, dilov1.StateExecuting)
	second := createLoadTest(t, ns, "second", 1, nil)
	waitFor(t, second, "queued", func(got *dilov1.LoadTest) bool {
		return meta.IsStatusConditionTrue(got.Status.Conditions, dilov1.ConditionQueued)
	})
	pods := waitPods(t, first, 1, 1)
	runAll(t, pods)
	at, err := time.Parse(time.RFC3339, waitStartAt(t, first, 1))
	if err != nil {
		t.Fatal(err)
	}
	mgr.stop()

	setPodStatus(t, pods[0].Name, ns, succeeded(resultMessage(t, at, 10, 0, time.Millisecond)))
	startManagerWith(t, ns, func(r *LoadTestReconciler) { r.MaxRunningPerNamespace = 1 })
	waitState(t, first, dilov1.StateFinished)
	waitAdmitted(t, second)
}
