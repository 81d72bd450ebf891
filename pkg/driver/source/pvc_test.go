package source

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPVCAnnotation(t *testing.T) {
	c := newClient(t,
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{
			Name: "disk", Namespace: testNS,
			Annotations: map[string]string{ConfigMapAnnotation: "win-install", "other": "x"},
		}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: testNS}},
	)
	s := &Source{Client: c}
	tests := []struct {
		pvc, annotation, want string
		err                   error
	}{
		{"disk", ConfigMapAnnotation, "win-install", nil},
		{"disk", "absent", "", nil},
		{"plain", ConfigMapAnnotation, "", nil},
		{"missing", ConfigMapAnnotation, "", ErrObjectNotFound},
		{"a/b", ConfigMapAnnotation, "", ErrInvalidRef},
		{"", ConfigMapAnnotation, "", ErrInvalidRef},
	}
	for _, tt := range tests {
		got, err := s.PVCAnnotation(t.Context(), testNS, tt.pvc, tt.annotation)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("PVCAnnotation(%q, %q) = %q, %v; want %q, %v", tt.pvc, tt.annotation, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "persistentvolumeclaim vms/"+tt.pvc) {
			t.Errorf("message %q does not name the claim", err)
		}
	}
}
