package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Main runs the agent with args (without the program name) and returns its
// exit status: 2 for a bad command line or run plan, including a value file
// the plan names that cannot be read or holds what the field may not; 1 when
// the load could not run.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v\n", err)
		return 2
	}
	if cmd.Sleep != nil {
		return sleep(ctx, cmd.Sleep, stdout)
	}
	if err := Execute(ctx, *cmd.Run, stdout, stderr, nil); err != nil {
		if IsPlanError(err) {
			fmt.Fprintf(stderr, "agent: bad run plan: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "agent: could not run: %v\n", err)
		return 1
	}
	return 0
}

// IsPlanError reports whether an error of Execute is the run plan's: a value
// file it names that cannot be read or holds what its field may not (a
// *runplan.FieldError naming the field). Running the same plan again would
// fail the same way, so the agent exits 2, as for a plan it cannot parse.
func IsPlanError(err error) bool {
	var fe *runplan.FieldError
	return errors.As(err, &fe)
}

// sleep prints the message and sleeps, ending early (still successfully) if
// the pod is stopped.
func sleep(ctx context.Context, cfg *SleepConfig, stdout io.Writer) int {
	fmt.Fprintln(stdout, cfg.Message)
	t := time.NewTimer(time.Duration(cfg.Seconds) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return 0
}

// Execute is `agent run`: it sends the load of plan, which must be valid,
// as Run does (the snapshot endpoint's server errors and the stop file's
// complaints going to stderr), writes the compact result document to the
// plan's result file (the termination message), then prints a summary to
// stdout and, as its very last line and in one write, the full result
// document, which the manager reads from the pod's log. The result file is
// closed before, so that nothing follows the document. line, if not nil,
// makes the JSON summary line from the summary (a benchmark adds what the
// process spent); by default it is the summary. An error means the load
// could not run, or, if IsPlanError, that the plan's value files are
// unusable; it goes to the result file too, and nothing goes to stdout.
func Execute(ctx context.Context, plan runplan.Plan, stdout, stderr io.Writer, line func(Summary) any) (err error) {
	var result *os.File
	if name := plan.ResultFile; name != "" { // open it first: fail before the load, not after
		if result, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return fmt.Errorf("failed to open result file: %w", err)
		}
		defer func() {
			if result == nil { // written and closed
				return
			}
			if err != nil { // say why in the termination message too
				what := "could not run"
				if IsPlanError(err) {
					what = "bad run plan"
				}
				fmt.Fprintf(result, "agent: %s: %v\n", what, err)
			}
			result.Close()
		}()
	}
	rep, err := runWith(ctx, plan, runOptions{complaints: stderr})
	if err != nil {
		return err
	}
	compact, err := rep.Encode()
	if err != nil {
		return err
	}
	full, err := rep.EncodeFull()
	if err != nil {
		return err
	}
	if result != nil {
		_, werr := result.Write(compact)
		cerr := result.Close()
		result = nil
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("failed to write result file: %w", err)
		}
	}
	s := Summarize(rep)
	var l any = s
	if line != nil {
		l = line(s)
	}
	printSummary(stdout, rep, s, l)
	// The last line, whole: nothing may split or follow it. Like the summary's,
	// a failed write is not the load's failure: the termination message holds
	// the compact document, which the manager reads when the log is lost.
	_, _ = stdout.Write(append(full, '\n'))
	return nil
}
