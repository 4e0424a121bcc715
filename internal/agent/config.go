package agent

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Command is what the command line asks for: exactly one of Run and Sleep.
type Command struct {
	Run   *RunConfig
	Sleep *SleepConfig
}

// RunConfig is the `run` subcommand: a run plan, read from --plan-file or
// built from the other flags, and checked by runplan either way.
type RunConfig struct {
	Plan       runplan.Plan
	CPUProfile string // write a CPU profile of the run here

	target target // Plan.Target, serialised
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
  agent run --plan-file=F [--cpu-profile=F]
  agent run --url=http://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET] [--requests=N] [--concurrency=C]
            [--timeout=10s] [--rate=R --duration=D] [--duration=D] [--start-file=F] [--start-timeout=10m]
            [--result-file=F]
  agent sleep [--seconds=N] [--message=TEXT]
run: closed model by default (C connections, each sends its next request when the previous one
ended, --requests in total, 0 = until --duration); with --rate, open model (R requests started per
second for --duration; --requests is then ignored). -c and -d are short for --concurrency and --duration; "run" may be omitted.
The URL's host is where connections go: an IP address as it is, a DNS name (end it with a dot to
skip search domains) resolved by the agent and refused, as errors of class dns, when it is answered
for another name (a CNAME). --host is the Host header; by default the URL's authority.
--plan-file reads all of the above from a run plan (see internal/report/runplan), as the
controller writes it; no other flag but --cpu-profile goes with it.`

// ParseArgs parses the agent's arguments (without the program name).
// Errors are *UsageError and name the offending flag.
func ParseArgs(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, usagef("no subcommand\n%s", usageText)
	}
	sub, rest := args[0], args[1:]
	if strings.HasPrefix(sub, "-") {
		sub, rest = "run", args // the benchmark template calls `agent -c 64 -d 5s -url ...`
	}
	switch sub {
	case "run":
		cfg, err := parseRun(rest)
		if err != nil {
			return Command{}, err
		}
		return Command{Run: cfg}, nil
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
func newFlagSet(name string) (*flag.FlagSet, *bytes.Buffer) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	return fs, &out
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

// planFlags are the flags of `run` that --plan-file replaces.
var planFlags = []string{"url", "host", "method", "requests", "concurrency", "c", "timeout", "rate",
	"duration", "d", "start-file", "start-timeout", "result-file"}

// parseRun parses and checks the flags of `run`: --plan-file, or the flags a
// plan is built from.
func parseRun(args []string) (*RunConfig, error) {
	var (
		planFile, url, host, method, startFile, resultFile, cpuProfile string
		requests                                                       int64
		concurrency, rate                                              int
		timeout, duration, startTimeout                                time.Duration
	)
	fs, _ := newFlagSet("run")
	fs.StringVar(&planFile, "plan-file", "", "read the run plan from this file")
	fs.StringVar(&url, "url", "", "target URL, http://host[:port]/path")
	fs.StringVar(&host, "host", "", "Host header, host[:port]; default: the URL's authority")
	fs.StringVar(&method, "method", "GET", "HTTP method, upper-case letters")
	fs.Int64Var(&requests, "requests", 0, "total requests (closed model); 0 = until --duration")
	fs.IntVar(&concurrency, "concurrency", 1, "connections")
	fs.IntVar(&concurrency, "c", 1, "short for --concurrency")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&rate, "rate", 0, "open model: requests started per second (needs --duration)")
	fs.DurationVar(&duration, "duration", 0, "how long to send")
	fs.DurationVar(&duration, "d", 0, "short for --duration")
	fs.StringVar(&startFile, "start-file", "", "wait for an RFC 3339 start time in this file")
	fs.DurationVar(&startTimeout, "start-timeout", runplan.DefaultStartTimeout, "longest wait for the start time")
	fs.StringVar(&resultFile, "result-file", "", "write the result document here")
	fs.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the run here")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var plan runplan.Plan
	if set["plan-file"] {
		for _, name := range planFlags {
			if set[name] {
				return nil, usagef("--plan-file and --%s exclude each other: the plan says it all", name)
			}
		}
		var err error
		if plan, err = readPlan(planFile); err != nil {
			return nil, usagef("--plan-file %s: %v", planFile, err)
		}
	} else {
		if url == "" {
			return nil, usagef("--url is required")
		}
		t, err := urlTarget(url, method, host, set["host"])
		if err != nil {
			return nil, err
		}
		plan = runplan.Plan{Version: runplan.Version, Target: t, Timeout: runplan.Duration(timeout), ResultFile: resultFile}
		if rate != 0 {
			plan.Load.Open = &runplan.Open{Rate: rate, Duration: runplan.Duration(duration), Concurrency: concurrency}
		} else {
			plan.Load.Closed = &runplan.Closed{Concurrency: concurrency, Requests: requests, Duration: runplan.Duration(duration)}
		}
		if startFile != "" {
			plan.Start = &runplan.Start{File: startFile, Timeout: runplan.Duration(startTimeout)}
		}
		if err := plan.Validate(); err != nil {
			return nil, flagError(err)
		}
	}
	return &RunConfig{Plan: plan, CPUProfile: cpuProfile, target: newTarget(plan.Target)}, nil
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

// flagNames spells a plan's field names as the flags they come from.
var flagNames = strings.NewReplacer(
	"target.address", "--url", "target.path", "--url path", "target.method", "--method", "target.host", "--host",
	"load.closed.concurrency", "--concurrency", "load.open.concurrency", "--concurrency",
	"load.closed.requests", "--requests", "load.closed.duration", "--duration",
	"load.open.duration", "--duration", "load.open.rate", "--rate",
	"start.timeout", "--start-timeout", "start.file", "--start-file", "resultFile", "--result-file",
	"timeout", "--timeout",
)

// flagError turns a plan built from flags' FieldError into a UsageError
// naming the flag.
func flagError(err error) error {
	var fe *runplan.FieldError
	if !errors.As(err, &fe) {
		return usagef("%v", err)
	}
	return usagef("%s %s", flagNames.Replace(fe.Field), flagNames.Replace(fe.Detail))
}

// parseSleep parses and checks the flags of `sleep`.
func parseSleep(args []string) (*SleepConfig, error) {
	cfg := &SleepConfig{}
	fs, _ := newFlagSet("sleep")
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

// target is where requests go and the exact bytes of one request.
type target struct {
	addr    string // host:port to dial
	name    string // the host when it is a DNS name, which the agent resolves itself; "" for an IP address
	port    uint16
	request []byte // the whole request, serialised once
	head    bool   // HEAD: responses have no body whatever their headers say

	// resolver resolves name; nil is net.DefaultResolver. Tests point it
	// at their own DNS server.
	resolver *net.Resolver
}

// urlTarget splits an http:// URL into the address to dial and the path.
// Only http:// URLs are accepted, with no user info; the port defaults to
// 80. host is the Host header if hostSet; otherwise it is derived from the
// URL: its host without a final dot, and its port unless 80. The plan's
// Validate checks the rest.
func urlTarget(rawURL, method, host string, hostSet bool) (runplan.Target, error) {
	rest, ok := strings.CutPrefix(rawURL, "http://")
	if !ok {
		return runplan.Target{}, usagef("--url must start with http://, got %q", rawURL)
	}
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return runplan.Target{}, usagef("--url must not hold user info, got %q", authority)
	}
	name, port := authority, "80"
	if strings.HasPrefix(authority, "[") || strings.Count(authority, ":") == 1 {
		var err error
		if name, port, err = net.SplitHostPort(authority); err != nil {
			return runplan.Target{}, usagef("--url host %q: %v", authority, err)
		}
	}
	if !hostSet {
		// The final dot only keeps the resolver off the search domains;
		// servers and proxies know the name without it.
		host = strings.TrimSuffix(name, ".")
		if port != "80" {
			host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return runplan.Target{Address: net.JoinHostPort(name, port), Host: host, Path: path, Method: method}, nil
}

// newTarget serialises the request of t, which runplan has validated: the
// method and path go verbatim into the request line, the Host header into
// the head.
func newTarget(t runplan.Target) target {
	host, port, _ := net.SplitHostPort(t.Address)
	p, _ := strconv.ParseUint(port, 10, 16)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n", t.Method, t.Path, t.Host)
	if t.Method == "POST" || t.Method == "PUT" || t.Method == "PATCH" {
		b.WriteString("Content-Length: 0\r\n") // no body; some servers want the length said
	}
	b.WriteString("\r\n")
	tg := target{addr: t.Address, port: uint16(p), request: b.Bytes(), head: t.Method == "HEAD"}
	if net.ParseIP(host) == nil {
		tg.name = host
	}
	return tg
}
