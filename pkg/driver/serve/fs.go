package serve

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
	"k8s.io/klog/v2"
)

// Image is what the server needs from an image: every backend.Image satisfies
// it. ReadAt may be called from many goroutines at once.
type Image interface {
	io.ReaderAt
	Size() int64
}

// FdRanger is an optional interface of an Image whose bytes partly come from
// host files (a VISO's member files, a raw ISO). When a read falls entirely
// inside one such file, the server hands the kernel the file descriptor and
// the data moves by splice(2) without being copied through user space.
//
// FdRange reports whether the n bytes at image offset off lie in one host file
// and, if so, returns that file and the offset of the first byte in it. The
// file must stay open until release is called (release may be nil); the server
// calls it once the reply has been written to the kernel. This pairs with
// pools that bound open descriptors: an eviction must not close a file whose
// descriptor is still being spliced from.
type FdRanger interface {
	FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool)
}

// fuseReplyHeader is the size of the FUSE reply header go-fuse writes into the
// splice pipe in front of the data (struct fuse_out_header).
const fuseReplyHeader = 16

// rootNode is the mount's root directory. Its only child is added in OnAdd.
type rootNode struct {
	fs.Inode
	file  *fileNode
	name  string
	mtime time.Time
}

var (
	_ fs.NodeOnAdder   = (*rootNode)(nil)
	_ fs.NodeGetattrer = (*rootNode)(nil)
	_ fs.NodeStatfser  = (*rootNode)(nil)
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeStatfser  = (*fileNode)(nil)
	_ fuse.ReadResult  = (*fdResult)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
)

func (r *rootNode) OnAdd(ctx context.Context) {
	child := r.NewPersistentInode(ctx, r.file, fs.StableAttr{Mode: syscall.S_IFREG, Ino: 2})
	r.AddChild(r.name, child, false)
}

func (r *rootNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o555
	out.Nlink = 2
	setTimes(&out.Attr, r.mtime)
	return 0
}

func (r *rootNode) Statfs(_ context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out, r.file.size)
	return 0
}

// fileNode is the image file.
type fileNode struct {
	fs.Inode
	img    Image
	ranger FdRanger // nil when img is not an FdRanger or splice is off
	// passthrough: try FUSE passthrough on open (see passthrough.go).
	passthrough bool
	size        int64
	mtime       time.Time
	openFlag    uint32

	// readErrors counts failed image reads; only the first few are logged so
	// a broken source cannot flood the log at kernel readahead rate.
	readErrors atomic.Int64
	bytesRead  atomic.Int64
	spliced    atomic.Int64
}

func (f *fileNode) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFREG | 0o444
	out.Nlink = 1
	out.Size = uint64(f.size)
	out.Blksize = 1 << 20
	out.Blocks = (uint64(f.size) + 511) / 512
	setTimes(&out.Attr, f.mtime)
	return 0
}

// Setattr refuses every change (the mount is read-only too; this answers
// callers that reach the server anyway, e.g. through utimensat on an fd).
func (f *fileNode) Setattr(context.Context, fs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (f *fileNode) Statfs(_ context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out, f.size)
	return 0
}

func (f *fileNode) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	if f.passthrough {
		if h := passthroughFor(f.ranger, f.size); h != nil {
			return h, f.openFlag, 0
		}
	}
	return nil, f.openFlag, 0
}

func (f *fileNode) Read(_ context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off < 0 {
		return nil, syscall.EINVAL
	}
	if off >= f.size {
		return fuse.ReadResultData(nil), 0
	}
	n := len(dest)
	if rest := f.size - off; int64(n) > rest {
		n = int(rest)
	}
	if f.ranger != nil && n+fuseReplyHeader+os.Getpagesize() <= splice.MaxPipeSize() {
		// go-fuse refuses (and logs) a splice whose pipe would exceed the
		// pipe-max-size it read at start-up; such reads take the copy path.
		if file, fileOff, release, ok := f.ranger.FdRange(off, n); ok {
			f.bytesRead.Add(int64(n))
			f.spliced.Add(int64(n))
			return &fdResult{node: f, file: file, off: fileOff, n: n, release: release}, 0
		}
	}
	got, err := f.img.ReadAt(dest[:n], off)
	if err != nil && !(errors.Is(err, io.EOF) && got == n) {
		if c := f.readErrors.Add(1); c <= 10 {
			klog.ErrorS(err, "Image read failed", "offset", off, "length", n, "errorCount", c)
		}
		return nil, syscall.EIO
	}
	f.bytesRead.Add(int64(got))
	// A vector reply goes out by writev; a plain data reply would first be
	// tried (and fail, logging) as a splice whenever it exceeds the pipe size.
	return fuse.ReadResultVector([][]byte{dest[:got]}), 0
}

// fdResult is a splice-able read reply that keeps its *os.File referenced
// (a file only reachable through its descriptor number can be finalised and
// closed mid-splice) and returns it to its owner once the reply is sent.
type fdResult struct {
	node    *fileNode
	file    *os.File
	off     int64
	n       int
	release func()
}

// Seekable is the hook go-fuse's splice path looks for (pread-style source).
func (r *fdResult) Seekable() (fd uintptr, off int64, sz int) {
	return r.file.Fd(), r.off, r.n
}

// Bytes is go-fuse's fallback when splice is unavailable or failed: a
// plain pread (the bytes then count as copied, not spliced).
func (r *fdResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	r.node.spliced.Add(-int64(r.n))
	n := min(len(buf), r.n)
	got, err := r.file.ReadAt(buf[:n], r.off)
	if err != nil && !errors.Is(err, io.EOF) {
		klog.ErrorS(err, "Host file read failed", "file", r.file.Name(), "offset", r.off, "length", n)
		return nil, fuse.EIO
	}
	return buf[:got], fuse.OK
}

func (r *fdResult) Size() int { return r.n }

func (r *fdResult) Done() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
	r.file = nil
}

func setTimes(a *fuse.Attr, t time.Time) {
	sec, nsec := uint64(t.Unix()), uint32(t.Nanosecond())
	a.Atime, a.Mtime, a.Ctime = sec, sec, sec
	a.Atimensec, a.Mtimensec, a.Ctimensec = nsec, nsec, nsec
}

// statfs describes a full, read-only filesystem holding the image, so df shows
// its size and no free space.
func statfs(out *fuse.StatfsOut, size int64) {
	const bsize = 4096
	out.Bsize = bsize
	out.Frsize = bsize
	out.Blocks = (uint64(size) + bsize - 1) / bsize
	out.Files = 2
	out.NameLen = 255
}
