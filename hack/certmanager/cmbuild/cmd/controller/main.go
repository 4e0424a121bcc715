// Command controller is cert-manager's controller as a thin main over the root module's
// packages, because upstream's cmd/controller module is not on the Go module proxy.
// The flags it has are named as upstream's; it has fewer of them, reads no --config file
// and serves no health endpoints (so the rendered chart has no liveness probe for it).
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/controller/scheme"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/internal/apis/config/controller/validation"
	"github.com/cert-manager/cert-manager/internal/kube"
	"github.com/cert-manager/cert-manager/internal/pem"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// controllers register themselves via init()
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/listenerset"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/venafi"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/vault"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificatesigningrequests/venafi"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// issuer implementations register themselves via init()
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/venafi"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		logf.FlushLogs()
		os.Exit(1)
	}
	logf.FlushLogs()
}

func newConfig() (*config.ControllerConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.ControllerConfiguration{}
	scheme.Default(versioned)
	c := &config.ControllerConfiguration{}
	if err := scheme.Convert(versioned, c, nil); err != nil {
		return nil, err
	}
	return c, nil
}

func addFlags(fs *pflag.FlagSet, c *config.ControllerConfiguration) {
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	//nolint:staticcheck
	fs.StringVar(&c.APIServerHost, "master", c.APIServerHost, "Optional apiserver host address.")
	fs.Float32Var(&c.KubernetesAPIQPS, "kube-api-qps", c.KubernetesAPIQPS, "Client QPS.")
	fs.IntVar(&c.KubernetesAPIBurst, "kube-api-burst", c.KubernetesAPIBurst, "Client burst.")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "Limit to a single namespace (default: all).")
	fs.StringVar(&c.ClusterResourceNamespace, "cluster-resource-namespace", c.ClusterResourceNamespace, "Namespace for ClusterIssuer secrets.")
	fs.BoolVar(&c.LeaderElectionConfig.Enabled, "leader-elect", c.LeaderElectionConfig.Enabled, "Use leader election.")
	fs.StringVar(&c.LeaderElectionConfig.Namespace, "leader-election-namespace", c.LeaderElectionConfig.Namespace, "Namespace for the leader election lease.")
	fs.DurationVar(&c.LeaderElectionConfig.LeaseDuration, "leader-election-lease-duration", c.LeaderElectionConfig.LeaseDuration, "Lease duration.")
	fs.DurationVar(&c.LeaderElectionConfig.RenewDeadline, "leader-election-renew-deadline", c.LeaderElectionConfig.RenewDeadline, "Renew deadline.")
	fs.DurationVar(&c.LeaderElectionConfig.RetryPeriod, "leader-election-retry-period", c.LeaderElectionConfig.RetryPeriod, "Retry period.")
	fs.StringSliceVar(&c.Controllers, "controllers", c.Controllers, "Controllers to enable ('*' = defaults, 'foo' enable, '-foo' disable). All: "+strings.Join(defaults.AllControllers, ","))
	fs.BoolVar(&c.IssuerAmbientCredentials, "issuer-ambient-credentials", c.IssuerAmbientCredentials, "Allow Issuers to use ambient credentials.")
	fs.BoolVar(&c.ClusterIssuerAmbientCredentials, "cluster-issuer-ambient-credentials", c.ClusterIssuerAmbientCredentials, "Allow ClusterIssuers to use ambient credentials.")
	fs.BoolVar(&c.EnableCertificateOwnerRef, "enable-certificate-owner-ref", c.EnableCertificateOwnerRef, "Set owner ref on Certificate Secrets.")
	fs.BoolVar(&c.EnableGatewayAPI, "enable-gateway-api", c.EnableGatewayAPI, "Enable Gateway API support.")
	fs.StringSliceVar(&c.CopiedAnnotationPrefixes, "copied-annotation-prefixes", c.CopiedAnnotationPrefixes, "Annotation prefixes copied Certificate->CertificateRequest.")
	fs.IntVar(&c.NumberOfConcurrentWorkers, "concurrent-workers", c.NumberOfConcurrentWorkers, "Workers per controller.")
	fs.IntVar(&c.MaxConcurrentChallenges, "max-concurrent-challenges", c.MaxConcurrentChallenges, "Max concurrent ACME challenges.")
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "Metrics bind address ('0' disables).")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "key=value feature gates.")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerName, "default-issuer-name", c.IngressShimConfig.DefaultIssuerName, "ingress-shim default issuer name.")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerKind, "default-issuer-kind", c.IngressShimConfig.DefaultIssuerKind, "ingress-shim default issuer kind.")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerGroup, "default-issuer-group", c.IngressShimConfig.DefaultIssuerGroup, "ingress-shim default issuer group.")
	fs.StringVar(&c.ACMEHTTP01Config.SolverImage, "acme-http01-solver-image", c.ACMEHTTP01Config.SolverImage, "Image for ACME HTTP-01 solver pods.")
	fs.StringSliceVar(&c.ACMEHTTP01Config.SolverNameservers, "acme-http01-solver-nameservers", c.ACMEHTTP01Config.SolverNameservers, "Nameservers for HTTP-01 self-check.")
	fs.StringSliceVar(&c.ACMEDNS01Config.RecursiveNameservers, "dns01-recursive-nameservers", c.ACMEDNS01Config.RecursiveNameservers, "Recursive nameservers for DNS-01 self-check.")
	fs.BoolVar(&c.ACMEDNS01Config.RecursiveNameserversOnly, "dns01-recursive-nameservers-only", c.ACMEDNS01Config.RecursiveNameserversOnly, "Only use recursive nameservers.")
	logf.AddFlags(&c.Logging, fs)
}

func enabledControllers(c *config.ControllerConfiguration) []string {
	enabled := sets.New[string]()
	for _, n := range c.Controllers {
		switch {
		case n == "*":
			enabled.Insert(defaults.DefaultEnabledControllers...)
		case strings.HasPrefix(n, "-"):
			enabled.Delete(strings.TrimPrefix(n, "-"))
		default:
			enabled.Insert(n)
		}
	}
	if c.EnableGatewayAPI {
		enabled.Insert("gateway-shim")
	}
	if c.Namespace != "" { // cluster-scoped controllers make no sense in namespaced mode
		enabled.Delete(defaults.ClusterScopedControllers...)
	}
	out := sets.List(enabled)
	slices.Sort(out)
	return out
}

func run() error {
	logf.InitLogs()
	c, err := newConfig()
	if err != nil {
		return err
	}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	addFlags(fs, c)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == pflag.ErrHelp {
			return nil
		}
		return err
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(c.FeatureGates); err != nil {
		return err
	}
	if errs := validation.ValidateControllerConfiguration(c, nil); len(errs) > 0 {
		return errs.ToAggregate()
	}
	if err := logf.ValidateAndApply(&c.Logging); err != nil {
		return err
	}
	pem.SetGlobalSizeLimits(pem.SizeLimits{
		MaxCertificateSize: c.PEMSizeLimitsConfig.MaxCertificateSize,
		MaxPrivateKeySize:  c.PEMSizeLimitsConfig.MaxPrivateKeySize,
		MaxChainLength:     c.PEMSizeLimitsConfig.MaxChainLength,
		MaxBundleSize:      c.PEMSizeLimitsConfig.MaxBundleSize,
	})
	log := logf.Log.WithName("controller")
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx = logf.NewContext(ctx, log)

	q := func(s string) (resource.Quantity, error) { return resource.ParseQuantity(s) }
	reqCPU, err := q(c.ACMEHTTP01Config.SolverResourceRequestCPU)
	if err != nil {
		return err
	}
	reqMem, err := q(c.ACMEHTTP01Config.SolverResourceRequestMemory)
	if err != nil {
		return err
	}
	limCPU, err := q(c.ACMEHTTP01Config.SolverResourceLimitsCPU)
	if err != nil {
		return err
	}
	limMem, err := q(c.ACMEHTTP01Config.SolverResourceLimitsMemory)
	if err != nil {
		return err
	}
	opts := controllerpkg.ContextOptions{
		//nolint:staticcheck
		APIServerHost:      c.APIServerHost,
		Kubeconfig:         c.KubeConfig,
		KubernetesAPIQPS:   c.KubernetesAPIQPS,
		KubernetesAPIBurst: c.KubernetesAPIBurst,
		Namespace:          c.Namespace,
		IssuerOptions: controllerpkg.IssuerOptions{
			ClusterResourceNamespace:        c.ClusterResourceNamespace,
			ClusterIssuerAmbientCredentials: c.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        c.IssuerAmbientCredentials,
		},
		ACMEOptions: controllerpkg.ACMEOptions{
			HTTP01SolverImage:                 c.ACMEHTTP01Config.SolverImage,
			HTTP01SolverResourceRequestCPU:    reqCPU,
			HTTP01SolverResourceRequestMemory: reqMem,
			HTTP01SolverResourceLimitsCPU:     limCPU,
			HTTP01SolverResourceLimitsMemory:  limMem,
			ACMEHTTP01SolverRunAsNonRoot:      c.ACMEHTTP01Config.SolverRunAsNonRoot,
			HTTP01SolverRuntimeClassName:      c.ACMEHTTP01Config.SolverRuntimeClassName,
			HTTP01SolverNameservers:           c.ACMEHTTP01Config.SolverNameservers,
			HTTP01SolverExtraLabels:           c.ACMEHTTP01Config.SolverExtraLabels,
			DNS01CheckAuthoritative:           !c.ACMEDNS01Config.RecursiveNameserversOnly,
			DNS01Nameservers:                  c.ACMEDNS01Config.RecursiveNameservers,
			DNS01CheckRetryPeriod:             c.ACMEDNS01Config.CheckRetryPeriod,
		},
		IngressShimOptions: controllerpkg.IngressShimOptions{
			DefaultIssuerName:                 c.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 c.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                c.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: c.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       c.IngressShimConfig.ExtraCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New(c.GatewayAPIConfig.ExtraProtocols...),
		},
		CertificateOptions: controllerpkg.CertificateOptions{
			EnableOwnerRef:                           c.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 c.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: c.CertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: c.CertificateRequestMaximumBackoffDuration,
		},
		SchedulerOptions: controllerpkg.SchedulerOptions{MaxConcurrentChallenges: c.MaxConcurrentChallenges},
		ConfigOptions: controllerpkg.ConfigOptions{
			EnableGatewayAPI:            c.EnableGatewayAPI,
			EnableGatewayAPIListenerSet: c.GatewayAPIConfig.EnableListenerSet,
		},
	}

	runAll := func(ctx context.Context) error {
		factory, err := controllerpkg.NewContextFactory(ctx, opts)
		if err != nil {
			return err
		}
		base, err := factory.Build()
		if err != nil {
			return err
		}
		if c.MetricsListenAddress != "" && c.MetricsListenAddress != "0" {
			ln, err := net.Listen("tcp", c.MetricsListenAddress)
			if err != nil {
				return err
			}
			srv := base.Metrics.NewServer(ln)
			go func() { _ = srv.Serve(ln) }()
			go func() { <-ctx.Done(); _ = srv.Close() }()
		}
		var wg sync.WaitGroup
		errCh := make(chan error, 64)
		for _, name := range enabledControllers(c) {
			fn, ok := controllerpkg.Known()[name]
			if !ok {
				return fmt.Errorf("unknown controller %q", name)
			}
			iface, err := fn(factory)
			if err != nil {
				return fmt.Errorf("constructing %s: %w", name, err)
			}
			log.Info("starting controller", "controller", name)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := iface.Run(c.NumberOfConcurrentWorkers, ctx); err != nil {
					errCh <- fmt.Errorf("%s: %w", name, err)
				}
			}()
		}
		base.KubeSharedInformerFactory.Start(ctx.Done())
		base.SharedInformerFactory.Start(ctx.Done())
		base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
		if c.EnableGatewayAPI {
			base.GWShared.Start(ctx.Done())
		}
		select {
		case <-ctx.Done():
		case err := <-errCh:
			return err
		}
		wg.Wait()
		return nil
	}

	if !c.LeaderElectionConfig.Enabled {
		return runAll(ctx)
	}
	//nolint:staticcheck
	restCfg, err := kube.BuildClientConfig(c.APIServerHost, c.KubeConfig)
	if err != nil {
		return err
	}
	kc, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	id, _ := os.Hostname()
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, c.LeaderElectionConfig.Namespace,
		"cert-manager-controller", kc.CoreV1(), kc.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: id + "-external-cert-manager-controller"})
	if err != nil {
		return err
	}
	var runErr error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   c.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:   c.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:     c.LeaderElectionConfig.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { runErr = runAll(ctx); cancel() },
			OnStoppedLeading: func() { log.Info("leader election lost") },
		},
	})
	return runErr
}
