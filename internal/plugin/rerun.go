package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const rerunLong = `Start a new run of a LoadTest's spec as it is, without editing it.

rerun sets the annotation example.org/rerun to the current time (RFC 3339 with
nanoseconds, UTC). DiLO's manager then replaces the current run, if one goes, as
a spec edit would (a replaced run is recorded in status.history, reason
Replaced), and starts the next one; it records the value it acted on in
status.lastHandledRerun.

With --watch, rerun follows the new run, as watch does, once the manager started
it (status.lastHandledRerun is the value set and status.run changed), and exits
as watch does.`

const rerunExample = `  # Run my-test again and follow the new run
  kubectl dilo rerun my-test --watch

  # Then compare it with the run before (runs are in status.history)
  kubectl dilo compare my-test:3 my-test`

func newRerunCommand(c *cli) *cobra.Command {
	var watch bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "rerun NAME",
		Short:   "Start a new run of a LoadTest's spec",
		Long:    rerunLong,
		Example: rerunExample,
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
			value := time.Now().UTC().Format(time.RFC3339Nano)
			if err := annotate(ctx, cn.c, lt, dilov1.AnnotationRerun, value); err != nil {
				return err
			}
			// The run the patch's answer shows is the one the new run replaces: the
			// manager acts on the annotation only after the patch.
			from := lt.Status.Run
			if from == 0 {
				fmt.Fprintf(c.out, "asked for a new run of loadtest %q: %s=%s\n", lt.Name, dilov1.AnnotationRerun, value)
			} else {
				fmt.Fprintf(c.out, "asked for a new run of loadtest %q, replacing run %d (%s): %s=%s\n",
					lt.Name, from, lt.Status.State, dilov1.AnnotationRerun, value)
			}
			if !watch {
				fmt.Fprintf(c.out, "DiLO's manager starts it shortly (status.lastHandledRerun becomes that value); "+
					"then `kubectl dilo watch %s` follows it\n", lt.Name)
				return nil
			}
			return followRun(ctx, cn.c, lt, followWanted(lt.Name, want{Rerun: value, FromRun: from}), c.out, timeout)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the new run until it ended, as watch does")
	addTimeoutFlag(cmd, &timeout)
	return cmd
}
