// Package flagplan builds a run plan from command-line flags, for running the
// agent's load by hand: cmd/agent-bench, and the agent's tests. The agent in
// a pod takes only the plan file the controller writes; these flags are the
// same fields under the names load generators use (-c, -d, --rate), checked
// by the same runplan.Plan.Validate.
//
//	--url=http://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET] [--requests=N]
//	[--concurrency=C] [--timeout=10s] [--rate=R --duration=D] [--duration=D]
//	[--start-file=F] [--start-timeout=10m] [--result-file=F]
//
// The URL's host and port are target.address, where connections go; --host
// is the Host header, by default the URL's authority without the name's
// final dot (which only keeps the resolver off the search domains) or a :80
// port. Without --rate the load is closed (--requests in total, 0 meaning
// until --duration); with --rate it is open (R requests started per second
// for --duration; --requests is then ignored).
package flagplan

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Flags are the flags a run plan is built from, defined on one flag set.
type Flags struct {
	fs                              *flag.FlagSet
	url, host, method               string
	startFile, resultFile           string
	requests                        int64
	concurrency, rate               int
	timeout, duration, startTimeout time.Duration
}

// Define defines the plan's flags on fs, beside any of the caller's own, and
// returns them for Plan to read once fs has parsed the command line.
func Define(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.url, "url", "", "target URL, http://host[:port]/path")
	fs.StringVar(&f.host, "host", "", "Host header, host[:port]; default: the URL's authority")
	fs.StringVar(&f.method, "method", "GET", "HTTP method, upper-case letters")
	fs.Int64Var(&f.requests, "requests", 0, "total requests (closed model); 0 = until --duration")
	fs.IntVar(&f.concurrency, "concurrency", 1, "connections")
	fs.IntVar(&f.concurrency, "c", 1, "short for --concurrency")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&f.rate, "rate", 0, "open model: requests started per second (needs --duration)")
	fs.DurationVar(&f.duration, "duration", 0, "how long to send")
	fs.DurationVar(&f.duration, "d", 0, "short for --duration")
	fs.StringVar(&f.startFile, "start-file", "", "wait for an RFC 3339 start time in this file")
	fs.DurationVar(&f.startTimeout, "start-timeout", runplan.DefaultStartTimeout, "longest wait for the start time")
	fs.StringVar(&f.resultFile, "result-file", "", "write the result document here")
	return f
}

// Parse parses args, which hold the plan's flags only, into a checked plan.
func Parse(args []string) (runplan.Plan, error) {
	fs := flag.NewFlagSet("flagplan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Define(fs)
	if err := fs.Parse(args); err != nil {
		return runplan.Plan{}, err
	}
	if fs.NArg() > 0 {
		return runplan.Plan{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return f.Plan()
}

// Plan builds the plan from the parsed flags and checks it as the agent
// checks a plan file. Its errors name the flag, not the plan's field.
func (f *Flags) Plan() (runplan.Plan, error) {
	if f.url == "" {
		return runplan.Plan{}, errors.New("--url is required")
	}
	hostSet := false
	f.fs.Visit(func(fl *flag.Flag) { hostSet = hostSet || fl.Name == "host" })
	t, err := urlTarget(f.url, f.method, f.host, hostSet)
	if err != nil {
		return runplan.Plan{}, err
	}
	plan := runplan.Plan{Version: runplan.Version, Target: t, Timeout: runplan.Duration(f.timeout), ResultFile: f.resultFile}
	if f.rate != 0 {
		plan.Load.Open = &runplan.Open{Rate: f.rate, Duration: runplan.Duration(f.duration), Concurrency: f.concurrency}
	} else {
		plan.Load.Closed = &runplan.Closed{Concurrency: f.concurrency, Requests: f.requests, Duration: runplan.Duration(f.duration)}
	}
	if f.startFile != "" {
		plan.Start = &runplan.Start{File: f.startFile, Timeout: runplan.Duration(f.startTimeout)}
	}
	if err := plan.Validate(); err != nil {
		return runplan.Plan{}, flagError(err)
	}
	return plan, nil
}

// urlTarget splits an http:// URL into the address to dial and the path.
// Only http:// URLs are accepted, with no user info; the port defaults to
// 80. host is the Host header if hostSet; otherwise it is derived from the
// URL: its host without a final dot, and its port unless 80. The plan's
// Validate checks the rest.
func urlTarget(rawURL, method, host string, hostSet bool) (runplan.Target, error) {
	rest, ok := strings.CutPrefix(rawURL, "http://")
	if !ok {
		return runplan.Target{}, fmt.Errorf("--url must start with http://, got %q", rawURL)
	}
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return runplan.Target{}, fmt.Errorf("--url must not hold user info, got %q", authority)
	}
	name, port := authority, "80"
	if strings.HasPrefix(authority, "[") || strings.Count(authority, ":") == 1 {
		var err error
		if name, port, err = net.SplitHostPort(authority); err != nil {
			return runplan.Target{}, fmt.Errorf("--url host %q: %v", authority, err)
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

// flagNames spells a plan's field names as the flags they come from.
var flagNames = strings.NewReplacer(
	"target.address", "--url", "target.path", "--url path", "target.method", "--method", "target.host", "--host",
	"load.closed.concurrency", "--concurrency", "load.open.concurrency", "--concurrency",
	"load.closed.requests", "--requests", "load.closed.duration", "--duration",
	"load.open.duration", "--duration", "load.open.rate", "--rate",
	"start.timeout", "--start-timeout", "start.file", "--start-file", "resultFile", "--result-file",
	"timeout", "--timeout",
)

// flagError turns the FieldError of a plan built from flags into an error
// naming the flag.
func flagError(err error) error {
	var fe *runplan.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%s %s", flagNames.Replace(fe.Field), flagNames.Replace(fe.Detail))
}
