// Package flagplan builds a run plan from command-line flags, for running the
// agent's load by hand: cmd/agent-bench, and the agent's tests. The agent in
// a pod takes only the plan file the controller writes; these flags are the
// same fields under the names load generators use (-c, -d, --rate), checked
// by the same runplan.Plan.Validate.
//
//	--url=http[s]://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET]
//	[--header='Name: value']... [--body=TEXT | --body-file=F]
//	[--requests=N] [--concurrency=C] [--timeout=10s] [--duration=D]
//	[--rate=R --duration=D | --rate-stages=D:R,... | --connection-stages=D:C,...]
//	[--ca-file=F | --insecure] [--server-name=NAME] [--http2]
//	[--start-file=F] [--start-timeout=10m] [--stop-file=F] [--live-port=P] [--result-file=F]
//
// The plan has one request, named "default": --method, the URL's path, the
// headers of --header (common headers, in their order) and a body, inline
// or read by the agent from --body-file when it starts.
//
// The URL's host and port are target.address, where connections go; --host
// is the Host header, by default the URL's authority without the name's
// final dot (which only keeps the resolver off the search domains) or the
// scheme's default port (80, or 443 for https). An https:// URL makes the
// connections TLS: the certificate checked against --ca-file for
// --server-name (by default the URL's host, without a final dot), or not at
// all with --insecure; --http2 speaks HTTP/2, offered by ALPN. The TLS flags
// need an https:// URL.
//
// The load: without --rate or stages it is closed (--concurrency
// connections, --requests in total, 0 meaning until --duration); with --rate
// it is open (R requests started per second for --duration, at most
// --concurrency in flight; --requests is then ignored). Stages are a load
// that changes, each DURATION:TARGET going linearly from the previous
// target (0 before the first) to its own, a duration of 0 jumping:
// --rate-stages are the open model's rates (--concurrency still caps what is
// in flight); --connection-stages are the closed model's connections, whose
// most is the connection count (so not given by --concurrency), for the
// stages' total duration, --requests capping the total if set. A flag per
// model, rather than one --stages read by whether --rate is set, so that a
// stage's target always means one thing.
//
// --start-file and --stop-file are the plan's start gate and stop file,
// made absolute as the plan wants them; --live-port serves the snapshot
// endpoint on that port.
package flagplan

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// RequestName is the name of the plan's one request.
const RequestName = "default"

// Flags are the flags a run plan is built from, defined on one flag set.
type Flags struct {
	fs                              *flag.FlagSet
	url, host, method               string
	headers                         headerList
	body, bodyFile                  string
	rateStages, connectionStages    string
	caFile, serverName              string
	insecure, http2                 bool
	startFile, stopFile, resultFile string
	requests                        int64
	concurrency, rate, livePort     int
	timeout, duration, startTimeout time.Duration
}

// headerList is the repeatable --header flag.
type headerList []runplan.Header

// String is the flag's value for flag's usage: the names only, since a value
// may be a secret.
func (h *headerList) String() string {
	names := make([]string, len(*h))
	for i, hd := range *h {
		names[i] = hd.Name
	}
	return strings.Join(names, ",")
}

// Set adds one 'Name: value' header, the spaces around the value dropped as
// HTTP does. runplan checks the name and value.
func (h *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return errors.New(`must be "Name: value"`)
	}
	*h = append(*h, runplan.Header{Name: name, Value: strings.Trim(value, " \t")})
	return nil
}

// Define defines the plan's flags on fs, beside any of the caller's own, and
// returns them for Plan to read once fs has parsed the command line.
func Define(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.url, "url", "", "target URL, http[s]://host[:port]/path")
	fs.StringVar(&f.host, "host", "", "Host header, host[:port]; default: the URL's authority")
	fs.StringVar(&f.method, "method", "GET", "HTTP method, upper-case letters")
	fs.Var(&f.headers, "header", "a header 'Name: value' sent with every request (repeatable)")
	fs.StringVar(&f.body, "body", "", "the request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "send the bytes of this file as the body, read once at start")
	fs.Int64Var(&f.requests, "requests", 0, "total requests (closed model); 0 = until --duration")
	fs.IntVar(&f.concurrency, "concurrency", 1, "connections")
	fs.IntVar(&f.concurrency, "c", 1, "short for --concurrency")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&f.rate, "rate", 0, "open model: requests started per second (needs --duration)")
	fs.DurationVar(&f.duration, "duration", 0, "how long to send")
	fs.DurationVar(&f.duration, "d", 0, "short for --duration")
	fs.StringVar(&f.rateStages, "rate-stages", "", "open model: stages DURATION:RATE,... (a ramp from the previous rate)")
	fs.StringVar(&f.connectionStages, "connection-stages", "", "closed model: stages DURATION:CONNECTIONS,... (a ramp from the previous count)")
	fs.StringVar(&f.caFile, "ca-file", "", "https: verify the server against the CAs of this PEM file")
	fs.BoolVar(&f.insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.StringVar(&f.serverName, "server-name", "", "https: the name to verify and send as SNI; default: the URL's host")
	fs.BoolVar(&f.http2, "http2", false, "https: speak HTTP/2 (h2 by ALPN)")
	fs.StringVar(&f.startFile, "start-file", "", "wait for an RFC 3339 start time in this file")
	fs.DurationVar(&f.startTimeout, "start-timeout", runplan.DefaultStartTimeout, "longest wait for the start time")
	fs.StringVar(&f.stopFile, "stop-file", "", "stop sending at the RFC 3339 instant this file comes to hold")
	fs.IntVar(&f.livePort, "live-port", 0, "serve the load's results so far on this port (GET /snapshot, /metrics)")
	fs.StringVar(&f.resultFile, "result-file", "", "write the compact result document here")
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
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	u, err := parseURL(f.url)
	if err != nil {
		return runplan.Plan{}, err
	}
	plan := runplan.Plan{Version: runplan.Version, Target: u.target(f.host, set["host"]),
		Timeout: runplan.Duration(f.timeout), ResultFile: f.resultFile}
	if u.tls {
		serverName := f.serverName
		if !set["server-name"] {
			serverName = strings.TrimSuffix(u.name, ".")
		}
		plan.Target.TLS = &runplan.TLS{ServerName: serverName, CAFile: f.caFile, InsecureSkipVerify: f.insecure, HTTP2: f.http2}
	} else {
		for _, name := range []string{"ca-file", "insecure", "server-name", "http2"} {
			if set[name] {
				return runplan.Plan{}, fmt.Errorf("--%s needs an https:// URL", name)
			}
		}
	}
	plan.Headers = f.headers
	req := runplan.Request{Name: RequestName, Weight: 1, Method: f.method, Path: u.path}
	switch {
	case set["body"] && set["body-file"]:
		return runplan.Plan{}, errors.New("--body and --body-file exclude each other")
	case set["body"]:
		req.Body = &runplan.Body{Text: f.body}
	case set["body-file"] && f.bodyFile == "": // the plan would read it as an empty text
		return runplan.Plan{}, errors.New("--body-file must name a file")
	case set["body-file"]:
		req.Body = &runplan.Body{File: f.bodyFile}
	}
	plan.Requests = []runplan.Request{req}
	if plan.Load, err = f.load(set); err != nil {
		return runplan.Plan{}, err
	}
	if f.startFile != "" {
		plan.Start = &runplan.Start{File: absolute(f.startFile), Timeout: runplan.Duration(f.startTimeout)}
	}
	if f.stopFile != "" {
		plan.Stop = &runplan.Stop{File: absolute(f.stopFile)}
	}
	if set["live-port"] {
		plan.Live = &runplan.Live{Port: f.livePort}
	}
	if err := plan.Validate(); err != nil {
		return runplan.Plan{}, FlagError(err)
	}
	return plan, nil
}

// absolute is name made absolute from the working directory, as the plan
// wants the files it polls; a name it cannot make so (no working
// directory), as it is, for the plan to refuse.
func absolute(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

// load is the load model the flags ask for; set holds the names of the
// flags given.
func (f *Flags) load(set map[string]bool) (runplan.Load, error) {
	switch {
	case set["rate-stages"] && set["connection-stages"]:
		return runplan.Load{}, errors.New("--rate-stages and --connection-stages exclude each other")
	case set["rate-stages"]:
		if set["rate"] || set["duration"] || set["d"] {
			return runplan.Load{}, errors.New("--rate-stages say how fast and how long: not with --rate or --duration")
		}
		stages, err := parseStages(f.rateStages, "--rate-stages")
		if err != nil {
			return runplan.Load{}, err
		}
		return runplan.Load{Open: &runplan.Open{Concurrency: f.concurrency, Stages: stages}}, nil
	case set["connection-stages"]:
		if set["rate"] || set["duration"] || set["d"] || set["concurrency"] || set["c"] {
			return runplan.Load{}, errors.New("--connection-stages say how many connections and how long: not with --rate, --duration or --concurrency")
		}
		stages, err := parseStages(f.connectionStages, "--connection-stages")
		if err != nil {
			return runplan.Load{}, err
		}
		most := 1 // at least one worker, even for stages of no connection
		for _, s := range stages {
			most = max(most, s.Target)
		}
		return runplan.Load{Closed: &runplan.Closed{Concurrency: most, Requests: f.requests, Stages: stages}}, nil
	case f.rate != 0:
		return runplan.Load{Open: &runplan.Open{Rate: f.rate, Duration: runplan.Duration(f.duration), Concurrency: f.concurrency}}, nil
	}
	return runplan.Load{Closed: &runplan.Closed{Concurrency: f.concurrency, Requests: f.requests, Duration: runplan.Duration(f.duration)}}, nil
}

// parseStages parses DURATION:TARGET,... ("30s:1000,1m:1000"), the stages
// of flag; runplan checks their numbers.
func parseStages(s, flag string) ([]runplan.Stage, error) {
	var stages []runplan.Stage
	for i, st := range strings.Split(s, ",") {
		d, target, ok := strings.Cut(st, ":")
		if !ok {
			return nil, fmt.Errorf("%s stage %d must be DURATION:TARGET, got %q", flag, i+1, st)
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("%s stage %d: %v", flag, i+1, err)
		}
		n, err := strconv.Atoi(target)
		if err != nil {
			return nil, fmt.Errorf("%s stage %d: target %q is not a whole number", flag, i+1, target)
		}
		stages = append(stages, runplan.Stage{Duration: runplan.Duration(dur), Target: n})
	}
	return stages, nil
}

// targetURL is a URL split as the plan needs it.
type targetURL struct {
	tls              bool
	name, port, path string // name: the host as written (a final dot kept, IPv6 without brackets)
	defaultPort      string // the scheme's
}

// parseURL splits an http:// or https:// URL, with no user info. The port
// defaults to the scheme's. The plan's Validate checks the rest.
func parseURL(rawURL string) (targetURL, error) {
	u := targetURL{defaultPort: "80"}
	rest, ok := strings.CutPrefix(rawURL, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(rawURL, "https://"); !ok {
			return targetURL{}, fmt.Errorf("--url must start with http:// or https://, got %q", rawURL)
		}
		u.tls, u.defaultPort = true, "443"
	}
	u.port = u.defaultPort
	authority := rest
	u.path = "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, u.path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return targetURL{}, fmt.Errorf("--url must not hold user info, got %q", authority)
	}
	u.name = authority
	if strings.HasPrefix(authority, "[") || strings.Count(authority, ":") == 1 {
		var err error
		if u.name, u.port, err = net.SplitHostPort(authority); err != nil {
			return targetURL{}, fmt.Errorf("--url host %q: %v", authority, err)
		}
	}
	return u, nil
}

// target is where u's connections go. host is the Host header if hostSet;
// otherwise it is derived from the URL: its host without a final dot, and
// its port unless the scheme's default.
func (u targetURL) target(host string, hostSet bool) runplan.Target {
	if !hostSet {
		// The final dot only keeps the resolver off the search domains;
		// servers and proxies know the name without it.
		host = strings.TrimSuffix(u.name, ".")
		if u.port != u.defaultPort {
			host = net.JoinHostPort(host, u.port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return runplan.Target{Address: net.JoinHostPort(u.name, u.port), Host: host}
}

// flagNames spells a plan's field names as the flags they come from. At each
// place the first that matches is replaced, so a name comes before any name
// it starts with or ends with.
var flagNames = strings.NewReplacer(
	"target.address", "--url", "target.host", "--host",
	"target.tls.serverName", "--server-name", "target.tls.caFile", "--ca-file",
	"target.tls.insecureSkipVerify", "--insecure",
	"requests[0].path", "--url path", "requests[0].method", "--method",
	"requests[0].body.text", "--body", "requests[0].body.file", "--body-file", "requests[0].body", "--body",
	"load.closed.concurrency", "--concurrency", "load.open.concurrency", "--concurrency",
	"load.closed.requests", "--requests", "load.closed.duration", "--duration",
	"load.open.duration", "--duration", "load.open.rate", "--rate",
	"load.open.stages", "--rate-stages", "load.closed.stages", "--connection-stages",
	"start.timeout", "--start-timeout", "start.file", "--start-file", "resultFile", "--result-file",
	"stop.file", "--stop-file", "live.port", "--live-port",
	"timeout", "--timeout",
)

// headerField is a FieldError's field of the flags' headers: headers[i].name
// or .value.
var headerField = regexp.MustCompile(`^headers\[(\d+)\]\.(name|value)$`)

// FlagError turns the FieldError of a plan built from flags, by Validate or
// by the agent reading its files, into an error naming the flag; other
// errors it returns as they are.
func FlagError(err error) error {
	var fe *runplan.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := flagNames.Replace(fe.Field)
	if m := headerField.FindStringSubmatch(fe.Field); m != nil {
		i, _ := strconv.Atoi(m[1])
		field = fmt.Sprintf("--header %d's %s", i+1, m[2])
	}
	return fmt.Errorf("%s %s", field, flagNames.Replace(fe.Detail))
}
