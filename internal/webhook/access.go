package webhook

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Rights says whether user may do what attrs say: a verb on a resource of a namespace,
// or on one object of it by name.
type Rights func(ctx context.Context, user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, error)

// SubjectAccessReviewer asks the API server, with a SubjectAccessReview of the
// admission request's user, groups and extra, whether the user may do what attrs say:
// the question the API server would ask if they did it themselves (create pods, get a
// Secret) rather than through DiLO.
func SubjectAccessReviewer(c client.Client) Rights {
	return func(ctx context.Context, user authenticationv1.UserInfo, attrs authorizationv1.ResourceAttributes) (bool, error) {
		extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			extra[k] = authorizationv1.ExtraValue(v)
		}
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
			ResourceAttributes: &attrs,
		}}
		if err := c.Create(ctx, sar); err != nil {
			what := attrs.Resource
			if attrs.Name != "" {
				what += fmt.Sprintf(" %q", attrs.Name)
			}
			return false, fmt.Errorf("failed to ask the API server whether %q may %s %s in namespace %q: %w",
				user.Username, attrs.Verb, what, attrs.Namespace, err)
		}
		return sar.Status.Allowed, nil
	}
}
