package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/policy"
)

const (
	// startDir is where the downward-API volume projects the start-at, stop-at and
	// run-plan annotations.
	startDir = "/etc/dilo/start"
	// startFile is the file the agent waits on (the plan's start.file).
	startFile = startDir + "/at"
	// stopFile is the file that tells the agent to stop sending early (the plan's
	// stop.file): empty until the pod's stop-at annotation is set.
	stopFile = startDir + "/stop"
	// planFile is the agent's run plan (--plan-file).
	planFile = startDir + "/plan"
)

// runSpecHash identifies what a run runs (dilov1.RunSpec): a new generation with the
// same hash goes on with the same run.
func runSpecHash(spec dilov1.LoadTestSpec) (string, error) {
	data, err := json.Marshal(dilov1.RunSpec(spec))
	if err != nil {
		return "", fmt.Errorf("failed to hash the spec: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// failure is why a run failed: a condition reason and a message naming the culprit.
type failure struct {
	Reason  string
	Message string
}

// podRejected says why the run fails when the API server refuses one of its pods for
// good: an invalid pod (a bad spec.podTemplate), or one an admission plugin forbids
// (Pod Security, a ResourceQuota). Retrying the same pod would leave the run pending
// forever. Other errors are retried.
func podRejected(name string, err error) *failure {
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
		return nil
	}
	return &failure{Reason: dilov1.ReasonPodRejected, Message: fmt.Sprintf("the API server refused pod %s: %v", name, err)}
}

// resolveTarget decides what a run sends to, from the Service the LoadTest names (nil
// when it does not exist) and its EndpointSlices, or says why the run cannot start.
// The agents connect to the Service's cluster IP, or to a headless Service's fully
// qualified name: never to a name the pods' DNS search path could complete elsewhere.
func resolveTarget(lt *dilov1.LoadTest, svc *corev1.Service, slices []discoveryv1.EndpointSlice, pol policy.Policy) (*dilov1.RunTarget, *failure) {
	name := lt.Spec.Test.ServiceName
	if svc == nil {
		return nil, &failure{dilov1.ReasonServiceNotFound,
			fmt.Sprintf("Service %s/%s does not exist", lt.Namespace, name)}
	}
	if reason, msg := pol.ServiceProblem(svc, slices); reason != "" {
		return nil, &failure{reason, msg}
	}
	port, ok := dilov1.ServicePort(svc, lt.Spec.Test.Port)
	if !ok {
		want := "any port"
		if lt.Spec.Test.Port != nil {
			want = "port " + lt.Spec.Test.Port.String()
		}
		return nil, &failure{dilov1.ReasonServicePortNotFound,
			fmt.Sprintf("Service %s/%s has no %s", lt.Namespace, name, want)}
	}
	host := fmt.Sprintf("%s.%s.svc", name, lt.Namespace)
	address := svc.Spec.ClusterIP
	if address == "" || address == corev1.ClusterIPNone {
		address = host + "." + pol.ClusterDomain + "."
	}
	if port != 80 {
		host += ":" + strconv.Itoa(int(port))
	}
	return &dilov1.RunTarget{
		Service: name, UID: svc.UID, Type: svc.Spec.Type, ClusterIP: svc.Spec.ClusterIP,
		Port: port, Address: address, Host: host,
	}, nil
}

// targetChange says how the LoadTest's Service (nil: gone) and its EndpointSlices no
// longer match the run's recorded target; "" when they still do.
func targetChange(lt *dilov1.LoadTest, rec *dilov1.RunTarget, svc *corev1.Service, slices []discoveryv1.EndpointSlice, pol policy.Policy) string {
	name := fmt.Sprintf("Service %s/%s", lt.Namespace, rec.Service)
	switch {
	case svc == nil:
		return name + " was deleted while the run was going"
	case svc.UID != rec.UID:
		return name + " was deleted and created again while the run was going"
	}
	if _, msg := pol.ServiceProblem(svc, slices); msg != "" {
		return msg
	}
	switch port, _ := dilov1.ServicePort(svc, lt.Spec.Test.Port); {
	case svc.Spec.Type != rec.Type:
		return fmt.Sprintf("%s changed from type %s to %s while the run was going", name, rec.Type, svc.Spec.Type)
	case svc.Spec.ClusterIP != rec.ClusterIP:
		return fmt.Sprintf("%s changed its cluster IP from %s to %s while the run was going", name, rec.ClusterIP, svc.Spec.ClusterIP)
	case port != rec.Port:
		return fmt.Sprintf("%s no longer sends port %s to port %d while the run was going", name, lt.Spec.Test.Port, rec.Port)
	}
	return ""
}

// desiredLoadTestPod is replica of run of lt, sending to tgt, running image, with
// spec.podTemplate applied (see applyPodTemplate). Its run plan is in its run-plan
// annotation, which the downward-API volume that also holds the start-at and stop-at
// annotations projects into planFile: a file the kubelet writes before the container
// starts. The agent container declares the live port, where the manager reads its
// snapshots.
// Its readiness gate is never set, so that it never becomes a Service's ready
// endpoint. It fails only when the plan is one the agent would refuse, which the
// API's validation rules out.
func desiredLoadTestPod(lt *dilov1.LoadTest, run int64, replica int32, tgt *dilov1.RunTarget, image string) (*corev1.Pod, error) {
	refs := lt.Spec.Test.ValueRefs()
	plan, err := agentPlan(lt.Spec.Test, tgt, replica, lt.Spec.Replicas, refs).Encode()
	if err != nil {
		return nil, err
	}
	labels := dilov1.RunLabels(lt.Name, run)
	labels[dilov1.LabelReplica] = strconv.Itoa(int(replica))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            dilov1.PodName(lt.Name, run, replica),
			Namespace:       lt.Namespace,
			Labels:          labels,
			Annotations:     map[string]string{dilov1.AnnotationRunPlan: string(plan)},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(lt, dilov1.GroupVersion.WithKind("LoadTest"))},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			SecurityContext:               restrictedPodSecurity(),
			TerminationGracePeriodSeconds: ptr.To[int64](10),
			ReadinessGates:                []corev1.PodReadinessGate{{ConditionType: dilov1.ReadinessGateNeverReady}},
			Containers: []corev1.Container{{
				Name:                     agentContainer,
				Image:                    image,
				Command:                  []string{"/agent", "run", "--plan-file=" + planFile},
				SecurityContext:          restrictedContainerSecurity(),
				Resources:                resources("100m", "64Mi", "1", "256Mi"),
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Ports:                    []corev1.ContainerPort{{Name: dilov1.PortNameLive, ContainerPort: dilov1.PortLive, Protocol: corev1.ProtocolTCP}},
				VolumeMounts:             []corev1.VolumeMount{{Name: "start", MountPath: startDir, ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{
				Name: "start",
				VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					Items: []corev1.DownwardAPIVolumeFile{{
						Path:     "at",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fmt.Sprintf("metadata.annotations['%s']", dilov1.AnnotationStartAt)},
					}, {
						Path:     "stop",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fmt.Sprintf("metadata.annotations['%s']", dilov1.AnnotationStopAt)},
					}, {
						Path:     "plan",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: fmt.Sprintf("metadata.annotations['%s']", dilov1.AnnotationRunPlan)},
					}},
				}},
			}},
		},
	}
	if v := valuesVolume(refs); v != nil {
		pod.Spec.Volumes = append(pod.Spec.Volumes, *v)
		c := &pod.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: valuesDir, ReadOnly: true})
	}
	if lt.Spec.PodTemplate != nil {
		applyPodTemplate(pod, lt.Spec.PodTemplate)
	}
	return pod, nil
}

// applyPodTemplate adds a user's pod template to a load-generator pod: labels and
// annotations are added, but for keys under DiLO's prefix (the webhook refuses them; a
// LoadTest admitted without it must not set them either) and DiLO's managed-by label;
// resources replace the agent container's as a whole; nodeSelector, tolerations and
// affinity are set.
func applyPodTemplate(pod *corev1.Pod, pt *dilov1.AgentPodTemplate) {
	for k, v := range pt.Metadata.Labels {
		if _, dilo := pod.Labels[k]; !dilo && !policy.IsReserved(k) {
			pod.Labels[k] = v
		}
	}
	for k, v := range pt.Metadata.Annotations {
		if policy.IsReserved(k) {
			continue
		}
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	spec := pt.DeepCopy().Spec
	if spec.Resources != nil {
		pod.Spec.Containers[0].Resources = *spec.Resources
	}
	pod.Spec.NodeSelector = spec.NodeSelector
	pod.Spec.Tolerations = spec.Tolerations
	pod.Spec.Affinity = spec.Affinity
}
