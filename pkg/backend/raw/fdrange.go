package raw

import (
	"os"
	"sync"
)

// FdRange lends the image file for bytes [off, off+n): a raw image is its
// file, so the offset is the same. A FUSE server splices from it instead of
// copying through ReadAt. ok is false for an empty range, a range outside the
// image, in info mode, after Close, and when the file has shrunk below the
// range since it was opened (ReadAt then reports the error; a splice would
// return short data).
//
// release must be called exactly once when ok. Until then the image holds a
// read lock, so Close waits: closing the file under an in-flight splice could
// let the kernel hand its descriptor number to another file.
func (img *Image) FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool) {
	img.mu.RLock()
	if img.f == nil || n <= 0 || off < 0 || off > img.size-int64(n) {
		img.mu.RUnlock()
		return nil, 0, nil, false
	}
	if fi, err := img.f.Stat(); err != nil || fi.Size() < off+int64(n) {
		img.mu.RUnlock()
		return nil, 0, nil, false
	}
	var once sync.Once
	return img.f, off, func() { once.Do(img.mu.RUnlock) }, true
}

// HostExtents reports the whole image as one run of its file (nothing in
// info mode or after Close), as isoimage.Image.HostExtents does.
func (img *Image) HostExtents(fn func(off, n int64, f *os.File, fileOff int64) error) error {
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.f == nil || img.size == 0 {
		return nil
	}
	return fn(0, img.size, img.f, 0)
}
