package viso

import (
	"os"
	"sync"
)

// FdRange lends the host file behind image bytes [off, off+n) when they are
// verbatim bytes of one file (a member file, a kept file of an imported base
// ISO), so a FUSE server can splice them; see isoimage.Image.FdRange. ok is
// false in info mode, after Close, and for every range that must be
// synthesised: the caller then uses ReadAt.
//
// release must be called exactly once when ok. Until then the image holds a
// read lock, so Close waits: closing the base ISO under an in-flight splice
// could let the kernel hand its descriptor number to another file.
func (img *Image) FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool) {
	img.mu.RLock()
	if img.built == nil || img.closed {
		img.mu.RUnlock()
		return nil, 0, nil, false
	}
	f, fileOff, inner, ok := img.built.FdRange(off, n)
	if !ok {
		img.mu.RUnlock()
		return nil, 0, nil, false
	}
	var once sync.Once
	return f, fileOff, func() {
		once.Do(func() {
			if inner != nil {
				inner()
			}
			img.mu.RUnlock()
		})
	}, true
}

// HostExtents reports the runs of image bytes that are verbatim bytes of a
// host file (see isoimage.Image.HostExtents); nothing in info mode or after
// Close. Close waits until the walk is done.
func (img *Image) HostExtents(fn func(off, n int64, f *os.File, fileOff int64) error) error {
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.built == nil || img.closed {
		return nil
	}
	return img.built.HostExtents(fn)
}
