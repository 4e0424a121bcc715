package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const runLong = `Create or update the LoadTests of a file, then follow their runs until they end.

run applies FILE with server-side apply, field manager kubectl-dilo, as
'kubectl apply --server-side -f FILE' does: a field another manager set to
another value is a conflict, which --force-conflicts takes over. FILE holds one
or more LoadTests (YAML documents separated by ---, or JSON); '-' reads stdin. A
LoadTest without metadata.namespace goes to -n, or the kubeconfig context's
namespace.

Then run follows each LoadTest's run as watch does: the run DiLO's manager starts
for the spec applied. A spec that did not change (no new metadata.generation)
starts no run: run says so and follows the current run, which may have ended
already; 'kubectl dilo rerun NAME' starts a new run of the same spec. With
several LoadTests, their lines are prefixed with their names and the exit code
is the worst of theirs.

Exit code: as watch's (0 finished, 1 failed, 2 error or --timeout, 130
interrupted); with --watch=false, 0 once applied.`

const runExample = `  # Apply a LoadTest and follow its run
  kubectl dilo run -f loadtest.yaml

  # In CI: apply into namespace load, give up after 20 minutes
  kubectl dilo run -f loadtest.yaml -n load --timeout 20m

  # Apply only
  kubectl dilo run -f loadtest.yaml --watch=false`

func newRunCommand(c *cli) *cobra.Command {
	var file string
	var watch, force bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "run -f FILE",
		Short:   "Apply LoadTests from a file and follow their runs",
		Long:    runLong,
		Example: runExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			data, err := readFile(file, c.in)
			if err != nil {
				return err
			}
			objs, err := decodeLoadTests(file, data)
			if err != nil {
				return err
			}
			cn, err := c.connect()
			if err != nil {
				return err
			}
			for _, u := range objs {
				ns, err := namespaceFor(u, cn.ns, cn.explicitNS)
				if err != nil {
					return err
				}
				u.SetNamespace(ns)
			}
			var applied []*dilov1.LoadTest
			var wants []want
			for _, u := range objs {
				lt, w, err := applyLoadTest(ctx, cn.c, u, force, c.out)
				if err != nil {
					return err
				}
				applied, wants = append(applied, lt), append(wants, w)
			}
			if !watch {
				return nil
			}
			return followAll(ctx, cn.c, applied, wants, c.out, c.errOut, timeout)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the file of LoadTests to apply ('-': stdin)")
	_ = cmd.MarkFlagRequired("filename")
	cmd.Flags().BoolVar(&watch, "watch", true, "follow the runs until they end (--watch=false: apply and return)")
	cmd.Flags().BoolVar(&force, "force-conflicts", false, "take over fields another field manager set, as kubectl apply --server-side --force-conflicts")
	addTimeoutFlag(cmd, &timeout)
	return cmd
}

// readFile reads name, or in for "-".
func readFile(name string, in io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(in)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("failed to read the LoadTests to run: %w", err)
	}
	return data, nil
}

// decodeLoadTests reads the documents of file, each of which must be a LoadTest of
// DiLO's API version: run applies nothing else.
func decodeLoadTests(file string, data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 1; ; i++ {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d is not YAML or JSON: %w", file, i, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		gvk := u.GroupVersionKind()
		if gvk.Kind != "LoadTest" || gvk.GroupVersion() != dilov1.GroupVersion {
			return nil, fmt.Errorf("%s: document %d is a %s (%s), not a LoadTest (%s): apply it with kubectl apply -f",
				file, i, orDash(gvk.Kind), orDash(u.GetAPIVersion()), dilov1.GroupVersion)
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d, a LoadTest, has no metadata.name", file, i)
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s holds no LoadTest", file)
	}
	return objs, nil
}

// namespaceFor is the namespace a LoadTest of the file goes to: its own, else the
// flags'. As with kubectl apply, an explicit -n that differs from the object's is an
// error rather than a guess.
func namespaceFor(u *unstructured.Unstructured, ns string, explicit bool) (string, error) {
	own := u.GetNamespace()
	switch {
	case own == "":
		return ns, nil
	case explicit && own != ns:
		return "", fmt.Errorf("the namespace of loadtest %q in the file, %q, does not match -n %q: pass --namespace=%s, or remove it from the file",
			u.GetName(), own, ns, own)
	}
	return own, nil
}

// applyLoadTest applies u by server-side apply, says what happened on out, and returns
// the LoadTest applied and the run to follow: the one the manager starts for the
// generation applied (for an unchanged spec, the current run).
func applyLoadTest(ctx context.Context, c client.WithWatch, u *unstructured.Unstructured, force bool, out io.Writer) (*dilov1.LoadTest, want, error) {
	ns, name := u.GetNamespace(), u.GetName()
	var before *dilov1.LoadTest
	old := &dilov1.LoadTest{}
	switch err := c.Get(ctx, client.ObjectKeyFromObject(u), old); {
	case err == nil:
		before = old
	case !apierrors.IsNotFound(err):
		return nil, want{}, describeAPIError(err, ns, name)
	}
	opts := []client.ApplyOption{client.FieldOwner(fieldManager)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...); err != nil {
		if apierrors.IsConflict(err) {
			return nil, want{}, apiError{fmt.Errorf("loadtest %q in namespace %q: %w\n"+
				"another field manager set these fields: run again with --force-conflicts to take them over", name, ns, err)}
		}
		return nil, want{}, describeAPIError(err, ns, name)
	}
	lt, err := getLoadTest(ctx, c, ns, name)
	if err != nil {
		return nil, want{}, err
	}
	fmt.Fprintln(out, applyOutcome(before, lt))
	return lt, want{Generation: lt.Generation}, nil
}

// applyOutcome says what an apply did to a LoadTest: before is it as it was (nil: it
// did not exist), after as the apply left it.
func applyOutcome(before, after *dilov1.LoadTest) string {
	what := fmt.Sprintf("loadtest %q in namespace %q", after.Name, after.Namespace)
	switch {
	case before == nil:
		return what + " created"
	case before.Generation != after.Generation:
		return fmt.Sprintf("%s configured (generation %d)", what, after.Generation)
	}
	run := "it has no run yet"
	if after.Status.Run != 0 {
		run = fmt.Sprintf("following its current run, %d (%s)", after.Status.Run, after.Status.State)
	}
	return fmt.Sprintf("%s unchanged: the same spec starts no new run; %s. `kubectl dilo rerun %s` starts a new run of the same spec",
		what, run, after.Name)
}

// followAll follows the runs of lts, wants[i] naming lts[i]'s, at once; with more than
// one LoadTest each line is prefixed with its name. The exit code is the worst of
// theirs.
func followAll(ctx context.Context, c client.WithWatch, lts []*dilov1.LoadTest, wants []want, out, errOut io.Writer, timeout time.Duration) error {
	if len(lts) == 1 {
		return followRun(ctx, c, lts[0], followWanted(lts[0].Name, wants[0]), out, timeout)
	}
	lines, errLines := &lineWriter{w: out}, &lineWriter{w: errOut}
	codes := make([]int, len(lts))
	var wg sync.WaitGroup
	for i, lt := range lts {
		wg.Go(func() {
			prefix := "[" + lt.Name + "] "
			err := followRun(ctx, c, lt, followWanted(lt.Name, wants[i]), prefixed{prefix, lines}, timeout)
			codes[i] = exitCodeOf(err, nil, prefixed{prefix, errLines})
		})
	}
	wg.Wait()
	worst := exitOK
	for _, code := range codes {
		worst = max(worst, code)
	}
	if worst != exitOK {
		return &codeError{code: worst}
	}
	return nil
}

// prefixed writes each Write, a line, with prefix before it: followRun and exitCodeOf
// write whole lines.
type prefixed struct {
	prefix string
	lines  *lineWriter
}

func (p prefixed) Write(b []byte) (int, error) {
	if err := p.lines.write(p.prefix + string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
