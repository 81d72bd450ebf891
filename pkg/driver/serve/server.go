package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// ErrNotResumable: a handed-over descriptor does not belong to the mount
	// it is said to serve, or the image does not match it.
	ErrNotResumable = errors.New("FUSE connection cannot be resumed")
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
	// Readers is the number of threads reading requests (0: 4).
	Readers int
}

// Server is one mounted image, served by this process.
type Server struct {
	dir  string
	path string
	dev  uint64 // st_dev of the mount, to recognise it in mountinfo
	c    *conn
}

// Stats are counters of a Server since it was mounted.
type Stats struct {
	BytesRead    int64 // bytes returned to the kernel
	BytesSpliced int64 // of which moved by splice from host files
}

// Handover is what a process taking over a served mount needs besides the
// /dev/fuse descriptor: where it is and what INIT negotiated.
type Handover struct {
	Dir      string  `json:"dir"`
	FileName string  `json:"fileName"`
	Size     int64   `json:"size"`
	Dev      uint64  `json:"dev"`
	Session  Session `json:"session"`
}

// Mount serves img read-only at dir, which must be an existing directory with
// no FUSE filesystem mounted on it. It needs CAP_SYS_ADMIN (it mounts
// directly, without fusermount). The server runs until Unmount, or until the
// mount is removed from outside. Its descriptor (Fd) may be handed to another
// process, which takes over with Resume.
func Mount(ctx context.Context, dir string, img Image, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	c, abs, err := newConn(dir, img, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if err := checkMountPoint(abs); err != nil {
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount %s: open /dev/fuse: %w", abs, err)
	}
	c.fd = fd
	data := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,max_read=%d", fd, maxRead)
	if err := unix.Mount(FSName, abs, "fuse."+FSName, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount FUSE at %s: %w", abs, err)
	}
	fail := func(err error) (*Server, error) {
		_ = unix.Unmount(abs, unix.MNT_DETACH)
		unix.Close(fd)
		return nil, fmt.Errorf("mount FUSE at %s: %w", abs, err)
	}
	// The kernel sends INIT when the mount is first used; stat does that,
	// and tells the mount's device number.
	statErr := make(chan error, 1)
	var st unix.Stat_t
	go func() { statErr <- unix.Stat(abs, &st) }()
	if err := c.handshake(); err != nil {
		return fail(err)
	}
	if c.ptWant && c.sess.Flags&initPassthrough != 0 {
		c.setupPassthrough()
	}
	c.start()
	if err := <-statErr; err != nil {
		// The readers end with the mount and close fd themselves.
		_ = unix.Unmount(abs, unix.MNT_DETACH)
		return nil, fmt.Errorf("mount FUSE at %s: stat new mount: %w", abs, err)
	}
	s := &Server{dir: abs, path: filepath.Join(abs, c.name), dev: uint64(st.Dev), c: c}
	if err := s.teachNoPoll(); err != nil {
		_ = unix.Unmount(abs, unix.MNT_DETACH)
		return nil, fmt.Errorf("mount FUSE at %s: %w", abs, err)
	}
	s.tune(opts)
	klog.InfoS("Serving image", "dir", abs, "file", c.name, "size", c.size,
		"splice", c.ranger != nil, "passthrough", c.sess.BackingID > 0, "maxRead", c.sess.MaxRead, "directIO", opts.DirectIO)
	return s, nil
}

// Resume takes over a mount another process served, through its /dev/fuse
// descriptor fd (the caller's, now the server's) and what it negotiated.
// The mount must still be at h.Dir with device h.Dev, and img must have the
// size the kernel knows. Requests the dead server had read but not answered
// are asked for again (FUSE_NOTIFY_RESEND), so their readers only paused.
func Resume(fd int, h Handover, img Image, opts Options) (*Server, error) {
	opts.FileName = h.FileName
	c, abs, err := newConn(h.Dir, img, opts)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", h.Dir, err)
	}
	if c.size != h.Size {
		return nil, fmt.Errorf("resume %s: image is %d bytes, the mount serves %d: %w", abs, c.size, h.Size, ErrNotResumable)
	}
	s := &Server{dir: abs, path: filepath.Join(abs, c.name), dev: h.Dev, c: c}
	mounted, err := s.mounted()
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", abs, err)
	}
	if !mounted {
		return nil, fmt.Errorf("resume %s: no FUSE mount with device %d:%d there: %w", abs, unix.Major(h.Dev), unix.Minor(h.Dev), ErrNotResumable)
	}
	c.fd = fd
	c.sess = h.Session
	if c.sess.BackingID > 0 && !c.ptWant {
		c.sess.BackingID = 0 // the image is no longer one host file: serve it
	}
	c.start()
	if c.sess.Flags&initHasResend != 0 {
		if err := c.resend(); err != nil {
			klog.ErrorS(err, "Asking the kernel to resend interrupted requests failed", "dir", abs)
		}
	} else {
		klog.InfoS("Kernel cannot resend requests (FUSE_HAS_RESEND missing, Linux < 6.9); reads in flight at the restart may hang until interrupted", "dir", abs)
	}
	klog.InfoS("Resumed serving image", "dir", abs, "file", c.name, "size", c.size, "passthrough", c.sess.BackingID > 0)
	return s, nil
}

// newConn checks the arguments common to Mount and Resume.
func newConn(dir string, img Image, opts Options) (*conn, string, error) {
	if img == nil {
		return nil, "", errors.New("nil image")
	}
	size := img.Size()
	if size < 0 {
		return nil, "", fmt.Errorf("negative image size %d", size)
	}
	name := opts.FileName
	if name == "" {
		name = DefaultFileName
	}
	if err := checkFileName(name); err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	c := &conn{fd: -1, img: img, name: name, size: size, mtime: mtime, open: fopenKeepCache, readers: opts.Readers}
	if c.readers <= 0 {
		c.readers = 4
	}
	if opts.DirectIO {
		c.open = fopenDirectIO
	}
	if r, ok := img.(FdRanger); ok && !opts.DisableSplice {
		c.ranger = r
		raisePipeMaxSize()
		c.ptWant = !opts.DirectIO && !opts.DisablePassthrough && wholeFile(r, size) != nil
	}
	return c, abs, nil
}

// setupPassthrough registers the image's one host file as the backing file
// of the connection, so the kernel reads it without asking us.
func (c *conn) setupPassthrough() {
	f := wholeFile(c.ranger, c.size)
	if f == nil {
		return
	}
	defer f.Close()
	id, err := registerBacking(c.fd, f)
	if err != nil {
		klog.InfoS("FUSE passthrough unavailable; splicing instead", "err", err)
		return
	}
	c.sess.BackingID = id
}

// wholeFile returns a descriptor of the host file that is the whole image
// (a plain ISO), or nil.
func wholeFile(r FdRanger, size int64) *os.File {
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
	if fi, err := f.Stat(); off != 0 || err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return nil
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), f.Name())
}

// teachNoPoll makes the kernel learn, once per connection, that we answer
// POLL with ENOSYS. Until it knows, every os.Open of the served file in this
// process would send a POLL from inside the Go runtime's epoll_ctl, which
// holds its scheduler slot while it waits: with the reply needing a slot
// too (or a stop-the-world GC waiting for it), the process deadlocks. So the
// first poll is made here, by a plain poll(2) the runtime handles as a
// blocking system call.
func (s *Server) teachNoPoll() error {
	fd, err := unix.Open(s.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	defer unix.Close(fd)
	_, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll %s: %w", s.path, err)
	}
	return nil
}

// tune raises the readahead of the mount's device.
func (s *Server) tune(opts Options) {
	ra := opts.ReadAheadKB
	if ra == 0 {
		ra = DefaultReadAheadKB
	}
	if ra > 0 {
		if err := setReadAhead(s.dev, ra); err != nil {
			klog.InfoS("Could not raise FUSE readahead; sequential reads will be slower", "dir", s.dir, "readAheadKB", ra, "err", err)
		}
	}
}

// Fd is the /dev/fuse descriptor (for handing the mount over). It stays
// owned by the Server.
func (s *Server) Fd() int { return s.c.fd }

// Handover describes the mount for Resume in another process.
func (s *Server) Handover() Handover {
	return Handover{Dir: s.dir, FileName: s.c.name, Size: s.c.size, Dev: s.dev, Session: s.c.sess}
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
	return Stats{BytesRead: s.c.bytesRead.Load(), BytesSpliced: s.c.spliced.Load()}
}

// Wait blocks until the server stops serving: after the mount (and every
// bind mount of it) is gone, or the connection was aborted.
func (s *Server) Wait() { <-s.c.done }

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
