package webhook

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PodRights says whether user may create pods in namespace.
type PodRights func(ctx context.Context, user authenticationv1.UserInfo, namespace string) (bool, error)

// PodRightsReviewer asks the API server, with a SubjectAccessReview of the admission
// request's user, groups and extra, whether the user may create pods in the namespace:
// the same question the API server would ask if they created a pod themselves.
func PodRightsReviewer(c client.Client) PodRights {
	return func(ctx context.Context, user authenticationv1.UserInfo, namespace string) (bool, error) {
		extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			extra[k] = authorizationv1.ExtraValue(v)
		}
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Resource: "pods"},
		}}
		if err := c.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("failed to ask the API server whether %q may create pods: %w", user.Username, err)
		}
		return sar.Status.Allowed, nil
	}
}
