package reconcile

import (
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

const (
	// agentContainer is the name of the only container of every pod DiLO creates.
	agentContainer = "agent"
	// agentUID is the non-root user the agent runs as (distroless' "nonroot").
	agentUID = 65532
)

// restrictedPodSecurity returns a pod security context that meets the Pod Security
// Standards' restricted profile.
func restrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](agentUID),
		RunAsGroup:     ptr.To[int64](agentUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedContainerSecurity returns a container security context that meets the
// Pod Security Standards' restricted profile, with a read-only root file system.
func restrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
	}
}

// resources returns requests and limits of cpu and memory.
func resources(reqCPU, reqMem, limCPU, limMem string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(reqCPU),
			corev1.ResourceMemory: resource.MustParse(reqMem),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(limCPU),
			corev1.ResourceMemory: resource.MustParse(limMem),
		},
	}
}

// podEnded reports whether a pod reached a terminal phase.
func podEnded(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// PodCache is how the manager's cache must hold pods for DiLO's controllers: only the
// pods DiLO created (label managed-by), not every pod of the cluster, and of each only
// what the controllers read, so that the manager's memory stays proportional to its
// own work and small: with 2000 pods the specs DiLO wrote (containers, volumes,
// security contexts) would be most of the cache.
func PodCache() cache.ByObject {
	return cache.ByObject{
		Label:     labels.SelectorFromSet(labels.Set{dilov1.LabelManagedBy: dilov1.ManagedByDiLO}),
		Transform: trimPod,
	}
}

// trimPod keeps of a cached pod its metadata without managed fields and without the
// annotations that are not DiLO's (a podTemplate's may be large), its status, and of
// its spec the node and each container's name and resource limits (a failure message
// quotes the memory limit). The controllers only read cached pods, and write them only
// with patches computed against the cached copy (the start-at annotation), so the
// dropped fields are never sent back.
func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ManagedFields = nil
	maps.DeleteFunc(pod.Annotations, func(k, _ string) bool { return !strings.HasPrefix(k, dilov1.ReservedPrefix) })
	containers := make([]corev1.Container, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		containers[i] = corev1.Container{Name: c.Name, Resources: corev1.ResourceRequirements{Limits: c.Resources.Limits}}
	}
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName, Containers: containers}
	return pod, nil
}

// LoadTestCache is how the manager's cache must hold LoadTests: without managed fields
// and without kubectl's last-applied-configuration annotation, a second copy of the
// spec that DiLO never reads, so that a cached LoadTest costs about its spec and status.
func LoadTestCache() cache.ByObject {
	return cache.ByObject{Transform: trimLoadTest}
}

func trimLoadTest(obj any) (any, error) {
	if lt, ok := obj.(*dilov1.LoadTest); ok {
		lt.ManagedFields = nil
		delete(lt.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return obj, nil
}
