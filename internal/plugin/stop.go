package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const stopLong = `Stop a LoadTest's current run early, keeping the results its pods sent.

stop sets the annotation example.org/stop to the current time (RFC 3339, UTC),
as 'kubectl annotate ld NAME example.org/stop="$(date -Is)" --overwrite' would.
DiLO's manager then tells the run's agents to stop sending; they stop within a
few seconds and report, and the run ends failed, reason Stopped, with those
partial results in status.results ('kubectl dilo results NAME'). A run whose pods
had not started sending ends at once, without results. The annotation may stay:
a value is acted on once (status.lastHandledStop) and never stops a later run.

A run that already ended is left alone. With --wait, stop follows the run until
it ended, as watch does, and exits as watch does: 1 for a run that ended failed,
which a stopped run does (reason Stopped).`

const stopExample = `  # Stop my-test's current run
  kubectl dilo stop my-test

  # Stop it and wait until its partial results are in, for at most 2 minutes
  kubectl dilo stop my-test --wait --timeout 2m`

func newStopCommand(c *cli) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "stop NAME",
		Short:   "Stop a LoadTest's current run, keeping its partial results",
		Long:    stopLong,
		Example: stopExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cn, err := c.connect()
			if err != nil {
				return err
			}
			lt, err := getLoadTest(ctx, cn.c, cn.ns, args[0])
			if err != nil {
				return err
			}
			st := &lt.Status
			if st.Run == 0 {
				return &codeError{code: exitError, err: fmt.Errorf("loadtest %q in namespace %q has no run to stop: DiLO's manager has not started one", lt.Name, lt.Namespace)}
			}
			if ended(st.State) {
				fmt.Fprintf(c.out, "run %d of loadtest %q already ended (%s): nothing to stop\n", st.Run, lt.Name, st.State)
				return nil
			}
			value := time.Now().UTC().Format(time.RFC3339)
			if err := annotate(ctx, cn.c, lt, dilov1.AnnotationStop, value); err != nil {
				return err
			}
			fmt.Fprintf(c.out, "asked run %d of loadtest %q (%s) to stop: %s=%s\n", st.Run, lt.Name, st.State, dilov1.AnnotationStop, value)
			if !wait {
				fmt.Fprintf(c.out, "its agents stop sending within seconds; it then ends failed, reason Stopped, with the results they sent: "+
					"`kubectl dilo watch %s` follows it, `kubectl dilo results %s` shows them\n", lt.Name, lt.Name)
				return nil
			}
			return followRun(ctx, cn.c, lt, followRunNumber(lt.Name, st.Run), c.out, timeout)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the run until it ended, as watch does")
	addTimeoutFlag(cmd, &timeout)
	return cmd
}
