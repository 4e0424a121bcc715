package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const logsLong = `Print the logs of a run's load-generator pods, each line prefixed with its
pod's name as 'kubectl logs --prefix' does: [my-test-3-0] ...

The pods are those of the LoadTest's current run, or of --run N, selected by
their labels (example.org/loadtest=NAME, example.org/run=N): a run's pods exist
until the next run starts, the LoadTest is deleted or spec.ttlSecondsAfterFinished
passes. Without -f the pods' logs are printed one pod after the other, in replica
order; with -f they are followed at once, interleaved line by line, until every
pod's container ended (or Ctrl-C). An agent's last line is its full result
document (JSON).`

const logsExample = `  # The logs of my-test's current run
  kubectl dilo logs my-test

  # Follow them while the run goes
  kubectl dilo logs my-test -f

  # Run 3, while its pods still exist
  kubectl dilo logs my-test --run 3`

func newLogsCommand(c *cli) *cobra.Command {
	var run int64
	var follow bool
	var maxRequests int
	cmd := &cobra.Command{
		Use:     "logs NAME",
		Short:   "Print the logs of a run's pods",
		Long:    logsLong,
		Example: logsExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if run < 0 {
				return fmt.Errorf("--run %d: want a run number (1, 2, ...)", run)
			}
			ctx := cmd.Context()
			cn, err := c.connect()
			if err != nil {
				return err
			}
			lt, err := getLoadTest(ctx, cn.c, cn.ns, args[0])
			if err != nil {
				return err
			}
			if run == 0 {
				if run = lt.Status.Run; run == 0 {
					return apiError{fmt.Errorf("loadtest %q in namespace %q has no run yet: DiLO's manager has not started one", lt.Name, lt.Namespace)}
				}
			}
			pods, err := runPods(ctx, cn.cs, lt.Namespace, lt.Name, run)
			if err != nil {
				return err
			}
			if follow && len(pods) > maxRequests {
				return fmt.Errorf("run %d of loadtest %q has %d pods, more than --max-log-requests=%d: raise it, or follow one pod with kubectl logs -f",
					run, lt.Name, len(pods), maxRequests)
			}
			return printLogs(ctx, cn.cs, pods, follow, c.out, c.errOut)
		},
	}
	cmd.Flags().Int64Var(&run, "run", 0, "the pods of this run instead of the current run's")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the logs until the pods' containers end")
	cmd.Flags().IntVar(&maxRequests, "max-log-requests", 5, "with -f, the most pods followed at once, as kubectl logs has it")
	return cmd
}

// runPods lists the pods of run of LoadTest name, in replica order, with an error
// saying why there are none.
func runPods(ctx context.Context, cs kubernetes.Interface, ns, name string, run int64) ([]corev1.Pod, error) {
	pods, err := listRunPods(ctx, cs, ns, name, run)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, apiError{fmt.Errorf("run %d of loadtest %q in namespace %q has no pods: %s", run, name, ns, podsGone)}
	}
	return pods, nil
}

// podsGone says when a run's pods are deleted.
const podsGone = "they are deleted when the next run starts, when spec.ttlSecondsAfterFinished passes, or with the LoadTest"

// listRunPods lists the pods of run of LoadTest name, in replica order; none once
// they are gone.
func listRunPods(ctx context.Context, cs kubernetes.Interface, ns, name string, run int64) ([]corev1.Pod, error) {
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(dilov1.RunLabels(name, run)).String(),
	})
	if err != nil {
		return nil, apiError{fmt.Errorf("failed to list the pods of run %d of loadtest %q in namespace %q: %w", run, name, ns, err)}
	}
	pods := list.Items
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return replicaOf(a) - replicaOf(b) })
	return pods, nil
}

// replicaOf is a pod's replica index, from its label; -1 without one.
func replicaOf(p corev1.Pod) int {
	n, err := strconv.Atoi(p.Labels[dilov1.LabelReplica])
	if err != nil {
		return -1
	}
	return n
}

// printLogs copies the pods' logs to out, each line prefixed with its pod's name: one
// pod after the other, or all at once when following. A pod whose log cannot be read
// (its container has not started) is reported on errOut and the others still printed.
func printLogs(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod, follow bool, out, errOut io.Writer) error {
	lines := &lineWriter{w: out}
	var failed []string
	var mu sync.Mutex
	read := func(p corev1.Pod) {
		if err := copyLog(ctx, cs, p, follow, lines); err != nil && ctx.Err() == nil {
			mu.Lock()
			failed = append(failed, p.Name)
			mu.Unlock()
			fmt.Fprintf(errOut, "error: [%s] %v\n", p.Name, err)
		}
	}
	if follow {
		var wg sync.WaitGroup
		for _, p := range pods {
			wg.Go(func() { read(p) })
		}
		wg.Wait()
	} else {
		for _, p := range pods {
			read(p)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return &codeError{code: exitError, err: fmt.Errorf("could not read the logs of %d of %d pods", len(failed), len(pods))}
	}
	return nil
}

// copyLog streams pod's log (its agent container's) to lines.
func copyLog(ctx context.Context, cs kubernetes.Interface, pod corev1.Pod, follow bool, lines *lineWriter) error {
	opts := &corev1.PodLogOptions{Follow: follow, Container: agentContainer(pod)}
	rc, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	return copyPrefixed(rc, "["+pod.Name+"] ", lines)
}

// agentContainer is the name of pod's agent container: its first, where DiLO puts it;
// "" for a pod without containers, which the API server reads as its only one.
func agentContainer(pod corev1.Pod) string {
	if len(pod.Spec.Containers) == 0 {
		return ""
	}
	return pod.Spec.Containers[0].Name
}

// copyPrefixed copies r to lines line by line, each prefixed with prefix; a last line
// without a newline gets one. Lines are not bounded in length: an agent's last line is
// its result document.
func copyPrefixed(r io.Reader, prefix string, lines *lineWriter) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if line[len(line)-1] != '\n' {
				line += "\n"
			}
			if werr := lines.write(prefix + line); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineWriter writes whole lines from several goroutines without interleaving them.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.w, line)
	return err
}
