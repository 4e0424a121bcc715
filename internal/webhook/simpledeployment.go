package webhook

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// +kubebuilder:webhook:path=/validate-example-org-v1-simpledeployment,mutating=false,failurePolicy=fail,sideEffects=None,groups=example.org,resources=simpledeployments,verbs=create;update,versions=v1,name=vsimpledeployment-v1.example.org,admissionReviewVersions=v1,timeoutSeconds=5

// SimpleDeploymentValidator runs the SimpleDeployment rule of rules.go.
type SimpleDeploymentValidator struct{}

// ValidateCreate implements admission.Validator.
func (SimpleDeploymentValidator) ValidateCreate(_ context.Context, sd *dilov1.SimpleDeployment) (admission.Warnings, error) {
	return nil, invalid("SimpleDeployment", sd, validateSimpleDeploymentSpec(sd))
}

// ValidateUpdate implements admission.Validator. An update that leaves the spec as
// it was, or of an object being deleted, is always allowed.
func (SimpleDeploymentValidator) ValidateUpdate(_ context.Context, old, updated *dilov1.SimpleDeployment) (admission.Warnings, error) {
	if updated.DeletionTimestamp != nil || equality.Semantic.DeepEqual(old.Spec, updated.Spec) {
		return nil, nil
	}
	return nil, invalid("SimpleDeployment", updated, validateSimpleDeploymentSpec(updated))
}

// ValidateDelete implements admission.Validator: deleting is always allowed.
func (SimpleDeploymentValidator) ValidateDelete(context.Context, *dilov1.SimpleDeployment) (admission.Warnings, error) {
	return nil, nil
}

func validateSimpleDeploymentSpec(sd *dilov1.SimpleDeployment) field.ErrorList {
	return validateSleepytime(sd.Spec.Sleepytime, field.NewPath("spec", "sleepytime"))
}
