package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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

// kernelServeDir publishes the ISO at dir as dir/<FileName>, read-only.
func (d *Driver) kernelServeDir(rec *state.NodeVolume, dir string) (err error) {
	f, err := d.openImageFile(rec)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	const opts = "size=4k,nr_inodes=4,mode=0555"
	if err := unix.Mount(FSNameKernel, dir, "tmpfs", flags, opts); err != nil {
		return fmt.Errorf("mount tmpfs at %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = unmountAll(dir)
		}
	}()
	file := filepath.Join(dir, rec.FileName)
	if err := os.WriteFile(file, nil, 0o444); err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	src := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if err := unix.Mount(src, file, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", rec.Image, file, err)
	}
	if err := unix.Mount("", file, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", file, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, opts); err != nil {
		return fmt.Errorf("make %s read-only: %w", dir, err)
	}
	klog.InfoS("Serving plain ISO through the kernel", "image", rec.Image, "dir", dir, "file", rec.FileName)
	return nil
}

// FSNameKernel is the source name of the kernel path's tmpfs in /proc/mounts.
const FSNameKernel = "csi-viso-kernel"

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
