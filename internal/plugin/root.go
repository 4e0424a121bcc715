package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitRunFailed   = 1
	exitError       = 2
	exitInterrupted = 130
)

// Main runs kubectl-dilo with args (the program name left out) and returns its exit code.
// Errors go to stderr, prefixed "error: ", as kubectl prints them. ctx ending (Ctrl-C)
// stops a command that waits.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(&cli{in: stdin, out: stdout, errOut: stderr})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCodeOf(err, cmd, stderr)
}

// exitCodeOf prints err, unless a command already said everything, and returns the exit
// code it means: a codeError's code, exitInterrupted for a cancelled context, otherwise
// exitError (cobra's own errors, for unknown flags or a wrong number of arguments,
// included, with a pointer to the command's help).
func exitCodeOf(err error, cmd *cobra.Command, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ce *codeError
	if errors.As(err, &ce) {
		switch {
		case ce.err == nil:
		case ce.code == exitInterrupted:
			fmt.Fprintln(stderr, ce.err)
		default:
			fmt.Fprintln(stderr, "error:", ce.err)
		}
		return ce.code
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "error:", err)
	if cmd != nil && !isAPIError(err) {
		fmt.Fprintf(stderr, "See '%s --help'.\n", cmd.CommandPath())
	}
	return exitError
}

// codeError is an error with the exit code it means; a nil err means the command has
// already printed why (a failed run's verdict).
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *codeError) Unwrap() error { return e.err }

// apiError marks an error that came from talking to the cluster, so that no pointer to
// --help follows it: the flags were right.
type apiError struct{ err error }

func (e apiError) Error() string { return e.err.Error() }
func (e apiError) Unwrap() error { return e.err }

func isAPIError(err error) bool {
	var ae apiError
	var ce *codeError
	return errors.As(err, &ae) || errors.As(err, &ce)
}

// cli is what every command shares: the streams, and the kubeconfig flags the clients
// are made from when a command needs them (so that --help and version need no cluster).
type cli struct {
	in          io.Reader
	out, errOut io.Writer
	flags       *genericclioptions.ConfigFlags
}

const rootLong = `kubectl dilo runs DiLO load tests and shows how they go.

A LoadTest (kind LoadTest, apiVersion example.org/v1, short name ld) starts
spec.replicas load-generator pods that send spec.test to a Service of its
namespace; DiLO's manager merges their figures into status: live progress while
the run executes, the results once it ended. Each run has a number (status.run);
the last runs are kept in status.history.

Commands that follow a run (run, watch, stop --wait, rerun --watch) print a line
each time its state or live figures change, then the verdict, and exit with:
  0  the run finished
  1  the run failed (the reason and message are printed; a stopped run fails,
     reason Stopped), or was replaced by another run before it ended
  2  usage or API error, no such LoadTest or run, no results yet, or --timeout
  130  interrupted (Ctrl-C stops watching, never the run)

The cluster, namespace and credentials come from the same flags and kubeconfig
as kubectl's (--kubeconfig, --context, -n/--namespace, ...).`

const rootExample = `  # Apply a LoadTest and follow its run until it ends
  kubectl dilo run -f loadtest.yaml

  # Follow the current run of an existing LoadTest, for at most 10 minutes
  kubectl dilo watch my-test --timeout 10m

  # Stop it early, keeping the results sent so far
  kubectl dilo stop my-test --wait

  # Run the same spec again and compare the new run with run 3
  kubectl dilo rerun my-test --watch
  kubectl dilo compare my-test:3 my-test

  # Save the run's report, one HTML page, for a ticket
  kubectl dilo report my-test -o report.html`

// globalFlags is the part of cobra's usage template that lists the inherited flags.
const globalFlags = "\n\nGlobal Flags:\n{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}"

// newRootCommand builds kubectl-dilo's command tree over c.
func newRootCommand(c *cli) *cobra.Command {
	c.flags = genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:     "kubectl-dilo",
		Short:   "Run and watch DiLO load tests",
		Long:    rootLong,
		Example: rootExample,
		// Errors are printed by Main, once, with the exit code they mean.
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl dilo"},
	}
	c.flags.AddFlags(root.PersistentFlags())
	// A command's help lists its own flags and points at the kubeconfig flags, which
	// are kubectl's and would otherwise bury them, as `kubectl options` does for kubectl.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), globalFlags,
		"\n\nGlobal Flags: the kubeconfig flags of kubectl (--kubeconfig, --context, -n, ...): see 'kubectl dilo --help'.{{end}}", 1))
	root.AddCommand(
		newRunCommand(c),
		newWatchCommand(c),
		newStopCommand(c),
		newRerunCommand(c),
		newResultsCommand(c),
		newLogsCommand(c),
		newCompareCommand(c),
		newReportCommand(c),
		newVersionCommand(c),
	)
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}
