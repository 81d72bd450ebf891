package isoimage

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Image is a finalised, immutable ISO image whose bytes are produced on read.
// It is safe for concurrent use.
type Image struct {
	store
	links    []string
	specials []special
	rrLevel  int
	pdir     []dirLayout // by dirInfo index; primary namespace
	jdir     []dirLayout // by dirInfo index; Joliet namespace
	regions  []region    // sorted, non-overlapping; gaps read as zeros
	order    []ID        // non-empty data files by LBA
	patches  map[ID]*[56]byte
	spill    map[uint64]uint32 // spillKey -> byte offset in the spill area
	spillLBA uint32
	size     int64
	volumeID string
	boot     []BootEntryInfo
	porder   []uint32 // primary directories, breadth-first (dirInfo indexes)
	// In-place layout (inplace.go): the base ISO that regBase regions read
	// from at the same offsets, and the boot info tables laid over it.
	base        *Base
	basePatches []bootPatch
}

// BootEntryInfo describes one El Torito entry of the image.
type BootEntryInfo struct {
	Platform      uint8
	Bootable      bool
	Emulation     Emulation // resolved (never EmulationAuto)
	Image         string    // path of the image object ("" if unnamed)
	LBA           uint32
	LoadSegment   uint16
	LoadSize      uint16 // 512-byte sectors
	BootInfoTable bool
}

// FileInfo describes a regular file of the primary / Rock Ridge view.
type FileInfo struct {
	Path string
	Size int64
	Mode uint32 // permission bits (07777)
}

type regionKind uint8

const (
	regMem regionKind = iota
	regPrimaryDir
	regJolietDir
	regData
	regBase // kept files of a base ISO: the same bytes at the same offsets
)

type region struct {
	start, end int64
	kind       regionKind
	dir        uint32 // dirInfo index for directory regions
	mem        []byte
}

// Size returns the image size in bytes (a multiple of 2048).
func (im *Image) Size() int64 { return im.size }

// VolumeID returns the primary volume identifier as written (trailing spaces trimmed).
func (im *Image) VolumeID() string { return im.volumeID }

// BootEntries returns the El Torito entries, default entry first.
func (im *Image) BootEntries() []BootEntryInfo { return append([]BootEntryInfo(nil), im.boot...) }

// Files lists the regular files of the primary tree (Rock Ridge names) in
// path-table order: directories breadth-first, entries sorted within each.
// It is computed on each call so that a finalised image keeps no paths.
func (im *Image) Files() []FileInfo {
	var out []FileInfo
	dirPath := make(map[uint32]string, len(im.porder))
	dirPath[0] = ""
	for _, d := range im.porder {
		dl := &im.pdir[d]
		base := dirPath[d]
		for _, id := range dl.kids {
			n := &im.nodes[id]
			switch n.kind {
			case kindDir:
				dirPath[n.aux] = base + "/" + im.name(id)
			case kindFile, kindCatalog:
				out = append(out, FileInfo{Path: base + "/" + im.name(id), Size: n.size, Mode: n.mode})
			}
		}
	}
	return out
}

var sectorPool = sync.Pool{New: func() any { return new([sectorSize]byte) }}

// ReadAt implements io.ReaderAt. Reads at or past the end return 0, io.EOF; a
// read crossing the end returns the bytes up to the end and io.EOF.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("isoimage: negative offset %d: %w", off, ErrInvalidParameter)
	}
	if off >= im.size {
		return 0, io.EOF
	}
	var eof error
	if rest := im.size - off; int64(len(p)) > rest {
		p, eof = p[:rest], io.EOF
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		i := sort.Search(len(im.regions), func(i int) bool { return im.regions[i].end > pos })
		if i == len(im.regions) || im.regions[i].start > pos {
			limit := im.size
			if i < len(im.regions) {
				limit = im.regions[i].start
			}
			done += zero(p[done:min(len(p), done+int(min(limit-pos, int64(len(p)))))])
			continue
		}
		r := &im.regions[i]
		dst := p[done:min(len(p), done+int(min(r.end-pos, int64(len(p)))))]
		var err error
		switch r.kind {
		case regMem:
			copy(dst, r.mem[pos-r.start:])
		case regPrimaryDir, regJolietDir:
			im.readDir(r, dst, pos)
		case regData:
			err = im.readData(dst, pos)
		case regBase:
			err = im.readBase(dst, pos)
		}
		if err != nil {
			return done, err
		}
		done += len(dst)
	}
	return done, eof
}

func zero(b []byte) int {
	clear(b)
	return len(b)
}

// readDir renders the requested bytes of a directory extent, sector by sector.
func (im *Image) readDir(r *region, dst []byte, pos int64) {
	dirs := im.pdir
	joliet := r.kind == regJolietDir
	if joliet {
		dirs = im.jdir
	}
	dl := &dirs[r.dir]
	for len(dst) > 0 {
		rel := pos - r.start
		sec, in := int(rel/sectorSize), int(rel%sectorSize)
		n := min(len(dst), sectorSize-in)
		if in == 0 && n == sectorSize {
			im.renderDirSector(dl, joliet, sec, dst[:sectorSize])
		} else {
			buf := sectorPool.Get().(*[sectorSize]byte)
			im.renderDirSector(dl, joliet, sec, buf[:])
			copy(dst[:n], buf[in:])
			sectorPool.Put(buf)
		}
		dst, pos = dst[n:], pos+int64(n)
	}
}

// readData serves file data from the sources (with boot-info-table patches).
func (im *Image) readData(dst []byte, pos int64) error {
	for len(dst) > 0 {
		// Last file starting at or before pos.
		j := sort.Search(len(im.order), func(j int) bool {
			return int64(im.nodes[im.order[j]].lba)*sectorSize > pos
		}) - 1
		next := int64(-1)
		if j+1 < len(im.order) {
			next = int64(im.nodes[im.order[j+1]].lba) * sectorSize
		}
		if j >= 0 {
			id := im.order[j]
			n := &im.nodes[id]
			start := int64(n.lba) * sectorSize
			if pos < start+n.size {
				cnt := int(min(int64(len(dst)), start+n.size-pos))
				if err := im.readFile(id, dst[:cnt], pos-start); err != nil {
					return err
				}
				dst, pos = dst[cnt:], pos+int64(cnt)
				continue
			}
		}
		// Gap: sector tail or the end of the data region.
		cnt := len(dst)
		if next >= 0 {
			cnt = int(min(int64(cnt), next-pos))
		}
		zero(dst[:cnt])
		dst, pos = dst[cnt:], pos+int64(cnt)
	}
	return nil
}

func (im *Image) readFile(id ID, dst []byte, off int64) error {
	got, err := im.srcs[id].ReadAt(dst, off)
	if got < len(dst) {
		if err == nil || errors.Is(err, io.EOF) {
			err = ErrSourceShrank
		}
		return fmt.Errorf("isoimage: reading %q at offset %d: %w", im.path(id), off+int64(got), err)
	}
	if tbl := im.patches[id]; tbl != nil && off < 64 && off+int64(len(dst)) > 8 {
		lo := max(off, 8)
		hi := min(off+int64(len(dst)), 64)
		copy(dst[lo-off:hi-off], tbl[lo-8:hi-8])
	}
	return nil
}

// WriteTo streams the whole image to w.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for total < im.size {
		n, err := im.ReadAt(buf, total)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}
