// Package agent is DiLO's load generator: the only container of every
// LoadTest pod. It needs nothing but its arguments (no Kubernetes client, no
// privileges) and reports through its termination message.
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
// The agent sends only where it is told. The plan's target.address is what it
// connects to: the Service's ClusterIP, dialled as it is, or for a headless
// Service a fully qualified name with its final dot
// (SVC.NS.svc.cluster.local.), so that no search domain extends it. The agent
// resolves a name itself on every new connection and refuses, with errors of
// class "dns", a name answered for another name: a CNAME, which is what
// cluster DNS answers for a Service of type ExternalName, pointing anywhere
// its owner likes. target.host is the Host header, exactly (HOST[:PORT], at
// most 255 bytes).
//
// A run is three things kept apart, as vegeta's targeter and pacer and
// fortio's fetcher are, so that each can change without the others:
//
//   - What to send: a source, a weighted mix of requests serialised once (a
//     v1 plan has one), which each worker walks with its own cursor.
//   - How fast and for how long: a pacer, one of the two load models below.
//   - How to send it: a fetcher, one connection's protocol client, over a
//     dialer that makes the connection.
//
// The fetcher sends over raw keep-alive HTTP/1.1 connections (not net/http,
// whose per-request allocations and locking cost a load generator its rate):
// each connection's goroutine writes the request's bytes as they were
// serialised, parses the status line and the headers it needs, discards the
// body, and records the latency in its own histogram; nothing is locked or
// sent over a channel per request.
//
//   - Closed model (load.closed): concurrency connections, each sending its
//     next request when the previous one ended, requests in total (0: no
//     cap), stopping also after duration if given.
//   - Open model (load.open): rate*duration requests on a fixed timetable, at
//     most concurrency in flight. Every latency is measured from the request's
//     intended start (no coordinated omission). When every connection is busy
//     the timetable keeps counting: later requests go out late and the wait is
//     part of their latency. An idle agent's own timer adds up to ~1ms (Go's
//     netpoller sleeps in whole milliseconds). Requests still unsent one
//     timeout after the window are dropped: errors of class "dropped", apart
//     from the timeouts of requests that were sent.
//
// Exit status: 0 when the load ran (even if every request failed), 2 on a bad
// command line or run plan (the message names the flag or the plan's field),
// 1 when it could not run (start gate timed out, result file not writable).
package agent
