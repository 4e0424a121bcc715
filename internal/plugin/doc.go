// Package plugin is kubectl-dilo, the kubectl plugin for DiLO's LoadTests: `kubectl dilo
// run -f FILE` applies a LoadTest and follows its run in the terminal, `watch`, `stop`,
// `rerun`, `results`, `logs`, `compare` and `report` work on runs that exist, `version`
// says which build this is. Main runs it in-process, so that tests need no binary.
//
// It finds the cluster as kubectl does: cli-runtime's ConfigFlags (--kubeconfig,
// --context, -n and the rest) on the root command, the REST config and the namespace from
// them. It reads and writes LoadTests with a controller-runtime client of DiLO's scheme,
// and pod logs with a clientset from the same REST config.
//
// # Layout
//
// A file per command (run.go, watch.go, ...) holds its cobra command and its glue to the
// API; what a command decides or prints is a pure function beside it: follow.go decides
// which run a watch follows and when it is over, format.go turns statuses into the lines
// people read, compare.go's table and deltas, results.go's table, report.go's page of a
// run. rundata.go gathers one run's data for any command that shows a run.
//
// # HTML pages: `report` and `compare -o html`
//
// Both render runs with internal/htmlreport, one self-contained page. report.go's
// gatherReport makes the htmlreport.Run of a runRef (NAME, or NAME:RUN for a run of
// status.history): loadRun's runData, loadTimeline's timeline (for `report` only: the
// comparison page plots none, so `compare` reads no ConfigMap), and what only the run's
// pods hold while they exist: their logs, read as the manager reads them (the agent
// container's, from the start, bounded), each one's last result document
// (report.LastDocument, report.ParseFull). reportOf, a pure function of those, merges
// the pods' latency histograms into copies, in total and per request, and makes each
// pod's row (its p99, its first request after the earliest pod's). What cannot be read
// (the timeline, the pods' list, a pod's log or document) is left out with a warning on
// stderr, never an error: the status alone makes a page. The spec is shown as YAML when
// it is known: the current run's once the manager acted on the latest generation, and a
// history run's when its record's runSpecHash is the current run's (runDataOf decides;
// the page says it is today's spec). A history run has no results on a page: its record
// keeps a summary only.
//
// `report NAME[:RUN] [-o FILE]` writes the page to FILE or, for - (the default), to
// stdout. `compare A B -o html` is a third output beside table and json, handing both
// runs to htmlreport.RenderCompare; since -o names the format there, the file is
// --output-file (stdout without it). Both then print one line on stderr saying where the
// page went and what it holds.
//
// # Exit codes
//
// 0: done (for the commands that follow a run: it finished); 1: the run followed ended
// failed (the Failed condition's reason and message are printed), or was replaced by
// another before it ended; 2: the command could not do what was asked (usage, an API
// error, no such LoadTest or run, no results yet, a timeout); 130: interrupted.
package plugin
