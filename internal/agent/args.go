package agent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Command is what the command line asks for: exactly one of Run and Sleep.
type Command struct {
	Run   *runplan.Plan // `run`: the plan of --plan-file, checked
	Sleep *SleepConfig
}

// SleepConfig is the `sleep` subcommand: SimpleDeployment's pod.
type SleepConfig struct {
	Seconds int
	Message string
}

// UsageError is a command-line error; the agent exits 2 on it.
type UsageError struct{ msg string }

// Error is the message, which names the offending flag.
func (e *UsageError) Error() string { return e.msg }

// usagef returns a UsageError with a formatted message.
func usagef(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

const usageText = `usage:
  agent run --plan-file=F
  agent sleep [--seconds=N] [--message=TEXT]
run sends the load of the run plan in F (see internal/report/runplan), as the controller writes it,
and writes the result document; sleep prints the message and sleeps.`

// ParseArgs parses the agent's arguments (without the program name).
// Errors are *UsageError and name the offending flag.
func ParseArgs(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, usagef("no subcommand\n%s", usageText)
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "run":
		plan, err := parseRun(rest)
		if err != nil {
			return Command{}, err
		}
		return Command{Run: plan}, nil
	case "sleep":
		cfg, err := parseSleep(rest)
		if err != nil {
			return Command{}, err
		}
		return Command{Sleep: cfg}, nil
	default:
		return Command{}, usagef("unknown subcommand %q\n%s", sub, usageText)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags runs fs over args and turns its failures into UsageErrors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return usagef("%s", usageText)
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseRun parses the flags of `run` and reads and checks the plan.
func parseRun(args []string) (*runplan.Plan, error) {
	var planFile string
	fs := newFlagSet("run")
	fs.StringVar(&planFile, "plan-file", "", "read the run plan from this file")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if planFile == "" {
		return nil, usagef("--plan-file is required\n%s", usageText)
	}
	plan, err := readPlan(planFile)
	if err != nil {
		return nil, usagef("--plan-file %s: %v", planFile, err)
	}
	return &plan, nil
}

// readPlan reads and parses a run plan file, reading at most one byte more
// than a plan may hold.
func readPlan(name string) (runplan.Plan, error) {
	f, err := os.Open(name)
	if err != nil {
		return runplan.Plan{}, err
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, runplan.MaxEncodedLen+1))
	if err != nil {
		return runplan.Plan{}, err
	}
	return runplan.Parse(doc)
}

// parseSleep parses and checks the flags of `sleep`.
func parseSleep(args []string) (*SleepConfig, error) {
	cfg := &SleepConfig{}
	fs := newFlagSet("sleep")
	fs.IntVar(&cfg.Seconds, "seconds", 0, "seconds to sleep")
	fs.StringVar(&cfg.Message, "message", "I'm so very useful!", "line to print first")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if cfg.Seconds < 0 {
		return nil, usagef("--seconds must be >= 0, got %d", cfg.Seconds)
	}
	return cfg, nil
}
