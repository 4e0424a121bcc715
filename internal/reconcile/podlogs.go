package reconcile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// PodLogReader reads a container's log, at most limitBytes of it from its start.
type PodLogReader interface {
	PodLog(ctx context.Context, namespace, pod, container string, limitBytes int64) ([]byte, error)
}

// NewPodLogReader reads logs through the API server (pods/log) with cfg.
func NewPodLogReader(cfg *rest.Config) (PodLogReader, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to create the pod log client: %w", err)
	}
	return apiLogs{cs}, nil
}

// apiLogs reads logs with a clientset.
type apiLogs struct{ cs kubernetes.Interface }

// PodLog reads the log without timestamps, which would prefix every line.
func (l apiLogs) PodLog(ctx context.Context, namespace, pod, container string, limitBytes int64) ([]byte, error) {
	return l.cs.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, LimitBytes: &limitBytes}).DoRaw(ctx)
}
