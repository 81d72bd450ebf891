package driver

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// The kernel path (architecture decision 6): a plain ISO that every user may
// read anyway is served untouched without FUSE. Filesystem volumes get a
// tiny read-only tmpfs holding one empty file with the ISO bind-mounted over
// it; block volumes get a read-only loop device over the ISO itself. Nothing
// of it lives in this process, so published volumes survive a plugin
// restart, and reads run at page-cache speed.

// kernelServable reports whether a plain ISO may take the kernel path: a
// regular file readable by everyone (the pod's user, e.g. UID 107).
func kernelServable(fi os.FileInfo) bool {
	return fi.Mode().IsRegular() && fi.Mode().Perm()&0o004 != 0
}

// openImageFile opens the resolved plain ISO through the media-root
// resolver: the kernel is then pointed at /proc/self/fd/N, the very file the
// resolver checked, not a path a symlink swap could redirect.
func (d *Driver) openImageFile(rec *state.NodeVolume) (*os.File, error) {
	if rec.Materialized != "" {
		// Our own file in the state folder, not a user-named path.
		f, err := os.Open(rec.Materialized)
		if err != nil {
			return nil, withCode(codes.FailedPrecondition, fmt.Errorf("materialised image: %w", err))
		}
		return f, nil
	}
	res, err := d.mediaResolver()
	if err != nil {
		return nil, err
	}
	defer res.Close()
	f, err := res.Open(rec.Image)
	if err != nil {
		return nil, imageStatError(rec.Image, err)
	}
	return f, nil
}

// kernelServeDir publishes the image file at dir as dir/<FileName>, read-only.
func (d *Driver) kernelServeDir(rec *state.NodeVolume, dir string) error {
	f, err := d.openImageFile(rec)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := serve.BindFile(f, dir, rec.FileName); err != nil {
		return err
	}
	klog.InfoS("Serving image file through the kernel", "image", rec.Image, "materialized", rec.Materialized, "dir", dir, "file", rec.FileName)
	return nil
}

// FSNameKernel is the source name of the kernel path's tmpfs in /proc/mounts.
const FSNameKernel = serve.FSNameKernel

// kernelServe prepares a kernel-path volume at stage (or ephemeral publish)
// time: a loop device for block, the tmpfs+bind for an ephemeral volume,
// nothing for a persistent filesystem volume (each publish builds its own).
func (d *Driver) kernelServe(rec *state.NodeVolume) (*liveVolume, error) {
	f, err := d.openImageFile(rec)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	lv := &liveVolume{size: fi.Size()}
	rec.Loop = ""
	switch {
	case rec.Block:
		// Through the descriptor the resolver checked, not the path.
		dev, err := serve.AttachLoop(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		if err != nil {
			return nil, err
		}
		rec.Loop = dev
	case rec.Kind == state.KindEphemeral:
		if err := d.kernelServeDir(rec, rec.ServeDir); err != nil {
			return nil, err
		}
	}
	return lv, nil
}

// unmountAll removes every mount stacked at path, child mounts included
// (a busy tree is detached lazily and goes away with its last user). A path
// with nothing mounted, or no path, is fine.
func unmountAll(path string) error {
	for i := 0; i < 16; i++ {
		err := unix.Unmount(path, 0)
		switch {
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", path, err)
			}
		case err != nil:
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	return fmt.Errorf("unmount %s: mounts keep reappearing", path)
}
