package driver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	for _, m := range sourceCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
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
