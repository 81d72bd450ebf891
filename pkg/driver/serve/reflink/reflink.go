// Package reflink is the materialised serve mode: the image is written once,
// at publish, as a regular file whose data blocks are shared with its sources
// (FICLONERANGE on XFS with reflink=1, btrfs, bcachefs, ...). Only the
// synthesised metadata and the ranges that cannot be cloned (sources on
// another file system, bytes that do not sit at the same offset within a
// file-system block) are copied, so a VISO remastering a 4 GiB installer
// costs a few MiB of disk. The result is served by the kernel alone (a
// read-only bind mount, or a loop device): no userspace process is on the
// data path, so nothing a plugin restart does can reach a reader.
package reflink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNotSupported: the file system of the target folder, or the pair of
// file systems of a source and the target, cannot share blocks. The auto
// serve mode falls back to FUSE on it.
var ErrNotSupported = errors.New("reflink not supported")

// ErrTooMuchCopy: more bytes would be copied than Options.MaxCopyBytes
// allows (the image is mostly data that cannot be cloned).
var ErrTooMuchCopy = errors.New("too much of the image would be copied")

// Image is what can be materialised: an image that reads as a whole and
// names the runs of it that are verbatim bytes of host files
// (isoimage.Image, viso.Image and raw.Image all do).
type Image interface {
	io.ReaderAt
	Size() int64
	HostExtents(fn func(off, n int64, f *os.File, fileOff int64) error) error
}

// Options tune Materialize.
type Options struct {
	// MaxCopyBytes bounds the bytes that are copied rather than cloned
	// (0: no bound). Checked before anything is written.
	MaxCopyBytes int64
	// Progress, when set, is called after each step with the bytes done.
	Progress func(done, total int64)
}

// Stats say how an image was materialised.
type Stats struct {
	Size   int64 // bytes of the image
	Cloned int64 // bytes shared with a source file
	Copied int64 // bytes written (metadata, unclonable ranges); zeros are left as holes
}

// clone is one range to share: image [off, off+n) from f at fileOff.
type clone struct {
	off, n, fileOff int64
	f               *os.File
}

// chunk bounds one FICLONERANGE or copy step, so a cancelled context stops
// a long materialisation quickly.
const chunk = 256 << 20

// Materialize writes img to path: a temporary file in the same folder,
// filled by cloning and copying, fsynced, made read-only (0444) and renamed
// into place, so path is either absent or the complete image. On error
// nothing is left behind.
func Materialize(ctx context.Context, img Image, path string, opts Options) (st Stats, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	defer func() {
		if tmp != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(tmp.Fd()), &sfs); err != nil {
		return st, fmt.Errorf("materialise %s: statfs: %w", path, err)
	}
	bs := int64(sfs.Bsize)
	if bs <= 0 || bs&(bs-1) != 0 {
		bs = 4096
	}
	st.Size = img.Size()

	// Plan under the image's lock (HostExtents holds it), clone after: the
	// files stay valid because the caller keeps img open throughout.
	var clones []clone
	err = img.HostExtents(func(off, n int64, f *os.File, fileOff int64) error {
		if (fileOff-off)%bs != 0 {
			return nil // misaligned within a block: copied
		}
		a, b := alignUp(off, bs), alignDown(off+n, bs)
		if b-a < bs {
			return nil
		}
		// Hold our own descriptor: the image may lend pooled files that
		// are closed when the walk moves on.
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("dup source: %w", err)
		}
		clones = append(clones, clone{off: a, n: b - a, fileOff: fileOff + (a - off), f: os.NewFile(uintptr(fd), f.Name())})
		return nil
	})
	defer func() {
		for _, c := range clones {
			_ = c.f.Close()
		}
	}()
	if err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	for _, c := range clones {
		st.Cloned += c.n
	}
	if copyMax := st.Size - st.Cloned; opts.MaxCopyBytes > 0 && copyMax > opts.MaxCopyBytes {
		return st, fmt.Errorf("materialise %s: %d of %d bytes cannot be cloned (sources on another file system, or not block-aligned), more than the %d allowed: %w",
			path, copyMax, st.Size, opts.MaxCopyBytes, ErrTooMuchCopy)
	}
	if err := tmp.Truncate(st.Size); err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	w := &writer{ctx: ctx, img: img, dst: tmp, buf: make([]byte, 1<<20), total: st.Size, progress: opts.Progress}
	pos := int64(0)
	for _, c := range clones {
		if err := w.copy(pos, c.off); err != nil {
			return st, fmt.Errorf("materialise %s: %w", path, err)
		}
		if err := w.clone(c); err != nil {
			return st, fmt.Errorf("materialise %s: image bytes %d-%d from %s: %w", path, c.off, c.off+c.n, c.f.Name(), err)
		}
		pos = c.off + c.n
	}
	if err := w.copy(pos, st.Size); err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	st.Copied = w.copied
	if err := tmp.Chmod(0o444); err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return st, fmt.Errorf("materialise %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	tmp = nil
	if err := syncDir(dir); err != nil {
		_ = os.Remove(path)
		return st, fmt.Errorf("materialise %s: %w", path, err)
	}
	return st, nil
}

type writer struct {
	ctx      context.Context
	img      Image
	dst      *os.File
	buf      []byte
	done     int64
	total    int64
	copied   int64
	progress func(done, total int64)
}

func (w *writer) step(n int64) error {
	w.done += n
	if w.progress != nil {
		w.progress(w.done, w.total)
	}
	return w.ctx.Err()
}

// copy writes image bytes [from, to) by ReadAt; all-zero pieces stay holes.
func (w *writer) copy(from, to int64) error {
	for from < to {
		n := min(int64(len(w.buf)), to-from)
		got, err := w.img.ReadAt(w.buf[:n], from)
		if int64(got) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read image at %d: %w", from+int64(got), err)
		}
		if !allZero(w.buf[:n]) {
			if _, err := w.dst.WriteAt(w.buf[:n], from); err != nil {
				return err
			}
			w.copied += n
		}
		from += n
		if err := w.step(n); err != nil {
			return err
		}
	}
	return nil
}

// clone shares c's blocks, chunk by chunk. A file system (or a pair of
// them) that cannot is reported as ErrNotSupported.
func (w *writer) clone(c clone) error {
	for done := int64(0); done < c.n; {
		n := min(chunk, c.n-done)
		err := unix.IoctlFileCloneRange(int(w.dst.Fd()), &unix.FileCloneRange{
			Src_fd:      int64(c.f.Fd()),
			Src_offset:  uint64(c.fileOff + done),
			Src_length:  uint64(n),
			Dest_offset: uint64(c.off + done),
		})
		switch {
		case errors.Is(err, unix.EXDEV):
			return fmt.Errorf("source is on another file system: %w", ErrNotSupported)
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTTY), errors.Is(err, unix.ENOSYS):
			return fmt.Errorf("file system cannot share blocks (%v): %w", err, ErrNotSupported)
		case err != nil:
			return fmt.Errorf("FICLONERANGE: %w", err)
		}
		done += n
		if err := w.step(n); err != nil {
			return err
		}
	}
	return nil
}

// Probe reports whether files in dir can share blocks, by cloning one block
// between two temporary files; the error says why not.
func Probe(dir string) error {
	a, err := os.CreateTemp(dir, ".reflink-probe-*")
	if err != nil {
		return fmt.Errorf("reflink probe in %s: %w", dir, err)
	}
	defer os.Remove(a.Name())
	defer a.Close()
	b, err := os.CreateTemp(dir, ".reflink-probe-*")
	if err != nil {
		return fmt.Errorf("reflink probe in %s: %w", dir, err)
	}
	defer os.Remove(b.Name())
	defer b.Close()
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(a.Fd()), &sfs); err != nil {
		return fmt.Errorf("reflink probe in %s: %w", dir, err)
	}
	block := make([]byte, max(int(sfs.Bsize), 4096))
	block[0] = 1
	if _, err := a.Write(block); err != nil {
		return fmt.Errorf("reflink probe in %s: %w", dir, err)
	}
	err = unix.IoctlFileCloneRange(int(b.Fd()), &unix.FileCloneRange{Src_fd: int64(a.Fd()), Src_length: uint64(len(block))})
	if err != nil {
		return fmt.Errorf("%s (%s) cannot share blocks (%v): %w", dir, FSType(dir), err, ErrNotSupported)
	}
	return nil
}

// FSType names the file system holding path (for logs and errors).
func FSType(path string) string {
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return "unknown"
	}
	switch sfs.Type {
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case unix.BCACHEFS_SUPER_MAGIC:
		return "bcachefs"
	}
	return fmt.Sprintf("0x%x", sfs.Type)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func alignUp(v, a int64) int64   { return (v + a - 1) / a * a }
func alignDown(v, a int64) int64 { return v / a * a }

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
