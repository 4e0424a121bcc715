package webhook

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
)

// The API server calls the mutating webhook only when it has something to do (the
// matchCondition): method or repeat missing, or method not in upper case. The other
// defaults are in the CRD's schema, applied before admission, so that a LoadTest that
// names its method and repeat, like the tutorial's, costs one webhook call, not two.
// A spec without test, or with a method or repeat of the wrong type, is left to the
// schema, whose error names the field ("spec.test: Required value").
// +kubebuilder:webhook:path=/mutate-example-org-v1-loadtest,mutating=true,failurePolicy=fail,sideEffects=None,groups=example.org,resources=loadtests,verbs=create;update,versions=v1,name=mloadtest-v1.example.org,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"method-or-repeat-to-default","expression":"has(object.spec) && has(object.spec.test) && type(object.spec.test) == map && (!has(object.spec.test.method) || type(object.spec.test.method) == string) && (!has(object.spec.test.repeat) || type(object.spec.test.repeat) == int) && (!has(object.spec.test.method) || !has(object.spec.test.repeat) || object.spec.test.method != object.spec.test.method.upperAscii())"}]}`
// +kubebuilder:webhook:path=/validate-example-org-v1-loadtest,mutating=false,failurePolicy=fail,sideEffects=None,groups=example.org,resources=loadtests,verbs=create;update,versions=v1,name=vloadtest-v1.example.org,admissionReviewVersions=v1,timeoutSeconds=5

// The validator reads Services and their EndpointSlices from the manager's cache, and
// the Secrets (their metadata only) and ConfigMaps a LoadTest references from the API
// server: a cache of them would hold every Secret of the cluster. It also asks the API
// server whether a requester may create pods, or get those Secrets and ConfigMaps
// (SubjectAccessReviews, cluster-scoped): config/rbac's metrics-auth-role grants that,
// for the metrics endpoint's own reviews too, in the default and the namespaced
// installs alike.
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps,verbs=get

// LoadTestDefaulter fills in a LoadTest's defaults: dilov1.LoadTest.Default.
type LoadTestDefaulter struct{}

// Default implements admission.Defaulter.
func (LoadTestDefaulter) Default(_ context.Context, lt *dilov1.LoadTest) error {
	lt.Default()
	return nil
}

// LoadTestValidator runs the LoadTest rules of rules.go and of the cluster's policy.
type LoadTestValidator struct {
	// Services reads Services and EndpointSlices: the manager's cache, not the API server.
	Services client.Reader
	// References reads the Secrets and ConfigMaps a LoadTest references, to warn about
	// missing ones: the API server, not a cache, and a Secret's metadata only, so that
	// the webhook never holds a Secret's value. Nil: no such warnings.
	References client.Reader
	// Policy is what the cluster's DiLO allows LoadTest authors (the manager's flags).
	Policy policy.Policy
	// Rights says whether the requesting user may create pods, or get a Secret or
	// ConfigMap, in a namespace: a SubjectAccessReview (see SubjectAccessReviewer). Nil:
	// no such checks.
	Rights Rights
}

// ValidateCreate implements admission.Validator.
func (v *LoadTestValidator) ValidateCreate(ctx context.Context, lt *dilov1.LoadTest) (admission.Warnings, error) {
	errs := validateStopAnnotation(nil, lt)
	warnings, specErrs := v.validateSpec(ctx, lt)
	return warnings, invalid("LoadTest", lt, append(errs, specErrs...))
}

// ValidateUpdate implements admission.Validator. An update of an object being deleted
// is always allowed, so that a controller can remove its finalizer. An update that
// leaves the run's spec as it was (dilov1.RunSpec: it may change spec.updatePolicy,
// the TTL fields, spec.historyLimit, labels and annotations) is allowed but for a new
// example.org/stop value that is too long: the user can always switch policy, and
// stop a run. Any other spec edit is judged in full, the requester's rights included:
// the edit makes DiLO create pods, and read Secrets and ConfigMaps, as the spec says,
// whoever wrote the rest of it.
func (v *LoadTestValidator) ValidateUpdate(ctx context.Context, old, updated *dilov1.LoadTest) (admission.Warnings, error) {
	if updated.DeletionTimestamp != nil {
		return nil, nil
	}
	errs := validateStopAnnotation(old, updated)
	if len(changedSpecFields(old, updated)) == 0 {
		return nil, invalid("LoadTest", updated, errs)
	}
	errs = append(errs, validateEditWhileRunning(old, updated)...)
	warnings, specErrs := v.validateSpec(ctx, updated)
	return warnings, invalid("LoadTest", updated, append(errs, specErrs...))
}

// ValidateDelete implements admission.Validator: deleting is always allowed.
func (v *LoadTestValidator) ValidateDelete(context.Context, *dilov1.LoadTest) (admission.Warnings, error) {
	return nil, nil
}

// validateSpec runs every rule on lt and returns all their errors at once.
func (v *LoadTestValidator) validateSpec(ctx context.Context, lt *dilov1.LoadTest) (admission.Warnings, field.ErrorList) {
	spec, test := field.NewPath("spec"), field.NewPath("spec", "test")
	t := &lt.Spec.Test
	req, _ := admission.RequestFromContext(ctx)
	if errs := validateEncodedSize(req.Object.Raw); len(errs) > 0 {
		return nil, errs // too big to be worth judging further
	}
	var warnings []string
	judge := func(errs field.ErrorList, w []string) field.ErrorList {
		warnings = append(warnings, w...)
		return errs
	}
	errs := v.Policy.CheckLoad(&lt.Spec)
	if len(t.Requests) == 0 {
		errs = append(errs, validateMethod(t.Method, test.Child("method"))...)
		errs = append(errs, validateRequestPath(t.Path, test.Child("path"))...)
		errs = append(errs, judge(validateBody(t.Body, t.Method, test.Child("body")))...)
	} else {
		errs = append(errs, validateRequestMix(t, test)...)
		errs = append(errs, judge(validateRequests(t.Requests, test.Child("requests")))...)
	}
	errs = append(errs, validateHeaders(t.Headers, test.Child("headers"))...)
	errs = append(errs, judge(validateTLS(t.TLS, t.Protocol, test))...)
	errs = append(errs, validateLoad(&lt.Spec, test)...)
	errs = append(errs, judge(validateThresholds(lt.Spec.Thresholds, spec.Child("thresholds")))...)
	errs = append(errs, validateBaseline(&lt.Spec, spec)...)
	errs = append(errs, validateSchedule(&lt.Spec, spec)...)
	errs = append(errs, validatePodTemplate(lt.Spec.PodTemplate, spec.Child("podTemplate"))...)
	errs = append(errs, policy.CheckReservedKeys(lt.Spec.PodTemplate)...)
	namespace := namespaceOf(ctx, lt)
	if shaping := v.Policy.PodShaping(lt.Spec.PodTemplate); len(shaping) > 0 {
		errs = append(errs, v.checkPodRights(ctx, req, namespace, shaping)...)
	}
	if refs := references(t, test); len(refs) > 0 {
		errs = append(errs, judge(v.checkReferences(ctx, req, namespace, refs))...)
	}

	svc, err := v.service(ctx, namespace, t.ServiceName)
	if err != nil {
		return warnings, append(errs, field.InternalError(test.Child("serviceName"), err))
	}
	if svc == nil {
		return warnings, append(errs, serviceNotFound(namespace, t.ServiceName, test.Child("serviceName")))
	}
	var slices discoveryv1.EndpointSliceList
	if err := v.Services.List(ctx, &slices, client.InNamespace(namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: svc.Name}); err != nil {
		return warnings, append(errs, field.InternalError(test.Child("serviceName"),
			fmt.Errorf("failed to list the EndpointSlices of Service %q: %w", svc.Name, err)))
	}
	if _, msg := v.Policy.ServiceProblem(svc, slices.Items); msg != "" {
		return warnings, append(errs, field.Invalid(test.Child("serviceName"), svc.Name, msg))
	}
	errs = append(errs, validateServicePort(t.Port, svc, test.Child("port"))...)
	return append(warnNoReadyEndpoints(namespace, svc, slices.Items), warnings...), errs
}

// checkPodRights returns the pod-shaping errors when the requester may not create pods
// in namespace (nothing when they may): DiLO must not shape pods for someone who could
// not create them.
func (v *LoadTestValidator) checkPodRights(ctx context.Context, req admission.Request, namespace string, shaping field.ErrorList) field.ErrorList {
	if v.Rights == nil {
		return nil
	}
	allowed, err := v.Rights(ctx, req.UserInfo, authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Resource: "pods"})
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec", "podTemplate"), err)}
	}
	if allowed {
		return nil
	}
	who := fmt.Sprintf("user %q", req.UserInfo.Username)
	for _, e := range shaping {
		e.Detail += fmt.Sprintf(": %s may not create pods in namespace %q, so may not have DiLO create such pods either", who, namespace)
	}
	return shaping
}

// checkReferences denies the references of refs to Secrets and ConfigMaps that the
// requester may not get (one access review per object): a LoadTest author must not
// have DiLO read, and send to a Service, what they could not read themselves. Of the
// others, it warns about those missing, or missing the key (warnMissingReferences),
// which it reads only once the requester's right to them is known, so that a warning
// never tells anyone of a Secret they may not see.
func (v *LoadTestValidator) checkReferences(ctx context.Context, req admission.Request, namespace string, refs []reference) (field.ErrorList, []string) {
	var errs field.ErrorList
	read := map[object]found{}
	for _, r := range objects(refs) {
		if v.Rights != nil {
			allowed, err := v.Rights(ctx, req.UserInfo, authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: "get", Resource: r.resource, Name: r.name})
			if err != nil {
				errs = append(errs, field.InternalError(r.path, err))
				continue
			}
			if !allowed {
				errs = append(errs, referenceForbidden(req.UserInfo.Username, namespace, r))
				continue
			}
		}
		if v.References == nil {
			continue
		}
		f, err := v.read(ctx, namespace, r.object)
		if err != nil {
			// Not the author's doing, and not a reason to deny: the controller checks
			// again when a run starts.
			log.FromContext(ctx).Error(err, "Failed to read a referenced object", "namespace", namespace, "name", r.name, "resource", r.resource)
			continue
		}
		read[r.object] = f
	}
	return errs, warnMissingReferences(namespace, refs, read)
}

// read reads o from the API server: a Secret's metadata only, a ConfigMap whole.
func (v *LoadTestValidator) read(ctx context.Context, namespace string, o object) (found, error) {
	key := client.ObjectKey{Namespace: namespace, Name: o.name}
	var err error
	f := found{exists: true}
	if o.resource == "secrets" {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err = v.References.Get(ctx, key, meta)
	} else {
		cm := &corev1.ConfigMap{}
		if err = v.References.Get(ctx, key, cm); err == nil {
			f.keys = make(map[string]bool, len(cm.Data)+len(cm.BinaryData))
			for k := range cm.Data {
				f.keys[k] = true
			}
			for k := range cm.BinaryData {
				f.keys[k] = true
			}
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return found{}, nil
	case err != nil:
		return found{}, fmt.Errorf("failed to read %s %q in namespace %q: %w", o.kind(), o.name, namespace, err)
	}
	return f, nil
}

// service returns the Service name in namespace, or nil if there is none.
func (v *LoadTestValidator) service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	if name == "" {
		return nil, nil
	}
	svc := &corev1.Service{}
	err := v.Services.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, svc)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read Service %q in namespace %q: %w", name, namespace, err)
	}
	return svc, nil
}

// namespaceOf is obj's namespace, or the admission request's when the object does
// not carry it.
func namespaceOf(ctx context.Context, obj client.Object) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns
	}
	if req, err := admission.RequestFromContext(ctx); err == nil {
		return req.Namespace
	}
	return ""
}

// invalid wraps errs in the Invalid status error kubectl prints as
// `The LoadTest "x" is invalid: ...`, or returns nil when there are none.
func invalid(kind string, obj client.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	name := obj.GetName()
	if name == "" {
		name = obj.GetGenerateName()
	}
	return apierrors.NewInvalid(dilov1.GroupVersion.WithKind(kind).GroupKind(), name, errs)
}
