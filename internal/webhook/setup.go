package webhook

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
)

// Options configure the webhooks.
type Options struct {
	// Policy is what LoadTest authors are allowed (the manager's flags).
	Policy policy.Policy
}

// Setup registers the LoadTest defaulter and validator and the SimpleDeployment
// validator with mgr's webhook server. The validator reads Services and
// EndpointSlices from mgr's cache; Setup registers their informers now, so that they
// start, and sync, with the manager rather than on the first admission request.
func Setup(mgr ctrl.Manager, opts Options) error {
	if err := opts.Policy.Validate(); err != nil {
		return err
	}
	for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}} {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("failed to get the %T informer: %w", obj, err)
		}
	}
	err := ctrl.NewWebhookManagedBy(mgr, &dilov1.LoadTest{}).
		WithDefaulter(LoadTestDefaulter{}).
		WithValidator(&LoadTestValidator{
			Services: mgr.GetClient(), References: mgr.GetAPIReader(), Policy: opts.Policy, Rights: SubjectAccessReviewer(mgr.GetClient()),
		}).
		Complete()
	if err != nil {
		return fmt.Errorf("failed to register the LoadTest webhooks: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &dilov1.SimpleDeployment{}).
		WithValidator(SimpleDeploymentValidator{}).
		Complete(); err != nil {
		return fmt.Errorf("failed to register the SimpleDeployment webhook: %w", err)
	}
	return nil
}
