// Command pause is the pod sandbox's process (what registry.k8s.io/pause does): it
// holds the pod's namespaces, reaps orphaned children and exits on SIGTERM or SIGINT.
// The local cluster tags it as the kubelet's sandbox image, since nothing can be pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
