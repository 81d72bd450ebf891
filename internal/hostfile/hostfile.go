// Package hostfile serves the data of host source files to a synthesised image.
//
// A VISO may name 100 000 files; keeping each one open would exhaust file
// descriptors, and opening each one per read would cost a path walk per 2 KiB.
// A Pool opens files lazily through the caller's (confining) opener on their
// first read and keeps at most a fixed number open, closing the least recently
// used one when it needs room. Reads hold a reference, so an eviction never
// closes a file under a concurrent reader.
package hostfile

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// ErrChanged reports a source file that no longer has the size it had when the
// image was laid out (VirtualBox surfaces this as a read error too).
var ErrChanged = errors.New("source file changed size after the image was built")

// Opener opens a source path; the VISO code passes its confinement resolver.
type Opener interface {
	Open(path string) (*os.File, error)
}

// DefaultMaxOpen bounds the descriptors a Pool keeps open.
const DefaultMaxOpen = 64

// Pool shares a bounded set of open files between the File sources of one image.
type Pool struct {
	opener  Opener
	maxOpen int

	mu   sync.Mutex
	open map[string]*handle
	lru  *list.List // of *handle, most recently used at the front
}

type handle struct {
	path   string
	f      *os.File
	refs   int  // readers currently using f
	closed bool // evicted; close f when refs drops to zero
	elem   *list.Element
}

// NewPool returns a pool that opens files with opener and keeps at most maxOpen
// of them open (DefaultMaxOpen when maxOpen <= 0).
func NewPool(opener Opener, maxOpen int) *Pool {
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpen
	}
	return &Pool{opener: opener, maxOpen: maxOpen, open: map[string]*handle{}, lru: list.New()}
}

// File returns a source for path whose recorded size is size. Nothing is opened yet.
func (p *Pool) File(path string, size int64) *File {
	return &File{pool: p, path: path, size: size}
}

// Close closes every idle file; files in use are closed when their read ends.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for path, h := range p.open {
		p.lru.Remove(h.elem)
		delete(p.open, path)
		h.closed = true
		if h.refs == 0 {
			if err := h.f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) acquire(path string) (*handle, error) {
	p.mu.Lock()
	if h, ok := p.open[path]; ok {
		h.refs++
		p.lru.MoveToFront(h.elem)
		p.mu.Unlock()
		return h, nil
	}
	p.mu.Unlock()

	// Open outside the lock: a slow open must not stall reads of other files.
	f, err := p.opener.Open(path)
	if err != nil {
		return nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.open[path]; ok { // another reader won the race
		h.refs++
		p.lru.MoveToFront(h.elem)
		f.Close()
		return h, nil
	}
	h := &handle{path: path, f: f, refs: 1}
	h.elem = p.lru.PushFront(h)
	p.open[path] = h
	for len(p.open) > p.maxOpen {
		p.evictLocked(p.lru.Back().Value.(*handle))
	}
	return h, nil
}

func (p *Pool) evictLocked(h *handle) {
	p.lru.Remove(h.elem)
	delete(p.open, h.path)
	h.closed = true
	if h.refs == 0 {
		h.f.Close()
	}
}

func (p *Pool) release(h *handle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.refs--
	if h.closed && h.refs == 0 {
		h.f.Close()
	}
}

// File is the data source of one host file of fixed size.
type File struct {
	pool *Pool
	path string
	size int64
}

// Path returns the source path as the VISO named it.
func (s *File) Path() string { return s.path }

// Size returns the size recorded when the image was laid out.
func (s *File) Size() int64 { return s.size }

// ReadAt reads from the host file. Reads are bounded by the recorded size; a file
// that has shrunk since yields ErrChanged rather than silently short data.
func (s *File) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", s.path)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := len(b)
	if rem := s.size - off; int64(want) > rem {
		want = int(rem)
	}
	h, err := s.pool.acquire(s.path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", s.path, err)
	}
	defer s.pool.release(h)
	n, err := h.f.ReadAt(b[:want], off)
	if n < want {
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("read %s at %d: %w", s.path, off+int64(n), ErrChanged)
		} else {
			err = fmt.Errorf("read %s: %w", s.path, err)
		}
		return n, err
	}
	if want < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// FdRange lends the open host file behind bytes [off, off+n) of this source,
// so a server can splice(2) them without copying through user space. ok is
// false when the range is empty or not inside the recorded size, when the
// file cannot be opened, or when it is now shorter than the range: the caller
// then reads through ReadAt, which reports the error (a splice from a shrunk
// file would silently return short data instead of ErrChanged).
//
// The file stays open, even if the pool evicts it meanwhile, until release is
// called; release must be called exactly once. fileOff equals off: a source's
// bytes are its file's bytes.
func (s *File) FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool) {
	if n <= 0 || off < 0 || off > s.size-int64(n) {
		return nil, 0, nil, false
	}
	h, err := s.pool.acquire(s.path)
	if err != nil {
		return nil, 0, nil, false
	}
	fi, err := h.f.Stat()
	if err != nil || fi.Size() < off+int64(n) {
		s.pool.release(h)
		return nil, 0, nil, false
	}
	var once sync.Once
	return h.f, off, func() { once.Do(func() { s.pool.release(h) }) }, true
}
