package plugin

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// fieldManager is kubectl-dilo's field manager for server-side apply, and the name
// Kubernetes' audit log and managedFields show for its writes.
const fieldManager = "kubectl-dilo"

// conn is a connection to the cluster the flags name.
type conn struct {
	c  client.WithWatch
	cs kubernetes.Interface
	// ns is the namespace: -n, else the kubeconfig context's, else "default";
	// explicitNS says it was given with -n.
	ns         string
	explicitNS bool
}

// connect makes the clients from the kubeconfig flags, as kubectl does. API warnings
// (a deprecated field, say) are printed to stderr as kubectl prints them.
func (c *cli) connect() (*conn, error) {
	ns, explicit, err := c.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, apiError{fmt.Errorf("failed to read the kubeconfig: %w", err)}
	}
	cfg, err := c.flags.ToRESTConfig()
	if err != nil {
		return nil, apiError{fmt.Errorf("failed to read the kubeconfig: %w", err)}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NewWarningWriter(c.errOut, rest.WarningWriterOptions{Deduplicate: true})
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, apiError{fmt.Errorf("failed to create a client for %s: %w", cfg.Host, err)}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, apiError{fmt.Errorf("failed to create a client for %s: %w", cfg.Host, err)}
	}
	return &conn{c: cl, cs: cs, ns: ns, explicitNS: explicit}, nil
}

// getLoadTest reads a LoadTest, with an error that names it and says what to do when
// it is missing or DiLO is not installed.
func getLoadTest(ctx context.Context, c client.Reader, ns, name string) (*dilov1.LoadTest, error) {
	lt := &dilov1.LoadTest{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, lt); err != nil {
		return nil, describeAPIError(err, ns, name)
	}
	return lt, nil
}

// describeAPIError says which LoadTest an API error is about, and what to do about the
// usual ones.
func describeAPIError(err error, ns, name string) error {
	switch {
	case apierrors.IsNotFound(err):
		return apiError{fmt.Errorf("loadtest %q not found in namespace %q: `kubectl get ld -n %s` lists the LoadTests there", name, ns, ns)}
	case meta.IsNoMatchError(err):
		return apiError{fmt.Errorf("the cluster has no LoadTest API (%s): install DiLO first (kubectl apply -f dist/install.yaml)", dilov1.GroupVersion)}
	case apierrors.IsForbidden(err):
		return apiError{fmt.Errorf("loadtest %q in namespace %q: %w (ask for a Role that grants it)", name, ns, err)}
	}
	return apiError{fmt.Errorf("loadtest %q in namespace %q: %w", name, ns, err)}
}
