// Command manager runs DiLO's controllers and admission webhooks.
//
// It takes kubebuilder's flags and runs in or out of a cluster (against $KUBECONFIG).
// With ENABLE_WEBHOOKS=false it starts no webhook server, for development.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	// spec.timeZone names IANA zones; DiLO's image holds no zoneinfo.
	_ "time/tzdata"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	dilometrics "github.com/dilo-operator/dilo/internal/metrics"
	"github.com/dilo-operator/dilo/internal/metricsauth"
	"github.com/dilo-operator/dilo/internal/policy"
	"github.com/dilo-operator/dilo/internal/progress"
	"github.com/dilo-operator/dilo/internal/reconcile"
	"github.com/dilo-operator/dilo/internal/scheme"
	webhooks "github.com/dilo-operator/dilo/internal/webhook"
)

// options are the manager's flags.
type options struct {
	metricsAddr          string
	secureMetrics        bool
	metricsCertPath      string
	metricsCertName      string
	metricsCertKey       string
	probeAddr            string
	enableLeaderElection bool
	enableHTTP2          bool
	webhookCertPath      string
	webhookCertName      string
	webhookCertKey       string
	enableWebhooks       bool

	// agentImage is the image of the load-generator pods (and SimpleDeployment pods).
	agentImage string
	// maxReplicas is the cap on spec.replicas, at most the schema's.
	maxReplicas int
	// policy is what LoadTest authors are allowed (but for maxReplicas, set from it).
	policy policy.Policy
	// maxRunningPerNamespace caps the runs executing at once in a namespace; 0: no cap.
	maxRunningPerNamespace int
	// watchNamespaces, when set, are the only namespaces the manager watches (its
	// --watch-namespaces); empty means every namespace.
	watchNamespaces string
	// leaderElectionNamespace holds the leader-election Lease; empty means the pod's own
	// namespace, which only a manager running in a cluster has. No flag: tests set it.
	leaderElectionNamespace string
	// liveInterval is the live progress' read interval; 0 turns it off.
	liveInterval time.Duration
	livePort     int
}

// defaultGCPercent is the manager's GOGC unless the environment sets one: its heap may
// grow 50% over what is live between collections instead of Go's 100%. The manager's
// live heap is small (about 15 MiB following 1000 agents) and its memory request is
// 64Mi; the peak falls by about 7 MiB there, for about 0.03 core more.
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	opts := parseFlags()
	if err := run(opts); err != nil {
		ctrl.Log.WithName("setup").Error(err, "Manager failed")
		os.Exit(1)
	}
}

func parseFlags() options {
	var o options
	bindFlags(flag.CommandLine, &o)
	zapOpts := zap.Options{Development: true}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// kubebuilder's convention: ENABLE_WEBHOOKS=false runs the controllers alone.
	o.enableWebhooks = os.Getenv("ENABLE_WEBHOOKS") != "false"
	return o
}

// bindFlags defines the manager's flags (but the logger's) in fs, storing into o.
func bindFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"If set, the metrics endpoint is served securely via HTTPS. Use --metrics-secure=false to use HTTP instead.")
	fs.StringVar(&o.metricsCertPath, "metrics-cert-path", "", "The directory that contains the metrics server certificate.")
	fs.StringVar(&o.metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	fs.StringVar(&o.metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	fs.BoolVar(&o.enableLeaderElection, "leader-elect", false,
		"Enable leader election for controller manager. "+
			"Enabling this will ensure there is only one active controller manager.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"If set, HTTP/2 will be enabled for the metrics and webhook servers.")
	fs.StringVar(&o.webhookCertPath, "webhook-cert-path", "", "The directory that contains the webhook certificate.")
	fs.StringVar(&o.webhookCertName, "webhook-cert-name", "tls.crt", "The name of the webhook certificate file.")
	fs.StringVar(&o.webhookCertKey, "webhook-cert-key", "tls.key", "The name of the webhook key file.")
	fs.StringVar(&o.agentImage, "agent-image", "localhost/dilo:dev",
		"The image of the load-generator pods and SimpleDeployment pods; it holds the /agent binary.")
	o.policy = policy.Default()
	fs.IntVar(&o.maxReplicas, "max-replicas", int(o.policy.MaxReplicas),
		fmt.Sprintf("The cap on a LoadTest's spec.replicas (at most %d, the schema's).", dilov1.MaxReplicas))
	fs.Int64Var(&o.policy.MaxConnections, "max-connections-per-loadtest", o.policy.MaxConnections,
		"The cap on a LoadTest's connections, replicas × spec.test.concurrency; 0: no cap.")
	fs.Int64Var(&o.policy.MaxRate, "max-rate-per-loadtest", o.policy.MaxRate,
		"The cap on a LoadTest's requests per second, replicas × spec.test.rate; 0: no cap.")
	fs.DurationVar(&o.policy.DefaultDeadline, "default-deadline", o.policy.DefaultDeadline,
		"The deadline of a run whose spec.deadlineSeconds is unset; 0: none.")
	fs.DurationVar(&o.policy.MaxDeadline, "max-deadline", o.policy.MaxDeadline,
		"The cap on spec.deadlineSeconds; 0: no cap.")
	fs.Func("pod-label-prefixes",
		"Comma-separated prefixes of the label keys spec.podTemplate may set without its author's right to create pods, e.g. cost.example.com/ (default: none).",
		func(v string) error { o.policy.PodLabelPrefixes = splitList(v); return nil })
	fs.Func("pod-annotation-prefixes",
		"Comma-separated prefixes of the annotation keys spec.podTemplate may set without its author's right to create pods, e.g. sidecar.istio.io/ (default: none).",
		func(v string) error { o.policy.PodAnnotationPrefixes = splitList(v); return nil })
	fs.Func("pod-max-cpu", fmt.Sprintf("The most CPU spec.podTemplate may request or limit per pod without its author's right to create pods (default %s).", o.policy.MaxPodCPU.String()),
		func(v string) (err error) { o.policy.MaxPodCPU, err = resource.ParseQuantity(v); return err })
	fs.Func("pod-max-memory", fmt.Sprintf("The most memory spec.podTemplate may request or limit per pod without its author's right to create pods (default %s).", o.policy.MaxPodMemory.String()),
		func(v string) (err error) { o.policy.MaxPodMemory, err = resource.ParseQuantity(v); return err })
	fs.BoolVar(&o.policy.AllowServicesWithoutSelector, "allow-services-without-selector", false,
		"Let LoadTests target Services without a selector, or with EndpointSlices the EndpointSlice controller did not make: their endpoints can point anywhere, outside the cluster too.")
	fs.StringVar(&o.policy.ClusterDomain, "cluster-domain", o.policy.ClusterDomain,
		"The cluster's DNS domain: agents dial a headless Service by its fully qualified name in it.")
	fs.IntVar(&o.maxRunningPerNamespace, "max-running-per-namespace", 0,
		"The most LoadTest runs executing at once in one namespace; the others wait, pending, in order. 0: no cap.")
	fs.DurationVar(&o.liveInterval, "live-interval", progress.DefaultInterval,
		"How often the manager reads the agents of executing runs for status.progress (plus 1s per 250 pods being read); 0: no live progress.")
	fs.IntVar(&o.livePort, "live-port", dilov1.PortLive,
		"The port the manager reads the agents' snapshots on; the pods always serve them on 9090 (another value is for tests).")
	fs.StringVar(&o.watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces the manager watches and runs LoadTests in, e.g. a,b; empty: every namespace. "+
			"With it the manager needs rights in those namespaces only (config/namespaced).")
}

func run(o options) error {
	mgr, err := newManager(ctrl.GetConfigOrDie(), o)
	if err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

// newManager sets up, without starting it, the manager o describes talking to the API
// server as cfg: its cache, DiLO's controllers and, if enabled, the webhooks.
func newManager(cfg *rest.Config, o options) (ctrl.Manager, error) {
	if o.maxReplicas < 1 || o.maxReplicas > dilov1.MaxReplicas {
		return nil, fmt.Errorf("--max-replicas=%d: must be from 1 to %d", o.maxReplicas, dilov1.MaxReplicas)
	}
	o.policy.MaxReplicas = int32(o.maxReplicas)
	if err := o.policy.Validate(); err != nil {
		return nil, err
	}
	if o.maxRunningPerNamespace < 0 {
		return nil, fmt.Errorf("--max-running-per-namespace=%d: must not be negative", o.maxRunningPerNamespace)
	}
	namespaces, err := parseWatchNamespaces(o.watchNamespaces)
	if err != nil {
		return nil, fmt.Errorf("--watch-namespaces=%s: %w", o.watchNamespaces, err)
	}
	// HTTP/2 stays off unless asked for: its stream cancellation and rapid reset CVEs.
	var tlsOpts []func(*tls.Config)
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}

	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics, TLSOpts: tlsOpts}
	if o.secureMetrics {
		metrics.FilterProvider = metricsauth.Filter
	}
	if o.metricsCertPath != "" {
		metrics.CertDir, metrics.CertName, metrics.KeyName = o.metricsCertPath, o.metricsCertName, o.metricsCertKey
	}
	webhookOpts := webhook.Options{TLSOpts: tlsOpts}
	if o.webhookCertPath != "" {
		webhookOpts.CertDir, webhookOpts.CertName, webhookOpts.KeyName = o.webhookCertPath, o.webhookCertName, o.webhookCertKey
	}

	mgrOpts := ctrl.Options{
		Scheme:                  scheme.New(),
		Metrics:                 metrics,
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.enableLeaderElection,
		LeaderElectionID:        "dilo.example.org",
		LeaderElectionNamespace: o.leaderElectionNamespace,
		// main returns as soon as the manager stops, so stepping down at once is safe
		// and lets a standby take over without waiting out the lease.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cacheOptions(namespaces),
	}
	if o.enableWebhooks {
		mgrOpts.WebhookServer = webhook.NewServer(webhookOpts)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("failed to create the manager: %w", err)
	}
	ltr := &reconcile.LoadTestReconciler{AgentImage: o.agentImage, Policy: o.policy, MaxRunningPerNamespace: o.maxRunningPerNamespace}
	if err := ltr.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the LoadTest controller: %w", err)
	}
	if err := (&reconcile.SimpleDeploymentReconciler{AgentImage: o.agentImage}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the SimpleDeployment controller: %w", err)
	}
	dilometrics.MustRegisterRuns(mgr.GetCache()) // dilo_loadtest_runs, counted from the cache at scrape time
	if o.liveInterval > 0 {
		poller := &progress.Poller{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			Recorder: mgr.GetEventRecorder("dilo-progress"), Interval: o.liveInterval, Port: o.livePort}
		if err := mgr.Add(poller); err != nil {
			return nil, fmt.Errorf("failed to add the live progress poller: %w", err)
		}
		crmetrics.Registry.MustRegister(poller) // dilo_loadtest_live_*
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add the ready check: %w", err)
	}
	if o.enableWebhooks {
		if err := webhooks.Setup(mgr, webhooks.Options{Policy: o.policy}); err != nil {
			return nil, err
		}
		// Ready only once the webhook server serves: the API server calls only ready pods.
		if err := mgr.AddReadyzCheck("webhooks", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return nil, fmt.Errorf("failed to add the webhook ready check: %w", err)
		}
	}
	ctrl.Log.WithName("setup").Info("Starting manager", "webhooks", o.enableWebhooks, "watchNamespaces", namespaces)
	return mgr, nil
}

// cacheOptions makes the manager's cache hold only the pods DiLO created, trimmed to
// what its controllers read (reconcile.PodCache), and LoadTests without kubectl's copy
// of their last applied configuration (reconcile.LoadTestCache), so that memory stays
// proportional to DiLO's own work; and, when namespaces are given, only objects of
// those namespaces (nil: every namespace).
func cacheOptions(namespaces []string) cache.Options {
	o := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:      reconcile.PodCache(),
			&dilov1.LoadTest{}: reconcile.LoadTestCache(),
		},
		// DiLO never reads managed fields; they are a large share of a cached object.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// splitList splits a comma-separated flag value, dropping spaces and empty entries.
func splitList(v string) []string {
	var out []string
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// parseWatchNamespaces parses --watch-namespaces: namespace names separated by commas,
// spaces around them ignored. It returns them sorted without duplicates, nil for an
// empty value (every namespace), and an error naming every entry that is not a
// namespace name (an empty entry included).
func parseWatchNamespaces(value string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var namespaces, bad []string
	for entry := range strings.SplitSeq(value, ",") {
		ns := strings.TrimSpace(entry)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			bad = append(bad, fmt.Sprintf("%q: %s", ns, strings.Join(errs, "; ")))
			continue
		}
		namespaces = append(namespaces, ns)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not namespace names: %s", strings.Join(bad, ", "))
	}
	slices.Sort(namespaces)
	return slices.Compact(namespaces), nil
}
