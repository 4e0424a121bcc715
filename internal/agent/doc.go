// Package agent is DiLO's load generator: the only container of every
// LoadTest pod. It needs nothing but its arguments and the files its plan
// names (no Kubernetes client, no privileges), and reports through its log
// and its termination message.
//
// Command line:
//
//	agent run --plan-file=/etc/dilo/start/plan
//	agent sleep --seconds=N [--message=TEXT]
//
// What to run is a run plan (internal/report/runplan): a versioned JSON
// document the controller writes into the pod's example.org/run-plan
// annotation, which a downward-API volume projects into --plan-file; runplan
// checks it before anything is sent. sleep is a SimpleDeployment's pod. The
// same load runs from flags, for benchmarks and tests by hand, in
// cmd/agent-bench.
//
// What run does with a plan, in order:
//
//  1. It reads what the plan keeps in files, once: header values and bodies
//     from the Secret and ConfigMap volumes (a value without its final
//     newline, checked as an inline one is; a body of at most
//     runplan.MaxBodyBytes), and target.tls's CA file. It serialises each
//     request of the mix once.
//  2. It waits for the start gate, if the plan has one.
//  3. It sends the load, and counts each request's results apart.
//  4. It writes the compact result document to the plan's result file, then
//     prints a summary and, as its last line, the full result document.
//
// A value may be a secret: the agent sends it and nothing else. No message,
// log line or report holds a header value or a body; an error about one
// names the plan's field (requests[1].headers[0].file) and what is wrong,
// never what the file holds.
//
// The requests. Each one's HTTP/1.1 head is: the request line (method and
// path verbatim), Host (target.host), then the headers, then Content-Length
// when the request has a body (and Content-Length: 0 for POST, PUT and PATCH
// without one), then the body. The headers are DiLO's User-Agent: dilo-agent
// and Accept: */* unless the plan sends a header of that name, in any case;
// then the plan's common headers in their order, a request's own header of
// the same name, in any case, taking the common one's place (spelled as the
// request spells it); then the request's other headers in their order.
// runplan refuses the headers the agent owns (Host, Content-Length, framing
// and connection headers) and any value that could end a header.
//
// The agent sends only where it is told. The plan's target.address is what it
// connects to: the Service's ClusterIP, dialled as it is, or for a headless
// Service a fully qualified name with its final dot
// (SVC.NS.svc.cluster.local.), so that no search domain extends it. The agent
// resolves a name itself on every new connection and refuses, with errors of
// class "dns", a name answered for another name: a CNAME, which is what
// cluster DNS answers for a Service of type ExternalName, pointing anywhere
// its owner likes. target.host is the Host header, exactly (HOST[:PORT], at
// most 255 bytes). target.tls makes the connections TLS, and HTTP/2 if it
// says so; a failed handshake or refused certificate is an error of class
// "tls", the first one's message the report's tlsError.
//
// A run is three things kept apart, as vegeta's targeter and pacer and
// fortio's fetcher are, so that each can change without the others:
//
//   - What to send: a source, the weighted mix of the plan's requests
//     serialised once, which each worker walks with its own cursor.
//   - How fast and for how long: a pacer, one of the two load models below.
//   - How to send it: a fetcher, one connection's protocol client, over a
//     dialer that makes the connection.
//
// The HTTP/1.1 fetcher sends over raw keep-alive connections (not net/http,
// whose per-request allocations and locking cost a load generator its rate):
// each connection's goroutine writes the request's bytes as they were
// serialised, parses the status line and the headers it needs, discards the
// body, and records the outcome and latency in its own tally, by request;
// nothing is locked or sent over a channel per request, and over TCP nothing
// is allocated (over TLS, crypto/tls allocates its small read record per
// request). The HTTP/2 fetcher works the same way: one connection per worker
// with one stream at a time, as `h2load -m 1`, its frames written with
// x/net/http2's Framer and read by the worker itself, each request's header
// block encoded once (hpack without the dynamic table); it does not allocate
// either, but for what crypto/tls does.
//
//   - Closed model (load.closed): concurrency connections, each sending its
//     next request when the previous one ended, requests in total (0: no
//     cap), stopping also after duration if given. With stages, the number
//     of connections goes linearly from each stage's start to its target
//     (rounded down); connections beyond it close and wait. The load lasts
//     the stages' total, requests still capping it.
//   - Open model (load.open): rate*duration requests on a fixed timetable, at
//     most concurrency in flight. With stages, the rate goes linearly from
//     each stage's start to its target (a stage of duration 0 jumps), and
//     request i is intended when the integral of the rate reaches i: the
//     floor of the whole integral in all, none while the rate is 0. Every
//     latency is measured from the request's intended start (no coordinated
//     omission). When every connection is busy the timetable keeps counting:
//     later requests go out late and the wait is part of their latency. An
//     idle agent's own timer adds up to ~1ms (Go's netpoller sleeps in whole
//     milliseconds). Requests still unsent one timeout after the window are
//     dropped: errors of class "dropped", shared over the mix by its weights,
//     apart from the timeouts of requests that were sent.
//
// The results go out twice (internal/report/podreport): the compact document
// (the totals, folded to fit 4096 bytes) to the plan's result file, the
// container's termination message; and the full one (the totals and, for a
// mix of more than one request, each request's results in plan order) as the
// last line of stdout, in one write, after the summary lines: the manager
// reads it from the pod's log, and nothing is printed after it.
//
// Exit status: 0 when the load ran (even if every request failed); 2 on a
// bad command line or run plan, including a file the plan names that cannot
// be read or holds what its field may not (the message names the flag or
// the plan's field; running the same plan again would fail the same way); 1
// when it could not run (start gate timed out, result file not writable).
package agent
