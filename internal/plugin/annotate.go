package plugin

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// annotate sets the annotation key=value on lt with a merge patch, as `kubectl annotate
// --overwrite` does: no read-modify-write, so it never conflicts with the manager's
// status writes. lt is updated to the patched object.
func annotate(ctx context.Context, c client.Client, lt *dilov1.LoadTest, key, value string) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, lt, client.RawPatch(types.MergePatchType, body), client.FieldOwner(fieldManager)); err != nil {
		return describeAPIError(err, lt.Namespace, lt.Name)
	}
	return nil
}
