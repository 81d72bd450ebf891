package serve

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Image is what a Server serves: random-access bytes of a fixed size.
type Image interface {
	io.ReaderAt
	Size() int64
}

// FdRanger is an optional interface of an Image whose bytes partly come from
// host files (viso.Image, raw.Image). FdRange reports whether the n bytes at
// image offset off lie in one host file and lends it, with the offset of off
// in it, so the reply can be spliced from the file's page cache instead of
// copied; release (possibly nil) must be called once done.
type FdRanger interface {
	FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool)
}

// Session is what a connection negotiated at INIT: what a server taking
// over the descriptor must know, since the kernel will not say it again.
type Session struct {
	Minor     uint32 `json:"minor"`
	Flags     uint64 `json:"flags"`     // negotiated INIT flags (flags | flags2<<32)
	MaxRead   int    `json:"maxRead"`   // largest read request the kernel sends
	BackingID int32  `json:"backingID"` // registered passthrough backing file, 0 if none
}

// conn serves one FUSE connection: a fixed tree of the root folder (node 1)
// holding one read-only file (node 2).
type conn struct {
	fd      int
	img     Image
	ranger  FdRanger
	name    string
	size    int64
	mtime   time.Time
	open    uint32 // FOPEN_* flags for the file
	ptWant  bool   // offer passthrough when the image is one host file
	sess    Session
	readers int

	wg       sync.WaitGroup
	done     chan struct{} // closed when the readers ended and fd is closed
	stopping atomic.Bool

	bytesRead  atomic.Int64
	spliced    atomic.Int64
	readErrors atomic.Int64
}

// maxRead is the largest read request asked for (256 pages).
const maxRead = 1 << 20

// cacheTimeout is how long the kernel may trust names and attributes: the
// image never changes while mounted.
const cacheTimeout = 24 * time.Hour

// reqBufSize holds any request we accept: reads and lookups are small, and
// max_write is small because nothing is ever written.
const reqBufSize = 128 << 10

const maxWrite = 64 << 10

// handshake answers the kernel's INIT on a fresh connection.
func (c *conn) handshake() error {
	buf := make([]byte, reqBufSize)
	for {
		n, err := unix.Read(c.fd, buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read INIT: %w", err)
		}
		if n < inHeaderSize+16 {
			return fmt.Errorf("short INIT request (%d bytes)", n)
		}
		h := parseInHeader(buf)
		if h.opcode != opInit {
			return fmt.Errorf("first request is opcode %d, not INIT", h.opcode)
		}
		in := buf[inHeaderSize:n]
		major, minor := le.Uint32(in[0:]), le.Uint32(in[4:])
		maxRA := le.Uint32(in[8:])
		kflags := uint64(le.Uint32(in[12:]))
		if kflags&initExt != 0 && len(in) >= 20 {
			kflags |= uint64(le.Uint32(in[16:])) << 32
		}
		out := make([]byte, outHeaderSize+initOutSize)
		if major != protoMajor || minor < 12 {
			putOutHeader(out, outHeaderSize, -int32(unix.EPROTO), h.unique)
			_, _ = unix.Write(c.fd, out[:outHeaderSize])
			return fmt.Errorf("kernel FUSE protocol %d.%d is too old", major, minor)
		}
		want := uint64(initAsyncRead | initBigWrites | initParallelDirs | initMaxPages | initExt | initAsyncDIO)
		if c.ptWant {
			want |= initPassthrough
		}
		flags := kflags & want
		c.sess = Session{Minor: min(minor, protoMinor), Flags: flags | kflags&initHasResend, MaxRead: maxRead}
		if flags&initMaxPages == 0 {
			c.sess.MaxRead = 128 << 10
		}
		b := out[outHeaderSize:]
		le.PutUint32(b[0:], protoMajor)
		le.PutUint32(b[4:], c.sess.Minor)
		le.PutUint32(b[8:], maxRA)
		le.PutUint32(b[12:], uint32(flags))
		le.PutUint16(b[16:], 64) // max_background
		le.PutUint16(b[18:], 48) // congestion_threshold
		le.PutUint32(b[20:], maxWrite)
		le.PutUint32(b[24:], 1) // time_gran: ns
		le.PutUint16(b[28:], maxRead/4096)
		le.PutUint32(b[32:], uint32(flags>>32))
		if flags&initPassthrough != 0 {
			le.PutUint32(b[36:], 1) // max_stack_depth: the backing file is on a plain file system
		}
		putOutHeader(out, len(out), 0, h.unique)
		if _, err := unix.Write(c.fd, out); err != nil {
			return fmt.Errorf("reply to INIT: %w", err)
		}
		return nil
	}
}

// start runs the reader loops; when the connection ends they stop and the
// descriptor is closed.
func (c *conn) start() {
	c.done = make(chan struct{})
	for i := 0; i < c.readers; i++ {
		c.wg.Add(1)
		go c.loop()
	}
	go func() {
		c.wg.Wait()
		unix.Close(c.fd)
		close(c.done)
	}()
}

// loop reads and answers requests until the connection ends (unmount,
// abort) or the server stops.
func (c *conn) loop() {
	defer c.wg.Done()
	buf := make([]byte, reqBufSize)
	var sp *splicer
	if c.ranger != nil {
		sp = newSplicer(c.sess.MaxRead)
		if sp != nil {
			defer sp.close()
		}
	}
	reply := make([]byte, 0, outHeaderSize+maxRead)
	for !c.stopping.Load() {
		n, err := unix.Read(c.fd, buf)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ENOENT), errors.Is(err, unix.EAGAIN):
			continue // interrupted, or the request was withdrawn
		case errors.Is(err, unix.ENODEV), errors.Is(err, unix.EBADF):
			return // unmounted or aborted
		case err != nil:
			klog.ErrorS(err, "Reading the FUSE device failed; stopping this reader")
			return
		}
		if n < inHeaderSize {
			continue
		}
		c.handle(buf[:n], reply[:cap(reply)], sp)
	}
}

func (c *conn) handle(req, out []byte, sp *splicer) {
	h := parseInHeader(req)
	in := req[inHeaderSize:]
	if int(h.len) >= inHeaderSize && int(h.len) <= len(req) {
		in = req[inHeaderSize:h.len]
	}
	body := out[outHeaderSize:]
	switch h.opcode {
	case opForget, opBatchForget, opInterrupt:
		return // no reply; the tree is fixed, and reads finish quickly
	case opInit:
		c.errReply(h.unique, unix.EPROTO) // only once, answered by handshake
	case opDestroy:
		c.reply(out, h.unique, 0, 0)
	case opLookup:
		name := cstring(in)
		if h.nodeID != rootID {
			c.errReply(h.unique, unix.ENOTDIR)
			return
		}
		if name != c.name {
			// A negative entry, cached as long as positive ones.
			clear(body[:entryOutSize])
			putValid(body, 16, 32, cacheTimeout)
			c.reply(out, h.unique, 0, entryOutSize)
			return
		}
		c.putEntry(body)
		c.reply(out, h.unique, 0, entryOutSize)
	case opGetattr:
		a, ok := c.attrOf(h.nodeID)
		if !ok {
			c.errReply(h.unique, unix.ENOENT)
			return
		}
		clear(body[:16])
		putValid(body, 0, 8, cacheTimeout)
		putAttr(body[16:], a)
		c.reply(out, h.unique, 0, attrOutSize)
	case opSetattr:
		c.errReply(h.unique, unix.EROFS)
	case opOpen:
		if h.nodeID != fileID {
			c.errReply(h.unique, unix.EISDIR)
			return
		}
		if len(in) >= 4 && le.Uint32(in)&(unix.O_WRONLY|unix.O_RDWR|unix.O_TRUNC|unix.O_APPEND) != 0 {
			c.errReply(h.unique, unix.EROFS)
			return
		}
		clear(body[:openOutSize])
		flags := c.open
		if c.sess.BackingID > 0 {
			flags = fopenPassthrough
			le.PutUint32(body[12:], uint32(c.sess.BackingID))
		}
		le.PutUint32(body[8:], flags)
		c.reply(out, h.unique, 0, openOutSize)
	case opOpendir:
		if h.nodeID != rootID {
			c.errReply(h.unique, unix.ENOTDIR)
			return
		}
		clear(body[:openOutSize])
		le.PutUint32(body[8:], fopenKeepCache|fopenCacheDir)
		c.reply(out, h.unique, 0, openOutSize)
	case opRead:
		c.read(h, in, out, sp)
	case opReaddir:
		c.readdir(h, in, out)
	case opRelease, opReleasedir, opFlush:
		c.reply(out, h.unique, 0, 0)
	case opStatfs:
		clear(body[:statfsOutSize])
		const bsize = 4096
		le.PutUint64(body[0:], (uint64(c.size)+bsize-1)/bsize) // blocks
		le.PutUint64(body[24:], 2)                             // files
		le.PutUint32(body[40:], bsize)                         // bsize
		le.PutUint32(body[44:], 255)                           // namelen
		le.PutUint32(body[48:], bsize)                         // frsize
		c.reply(out, h.unique, 0, statfsOutSize)
	default:
		// Xattrs, locks, ioctl, poll, lseek, statx...: the kernel remembers
		// ENOSYS for most and stops asking (or falls back, as for statx).
		c.errReply(h.unique, unix.ENOSYS)
	}
}

func (c *conn) attrOf(node uint64) (attr, bool) {
	switch node {
	case rootID:
		return attr{ino: rootID, mode: syscall.S_IFDIR | 0o555, nlink: 2, blksize: 4096, mtime: c.mtime}, true
	case fileID:
		return attr{ino: fileID, size: uint64(c.size), blocks: (uint64(c.size) + 511) / 512,
			mode: syscall.S_IFREG | 0o444, nlink: 1, blksize: 1 << 20, mtime: c.mtime}, true
	}
	return attr{}, false
}

func (c *conn) putEntry(b []byte) {
	a, _ := c.attrOf(fileID)
	clear(b[:40])
	le.PutUint64(b[0:], fileID)
	putValid(b, 16, 32, cacheTimeout)
	putValid(b, 24, 36, cacheTimeout)
	putAttr(b[40:], a)
}

func (c *conn) read(h inHeader, in, out []byte, sp *splicer) {
	if len(in) < 24 {
		c.errReply(h.unique, unix.EINVAL)
		return
	}
	off := int64(le.Uint64(in[8:]))
	n := int(le.Uint32(in[16:]))
	if h.nodeID != fileID {
		c.errReply(h.unique, unix.EISDIR)
		return
	}
	if off < 0 {
		c.errReply(h.unique, unix.EINVAL)
		return
	}
	if off >= c.size {
		c.reply(out, h.unique, 0, 0)
		return
	}
	n = int(min(int64(n), c.size-off, int64(len(out)-outHeaderSize)))
	if sp != nil && n <= sp.max {
		if f, fileOff, release, ok := c.ranger.FdRange(off, n); ok {
			err := sp.reply(c.fd, h.unique, f, fileOff, n)
			if release != nil {
				release()
			}
			if err == nil {
				c.bytesRead.Add(int64(n))
				c.spliced.Add(int64(n))
				return
			}
			if !errors.Is(err, errSpliceShort) {
				if !errors.Is(err, unix.ENOENT) {
					klog.ErrorS(err, "Splice reply failed", "offset", off, "length", n)
				}
				return
			}
			// The file shrank under us: ReadAt below reports it properly.
		}
	}
	got, err := c.img.ReadAt(out[outHeaderSize:outHeaderSize+n], off)
	if err != nil && !(errors.Is(err, io.EOF) && got == n) {
		if cnt := c.readErrors.Add(1); cnt <= 10 {
			klog.ErrorS(err, "Image read failed", "offset", off, "length", n, "errorCount", cnt)
		}
		c.errReply(h.unique, unix.EIO)
		return
	}
	c.bytesRead.Add(int64(got))
	c.reply(out, h.unique, 0, got)
}

// readdir lists ".", ".." and the file; the offset is the entry index.
func (c *conn) readdir(h inHeader, in, out []byte) {
	if h.nodeID != rootID {
		c.errReply(h.unique, unix.ENOTDIR)
		return
	}
	if len(in) < 24 {
		c.errReply(h.unique, unix.EINVAL)
		return
	}
	off := le.Uint64(in[8:])
	size := int(min(le.Uint32(in[16:]), uint32(len(out)-outHeaderSize)))
	entries := []struct {
		ino  uint64
		name string
		typ  uint32
	}{{rootID, ".", unix.DT_DIR}, {rootID, "..", unix.DT_DIR}, {fileID, c.name, unix.DT_REG}}
	body := out[outHeaderSize:]
	used := 0
	for i := int(min(off, 3)); i < len(entries); i++ {
		e := entries[i]
		rec := (24 + len(e.name) + 7) &^ 7
		if used+rec > size {
			break
		}
		b := body[used : used+rec]
		clear(b)
		le.PutUint64(b[0:], e.ino)
		le.PutUint64(b[8:], uint64(i+1))
		le.PutUint32(b[16:], uint32(len(e.name)))
		le.PutUint32(b[20:], e.typ)
		copy(b[24:], e.name)
		used += rec
	}
	c.reply(out, h.unique, 0, used)
}

// reply sends out[:outHeaderSize+n] with the header filled in.
func (c *conn) reply(out []byte, unique uint64, errno int32, n int) {
	putOutHeader(out, outHeaderSize+n, errno, unique)
	c.write(out[:outHeaderSize+n])
}

func (c *conn) errReply(unique uint64, e unix.Errno) {
	var b [outHeaderSize]byte
	putOutHeader(b[:], outHeaderSize, -int32(e), unique)
	c.write(b[:])
}

func (c *conn) write(b []byte) {
	_, err := unix.Write(c.fd, b)
	// ENOENT: the request was interrupted and is gone; ENODEV: unmounted.
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		klog.ErrorS(err, "FUSE reply failed")
	}
}

// resend asks the kernel to queue again every request a dead server had read
// but not answered, so their callers get answers instead of waiting forever.
func (c *conn) resend() error {
	var b [outHeaderSize]byte
	putOutHeader(b[:], outHeaderSize, notifyResend, 0)
	_, err := unix.Write(c.fd, b[:])
	return err
}

// registerBacking registers f as the passthrough backing file of the
// connection (one per connection, kept until it ends).
func registerBacking(devFd int, f *os.File) (int32, error) {
	var m struct {
		fd      int32
		flags   uint32
		padding uint64
	}
	m.fd = int32(f.Fd())
	id, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(devFd), iocBackingOpen, uintptr(unsafe.Pointer(&m)))
	runtime.KeepAlive(f)
	if errno != 0 {
		return 0, errno
	}
	return int32(id), nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// errSpliceShort: the source gave fewer bytes than asked (it shrank).
var errSpliceShort = errors.New("splice: short read from source")

// splicer moves file pages to the FUSE device through a pipe: header, then
// the file's bytes spliced in, then everything spliced out in one go.
type splicer struct {
	r, w int
	max  int // largest payload that fits the pipe with its header
}

func newSplicer(maxPayload int) *splicer {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil
	}
	want := maxPayload + 2*os.Getpagesize()
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, want)
	if err != nil {
		size, err = unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	}
	if err != nil || size < 64<<10 {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil
	}
	return &splicer{r: p[0], w: p[1], max: min(maxPayload, size-os.Getpagesize())}
}

func (s *splicer) close() {
	unix.Close(s.r)
	unix.Close(s.w)
}

func (s *splicer) reply(dev int, unique uint64, f *os.File, off int64, n int) error {
	var hdr [outHeaderSize]byte
	putOutHeader(hdr[:], outHeaderSize+n, 0, unique)
	if _, err := unix.Write(s.w, hdr[:]); err != nil {
		return err
	}
	src := int(f.Fd())
	for moved := 0; moved < n; {
		k, err := unix.Splice(src, &off, s.w, nil, n-moved, unix.SPLICE_F_MOVE)
		runtime.KeepAlive(f)
		if err != nil || k == 0 {
			s.drain()
			if err == nil {
				err = errSpliceShort
			}
			return err
		}
		moved += int(k)
	}
	total := outHeaderSize + n
	for moved := 0; moved < total; {
		k, err := unix.Splice(s.r, nil, dev, nil, total-moved, unix.SPLICE_F_MOVE)
		if err != nil {
			s.drain()
			return err
		}
		moved += int(k)
	}
	return nil
}

// drain empties the pipe after a failed reply so the next one starts clean.
func (s *splicer) drain() {
	buf := make([]byte, 64<<10)
	_ = unix.SetNonblock(s.r, true)
	for {
		if k, err := unix.Read(s.r, buf); err != nil || k <= 0 {
			break
		}
	}
	_ = unix.SetNonblock(s.r, false)
}
