package backend

import (
	"errors"
	"fmt"
	"io"
)

// ErrNegativeOffset is returned (wrapped) for a read at a negative offset.
var ErrNegativeOffset = errors.New("negative offset")

// ClampRead applies the VD end-of-image rules to a read of n bytes at off in an
// image of size bytes. It returns how many bytes to read and the error to
// return with them: (n, nil) inside the image; (size-off, io.EOF) for a read
// crossing the end; (0, io.EOF) at or after the end, except (0, nil) for a
// zero-length read exactly at the end. Backends call it first in ReadAt.
func ClampRead(off int64, n int, size int64) (int, error) {
	switch {
	case off < 0:
		return 0, fmt.Errorf("read at %d: %w", off, ErrNegativeOffset)
	case off > size, off == size && n > 0:
		return 0, io.EOF
	case int64(n) > size-off:
		return int(size - off), io.EOF
	default:
		return n, nil
	}
}
