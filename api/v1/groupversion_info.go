// Package v1 holds DiLO's API, group example.org version v1: the LoadTest and
// SimpleDeployment kinds of the kopf tutorial DiLO implements.
//
// The types carry kubebuilder markers; `make generate` turns them into the CRDs in
// config/crd/bases and the deepcopy functions. The CRD schemas reject malformed input
// on their own, before any webhook runs, so the descriptions here are the user's manual
// (`kubectl explain loadtest.spec.test`).
//
// +kubebuilder:object:generate=true
// +groupName=example.org
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of DiLO's kinds.
	GroupVersion = schema.GroupVersion{Group: "example.org", Version: "v1"}

	// SchemeBuilder registers DiLO's kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds DiLO's kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
