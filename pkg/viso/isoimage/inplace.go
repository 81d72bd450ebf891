package isoimage

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// In-place layout (issue 5, item 3): when a tree is told about a base ISO,
// every file whose bytes are one extent of that base keeps the extent's LBA in
// the new image, and everything new (volume descriptors, directories, path
// tables, boot catalog, added files, Rock Ridge spill area) goes into base
// sectors that no kept extent uses, first fit, else after the end of the base.
// A read of base data is then one contiguous range of the base file, and the
// base's isohybrid MBR/GPT, which name boot images by absolute LBA, stay valid.

// Base is the ISO that an in-place layout keeps its files in place from.
type Base struct {
	// Size is the base's size in bytes.
	Size int64
	// Source reads the base; it must be safe for concurrent ReadAt calls and
	// stay unchanged while the image is served.
	Source io.ReaderAt
}

// BaseExtenter is implemented by a file Source whose bytes are exactly the
// file's size starting at sector lba of the base ISO (ok == true). The
// --import-iso executor gives the files of the first import such a source;
// Finalize keeps them at lba and reads their data straight from Base.Source.
// A source that reports ok == false, or a tree without SetBase, is laid out
// like any added file.
type BaseExtenter interface {
	BaseExtent() (lba uint32, ok bool)
}

// ErrBaseInvalid: SetBase was given no source, a size that is not positive,
// or called twice.
var ErrBaseInvalid = errors.New("invalid base ISO")

// ErrLayoutConflict: an in-place layout found two parts of the image on the
// same bytes (an internal invariant; reported instead of serving bad data).
var ErrLayoutConflict = errors.New("overlapping image regions")

// SetBase switches Finalize to the in-place layout over the given base. It may
// be called once, before Finalize.
func (t *Tree) SetBase(b Base) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	if b.Source == nil || b.Size <= 0 || t.base != nil {
		return fmt.Errorf("set base (size %d): %w", b.Size, ErrBaseInvalid)
	}
	t.base = &b
	return nil
}

// pinnedLBA reports where a file object stays in an in-place layout: its
// source names a base extent that lies inside the base and after the volume
// descriptors (descEnd, the first sector free of them).
func (t *Tree) pinnedLBA(id ID, descEnd int64) (uint32, bool) {
	if t.base == nil {
		return 0, false
	}
	be, ok := t.srcs[id].(BaseExtenter)
	if !ok {
		return 0, false
	}
	lba, ok := be.BaseExtent()
	if !ok || int64(lba) < descEnd {
		// An extent inside the new descriptor area cannot stay: the file is
		// placed like an added one and served from its source.
		return 0, false
	}
	if int64(lba)+sectorsFor(t.nodes[id].size) > sectorsFor(t.base.Size) {
		return 0, false
	}
	return lba, true
}

// span is a half-open range of sectors.
type span struct{ start, end int64 }

// mergeSpans sorts and unites overlapping or touching spans.
func mergeSpans(s []span) []span {
	slices.SortFunc(s, func(a, b span) int { return cmpInt64(a.start, b.start) })
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}

// unbounded is the size of the gap after the last kept extent.
const unbounded = int64(1) << 40

// gapAlloc hands out sectors first fit from the gaps between kept extents.
// A max-segment tree over the gaps' remaining sizes finds the leftmost gap
// that fits in O(log gaps), so a layout stays O(objects log objects) however
// fragmented the base is. The last gap is unbounded: allocations that fit no
// hole go after the base.
type gapAlloc struct {
	next []int64 // per gap: first free sector
	left []int64 // per gap: free sectors remaining
	tree []int64 // max of left over each node; leaves from len(tree)/2
	high int64   // end of the highest sector handed out
}

// newGapAlloc builds the allocator for the free space from 'from' on, given
// the merged kept spans.
func newGapAlloc(from int64, kept []span) *gapAlloc {
	g := &gapAlloc{}
	cur := from
	for _, k := range kept {
		if k.end <= cur {
			continue
		}
		if k.start > cur {
			g.next = append(g.next, cur)
			g.left = append(g.left, k.start-cur)
		}
		cur = k.end
	}
	g.next = append(g.next, cur)
	g.left = append(g.left, unbounded)
	leaves := 1
	for leaves < len(g.left) {
		leaves *= 2
	}
	g.tree = make([]int64, 2*leaves)
	copy(g.tree[leaves:], g.left)
	for i := leaves - 1; i > 0; i-- {
		g.tree[i] = max(g.tree[2*i], g.tree[2*i+1])
	}
	return g
}

// alloc returns the first sector of n free sectors (n == 0 returns the
// first free sector without using it, so an empty file's LBA never points
// into a kept extent).
func (g *gapAlloc) alloc(n int64) int64 {
	need := max(n, 1)
	leaves := len(g.tree) / 2
	i := 1
	for i < leaves {
		if g.tree[2*i] >= need {
			i = 2 * i
		} else {
			i = 2*i + 1
		}
	}
	gi := i - leaves // the unbounded last gap always fits
	at := g.next[gi]
	g.next[gi] += n
	g.left[gi] -= n
	g.high = max(g.high, at+n)
	for g.tree[i] = g.left[gi]; i > 1; {
		i /= 2
		g.tree[i] = max(g.tree[2*i], g.tree[2*i+1])
	}
	return at
}

// bootPatch is a boot info table laid over base bytes at an absolute offset.
type bootPatch struct {
	off int64 // image offset of byte 8 of the boot image
	tbl *[56]byte
}

// readBase serves a kept range straight from the base: image offset == base
// offset. Bytes past the end of the base (the tail of its last sector) read
// as zeros; boot info tables are laid over their images.
func (im *Image) readBase(dst []byte, pos int64) error {
	n := len(dst)
	if pos+int64(n) > im.base.Size {
		n = int(max(0, im.base.Size-pos))
		zero(dst[n:])
	}
	if n > 0 {
		got, err := im.base.Source.ReadAt(dst[:n], pos)
		if got < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = ErrSourceShrank
			}
			return fmt.Errorf("isoimage: reading the base ISO at offset %d: %w", pos+int64(got), err)
		}
	}
	for _, p := range im.basePatches {
		lo, hi := max(p.off, pos), min(p.off+int64(len(p.tbl)), pos+int64(len(dst)))
		if lo < hi {
			copy(dst[lo-pos:hi-pos], p.tbl[lo-p.off:hi-p.off])
		}
	}
	return nil
}
