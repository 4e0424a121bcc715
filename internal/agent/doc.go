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
//  2. It starts the snapshot endpoint, if the plan has live.
//  3. It waits for the start gate's instant, if the plan has one, and makes
//     its workers ready for it: their goroutines started, their connections
//     made.
//  4. At the instant, it sends the load, and counts each request's results
//     apart, until the load is over or the stop file says to stop.
//  5. It stops the endpoint, writes the compact result document to the
//     plan's result file, then prints a summary and, as its last line, the
//     full result document.
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
// body, and records the outcome and latency in its own tally, by request,
// under the tally's own lock, which nothing but a snapshot (below) ever
// waits for; nothing is shared with the other workers or sent over a channel
// per request, and over TCP nothing is allocated (over TLS, crypto/tls
// allocates its small read record per request). The HTTP/2 fetcher works the same way: one connection per worker
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
// The start. The start file (plan start.file, the pod's start-at annotation
// projected by the downward API) is read every 100ms until it holds an RFC
// 3339 instant; all the pods of a run are given the same one, a few seconds
// ahead. Then the agent starts every worker's goroutine, and from 2s before
// the instant the workers that send within a second of it (the closed
// model's connections at the start, the open model's workers whose first
// request is due by then: worker k sends request k first) make their
// connections, TCP and TLS handshake included, so that at the instant each
// only writes.
// A timer wakes the agent 2ms before the instant, and it watches the clock
// for the rest, since a timer may fire a millisecond late. A connection
// that could not be made by the instant, or that the server closed before
// its first request, is made again by that request, which counts its
// errors as any other's. The load's start is the instant, read on the
// monotonic clock, as all its times are; if the instant has passed when
// the agent reads it, the load starts at once. The report's firstRequest is
// when the pod began writing its first request, the earliest of its
// workers': the manager reports the spread of its pods' firstRequest as the
// run's start skew.
//
// The snapshot endpoint (plan live.port) serves, read-only, the load's
// results so far, for the manager, which reads every pod's every few
// seconds and merges them, and for Prometheus. Plain HTTP on every address
// of the pod (IPv4 and IPv6), from before the start gate until the run
// ends, two resources and nothing else: no profiling, no control.
//
//   - GET or HEAD /snapshot: the full result document of the load so far
//     (application/json, one line), "live":true: its end is when it was
//     taken, every counter and histogram only grows from one to the next,
//     and nothing is dropped yet. Before the load starts: 503, "not
//     started".
//   - GET or HEAD /metrics: the same figures in Prometheus' text format
//     (version 0.0.4, uncompressed): the counters dilo_agent_requests_total,
//     dilo_agent_errors_total{class} (requests without a response) and
//     dilo_agent_responses_total{code},
//     the histogram dilo_agent_latency_seconds (fixed buckets from 0.5ms to
//     60s, each count never above the truth and short of it by at most the
//     values within 0.78% under the bound), and the gauge
//     dilo_agent_first_request_timestamp_seconds once a request went out;
//     before the start, counters at 0. Nothing of the Go runtime or the
//     process.
//   - Any other path: 404; any other method: 405.
//
// A snapshot reads each worker's tally under that worker's lock, one worker
// at a time, so that a worker waits a few microseconds every few seconds;
// snapshots are taken one at a time, however many clients ask. The server
// bounds its clients: 5s to send a request's head of at most 4 KiB, 10s to
// read a response, a minute idle. A port it cannot listen on fails the run
// before the gate.
//
// The stop file (plan stop.file, the pod's stop-at annotation) is read every
// 250ms while the load runs, from its start. Once it holds an RFC 3339
// instant, the load stops at that instant, at once if it has passed, as it
// does when the agent is told to stop (SIGTERM): the workers send nothing
// more, sleeping ones included, the requests in flight end, and the report
// covers what was sent; a load stopped early counts nothing as dropped. A
// stop file holding anything but blank or an instant is reported on stderr,
// once until it changes, and ignored.
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
// when it could not run (start gate timed out, result file not writable,
// snapshot port taken).
package agent
