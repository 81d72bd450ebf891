package backend

import "errors"

// Sentinel errors mirroring the VD status codes that callers branch on.
// Backends wrap them with context; callers test with errors.Is.
var (
	// ErrNotSupported: the operation is not supported by this backend (VERR_NOT_SUPPORTED).
	ErrNotSupported = errors.New("operation not supported")
	// ErrReadOnly: the image is read-only (VERR_VD_IMAGE_READ_ONLY).
	ErrReadOnly = errors.New("image is read-only")
	// ErrInvalidHeader: the file is not in this backend's format (VERR_VD_GEN_INVALID_HEADER).
	ErrInvalidHeader = errors.New("invalid image header")
	// ErrImageCorrupted: the format was recognised but the file is broken (VERR_VD_IMAGE_CORRUPTED).
	ErrImageCorrupted = errors.New("image corrupted")
	// ErrInvalidSize: the file is recognised but too large or too small (VERR_VD_INVALID_SIZE).
	ErrInvalidSize = errors.New("invalid image size")
	// ErrNotOpened: the image was opened for information only and has no data (VERR_VD_NOT_OPENED).
	ErrNotOpened = errors.New("image not opened")
	// ErrInvalidFlags: unknown open flags were passed (VERR_INVALID_FLAGS).
	ErrInvalidFlags = errors.New("invalid open flags")
)
