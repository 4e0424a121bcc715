package reconcile

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// SimpleDeploymentReconciler keeps one pod per SimpleDeployment, named by its
// generation: a spec edit replaces the pod, deletion removes it (owner reference).
type SimpleDeploymentReconciler struct {
	client.Client
	// Recorder records the Events of a SimpleDeployment.
	Recorder events.EventRecorder
	// AgentImage is the image of the pod; its agent's sleep command runs.
	AgentImage string
	// APIReader reads around the cache, which holds DiLO's pods only, to learn whose
	// pod took this generation's name.
	APIReader client.Reader
}

// +kubebuilder:rbac:groups=example.org,resources=simpledeployments,verbs=get;list;watch
// +kubebuilder:rbac:groups=example.org,resources=simpledeployments/status,verbs=get;patch
// +kubebuilder:rbac:groups=example.org,resources=simpledeployments/finalizers,verbs=update

// SetupWithManager registers the reconciler with mgr: it watches SimpleDeployments and
// the pods they control.
func (r *SimpleDeploymentReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("dilo-simpledeployment")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&dilov1.SimpleDeployment{}).
		Owns(&corev1.Pod{}).
		Named("simpledeployment").
		Complete(r)
}

// Reconcile deletes the pods of earlier generations, creates this generation's pod if
// it is missing, and patches status (children, observedGeneration) in a defer. It
// deletes only pods it controls (or an earlier SimpleDeployment of the same name did):
// its labels select the pods, but whoever may create a pod may set them.
func (r *SimpleDeploymentReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	sd := &dilov1.SimpleDeployment{}
	if err := r.Get(ctx, req.NamespacedName, sd); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sd.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := sd.DeepCopy()
	var children []string
	defer func() {
		if children == nil { // this generation's pod was not made: status stays
			return
		}
		sd.Status.Children, sd.Status.ObservedGeneration = children, sd.Generation
		if equality.Semantic.DeepEqual(before.Status, sd.Status) {
			return
		}
		err := r.Status().Patch(ctx, sd, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if err != nil && !apierrors.IsConflict(err) {
			retErr = fmt.Errorf("failed to patch status: %w", err)
		}
	}()

	desired, err := desiredSimpleDeploymentPod(sd, r.AgentImage)
	if err != nil {
		r.event(sd, corev1.EventTypeWarning, "InvalidSpec", err.Error())
		return ctrl.Result{}, nil // stalled until the spec changes
	}
	var list corev1.PodList
	if err := r.List(ctx, &list, client.InNamespace(sd.Namespace),
		client.MatchingLabels{dilov1.LabelManagedBy: dilov1.ManagedByDiLO, dilov1.LabelSimpleDeployment: sd.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list pods: %w", err)
	}
	exists := false
	for i := range list.Items {
		pod := &list.Items[i]
		own := metav1.IsControlledBy(pod, sd)
		if !own && !ofEarlierSimpleDeployment(pod, sd) {
			continue // it carries the labels, but is not ours to delete
		}
		if own && pod.Name == desired.Name {
			exists = true
			continue
		}
		if pod.DeletionTimestamp != nil {
			continue
		}
		err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return ctrl.Result{}, fmt.Errorf("failed to delete pod %s: %w", pod.Name, err)
		}
		log.FromContext(ctx).Info("Deleted pod of an earlier generation", "pod", client.ObjectKeyFromObject(pod))
		r.event(sd, corev1.EventTypeNormal, "Replaced", fmt.Sprintf("Deleted pod %s of an earlier generation", pod.Name))
	}
	if !exists {
		if err := r.createPod(ctx, sd, desired); err != nil {
			return ctrl.Result{}, err
		}
	}
	children = []string{desired.Name}
	return ctrl.Result{}, nil
}

// createPod creates this generation's pod, and fails unless it then exists and is sd's:
// a pod of that name may be another's, which status must not claim as sd's child.
func (r *SimpleDeploymentReconciler) createPod(ctx context.Context, sd *dilov1.SimpleDeployment, desired *corev1.Pod) error {
	err := r.Create(ctx, desired)
	if err == nil {
		r.event(sd, corev1.EventTypeNormal, "Created", fmt.Sprintf("Created pod %s", desired.Name))
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create pod %s: %w", desired.Name, err)
	}
	// Ours when an earlier reconcile created it and the cache has not seen it yet; the
	// cache cannot tell, as it holds no pod without DiLO's labels.
	pod := &corev1.Pod{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), pod); err != nil {
		return fmt.Errorf("failed to read pod %s, which exists: %w", desired.Name, err)
	}
	switch {
	case metav1.IsControlledBy(pod, sd):
		return nil
	case ofEarlierSimpleDeployment(pod, sd):
		return fmt.Errorf("pod %s of an earlier SimpleDeployment %s is not deleted yet", desired.Name, sd.Name)
	}
	msg := fmt.Sprintf("Pod %s exists and is not controlled by this SimpleDeployment; it is left alone", desired.Name)
	r.event(sd, corev1.EventTypeWarning, "PodNameTaken", msg)
	return errors.New(msg)
}

// ofEarlierSimpleDeployment reports whether pod's controller is a SimpleDeployment of
// sd's name but not sd: one deleted since (names are unique), whose pods the garbage
// collector deletes anyway, and one of which may hold the name sd's pod needs.
func ofEarlierSimpleDeployment(pod *corev1.Pod, sd *dilov1.SimpleDeployment) bool {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "SimpleDeployment" || ref.Name != sd.Name || ref.UID == sd.UID {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == dilov1.GroupVersion.Group
}

// event records an Event about sd.
func (r *SimpleDeploymentReconciler) event(sd *dilov1.SimpleDeployment, typ, reason, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(sd, nil, typ, reason, "Reconcile", "%s", note)
	}
}

// desiredSimpleDeploymentPod is the pod of sd's generation: <name>-<generation>, running
// `agent sleep`, once (restartPolicy Never).
func desiredSimpleDeploymentPod(sd *dilov1.SimpleDeployment, image string) (*corev1.Pod, error) {
	secs, err := sd.Spec.SleepSeconds()
	if err != nil {
		return nil, err
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-%d", sd.Name, sd.Generation),
			Namespace: sd.Namespace,
			Labels: map[string]string{
				dilov1.LabelManagedBy:        dilov1.ManagedByDiLO,
				dilov1.LabelSimpleDeployment: sd.Name,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(sd, dilov1.GroupVersion.WithKind("SimpleDeployment"))},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			EnableServiceLinks:           ptr.To(false),
			SecurityContext:              restrictedPodSecurity(),
			Containers: []corev1.Container{{
				Name:                     agentContainer,
				Image:                    image,
				Command:                  []string{"/agent", "sleep", fmt.Sprintf("--seconds=%d", secs), "--message=I'm so very useful!"},
				SecurityContext:          restrictedContainerSecurity(),
				Resources:                resources("10m", "16Mi", "100m", "32Mi"),
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}, nil
}
