package isoimage

import (
	"io"
	"os"
	"sort"
)

// FdLender is implemented by a Source whose bytes are those of an open host
// file (internal/hostfile's pooled files do). FdRange lends the file behind
// source bytes [off, off+n): the file, the offset of off in it, and a release
// to call once done (may be nil); ok is false when it cannot lend the range.
type FdLender interface {
	FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool)
}

// FdRange reports whether image bytes [off, off+n) are verbatim bytes of one
// host file and, if so, lends that file and the offset of off in it, so a
// server can splice them to the kernel instead of copying them through
// ReadAt. Metadata, zero gaps and sector tails, ranges touching a boot info
// table, ranges spanning two parts of the image, and sources that are not
// host files (memory, files inside another ISO) report ok == false: the
// caller then reads them with ReadAt. release (possibly nil) must be called
// once the file is no longer used.
func (im *Image) FdRange(off int64, n int) (f *os.File, fileOff int64, release func(), ok bool) {
	if n <= 0 || off < 0 || off > im.size-int64(n) {
		return nil, 0, nil, false
	}
	end := off + int64(n)
	i := sort.Search(len(im.regions), func(i int) bool { return im.regions[i].end > off })
	if i == len(im.regions) || im.regions[i].start > off || im.regions[i].end < end {
		return nil, 0, nil, false
	}
	switch im.regions[i].kind {
	case regData:
		return im.fdData(off, end)
	case regBase:
		return im.fdBase(off, end)
	}
	return nil, 0, nil, false
}

// fdData lends the source of the one file whose data holds [off, end).
func (im *Image) fdData(off, end int64) (*os.File, int64, func(), bool) {
	j := sort.Search(len(im.order), func(j int) bool {
		return int64(im.nodes[im.order[j]].lba)*sectorSize > off
	}) - 1
	if j < 0 {
		return nil, 0, nil, false
	}
	id := im.order[j]
	start := int64(im.nodes[id].lba) * sectorSize
	if end > start+im.nodes[id].size {
		return nil, 0, nil, false // runs into the sector tail or the next file
	}
	// ReadAt lays a patched boot info table over bytes 8..63 of the file.
	if im.patches[id] != nil && off-start < 64 && end-start > 8 {
		return nil, 0, nil, false
	}
	return lendFd(im.srcs[id], off-start, int(end-off))
}

// fdBase lends the base ISO for a kept range (same offsets in image and base).
func (im *Image) fdBase(off, end int64) (*os.File, int64, func(), bool) {
	if im.base == nil || end > im.base.Size {
		return nil, 0, nil, false // the zero tail past the base's end
	}
	for _, p := range im.basePatches {
		if p.off < end && off < p.off+int64(len(p.tbl)) {
			return nil, 0, nil, false
		}
	}
	return lendFd(im.base.Source, off, int(end-off))
}

// lendFd finds the host file under a source: a lender, a section of one (the
// in-place layout reads kept files as sections of the base), or a plain file.
func lendFd(src any, off int64, n int) (*os.File, int64, func(), bool) {
	switch s := src.(type) {
	case FdLender:
		return s.FdRange(off, n)
	case *io.SectionReader:
		outer, base, size := s.Outer()
		if off+int64(n) > size {
			return nil, 0, nil, false
		}
		return lendFd(outer, base+off, n)
	case *os.File:
		// A file that shrank would splice short data; ReadAt reports it.
		if fi, err := s.Stat(); err != nil || fi.Size() < off+int64(n) {
			return nil, 0, nil, false
		}
		return s, off, nil, true
	}
	return nil, 0, nil, false
}

// HostExtents calls fn(off, n, f, fileOff), in increasing image offset, for each run of image
// bytes that are verbatim bytes of one host file: the kept ranges of an
// in-place base ISO (around boot info tables laid over them) and added files
// whose source is a host file (from byte 64 on when a boot info table is
// patched into the file). A materialiser clones these and reads the rest
// with ReadAt: image bytes [off, off+n) are bytes [fileOff, fileOff+n) of f,
// which is valid only during the call. An error from fn stops the walk.
func (im *Image) HostExtents(fn func(off, n int64, f *os.File, fileOff int64) error) error {
	emit := func(src any, imgOff, srcOff, n int64) error {
		if n <= 0 || n > int64(^uint(0)>>1) {
			return nil
		}
		f, fileOff, release, ok := lendFd(src, srcOff, int(n))
		if !ok {
			return nil
		}
		if release != nil {
			defer release()
		}
		return fn(imgOff, n, f, fileOff)
	}
	for _, r := range im.regions {
		switch r.kind {
		case regBase:
			if im.base == nil {
				continue
			}
			pos, end := r.start, min(r.end, im.base.Size)
			for _, p := range im.basePatches {
				pend := p.off + int64(len(p.tbl))
				if pend <= pos || p.off >= end {
					continue
				}
				if err := emit(im.base.Source, pos, pos, p.off-pos); err != nil {
					return err
				}
				pos = pend
			}
			if err := emit(im.base.Source, pos, pos, end-pos); err != nil {
				return err
			}
		case regData:
			j := sort.Search(len(im.order), func(j int) bool { return int64(im.nodes[im.order[j]].lba)*sectorSize >= r.start })
			for ; j < len(im.order); j++ {
				id := im.order[j]
				start := int64(im.nodes[id].lba) * sectorSize
				if start >= r.end {
					break
				}
				skip := int64(0)
				if im.patches[id] != nil {
					skip = 64 // bytes 8..63 are the patched table; copy the head
				}
				if err := emit(im.srcs[id], start+skip, skip, min(im.nodes[id].size, r.end-start)-skip); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
