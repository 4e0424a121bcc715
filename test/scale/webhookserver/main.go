//go:build scale

// Command webhookserver serves DiLO's admission webhooks alone, as the manager does
// (webhook.Setup, Services and EndpointSlices from its own cache) but without the
// controllers, for the webhook latency benchmark: in its own process like the manager
// in a cluster, without the pods the controllers would create for every LoadTest the
// benchmark makes loading the two cores the benchmark runs on.
package main

import (
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/scheme"
	"github.com/dilo-operator/dilo/internal/webhook"
)

func main() {
	certDir := flag.String("cert-dir", "", "directory holding tls.crt and tls.key")
	port := flag.Int("port", 9443, "webhook port on 127.0.0.1")
	metricsAddr := flag.String("metrics-bind-address", "0", "plain HTTP metrics address")
	flag.Parse()
	if err := run(*certDir, *port, *metricsAddr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(certDir string, port int, metricsAddr string) error {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir}),
	})
	if err != nil {
		return fmt.Errorf("failed to create the manager: %w", err)
	}
	if err := webhook.Setup(mgr, webhook.Options{Policy: policy.Default()}); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
