package serve

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// IsCorruptedMount reports whether err is what a dead FUSE mount answers:
// ENOTCONN after its server died, ECONNABORTED for a read in flight when it
// died or was aborted, EIO through a loop device, ESTALE for stale handles.
func IsCorruptedMount(err error) bool {
	return errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ESTALE)
}

// CleanupMountPoint removes every FUSE mount stacked on dir, live or dead,
// after detaching the loop devices whose backing files lie below dir. A dir
// with no FUSE mount (or no dir at all) is already clean. A busy mount is
// retried for a few seconds and then detached lazily. A non-FUSE mount on top
// of dir is left alone and reported.
func CleanupMountPoint(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("clean up %s: %w", dir, err)
	}
	loops, err := findLoopsUnder(abs)
	if err != nil {
		return fmt.Errorf("clean up %s: %w", abs, err)
	}
	var errs []error
	for _, dev := range loops {
		if err := DetachLoop(dev); err != nil {
			// Keep going: the unmount below falls back to a lazy one.
			errs = append(errs, err)
		}
	}
	// Each round removes the top mount; a dead mount may hide another.
	for round := 0; round < 16; round++ {
		infos, err := readMountInfo()
		if err != nil {
			return fmt.Errorf("clean up %s: %w", abs, err)
		}
		at := mountsAt(infos, abs)
		if len(at) == 0 {
			return errors.Join(errs...)
		}
		top := at[len(at)-1]
		if !isFUSE(top) {
			errs = append(errs, fmt.Errorf("clean up %s: %s mounted on top, not FUSE: left alone", abs, top.FSType))
			return errors.Join(errs...)
		}
		if err := unmountRetry(abs); err != nil {
			errs = append(errs, err)
			return errors.Join(errs...)
		}
		klog.InfoS("Removed FUSE mount", "dir", abs, "fsType", top.FSType)
	}
	return errors.Join(append(errs, fmt.Errorf("clean up %s: mounts keep reappearing", abs))...)
}

// unmountRetry unmounts dir, retrying EBUSY for up to about 3 s before a
// lazy unmount.
func unmountRetry(dir string) error {
	delay := 5 * time.Millisecond
	for deadline := time.Now().Add(3 * time.Second); ; {
		err := unix.Unmount(dir, 0)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("lazy unmount %s: %w", dir, err)
			}
			klog.InfoS("Mount busy; detached lazily", "dir", dir)
			return nil
		}
		time.Sleep(delay)
		delay = min(2*delay, 250*time.Millisecond)
	}
}
