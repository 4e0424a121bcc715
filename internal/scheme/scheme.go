// Package scheme builds the runtime.Scheme DiLO's manager, webhooks and tests share:
// the built-in Kubernetes kinds plus DiLO's own.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// New returns a scheme with the built-in kinds and DiLO's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(dilov1.AddToScheme(s))
	return s
}
