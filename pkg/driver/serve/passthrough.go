package serve

import (
	"context"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// An image that is one host file from its first byte to its last (a raw ISO
// served through FUSE because it is not world-readable) is opened in FUSE
// passthrough mode (Linux 6.9+): the kernel reads the host file directly,
// from its own page cache with its large folios, and this process sees no
// reads at all. Kernels or setups without passthrough fall back silently to
// splice reads (go-fuse stops trying after the first refusal).

// passthroughHandle is the file handle of one open in passthrough mode. It
// owns a duplicate of the host file's descriptor: the kernel takes its own
// reference when go-fuse registers it, and the image may close or recycle its
// file independently.
type passthroughHandle struct {
	fd int
}

var (
	_ fs.FilePassthroughFder = (*passthroughHandle)(nil)
	_ fs.FileReleaser        = (*passthroughHandle)(nil)
)

func (h *passthroughHandle) PassthroughFd() (int, bool) { return h.fd, h.fd >= 0 }

func (h *passthroughHandle) Release(context.Context) syscall.Errno {
	if h.fd >= 0 {
		_ = unix.Close(h.fd)
		h.fd = -1
	}
	return 0
}

// passthroughFor returns a handle when the whole image is the whole of one
// host file, nil otherwise. A host file that is now longer or shorter than
// the image is not passed through: the kernel would serve its current bytes
// rather than the image's size.
func passthroughFor(r FdRanger, size int64) *passthroughHandle {
	if size <= 0 || size > int64(^uint(0)>>1) {
		return nil
	}
	f, off, release, ok := r.FdRange(0, int(size))
	if !ok {
		return nil
	}
	if release != nil {
		defer release()
	}
	if off != 0 || !sameSize(f, size) {
		return nil
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return &passthroughHandle{fd: fd}
}

func sameSize(f *os.File, size int64) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}
