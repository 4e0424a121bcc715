package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Main runs the agent with args (without the program name) and returns its
// exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, err := ParseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v\n", err)
		return 2
	}
	if cmd.Sleep != nil {
		return sleep(ctx, cmd.Sleep, stdout)
	}
	if err := Execute(ctx, *cmd.Run, stdout, nil); err != nil {
		fmt.Fprintf(stderr, "agent: could not run: %v\n", err)
		return 1
	}
	return 0
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

// Execute is `agent run`: it sends the load of plan, which must be valid, and
// writes the result document to the plan's result file and, after a summary,
// to stdout. line, if not nil, makes the JSON summary line from the summary
// (a benchmark adds what the process spent); by default it is the summary.
// An error means the load could not run.
func Execute(ctx context.Context, plan runplan.Plan, stdout io.Writer, line func(Summary) any) (err error) {
	var result *os.File
	if name := plan.ResultFile; name != "" { // open it first: fail before the load, not after
		if result, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return fmt.Errorf("failed to open result file: %w", err)
		}
		defer func() {
			if err != nil { // say why in the termination message too
				fmt.Fprintf(result, "agent: could not run: %v\n", err)
			}
			if cerr := result.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("failed to write result file: %w", cerr)
			}
		}()
	}
	rep, err := Run(ctx, plan)
	if err != nil {
		return err
	}
	doc, err := rep.Encode()
	if err != nil {
		return err
	}
	if result != nil {
		if _, err := result.Write(doc); err != nil {
			return fmt.Errorf("failed to write result file: %w", err)
		}
	}
	s := Summarize(rep)
	var l any = s
	if line != nil {
		l = line(s)
	}
	printSummary(stdout, rep, s, l, doc)
	return nil
}
