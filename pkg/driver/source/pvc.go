package source

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigMapAnnotation is the PVC annotation that names the ConfigMap a
// StorageClass-less PVC takes its VISO from.
const ConfigMapAnnotation = "viso.csi.io/configmap"

// PVCAnnotation returns the value of annotation on the PersistentVolumeClaim
// namespace/pvc, or "" when the claim has no such annotation. A missing claim
// wraps ErrObjectNotFound; no client wraps ErrNoCluster.
func (s *Source) PVCAnnotation(ctx context.Context, namespace, pvc, annotation string) (string, error) {
	what := "persistentvolumeclaim " + namespace + "/" + pvc
	if namespace == "" || pvc == "" || !pathSegment(namespace) || !pathSegment(pvc) {
		return "", fmt.Errorf("%s: %w", what, ErrInvalidRef)
	}
	if s == nil || s.Client == nil {
		return "", fmt.Errorf("%s: %w", what, ErrNoCluster)
	}
	c, err := s.Client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, pvc, metav1.GetOptions{})
	if err != nil {
		return "", getError(what, err)
	}
	return c.Annotations[annotation], nil
}
