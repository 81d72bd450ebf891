package serve

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// FSNameKernel is the source name of BindFile's tmpfs in /proc/mounts.
const FSNameKernel = "csi-viso-kernel"

// BindFile publishes f at dir/name with no process on the data path: a tiny
// read-only tmpfs at dir holds one empty file, and f is bind-mounted over
// it, read-only. The kernel is pointed at /proc/self/fd/N, the very file
// the caller opened (and checked), not a path a symlink swap could
// redirect. On error nothing stays mounted at dir.
func BindFile(f *os.File, dir, name string) (err error) {
	if err := checkFileName(name); err != nil {
		return err
	}
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
			_ = unix.Unmount(filepath.Join(dir, name), unix.MNT_DETACH)
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	}()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, nil, 0o444); err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	src := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if err := unix.Mount(src, file, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", f.Name(), file, err)
	}
	if err := unix.Mount("", file, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", file, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY|flags, opts); err != nil {
		return fmt.Errorf("make %s read-only: %w", dir, err)
	}
	return nil
}
