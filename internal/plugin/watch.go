package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const watchLong = `Follow the current run of a LoadTest until it ends, then print the verdict.

One line is printed each time the run's state or live figures change:

         pending    starting 2 pods (0 active)
         executing  2 pods, waiting for all to run (synchronised start)
    23s  executing  requests 2310  rps 99.80  errors 0.0000  p99 12.3ms (window 11.9ms)
    30s  finished   requests 3000  rps 100.05  errors 0.0010  p99 12.9ms
  finished: run 1 of loadtest "my-test"
  results: 3000 requests, 3 errors (ratio 0.0010), 100.05 rps, p50 2.2ms, ...

The first column is how long the pods have been sending; errors is the error
ratio; the window's p99 is the last few seconds' alone. Notes (queued, stopping, no live
figures) are printed when they appear. The run followed is the one current once
DiLO's manager has seen the spec as it is when watch starts; if a spec edit or a
rerun replaces it before it ends, watch says so and exits 1.

Exit code: 0 the run finished; 1 it failed (reason and message printed) or was
replaced; 2 the LoadTest does not exist, an API error, or --timeout passed (the
run goes on); 130 interrupted. Ctrl-C stops watching, never the run.`

const watchExample = `  # Follow my-test's current run
  kubectl dilo watch my-test -n load

  # In CI: give up after 15 minutes (exit code 2), fail the job if the run failed (1)
  kubectl dilo watch my-test --timeout 15m`

func newWatchCommand(c *cli) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "watch NAME",
		Short:   "Follow a LoadTest's current run until it ends",
		Long:    watchLong,
		Example: watchExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cn, err := c.connect()
			if err != nil {
				return err
			}
			lt, err := getLoadTest(cmd.Context(), cn.c, cn.ns, args[0])
			if err != nil {
				return err
			}
			return followRun(cmd.Context(), cn.c, lt, followWanted(lt.Name, want{Generation: lt.Generation}), c.out, timeout)
		},
	}
	addTimeoutFlag(cmd, &timeout)
	return cmd
}

// addTimeoutFlag adds --timeout, the longest a command follows a run.
func addTimeoutFlag(cmd *cobra.Command, timeout *time.Duration) {
	cmd.Flags().DurationVar(timeout, "timeout", 0,
		"give up following the run after this long (e.g. 10m), exiting 2; the run goes on. 0: no limit")
}

// errTimeout is the cause of a context ended by --timeout.
var errTimeout = errors.New("--timeout passed")

// followRun prints the run f follows, from lt's state on, until it ends, the LoadTest
// is deleted, timeout passes (0: never) or ctx ends. It returns nil when the run
// finished, a codeError with the exit code otherwise.
func followRun(ctx context.Context, c client.WithWatch, lt *dilov1.LoadTest, f follower, out io.Writer, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
		defer cancel()
	}
	var last step
	see := func(lt *dilov1.LoadTest) bool {
		f, last = f.observe(lt)
		for _, l := range last.lines {
			fmt.Fprintln(out, l)
		}
		return last.done
	}
	if !see(lt) {
		err := watchLoadTest(ctx, c, lt.Namespace, lt.Name, lt.ResourceVersion, see)
		switch {
		case err == nil:
		case errors.Is(context.Cause(ctx), errTimeout):
			return &codeError{code: exitError, err: fmt.Errorf("timed out after %s: %s; it goes on (`kubectl dilo stop %s` stops it)",
				timeout, f.where(), lt.Name)}
		case ctx.Err() != nil:
			return &codeError{code: exitInterrupted, err: fmt.Errorf("stopped watching: %s; it goes on (`kubectl dilo stop %s` stops it)",
				f.where(), lt.Name)}
		default:
			return describeAPIError(err, lt.Namespace, lt.Name)
		}
	}
	if last.code != exitOK {
		return &codeError{code: last.code}
	}
	return nil
}

// where says how far the follower got, for a watch that ends before the run does.
func (f follower) where() string {
	if f.run == 0 {
		return fmt.Sprintf("loadtest %q has not started the run watched for", f.name)
	}
	return fmt.Sprintf("run %d of loadtest %q is %s", f.run, f.name, f.state)
}

// watchLoadTest calls see with every state of the LoadTest ns/name after
// resourceVersion rv (nil once it is deleted), until see returns true or ctx ends. A
// watch the API server closes (they last minutes) is resumed from the last
// resourceVersion seen; when that is too old (410 Gone: etcd compacted it), the
// LoadTest is listed again, its state handed to see, and the watch goes on from the
// list's resourceVersion. Bookmarks keep the resourceVersion fresh while nothing
// changes, so that a resumed watch rarely needs the list.
func watchLoadTest(ctx context.Context, c client.WithWatch, ns, name, rv string, see func(*dilov1.LoadTest) bool) error {
	for {
		done, err := watchFrom(ctx, c, ns, name, &rv, see)
		if done || err == nil {
			return err
		}
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			return err
		}
		lt, listRV, err := listLoadTest(ctx, c, ns, name)
		if err != nil {
			return err
		}
		if see(lt) {
			return nil
		}
		rv = listRV
	}
}

// watchFrom watches ns/name from *rv, which it advances, handing each change to see,
// and resumes the watch whenever the API server closes it. It returns true once see
// said so, or the error that ended the watch (410 Gone for an expired resourceVersion).
func watchFrom(ctx context.Context, c client.WithWatch, ns, name string, rv *string, see func(*dilov1.LoadTest) bool) (bool, error) {
	for {
		w, err := c.Watch(ctx, &dilov1.LoadTestList{}, &client.ListOptions{
			Namespace:     ns,
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name),
			Raw:           &metav1.ListOptions{ResourceVersion: *rv, AllowWatchBookmarks: true},
		})
		if err != nil {
			return false, err
		}
		done, err := drain(ctx, w, rv, see)
		w.Stop()
		if done || err != nil {
			return done, err
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
}

// drain hands w's events to see until see says done, w closes (false, nil) or ctx ends.
func drain(ctx context.Context, w watch.Interface, rv *string, see func(*dilov1.LoadTest) bool) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Error:
				return false, apierrors.FromObject(ev.Object)
			case watch.Bookmark:
				if lt, ok := ev.Object.(*dilov1.LoadTest); ok {
					*rv = lt.ResourceVersion
				}
			case watch.Deleted:
				return see(nil), nil
			case watch.Added, watch.Modified:
				lt, ok := ev.Object.(*dilov1.LoadTest)
				if !ok {
					return false, fmt.Errorf("unexpected %T in a watch of LoadTests", ev.Object)
				}
				*rv = lt.ResourceVersion
				if see(lt) {
					return true, nil
				}
			}
		}
	}
}

// listLoadTest is the LoadTest ns/name (nil when there is none) and the list's
// resourceVersion, to watch from.
func listLoadTest(ctx context.Context, c client.Client, ns, name string) (*dilov1.LoadTest, string, error) {
	var list dilov1.LoadTestList
	if err := c.List(ctx, &list, &client.ListOptions{
		Namespace: ns, FieldSelector: fields.OneTermEqualSelector("metadata.name", name),
	}); err != nil {
		return nil, "", err
	}
	for i := range list.Items {
		if list.Items[i].Name == name {
			return &list.Items[i], list.ResourceVersion, nil
		}
	}
	return nil, list.ResourceVersion, nil
}
