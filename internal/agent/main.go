// Package agent is DiLO's load generator: the only container of every
// LoadTest pod. It needs nothing but its arguments (no Kubernetes client, no
// privileges) and reports through its termination message.
//
// Command line:
//
//	agent run --plan-file=/etc/dilo/start/plan
//	agent run --url=http://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET] [--requests=N] \
//	          [--concurrency=C] [--timeout=10s] [--rate=R --duration=60s] [--start-file=F] \
//	          [--start-timeout=10m] [--result-file=F]
//	agent sleep --seconds=N [--message=TEXT]
//
// What to run is a run plan (internal/report/runplan): a versioned JSON
// document the controller writes into the pod's example.org/run-plan
// annotation, which a downward-API volume projects into --plan-file. The
// other flags of run, for benchmarks and tests by hand, are built into the
// same plan; either way runplan checks it before anything is sent. sleep is
// a SimpleDeployment's pod.
//
// The agent sends only where it is told. The plan's target.address (the URL's
// host and port) is what it connects to: the Service's ClusterIP, dialled as
// it is, or for a headless Service a fully qualified name with its final dot
// (SVC.NS.svc.cluster.local.), so that no search domain extends it. The agent
// resolves a name itself on every new connection and refuses, with errors of
// class "dns", a name answered for another name: a CNAME, which is what
// cluster DNS answers for a Service of type ExternalName, pointing anywhere
// its owner likes. target.host (--host) is the Host header, exactly
// (HOST[:PORT], at most 255 bytes); --host defaults to the URL's authority,
// without the name's final dot or a :80 port.
//
// run sends over raw keep-alive HTTP/1.1 connections (not net/http, whose
// per-request allocations and locking cost a load generator its rate): each connection's goroutine
// writes the request bytes serialised once, parses the status line and the
// headers it needs, discards the body, and records the latency in its own
// histogram; nothing is locked or sent over a channel per request.
//
//   - Closed model (load.closed; the flags' default): concurrency connections,
//     each sending its next request when the previous one ended, requests in
//     total (0: no cap), stopping also after duration if given.
//   - Open model (load.open; --rate with --duration): rate*duration requests on
//     a fixed timetable, at most concurrency in flight. Every latency is measured from
//     the request's intended start (no coordinated omission). When every
//     connection is busy the timetable keeps counting: later requests go out
//     late and the wait is part of their latency. An idle agent's own timer
//     adds up to ~1ms (Go's netpoller sleeps in whole milliseconds). Requests
//     still unsent one timeout after the window are dropped: errors of class
//     "dropped", apart from the timeouts of requests that were sent.
//
// Exit status: 0 when the load ran (even if every request failed), 2 on a bad
// command line or run plan (the message names the flag or the plan's field),
// 1 when it could not run (start gate timed out, result file
// not writable).
package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/dilo-operator/dilo/internal/report/podreport"
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
	if err := run(ctx, cmd.Run, stdout); err != nil {
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

// run sends the load and writes the result document to the result file and,
// with a summary, to stdout.
func run(ctx context.Context, cfg *RunConfig, stdout io.Writer) (err error) {
	var result *os.File
	if name := cfg.Plan.ResultFile; name != "" { // open it first: fail before the load, not after
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
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("failed to create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("failed to start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := Run(ctx, cfg)
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
	printSummary(stdout, rep, doc)
	return nil
}

// summary is the JSON line printed on stdout for scripts (sidebyside.sh reads "rps").
type summary struct {
	RPS             float64 `json:"rps"`
	Requests        int64   `json:"requests"`
	Errors          int64   `json:"errors"`
	Seconds         float64 `json:"seconds"`
	P50             string  `json:"p50"`
	P90             string  `json:"p90"`
	P99             string  `json:"p99"`
	Max             string  `json:"max"`
	CPUMicrosPerReq float64 `json:"cpuUsPerRequest"`
	MaxRSSKiB       int64   `json:"maxRssKiB"`
	GCCycles        uint32  `json:"gcCycles"`
}

// printSummary writes a human-readable summary, the JSON summary line and the
// result document.
func printSummary(w io.Writer, r podreport.Report, doc []byte) {
	elapsed := r.End.Sub(r.Start)
	s := summary{
		Requests: r.Requests, Errors: r.Errors, Seconds: elapsed.Seconds(),
		P50: r.Latency.Quantile(0.5).String(), P90: r.Latency.Quantile(0.9).String(),
		P99: r.Latency.Quantile(0.99).String(), Max: r.Latency.Max().String(),
	}
	if elapsed > 0 {
		s.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if r.Requests > 0 {
			s.CPUMicrosPerReq = float64(cpu.Microseconds()) / float64(r.Requests)
		}
		s.MaxRSSKiB = ru.Maxrss
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.GCCycles = ms.NumGC

	fmt.Fprintf(w, "%d requests in %.2fs, %.1f requests/s, %d errors, %d bytes received\n",
		r.Requests, s.Seconds, s.RPS, r.Errors, r.BytesReceived)
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s  (%d responses)\n", s.P50, s.P90, s.P99, s.Max, r.Latency.Count())
	fmt.Fprintf(w, "codes: %s\n", formatCounts(r.Codes))
	if len(r.ErrorsByClass) > 0 {
		fmt.Fprintf(w, "errors without response: %s\n", formatCounts(r.ErrorsByClass))
	}
	line, _ := json.Marshal(s)
	fmt.Fprintf(w, "%s\n%s\n", line, doc)
}

// formatCounts prints a map as "k=v k=v" in key order.
func formatCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		if out != "" {
			out += " "
		}
		out += k + "=" + strconv.FormatInt(m[k], 10)
	}
	if out == "" {
		return "none"
	}
	return out
}
