package agent

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits on flags. They are looser than the API's (api/v1) so that the
// agent never refuses what the reconciler may build, but keep the arithmetic
// of the schedule and the connection count sane.
const (
	maxConcurrency = 10_000
	maxRate        = 1_000_000
	maxDuration    = 7 * 24 * time.Hour
	maxTimeout     = time.Hour
	maxMethodLen   = 32
	maxPathLen     = 8192
	maxHostLen     = 255 // --host; a DNS name is at most 253 bytes, plus the port
)

// Command is what the command line asks for: exactly one of Run and Sleep.
type Command struct {
	Run   *RunConfig
	Sleep *SleepConfig
}

// RunConfig is the `run` subcommand: send load to one URL.
type RunConfig struct {
	URL          string
	Host         string // the Host header; "" = the URL's authority, without a final dot or :80
	Method       string
	Requests     int64         // closed model: total requests, 0 = unbounded (then Duration stops it)
	Concurrency  int           // connections (closed) or most in-flight requests (open)
	Timeout      time.Duration // per request, from its send to the end of its response
	Rate         int           // > 0: open model, requests started per second
	Duration     time.Duration // open model: how long to start requests; closed: stop after
	StartFile    string        // wait for an RFC 3339 instant in this file, then for that instant
	StartTimeout time.Duration
	ResultFile   string // where the result document goes (the termination message)
	CPUProfile   string // write a CPU profile of the run here

	target target
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
  agent run --url=http://HOST[:PORT]/PATH [--host=HOST[:PORT]] [--method=GET] [--requests=N] [--concurrency=C]
            [--timeout=10s] [--rate=R --duration=D] [--duration=D] [--start-file=F] [--start-timeout=10m]
            [--result-file=F]
  agent sleep [--seconds=N] [--message=TEXT]
run: closed model by default (C connections, each sends its next request when the previous one
ended, --requests in total, 0 = until --duration); with --rate, open model (R requests started per
second for --duration; --requests is then ignored). -c and -d are short for --concurrency and --duration; "run" may be omitted.
The URL's host is where connections go: an IP address as it is, a DNS name (end it with a dot to
skip search domains) resolved by the agent and refused, as errors of class dns, when it is answered
for another name (a CNAME). --host is the Host header; by default the URL's authority.`

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

// parseRun parses and checks the flags of `run`.
func parseRun(args []string) (*RunConfig, error) {
	cfg := &RunConfig{}
	fs, _ := newFlagSet("run")
	fs.StringVar(&cfg.URL, "url", "", "target URL, http://host[:port]/path")
	fs.StringVar(&cfg.Host, "host", "", "Host header, host[:port]; default: the URL's authority")
	fs.StringVar(&cfg.Method, "method", "GET", "HTTP method, upper-case letters")
	fs.Int64Var(&cfg.Requests, "requests", 0, "total requests (closed model); 0 = until --duration")
	fs.IntVar(&cfg.Concurrency, "concurrency", 1, "connections")
	fs.IntVar(&cfg.Concurrency, "c", 1, "short for --concurrency")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&cfg.Rate, "rate", 0, "open model: requests started per second (needs --duration)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to send")
	fs.DurationVar(&cfg.Duration, "d", 0, "short for --duration")
	fs.StringVar(&cfg.StartFile, "start-file", "", "wait for an RFC 3339 start time in this file")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", 10*time.Minute, "longest wait for the start time")
	fs.StringVar(&cfg.ResultFile, "result-file", "", "write the result document here")
	fs.StringVar(&cfg.CPUProfile, "cpu-profile", "", "write a CPU profile of the run here")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	hostSet := false // --host= must not silently mean "derive it"
	fs.Visit(func(f *flag.Flag) { hostSet = hostSet || f.Name == "host" })
	switch {
	case cfg.URL == "":
		return nil, usagef("--url is required")
	case cfg.Requests < 0:
		return nil, usagef("--requests must be >= 0, got %d", cfg.Requests)
	case cfg.Concurrency < 1 || cfg.Concurrency > maxConcurrency:
		return nil, usagef("--concurrency must be between 1 and %d, got %d", maxConcurrency, cfg.Concurrency)
	case cfg.Timeout <= 0 || cfg.Timeout > maxTimeout:
		return nil, usagef("--timeout must be in (0, %v], got %v", maxTimeout, cfg.Timeout)
	case cfg.Rate < 0 || cfg.Rate > maxRate:
		return nil, usagef("--rate must be between 0 and %d, got %d", maxRate, cfg.Rate)
	case cfg.Duration < 0 || cfg.Duration > maxDuration:
		return nil, usagef("--duration must be in [0, %v], got %v", maxDuration, cfg.Duration)
	case cfg.Rate > 0 && cfg.Duration == 0:
		return nil, usagef("--rate needs --duration")
	case cfg.Rate == 0 && cfg.Requests == 0 && cfg.Duration == 0:
		return nil, usagef("--requests or --duration is required")
	case cfg.StartTimeout <= 0:
		return nil, usagef("--start-timeout must be > 0, got %v", cfg.StartTimeout)
	case hostSet && !validHostHeader(cfg.Host):
		return nil, usagef("--host must be HOST[:PORT], a host name or IP address ([IPv6] in brackets) and an optional port from 1 to 65535, at most %d bytes, got %q",
			maxHostLen, cfg.Host)
	}
	t, err := parseTarget(cfg.URL, cfg.Method, cfg.Host)
	if err != nil {
		return nil, err
	}
	cfg.target = t
	return cfg, nil
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

// parseTarget checks the URL and method and serialises the request. Only
// http:// URLs are accepted, with no user info; the method must be upper-case
// letters and the path printable ASCII (0x21-0x7E) starting with '/', since
// both go verbatim into the request line. hostHeader, already checked by
// validHostHeader, is the Host header; "" derives it from the URL.
func parseTarget(rawURL, method, hostHeader string) (target, error) {
	if method == "" || len(method) > maxMethodLen {
		return target{}, usagef("--method must be 1 to %d upper-case letters, got %q", maxMethodLen, method)
	}
	for i := 0; i < len(method); i++ {
		if method[i] < 'A' || method[i] > 'Z' {
			return target{}, usagef("--method must be upper-case letters only, got %q", method)
		}
	}
	rest, ok := strings.CutPrefix(rawURL, "http://")
	if !ok {
		return target{}, usagef("--url must start with http://, got %q", rawURL)
	}
	authority, path := rest, "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return target{}, usagef("--url must not hold user info, got %q", authority)
	}
	if len(path) > maxPathLen {
		return target{}, usagef("--url path is longer than %d bytes", maxPathLen)
	}
	for i := 0; i < len(path); i++ {
		if path[i] < 0x21 || path[i] > 0x7e {
			return target{}, usagef("--url path may hold only printable ASCII without spaces (0x21-0x7E), got byte 0x%02x at %d", path[i], i)
		}
	}
	host, port := authority, "80"
	if strings.HasPrefix(authority, "[") || strings.Count(authority, ":") == 1 {
		var err error
		if host, port, err = net.SplitHostPort(authority); err != nil {
			return target{}, usagef("--url host %q: %v", authority, err)
		}
	}
	if !validHost(host) {
		return target{}, usagef("--url host %q is not a host name or IP address", host)
	}
	p, ok := parsePort(port)
	if !ok {
		return target{}, usagef("--url port %q is not a number from 1 to 65535", port)
	}
	if hostHeader == "" {
		hostHeader = authority
		if port == "80" {
			hostHeader = strings.TrimSuffix(authority, ":80")
		}
		// The final dot only keeps the resolver off the search domains;
		// servers and proxies know the name without it.
		if name, ok := strings.CutSuffix(host, "."); ok {
			hostHeader = name
			if port != "80" {
				hostHeader += ":" + port
			}
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dilo-agent\r\nAccept: */*\r\n", method, path, hostHeader)
	if method == "POST" || method == "PUT" || method == "PATCH" {
		b.WriteString("Content-Length: 0\r\n") // no body; some servers want the length said
	}
	b.WriteString("\r\n")
	t := target{addr: net.JoinHostPort(host, port), port: p, request: b.Bytes(), head: method == "HEAD"}
	if net.ParseIP(host) == nil {
		t.name = host
	}
	return t, nil
}

// parsePort parses a port from 1 to 65535 written without sign or leading zeros.
func parsePort(s string) (uint16, bool) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != s {
		return 0, false
	}
	return uint16(p), true
}

// validHost accepts IP addresses and DNS names: labels of 1 to 63 letters,
// digits, '-' or '_', joined by single dots, with an optional final dot (a
// fully qualified name, which the resolver does not extend with search
// domains).
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// validHostHeader accepts what --host may be: HOST[:PORT] as in a URL's
// authority, HOST being a DNS name, an IPv4 address or a bracketed IPv6
// address. Everything else, CR, LF and spaces included, could not go
// verbatim into the request head.
func validHostHeader(h string) bool {
	if h == "" || len(h) > maxHostLen {
		return false
	}
	host, port, hasPort := h, "", false
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return false
		}
		if port, hasPort = strings.CutPrefix(h[end+1:], ":"); !hasPort && end+1 != len(h) {
			return false
		}
	} else {
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			host, port, hasPort = h[:i], h[i+1:], true
		}
		// A bare IPv6 address is not a Host header: it needs brackets.
		if strings.Contains(host, ":") || !validHost(host) {
			return false
		}
	}
	if hasPort {
		if _, ok := parsePort(port); !ok {
			return false
		}
	}
	return true
}
