package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// loopMajor is the block major number of loop devices.
const loopMajor = 7

var sysBlock = "/sys/block"

// AttachLoop binds a free loop device to the file at path, read-only, with
// direct I/O when the kernel accepts it for that file (it saves the second
// copy in the page cache; FUSE files accept it). It returns the device path,
// e.g. /dev/loop3.
//
// The device is not autocleared: LO_FLAGS_AUTOCLEAR releases a loop when its
// last opener closes, and that would be this function's own close, since a
// bind mount of the device node into a pod does not hold it open. Callers
// detach with DetachLoop, and a reconcile finds leftovers with FindLoops.
func AttachLoop(path string) (string, error) {
	backing, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("attach loop: %w", err)
	}
	defer backing.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("attach loop to %s: %w", path, err)
	}
	defer ctl.Close()

	// Another process may take the device between GET_FREE and CONFIGURE;
	// the kernel then answers EBUSY and we ask again.
	for attempt := 0; attempt < 32; attempt++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("attach loop to %s: get free device: %w", path, err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		err = configureLoop(dev, n, backing, path)
		if errors.Is(err, unix.EBUSY) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("attach %s to %s: %w", dev, path, err)
		}
		klog.InfoS("Attached loop device", "device", dev, "file", path)
		return dev, nil
	}
	return "", fmt.Errorf("attach loop to %s: every free device was taken concurrently: %w", path, unix.EBUSY)
}

// configureLoop binds backing to loop device dev (number n).
func configureLoop(dev string, n int, backing *os.File, path string) error {
	lf, err := openLoopDevice(dev, n)
	if err != nil {
		return err
	}
	defer lf.Close()

	cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
	cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_DIRECT_IO
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], path)
	err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
	if errors.Is(err, unix.EINVAL) {
		// Direct I/O refused for this file (alignment or no O_DIRECT
		// support): buffered is still correct.
		cfg.Info.Flags &^= unix.LO_FLAGS_DIRECT_IO
		err = unix.IoctlLoopConfigure(int(lf.Fd()), &cfg)
	}
	if err != nil {
		return fmt.Errorf("LOOP_CONFIGURE: %w", err)
	}
	return nil
}

// openLoopDevice opens /dev/loopN, creating the node when /dev is a static
// directory that lacks it (some container runtimes).
func openLoopDevice(dev string, n int) (*os.File, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		if merr := unix.Mknod(dev, unix.S_IFBLK|0o660, int(unix.Mkdev(loopMajor, uint32(n)))); merr != nil && !errors.Is(merr, unix.EEXIST) {
			return nil, fmt.Errorf("create %s: %w", dev, merr)
		}
		f, err = os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// DetachLoop unbinds loop device dev (a /dev/loopN path). A device that is
// already unbound or gone is fine. While another process (a VM) still holds
// the device open the kernel defers the detach to its last close; DetachLoop
// then waits briefly and returns an error wrapping ErrBusy.
func DetachLoop(dev string) error {
	name := filepath.Base(dev)
	if !strings.HasPrefix(name, "loop") {
		return fmt.Errorf("detach %s: not a loop device", dev)
	}
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	err = unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
	f.Close()
	if errors.Is(err, unix.ENXIO) {
		return nil // not bound
	}
	if err != nil {
		return fmt.Errorf("detach %s: LOOP_CLR_FD: %w", dev, err)
	}
	// The unbinding completes at the last close, possibly ours just now.
	for delay := time.Millisecond; delay < 2*time.Second; delay *= 2 {
		if !loopBound(name) {
			klog.InfoS("Detached loop device", "device", dev)
			return nil
		}
		time.Sleep(delay)
	}
	return fmt.Errorf("detach %s: %w; it is released when its last user closes it", dev, ErrBusy)
}

// loopBound reports whether /sys shows a backing file for the loop device.
func loopBound(name string) bool {
	_, err := os.Stat(filepath.Join(sysBlock, name, "loop", "backing_file"))
	return err == nil
}

// FindLoops lists the loop devices (as /dev/loopN, sorted) whose backing file
// is backingFile.
func FindLoops(backingFile string) ([]string, error) {
	p, err := filepath.Abs(backingFile)
	if err != nil {
		return nil, fmt.Errorf("find loops of %s: %w", backingFile, err)
	}
	return findLoops(func(b string) bool { return b == p })
}

// findLoopsUnder lists loop devices backed by files below dir.
func findLoopsUnder(dir string) ([]string, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	return findLoops(func(b string) bool { return strings.HasPrefix(b, prefix) })
}

func findLoops(match func(backing string) bool) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(sysBlock, "loop*", "loop", "backing_file"))
	if err != nil {
		return nil, fmt.Errorf("list loop devices: %w", err)
	}
	var devs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // detached meanwhile
			}
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		// The kernel prints d_path: " (deleted)" marks an unlinked file.
		backing := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), " (deleted)")
		if match(backing) {
			devs = append(devs, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	sort.Strings(devs)
	return devs, nil
}
