#!/usr/bin/env bash
# hack/certmanager/build-binaries.sh OUTDIR WORKDIR: run by build.sh (adapted from the team's verified
# cert-manager-from-the-proxy recipe).
# Builds cert-manager's controller, cainjector and webhook (CM_VERSION, by default
# CERT_MANAGER_VERSION in hack/versions.env) from the Go module proxy only (no GitHub).
# Idempotent: the work dir is regenerated on every run; the module cache / build cache
# are reused.
#
# Why a wrapper: upstream cmd/{controller,cainjector,webhook} are separate modules
# (module paths .../controller-binary etc., with `replace => ../../`) that are NOT
# published on the proxy, and the root module zip excludes cmd/. So this script
# writes small main packages against the root module's APIs (module path under
# github.com/cert-manager/cert-manager/ so that its internal/ packages are importable).
# vcert v5.13.7 (needed by the Venafi issuer) is 403 on the proxy used here; the
# script uses vcert v5.12.3 from the proxy plus a stub `ngts` package (NGTS issuers
# unsupported).
set -euo pipefail

. "$(dirname "$0")/../versions.env"
CM_VERSION="${CM_VERSION:-$CERT_MANAGER_VERSION}"
VCERT_FALLBACK="${VCERT_FALLBACK:-v5.12.3}"
OUTDIR="$(mkdir -p "${1:-./bin}" && cd "${1:-./bin}" && pwd)"
WORK="${2:-${TMPDIR:-/tmp}/cm-build-work}"

export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}"   # proxy only, no ",direct"
export GOTOOLCHAIN=local GOFLAGS="-modcacherw" CGO_ENABLED=0
unset GOWORK || true

go version
rm -rf "$WORK"; mkdir -p "$WORK"/cmd/{controller,cainjector,webhook} "$WORK/third_party"
cd "$WORK"
printf 'module tmp\n\ngo 1.26.0\n' > go.mod   # make WORK its own module root (ignore any parent go.mod)

# --- vcert: try the version cert-manager wants; otherwise patched fallback ---------
WANT_VCERT="$(go mod download -json "github.com/cert-manager/cert-manager@${CM_VERSION}" >/dev/null && \
  awk '$1=="github.com/Venafi/vcert/v5"{print $2}' "$(go env GOMODCACHE)/cache/download/github.com/cert-manager/cert-manager/@v/${CM_VERSION}.mod")"
VCERT_REPLACE=""
if go mod download "github.com/Venafi/vcert/v5@${WANT_VCERT}" 2>/dev/null; then
  echo "vcert ${WANT_VCERT} available from proxy; no patch needed"
else
  echo "vcert ${WANT_VCERT} NOT available from proxy; using ${VCERT_FALLBACK} + ngts stub"
  VDIR="$(go mod download -json "github.com/Venafi/vcert/v5@${VCERT_FALLBACK}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cp -r "$VDIR" third_party/vcert; chmod -R u+w third_party/vcert
  find third_party/vcert -name '*_test.go' -delete
  grep -q ConnectorTypeNGTS third_party/vcert/pkg/endpoint/endpoint.go || \
    sed -i 's/^\tConnectorTypeFirefly$/\tConnectorTypeFirefly\n\t\/\/ ConnectorTypeNGTS: stub (cm build script)\n\tConnectorTypeNGTS/' third_party/vcert/pkg/endpoint/endpoint.go
  grep -q ConnectorTypeNGTS third_party/vcert/pkg/endpoint/endpoint.go || { echo "vcert patch failed" >&2; exit 1; }
  mkdir -p third_party/vcert/pkg/venafi/ngts
  cat > third_party/vcert/pkg/venafi/ngts/stub.go <<'GOEOF'
// Package ngts is a stub: vcert >= v5.13 was not obtainable from the module proxy.
package ngts

import (
	"errors"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

type Connector struct{ endpoint.Connector } // embeds the interface so type assertions compile

func (c *Connector) Authenticate(auth *endpoint.Authentication) error {
	return errors.New("NGTS connector not available in this build")
}
GOEOF
  VCERT_REPLACE="replace github.com/Venafi/vcert/v5 => ./third_party/vcert"
fi

cat > go.mod <<GOEOF
module github.com/cert-manager/cert-manager/cmbuild-binary

go 1.26.0

require github.com/cert-manager/cert-manager ${CM_VERSION}

${VCERT_REPLACE}
GOEOF

cat > cmd/controller/main.go <<'CMEOF'
// Minimal cert-manager controller entrypoint written against cert-manager v1.21.2
// root-module APIs (the upstream cmd/controller module is not published on the
// Go module proxy). Flag names follow upstream where implemented; not a full
// re-implementation (no healthz/leader-election healthz, no --config file).
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
CMEOF

cat > cmd/cainjector/main.go <<'CMEOF'
// Minimal cainjector entrypoint written against cert-manager v1.21.2 root-module APIs
// (the upstream cmd/cainjector module is not published on the Go module proxy).
// Flag names follow upstream cainjector.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	cliflag "k8s.io/component-base/cli/flag"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	config "github.com/cert-manager/cert-manager/internal/apis/config/cainjector"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/cainjector/scheme"
	"github.com/cert-manager/cert-manager/internal/apis/config/cainjector/validation"
	"github.com/cert-manager/cert-manager/internal/kube"
	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/cainjector/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		logf.FlushLogs()
		os.Exit(1)
	}
	logf.FlushLogs()
}

func newConfig() (*config.CAInjectorConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.CAInjectorConfiguration{}
	scheme.Default(versioned)
	c := &config.CAInjectorConfiguration{}
	if err := scheme.Convert(versioned, c, nil); err != nil {
		return nil, err
	}
	return c, nil
}

func addFlags(fs *pflag.FlagSet, c *config.CAInjectorConfiguration) {
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "Path to a kubeconfig. Only required if out-of-cluster.")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "If set, this limits the scope of cainjector to a single namespace.")
	fs.StringSliceVar(&c.IgnoreNamespaces, "ignore-namespaces", c.IgnoreNamespaces, "Namespaces to ignore.")
	fs.BoolVar(&c.LeaderElectionConfig.Enabled, "leader-elect", c.LeaderElectionConfig.Enabled, "Use leader election.")
	fs.StringVar(&c.LeaderElectionConfig.Namespace, "leader-election-namespace", c.LeaderElectionConfig.Namespace, "Namespace for the leader election lease.")
	fs.DurationVar(&c.LeaderElectionConfig.LeaseDuration, "leader-election-lease-duration", c.LeaderElectionConfig.LeaseDuration, "Lease duration.")
	fs.DurationVar(&c.LeaderElectionConfig.RenewDeadline, "leader-election-renew-deadline", c.LeaderElectionConfig.RenewDeadline, "Renew deadline.")
	fs.DurationVar(&c.LeaderElectionConfig.RetryPeriod, "leader-election-retry-period", c.LeaderElectionConfig.RetryPeriod, "Retry period.")
	fs.BoolVar(&c.EnableDataSourceConfig.Certificates, "enable-certificates-data-source", c.EnableDataSourceConfig.Certificates, "Inject from cert-manager.io/inject-ca-from (requires cert-manager CRDs).")
	fs.BoolVar(&c.EnableInjectableConfig.MutatingWebhookConfigurations, "enable-mutatingwebhookconfigurations-injectable", c.EnableInjectableConfig.MutatingWebhookConfigurations, "Inject into MutatingWebhookConfigurations.")
	fs.BoolVar(&c.EnableInjectableConfig.ValidatingWebhookConfigurations, "enable-validatingwebhookconfigurations-injectable", c.EnableInjectableConfig.ValidatingWebhookConfigurations, "Inject into ValidatingWebhookConfigurations.")
	fs.BoolVar(&c.EnableInjectableConfig.CustomResourceDefinitions, "enable-customresourcedefinitions-injectable", c.EnableInjectableConfig.CustomResourceDefinitions, "Inject into CRD conversion webhooks.")
	fs.BoolVar(&c.EnableInjectableConfig.APIServices, "enable-apiservices-injectable", c.EnableInjectableConfig.APIServices, "Inject into APIServices.")
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "Metrics bind address ('0' disables).")
	fs.BoolVar(&c.EnablePprof, "enable-profiling", c.EnablePprof, "Enable pprof.")
	fs.StringVar(&c.PprofAddress, "profiler-address", c.PprofAddress, "pprof address.")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "key=value feature gates.")
	logf.AddFlags(&c.Logging, fs)
}

func run() error {
	logf.InitLogs()
	c, err := newConfig()
	if err != nil {
		return err
	}
	fs := pflag.NewFlagSet("cainjector", pflag.ContinueOnError)
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
	if errs := validation.ValidateCAInjectorConfiguration(c, nil); len(errs) > 0 {
		return errs.ToAggregate()
	}
	if err := logf.ValidateAndApply(&c.Logging); err != nil {
		return err
	}
	log := logf.Log.WithName("cainjector")
	ctrl.SetLogger(log)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx = logf.NewContext(ctx, log)

	//nolint:staticcheck
	restCfg, err := kube.BuildClientConfig("", c.KubeConfig)
	if err != nil {
		return err
	}
	// The injectors' server-side apply takes its field manager from the user agent
	// (upstream's cmd sets it too): without one every apply fails "fieldManager: Required value".
	restCfg = util.RestConfigWithUserAgent(restCfg, "cainjector")
	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmv1.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))

	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: c.MetricsListenAddress},
		HealthProbeBindAddress:        "0",
		LeaderElection:                c.LeaderElectionConfig.Enabled,
		LeaderElectionNamespace:       c.LeaderElectionConfig.Namespace,
		LeaderElectionID:              "cert-manager-cainjector-leader-election",
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &c.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:                 &c.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:                   &c.LeaderElectionConfig.RetryPeriod,
	}
	if c.EnablePprof {
		opts.PprofBindAddress = c.PprofAddress
	}
	if c.Namespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{c.Namespace: {}}}
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	_ = mgr.AddHealthzCheck("ping", healthz.Ping)
	if err := cainjector.RegisterAllInjectors(ctx, mgr, cainjector.SetupOptions{
		Namespace:                    c.Namespace,
		IgnoreNamespaces:             c.IgnoreNamespaces,
		EnableCertificatesDataSource: c.EnableDataSourceConfig.Certificates,
		EnabledReconcilersFor: map[string]bool{
			"mutatingwebhookconfiguration": c.EnableInjectableConfig.MutatingWebhookConfigurations,
			"validatingwebhookconfiguration": c.EnableInjectableConfig.ValidatingWebhookConfigurations,
			"apiservice": c.EnableInjectableConfig.APIServices,
			"customresourcedefinition": c.EnableInjectableConfig.CustomResourceDefinitions,
		},
	}); err != nil {
		return fmt.Errorf("registering injectors: %w", err)
	}
	return mgr.Start(ctx)
}
CMEOF

cat > cmd/webhook/main.go <<'CMEOF'
// Minimal webhook entrypoint written against cert-manager v1.21.2 root-module APIs
// (the upstream cmd/webhook module is not published on the Go module proxy).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"

	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		logf.FlushLogs()
		os.Exit(1)
	}
	logf.FlushLogs()
}

func run() error {
	logf.InitLogs()
	cfg, err := options.NewWebhookConfiguration()
	if err != nil {
		return err
	}
	fs := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	options.AddConfigFlags(fs, cfg)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == pflag.ErrHelp {
			return nil
		}
		return err
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(cfg.FeatureGates); err != nil {
		return err
	}
	if errs := validation.ValidateWebhookConfiguration(cfg, nil); len(errs) > 0 {
		return errs.ToAggregate()
	}
	if err := logf.ValidateAndApply(&cfg.Logging); err != nil {
		return err
	}
	log := logf.Log.WithName("webhook")
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx = logf.NewContext(ctx, log)
	srv, err := cmwebhook.NewCertManagerWebhookServer(log, *cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
CMEOF


go mod tidy
LDFLAGS="-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=${CM_VERSION}"  # sets default acmesolver image tag
go build -trimpath -ldflags="$LDFLAGS" -o "$OUTDIR/" ./cmd/controller ./cmd/cainjector ./cmd/webhook
ls -l "$OUTDIR"/controller "$OUTDIR"/cainjector "$OUTDIR"/webhook
