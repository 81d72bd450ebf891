package driver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/driver/source"
)

// codedError carries the gRPC code a failure must be answered with, keeping
// the underlying error for errors.Is and for the message.
type codedError struct {
	code codes.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// withCode marks err with code (nil stays nil).
func withCode(code codes.Code, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// errorf is fmt.Errorf marked with code.
func errorf(code codes.Code, format string, args ...any) error {
	return withCode(code, fmt.Errorf(format, args...))
}

// sourceCodes maps the source package's sentinels: problems the user fixes in
// the object (missing object or key, ambiguous key) are FailedPrecondition —
// the request is fine, the cluster state is not yet — and so is the absence
// of a cluster. A malformed reference is the request's fault.
var sourceCodes = []struct {
	err  error
	code codes.Code
}{
	{source.ErrNoCluster, codes.FailedPrecondition},
	{source.ErrInvalidRef, codes.InvalidArgument},
	{source.ErrBadKey, codes.InvalidArgument},
	{source.ErrObjectNotFound, codes.FailedPrecondition},
	{source.ErrKeyNotFound, codes.FailedPrecondition},
	{source.ErrNoVISOKey, codes.FailedPrecondition},
	{source.ErrAmbiguousKey, codes.FailedPrecondition},
	{source.ErrTooLarge, codes.FailedPrecondition},
	{source.ErrInvalidVISO, codes.FailedPrecondition},
}

// apiCode maps the Kubernetes API's status reasons that the source layer
// does not turn into a sentinel of its own.
func apiCode(err error) (codes.Code, bool) {
	switch {
	case apierrors.IsNotFound(err):
		return codes.NotFound, true
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return codes.Aborted, true
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return codes.InvalidArgument, true
	case apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err):
		return codes.Unavailable, true
	case apierrors.IsTimeout(err):
		return codes.DeadlineExceeded, true
	}
	return codes.OK, false
}

// codeOf decides the gRPC code of err: an explicit mark wins, then the
// sentinels of the layers below, then context errors; anything else is
// Internal.
func codeOf(err error) codes.Code {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s.Code()
	}
	// The plugin's own identity is refused: no retry of the request helps
	// until the operator fixes RBAC or credentials, whatever the object.
	switch {
	case apierrors.IsForbidden(err):
		return codes.PermissionDenied
	case apierrors.IsUnauthorized(err):
		return codes.Unauthenticated
	}
	for _, m := range sourceCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	if c, ok := apiCode(err); ok {
		return c
	}
	switch {
	case errors.Is(err, confine.ErrOutsideRoot), errors.Is(err, confine.ErrSpecialFile):
		return codes.InvalidArgument
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Internal
}

// toStatus turns err into the gRPC status error returned to the CO. The
// message is err's text verbatim: it names the ConfigMap, key, VISO line and
// argument, and `kubectl describe pod` shows it to the user.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	return status.Error(codeOf(err), err.Error())
}
