// Command kubectl-dilo is DiLO's kubectl plugin: on the PATH, `kubectl dilo run -f
// FILE` applies a LoadTest and follows its run; `kubectl dilo --help` lists the
// commands. All of it is internal/plugin; this is the process around it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/dilo-operator/dilo/internal/plugin"
)

func main() {
	// controller-runtime's client logs nothing a user needs (API warnings are printed
	// by the plugin itself), and complains on stderr when no logger is set.
	ctrllog.SetLogger(logr.Discard())
	// Ctrl-C ends the command that waits, which says the run goes on; a second one
	// kills the process as usual, since NotifyContext stops catching the signal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
