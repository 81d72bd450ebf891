package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

const (
	// DefaultFileName is the file a mount holds unless Options.FileName says
	// otherwise (KubeVirt's convention for filesystem-mode disks).
	DefaultFileName = "disk.img"
	// DefaultReadAheadKB is the readahead given to each mount's backing device
	// (measured: 4 MiB lifts cold sequential reads from ~1.3 to ~2.2 GB/s).
	DefaultReadAheadKB = 4096
	// FSName is the source and subtype shown in /proc/mounts
	// ("csi-viso /dir fuse.csi-viso ro,...").
	FSName = "csi-viso"

	maxRead = 1 << 20 // largest FUSE read request asked for
	// cacheTimeout is how long the kernel may trust names and attributes: the
	// image never changes while mounted.
	cacheTimeout = 24 * time.Hour
)

var (
	// ErrInvalidFileName: Options.FileName is not a single path component.
	ErrInvalidFileName = errors.New("invalid file name")
	// ErrAlreadyMounted: a FUSE filesystem (live or dead) is already mounted on
	// the directory; mounting again would stack on top of it.
	ErrAlreadyMounted = errors.New("a FUSE filesystem is already mounted there")
	// ErrBusy: the mount or loop device is still in use; it was detached
	// lazily and goes away when the last user closes it.
	ErrBusy = errors.New("still in use")
)

// Options tune a mount. The zero value serves DefaultFileName with the
// settings measured best for repeated readers.
type Options struct {
	// FileName is the name of the single file in the mount's root.
	FileName string
	// ModTime is the file's and the root's mtime/atime/ctime. The zero value
	// means the Unix epoch, so every node shows the same bytes and times.
	ModTime time.Time
	// DirectIO replies FOPEN_DIRECT_IO instead of FOPEN_KEEP_CACHE: faster
	// for one-shot streaming readers of large requests, no page cache reuse.
	DirectIO bool
	// ReadAheadKB is written to the mount's bdi read_ahead_kb; 0 means
	// DefaultReadAheadKB, negative leaves the kernel default (128).
	ReadAheadKB int
	// DisableSplice serves every read by copying, even from an FdRanger.
	// It also disables passthrough.
	DisableSplice bool
	// DisablePassthrough keeps an image that is one whole host file on the
	// splice path instead of FUSE passthrough (for comparisons).
	DisablePassthrough bool
	// Debug logs every FUSE request (very verbose).
	Debug bool
}

// Server is one mounted image.
type Server struct {
	dir  string
	path string
	dev  uint64 // st_dev of the mount, to recognise it in mountinfo
	srv  *fuse.Server
	file *fileNode
}

// Stats are counters of a Server since it was mounted.
type Stats struct {
	BytesRead    int64 // bytes returned to the kernel
	BytesSpliced int64 // of which moved by splice from host files
}

// Mount serves img read-only at dir, which must be an existing directory with
// no FUSE filesystem mounted on it. It needs CAP_SYS_ADMIN (it mounts
// directly, without fusermount). The server runs until Unmount, or until the
// mount is removed from outside.
func Mount(ctx context.Context, dir string, img Image, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if img == nil {
		return nil, fmt.Errorf("mount %s: nil image", dir)
	}
	size := img.Size()
	if size < 0 {
		return nil, fmt.Errorf("mount %s: negative image size %d", dir, size)
	}
	name := opts.FileName
	if name == "" {
		name = DefaultFileName
	}
	if err := checkFileName(name); err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := checkMountPoint(abs); err != nil {
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}

	file := &fileNode{img: img, size: size, mtime: mtime, openFlag: fuse.FOPEN_KEEP_CACHE}
	if opts.DirectIO {
		file.openFlag = fuse.FOPEN_DIRECT_IO
	}
	readSize := maxRead
	if r, ok := img.(FdRanger); ok && !opts.DisableSplice {
		file.ranger = r
		readSize = spliceReadSize()
		file.passthrough = !opts.DirectIO && !opts.DisablePassthrough
	}
	root := &rootNode{file: file, name: name, mtime: mtime}

	timeout := cacheTimeout
	srv, err := fs.Mount(abs, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			DirectMountFlags:  syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV,
			Options:           []string{"ro"},
			AllowOther:        true,
			FsName:            FSName,
			Name:              FSName,
			MaxWrite:          readSize,
			MaxReadAhead:      readSize,
			DisableXAttrs:     true,
			DisableSplice:     opts.DisableSplice,
			Debug:             opts.Debug,
			Logger:            klog.NewStandardLogger("WARNING"),
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		Logger:          klog.NewStandardLogger("WARNING"),
	})
	if err != nil {
		return nil, fmt.Errorf("mount FUSE at %s: %w", abs, err)
	}
	s := &Server{dir: abs, path: filepath.Join(abs, name), srv: srv, file: file}

	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		// The mount answered INIT a moment ago; failing here means it is
		// already unusable, so take it down rather than hand it out.
		_ = unix.Unmount(abs, unix.MNT_DETACH)
		return nil, fmt.Errorf("stat new mount %s: %w", abs, err)
	}
	s.dev = uint64(st.Dev)
	ra := opts.ReadAheadKB
	if ra == 0 {
		ra = DefaultReadAheadKB
	}
	if ra > 0 {
		if err := setReadAhead(s.dev, ra); err != nil {
			klog.InfoS("Could not raise FUSE readahead; sequential reads will be slower", "dir", abs, "readAheadKB", ra, "err", err)
		}
	}
	klog.InfoS("Serving image", "dir", abs, "file", name, "size", size,
		"splice", file.ranger != nil, "maxRead", readSize, "directIO", opts.DirectIO)
	return s, nil
}

// spliceReadSize is the largest read request whose splice reply fits the
// pipe size go-fuse may grow to. go-fuse reads /proc/sys/fs/pipe-max-size
// once at start-up: with the kernel default (1 MiB) a 1 MiB reply plus its
// header does not fit and every such read would fall back to copying, so the
// request size is trimmed to fit. The sysctl is raised for the next start.
func spliceReadSize() int {
	raisePipeMaxSize()
	page := os.Getpagesize()
	fit := (splice.MaxPipeSize() - fuseReplyHeader - page) / page * page
	if fit >= maxRead {
		return maxRead
	}
	if fit < 128<<10 {
		// Too small to be worth trimming for: keep 1 MiB requests and copy.
		return maxRead
	}
	return fit
}

// checkFileName accepts one path component that is not "." or "..".
func checkFileName(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
		return fmt.Errorf("%q: %w", name, ErrInvalidFileName)
	}
	return nil
}

// checkMountPoint refuses a directory that already has a FUSE mount on top:
// a dead one fails stat with ENOTCONN, a live one would be hidden by ours.
func checkMountPoint(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if IsCorruptedMount(err) {
			return fmt.Errorf("%w (dead mount: %v)", ErrAlreadyMounted, err)
		}
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("not a directory")
	}
	infos, err := readMountInfo()
	if err != nil {
		return err
	}
	if at := mountsAt(infos, dir); len(at) > 0 && isFUSE(at[len(at)-1]) {
		return fmt.Errorf("%w (%s)", ErrAlreadyMounted, at[len(at)-1].FSType)
	}
	return nil
}

// Dir is the mount point.
func (s *Server) Dir() string { return s.dir }

// Path is the served file, Dir()/FileName.
func (s *Server) Path() string { return s.path }

// Stats returns the read counters.
func (s *Server) Stats() Stats {
	return Stats{BytesRead: s.file.bytesRead.Load(), BytesSpliced: s.file.spliced.Load()}
}

// Wait blocks until the server stops serving: after the mount (and every
// bind mount of it) is gone, or the connection was aborted.
func (s *Server) Wait() { s.srv.Wait() }

// Unmount removes the mount. While it is busy (open files, a loop device
// over the file) it retries with backoff until ctx ends, then detaches it
// lazily and returns an error wrapping ErrBusy: the name is gone at once and
// the server keeps serving the remaining users until they close. Unmounting a
// mount that is already gone succeeds.
func (s *Server) Unmount(ctx context.Context) error {
	delay := 5 * time.Millisecond
	for {
		mounted, err := s.mounted()
		if err != nil {
			return fmt.Errorf("unmount %s: %w", s.dir, err)
		}
		if !mounted {
			return nil
		}
		err = unix.Unmount(s.dir, 0)
		switch {
		case err == nil:
			klog.InfoS("Unmounted image", "dir", s.dir)
			return nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // raced with another unmount
		case !errors.Is(err, unix.EBUSY):
			return fmt.Errorf("unmount %s: %w", s.dir, err)
		}
		select {
		case <-ctx.Done():
			if lerr := unix.Unmount(s.dir, unix.MNT_DETACH); lerr != nil && !errors.Is(lerr, unix.EINVAL) {
				return fmt.Errorf("unmount %s: busy, and lazy unmount failed: %w", s.dir, lerr)
			}
			klog.InfoS("Mount busy; detached lazily", "dir", s.dir)
			return fmt.Errorf("unmount %s: %w; detached lazily, serving until the last user closes", s.dir, ErrBusy)
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// mounted reports whether our mount is the top mount at s.dir. Another
// filesystem on top of ours is an error: unmounting would remove the wrong one.
func (s *Server) mounted() (bool, error) {
	infos, err := readMountInfo()
	if err != nil {
		return false, err
	}
	at := mountsAt(infos, s.dir)
	for i, m := range at {
		if m.Dev() == s.dev && isFUSE(m) {
			if i != len(at)-1 {
				return false, fmt.Errorf("another filesystem (%s) is mounted over it", at[len(at)-1].FSType)
			}
			return true, nil
		}
	}
	return false, nil
}
