// Package plugin is kubectl-dilo, the kubectl plugin for DiLO's LoadTests: `kubectl dilo
// run -f FILE` applies a LoadTest and follows its run in the terminal, `watch`, `stop`,
// `rerun`, `results`, `logs` and `compare` work on runs that exist, `version` says which
// build this is. Main runs it in-process, so that tests need no binary.
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
// people read, compare.go's table and deltas, results.go's table. rundata.go gathers one
// run's data for any command that shows a run.
//
// # Adding `report` and `compare -o html`
//
// Both render runs that loadRun gathers: loadRun(ctx, c, ns, ref) returns a runData for a
// runRef (NAME for the current run, NAME:RUN for a run of status.history), with the
// figures common to both kinds of run in runData.Figures and the rest (the current run's
// full results, progress, conditions and spec; a history record) alongside; loadTimeline
// reads the run's timeline ConfigMap. A `report` command is then: parseRunRef, loadRun,
// loadTimeline, and an htmlreport.Run made of them (Spec marshalled to YAML, Start and
// End from StartTime and CompletionTime, Results, Timeline), plus what only the run's
// pods hold while they exist (the merged latency histograms and each pod's figures, from
// their result documents: report.LastDocument and report.ParseFull on each log, read as
// logs.go reads them), handed to htmlreport.Render. `compare -o html` is a third output
// of newCompareCommand, beside json, handing the two runs to htmlreport.RenderCompare
// instead of printing compareRuns' rows; -o's check there lists it.
//
// # Exit codes
//
// 0: done (for the commands that follow a run: it finished); 1: the run followed ended
// failed (the Failed condition's reason and message are printed), or was replaced by
// another before it ended; 2: the command could not do what was asked (usage, an API
// error, no such LoadTest or run, no results yet, a timeout); 130: interrupted.
package plugin
