// Package testenv starts the real control plane DiLO's integration tests run against:
// kube-apiserver and etcd through controller-runtime's envtest, with DiLO's generated
// CRDs installed and, when asked, kube-controller-manager's garbage collector (and any
// other of its controllers, such as the Job controller), which envtest alone does not run.
//
// The binaries come from KUBEBUILDER_ASSETS, which `make test` sets to the directory
// `make k8s-bin` builds. A test binary started without it fails at once, saying so:
// an integration test that silently skips proves nothing.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/dilo-operator/dilo/internal/scheme"
)

// Options say which optional parts of the control plane a test suite needs.
type Options struct {
	// GarbageCollector runs kube-controller-manager's garbage collector, so that
	// owner references really delete dependents.
	GarbageCollector bool
	// Controllers are more of kube-controller-manager's controllers to run, by their
	// --controllers names (e.g. "job-controller"); with GarbageCollector, the garbage
	// collector runs too.
	Controllers []string
	// ControllerManagerArgs are extra kube-controller-manager flags (e.g.
	// --kube-api-qps), used when it runs.
	ControllerManagerArgs []string
	// Webhooks installs the webhook configurations in config/webhook, pointed at a
	// local TLS server that the suite starts on Env.WebhookOptions' host and port.
	Webhooks bool
	// WebhookPort is the port on 127.0.0.1 the webhook configurations point at (with
	// Webhooks), for a webhook server in another process; 0 picks a free one.
	WebhookPort int
	// EtcdNoFsync runs etcd with --unsafe-no-fsync: for benchmarks of something other
	// than the disk, whose fsync latency would otherwise dominate their tails.
	EtcdNoFsync bool
}

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *k8sruntime.Scheme
	// WebhookOptions holds the local serving host, port and certificate directory the
	// API server calls when Options.Webhooks is set.
	WebhookOptions *envtest.WebhookInstallOptions
	// Assets is the directory holding the Kubernetes binaries (kubectl among them).
	Assets string

	env *envtest.Environment
	kcm *exec.Cmd
	dir string
}

// RepoRoot is the repository's root directory, found from this file's location so
// that tests run from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts kube-apiserver and etcd with DiLO's CRDs, plus what opts asks for.
func Start(opts Options) (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run the integration tests with `make test`, " +
			"or export KUBEBUILDER_ASSETS=$(make -s k8s-bin | tail -1)")
	}
	root := RepoRoot()
	e := &Env{Scheme: scheme.New(), Assets: assets}
	e.env = &envtest.Environment{
		Scheme:                e.Scheme,
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if opts.EtcdNoFsync {
		e.env.ControlPlane.Etcd = &envtest.Etcd{}
		e.env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
	}
	if opts.Webhooks {
		e.env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")},
		}
		if opts.WebhookPort != 0 {
			e.env.WebhookInstallOptions.LocalServingHost = "127.0.0.1"
			e.env.WebhookInstallOptions.LocalServingPort = opts.WebhookPort
		}
		e.WebhookOptions = &e.env.WebhookInstallOptions
	}
	cfg, err := e.env.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start kube-apiserver and etcd from %s: %w", assets, err)
	}
	e.Config = cfg
	if e.Client, err = client.New(cfg, client.Options{Scheme: e.Scheme}); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("failed to create a client: %w", err)
	}
	controllers := slices.Clone(opts.Controllers)
	if opts.GarbageCollector {
		controllers = append(controllers, "garbage-collector-controller")
	}
	if len(controllers) > 0 {
		if err := e.startControllerManager(controllers, opts.ControllerManagerArgs); err != nil {
			_ = e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// startControllerManager runs kube-controller-manager with only controllers, as a
// cluster-admin user of this API server.
func (e *Env) startControllerManager(controllers, args []string) error {
	user, err := e.env.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("failed to add a user for kube-controller-manager: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("failed to write kube-controller-manager's kubeconfig: %w", err)
	}
	if e.dir, err = os.MkdirTemp("", "dilo-kcm-"); err != nil {
		return err
	}
	path := filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(e.dir, "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	e.kcm = exec.Command(filepath.Join(e.Assets, "kube-controller-manager"), append([]string{
		"--kubeconfig=" + path,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
	}, args...)...)
	e.kcm.Stdout, e.kcm.Stderr = log, log
	if err := e.kcm.Start(); err != nil {
		return fmt.Errorf("failed to start kube-controller-manager: %w", err)
	}
	return nil
}

// WebhookServer returns a webhook server listening where the API server calls DiLO's
// webhooks (Options.Webhooks), with the serving certificate envtest made.
func (e *Env) WebhookServer() crwebhook.Server {
	wo := e.WebhookOptions
	return crwebhook.NewServer(crwebhook.Options{
		Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
	})
}

// AdminKubeconfig writes a kubeconfig for a cluster-admin user of this API server
// into dir and returns its path, for tools such as kubectl.
func (e *Env) AdminKubeconfig(dir string) (string, error) {
	user, err := e.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("failed to add an admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("failed to write the admin kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// Kustomize renders config/<dir> with the kubectl of KUBEBUILDER_ASSETS (the one
// `make k8s-bin` builds; CI's machine has no other) and returns its objects.
func Kustomize(dir string) ([]*unstructured.Unstructured, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make test`, " +
			"or export KUBEBUILDER_ASSETS=$(make -s k8s-bin | tail -1)")
	}
	kubectl := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		return nil, fmt.Errorf("no kubectl in KUBEBUILDER_ASSETS (build it with hack/k8s-bin.sh kubectl): %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", filepath.Join(RepoRoot(), "config", dir))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize config/%s: %w\n%s", dir, err, stderr.String())
	}
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("failed to decode the output of kubectl kustomize config/%s: %w", dir, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// Stop stops everything Start started.
func (e *Env) Stop() error {
	var errs []error
	if e.kcm != nil && e.kcm.Process != nil {
		_ = e.kcm.Process.Kill()
		_ = e.kcm.Wait()
	}
	if e.dir != "" && os.Getenv("DILO_KEEP_TESTENV") == "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	if e.env != nil {
		errs = append(errs, e.env.Stop())
	}
	return errors.Join(errs...)
}

// CreateNamespace creates a namespace with a generated name, so that tests sharing
// one API server do not see each other's objects.
func (e *Env) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("failed to create a namespace: %w", err)
	}
	return ns.Name, nil
}

// Eventually polls cond every 50ms until it returns nil or timeout passes, and
// returns its last error then. Tests synchronise with it, never with sleeps.
func Eventually(ctx context.Context, timeout time.Duration, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still failing after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}
