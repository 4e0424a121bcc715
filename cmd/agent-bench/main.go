// Command agent-bench runs the agent's load from flags, for benchmarks and
// tests by hand: the same load loop, fetchers and result documents as the
// agent in a pod, from a plan built from flags instead of the controller's
// plan file, with what the process spent added to the summary line.
//
//	agent-bench [run] --url=http[s]://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET]
//	            [--header='Name: value']... [--body=TEXT | --body-file=F]
//	            [--requests=N] [--concurrency=C] [--timeout=10s] [--duration=D]
//	            [--rate=R --duration=D | --rate-stages=D:R,... | --connection-stages=D:C,...]
//	            [--ca-file=F | --insecure] [--server-name=NAME] [--http2]
//	            [--start-file=F] [--start-timeout=10m] [--stop-file=F] [--live-port=P]
//	            [--result-file=F] [--cpu-profile=F]
//
// The flags are internal/agent/flagplan's; -c and -d are short for
// --concurrency and --duration. Exit status as the agent's: 0 when the load
// ran, 2 on a bad command line (--body-file unreadable included), 1 when it
// could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/dilo-operator/dilo/internal/agent"
	"github.com/dilo-operator/dilo/internal/agent/flagplan"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

const usageText = `usage: agent-bench [run] --url=http[s]://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET]
            [--header='Name: value']... [--body=TEXT | --body-file=F] [--requests=N] [--concurrency=C]
            [--timeout=10s] [--duration=D] [--rate=R --duration=D | --rate-stages=D:R,... | --connection-stages=D:C,...]
            [--ca-file=F | --insecure] [--server-name=NAME] [--http2]
            [--start-file=F] [--start-timeout=10m] [--stop-file=F] [--live-port=P]
            [--result-file=F] [--cpu-profile=F]
Closed model by default (C connections, each sends its next request when the previous one ended,
--requests in total, 0 = until --duration); with --rate, open model (R requests started per second
for --duration; --requests is then ignored). -c and -d are short for --concurrency and --duration.
Stages DURATION:TARGET,... go linearly from the previous target (0 before the first) to their own,
a duration of 0 jumping: --rate-stages are the open model's rates (at most C in flight),
--connection-stages the closed model's connections (--requests, if set, caps the total).
The URL's host is where connections go: an IP address as it is, a DNS name (end it with a dot to
skip search domains) resolved by the agent and refused, as errors of class dns, when it is answered
for another name (a CNAME). --host is the Host header; by default the URL's authority. https://
speaks TLS, verified with --ca-file for --server-name (default: the URL's host) or not with
--insecure; --http2 speaks HTTP/2. --header is repeatable; --body-file is read once at start.
--start-file waits for an RFC 3339 instant in F; --stop-file stops sending at the instant F comes
to hold; --live-port serves the results so far (GET /snapshot, GET /metrics) on port P.
The summary goes to stdout, the full result document last; --result-file gets the compact one.`

func main() {
	// SIGTERM and ^C stop the load early; what was sent is still reported.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := benchMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the command line asks for.
type config struct {
	plan       runplan.Plan
	cpuProfile string // write a CPU profile of the run here
}

// benchMain runs agent-bench with args (without the program name) and
// returns its exit status.
func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "agent-bench: %v\n", err)
		return 2
	}
	if err := run(ctx, cfg, stdout, stderr); err != nil {
		if agent.IsPlanError(err) { // a file a flag names, read when the load starts
			fmt.Fprintf(stderr, "agent-bench: %v\n", flagplan.FlagError(err))
			return 2
		}
		fmt.Fprintf(stderr, "agent-bench: could not run: %v\n", err)
		return 1
	}
	return 0
}

// parseArgs parses the command line: an optional `run`, as the agent's, then
// the flags.
func parseArgs(args []string) (config, error) {
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	var cfg config
	fs := flag.NewFlagSet("agent-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	plan := flagplan.Define(fs)
	fs.StringVar(&cfg.cpuProfile, "cpu-profile", "", "write a CPU profile of the run here")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, errors.New(usageText)
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.plan, err = plan.Plan(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// run runs the plan as the agent does, under the CPU profiler if asked, and
// adds the process's numbers to the summary line.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("failed to create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("failed to start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return agent.Execute(ctx, cfg.plan, stdout, stderr, withProcess)
}
