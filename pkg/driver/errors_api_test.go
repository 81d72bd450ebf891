package driver

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/csi-viso/csi-viso/pkg/driver/source"
)

// TestAPIErrorCodes: errors of the Kubernetes API reach the CO with the
// gRPC code that says what to do, also when wrapped by the layers between;
// the source layer's own sentinels keep theirs.
func TestAPIErrorCodes(t *testing.T) {
	cm := schema.GroupResource{Resource: "configmaps"}
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
	}{
		{"forbidden", apierrors.NewForbidden(cm, "seed", fmt.Errorf("RBAC")), codes.PermissionDenied},
		{"forbidden wrapped in a sentinel", fmt.Errorf("get: %w: %w", source.ErrObjectNotFound, apierrors.NewForbidden(cm, "seed", nil)), codes.PermissionDenied},
		{"unauthorized", apierrors.NewUnauthorized("token expired"), codes.Unauthenticated},
		{"not found", fmt.Errorf("read: %w", apierrors.NewNotFound(cm, "seed")), codes.NotFound},
		{"not found as the source's sentinel", fmt.Errorf("%w: %w", source.ErrObjectNotFound, apierrors.NewNotFound(cm, "seed")), codes.FailedPrecondition},
		{"conflict", apierrors.NewConflict(cm, "seed", fmt.Errorf("changed")), codes.Aborted},
		{"invalid", apierrors.NewBadRequest("bad"), codes.InvalidArgument},
		{"throttled", apierrors.NewTooManyRequests("slow down", 1), codes.Unavailable},
		{"unavailable", apierrors.NewServiceUnavailable("down"), codes.Unavailable},
		{"timeout", apierrors.NewTimeoutError("slow", 1), codes.DeadlineExceeded},
		{"other", fmt.Errorf("disk on fire"), codes.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeOf(tc.err); got != tc.want {
				t.Errorf("codeOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
