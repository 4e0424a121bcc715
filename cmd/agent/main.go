// Command agent is DiLO's load generator; see internal/agent for its command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dilo-operator/dilo/internal/agent"
)

func main() {
	// SIGTERM (the pod is deleted) stops the load early; what was sent is still reported.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := agent.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
