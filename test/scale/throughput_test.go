//go:build scale

package scale

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/testenv"
)

// phaseTimeout bounds one phase of the throughput benchmark.
const phaseTimeout = 4 * time.Minute

// TestPodThroughput times how long DiLO takes to create the pods of N LoadTests of 2
// replicas, and the Job controller the pods of N Jobs of parallelism 2, on the same
// API server, in alternating order; goal: DiLO's total time at most the Job
// controller's (ratio ≤ 1).
func TestPodThroughput(t *testing.T) {
	env := jobControlPlane(t)
	q, b := qps()
	n := envInt("SCALE_LOADTESTS", 500)
	rounds := envInt("SCALE_ROUNDS", 2)

	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = q, b
	stopDiLO := startDiLO(t, env, cfg)
	defer stopDiLO()

	// Warm up both controllers: each has created a pod before anything is timed.
	warm := namespace(t, env, "warmup")
	if _, err := timePods(t, env, warm, 2, func(ctx context.Context) error {
		if err := env.Client.Create(ctx, loadTest(warm, "warm", 1)); err != nil {
			return err
		}
		return env.Client.Create(ctx, job(warm, "warm", 1))
	}); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	cleanup(t, env, warm)

	phases := map[string]func(context.Context, string) error{
		"dilo": func(ctx context.Context, ns string) error {
			return createAll(ctx, env.Client, n, 8, func(i int) client.Object { return loadTest(ns, fmt.Sprintf("lt-%d", i), 2) })
		},
		"job": func(ctx context.Context, ns string) error {
			return createAll(ctx, env.Client, n, 8, func(i int) client.Object { return job(ns, fmt.Sprintf("job-%d", i), 2) })
		},
	}
	total := map[string]time.Duration{}
	for round := range rounds {
		order := []string{"dilo", "job"}
		if round%2 == 1 {
			order = []string{"job", "dilo"}
		}
		for _, name := range order {
			ns := namespace(t, env, "throughput-"+name)
			d, err := timePods(t, env, ns, 2*n, func(ctx context.Context) error { return phases[name](ctx, ns) })
			if err != nil {
				t.Fatalf("round %d, %s: %v", round+1, name, err)
			}
			total[name] += d
			fmt.Printf("throughput round=%d %s: %d pods in %.2fs (%.0f pods/s) load=%s\n",
				round+1, name, 2*n, d.Seconds(), float64(2*n)/d.Seconds(), loadAverage())
			cleanup(t, env, ns)
		}
	}
	ratio := total["dilo"].Seconds() / total["job"].Seconds()
	fmt.Printf("throughput: %d×2 pods, %d rounds, client qps=%g burst=%d for DiLO and kube-controller-manager: "+
		"dilo=%.2fs job=%.2fs ratio=%.2f (goal ≤ 1.0)\n", n, rounds, q, b, total["dilo"].Seconds(), total["job"].Seconds(), ratio)
	if ratio > 1.0 {
		t.Errorf("DiLO created its pods %.2f× slower than the Job controller; goal ≤ 1.0", ratio)
	}
}

// job is a Job of parallelism and completions n whose pods look like DiLO's agent.
func job(ns, name string, n int32) *batchv1.Job {
	labels := map[string]string{"app": "scale-job"}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			Parallelism: ptr.To(n),
			Completions: ptr.To(n),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{{
						Name: "agent", Image: testImage, Args: []string{"run"},
					}},
				},
			},
		},
	}
}

// timePods watches the pods of namespace ns, runs create and returns the time from
// its start until want distinct pods exist.
func timePods(t *testing.T, env *testenv.Env, ns string, want int, create func(context.Context) error) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
	defer cancel()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return 0, err
	}
	w, err := wc.Watch(ctx, &corev1.PodList{}, client.InNamespace(ns))
	if err != nil {
		return 0, fmt.Errorf("failed to watch pods: %w", err)
	}
	defer w.Stop()

	began := time.Now()
	created := make(chan error, 1)
	go func() { created <- create(ctx) }()
	seen := map[string]bool{}
	for len(seen) < want {
		select {
		case err := <-created:
			if err != nil {
				return 0, err
			}
			created = nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("the pod watch ended with %d of %d pods", len(seen), want)
			}
			if ev.Type == watch.Added {
				seen[ev.Object.(*corev1.Pod).Name] = true
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d pods after %s", len(seen), want, phaseTimeout)
		}
	}
	d := time.Since(began)
	if created != nil {
		if err := <-created; err != nil {
			return 0, err
		}
	}
	return d, nil
}

// cleanup deletes the LoadTests, Jobs and pods of namespace ns and waits until no
// pod is left, so that the next phase starts on a quiet API server.
func cleanup(t *testing.T, env *testenv.Env, ns string) {
	t.Helper()
	ctx := context.Background()
	in := client.InNamespace(ns)
	for _, obj := range []client.Object{&dilov1.LoadTest{}, &batchv1.Job{}, &corev1.Pod{}} {
		if err := env.Client.DeleteAllOf(ctx, obj, in, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatalf("failed to delete the %T objects of %s: %v", obj, ns, err)
		}
	}
	err := testenv.Eventually(ctx, time.Minute, func(ctx context.Context) error {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, in); err != nil {
			return err
		}
		var lts dilov1.LoadTestList
		if err := env.Client.List(ctx, &lts, in); err != nil {
			return err
		}
		if len(pods.Items)+len(lts.Items) > 0 {
			return fmt.Errorf("%d pods and %d LoadTests left in %s", len(pods.Items), len(lts.Items), ns)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // let the controllers' queues drain the deletions
}
