package isoimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
)

// This file is our own ISO checker: it reads an image through io.ReaderAt and
// verifies what no Debian tool verifies (path tables, both-endian equality,
// extents inside the volume and not overlapping, catalog checksum, boot info
// table, SUSP/RR well-formedness, Joliet/primary shape), returning a model of
// both trees for the tests to compare with what they built.

type ckEntry struct {
	Path    string // Rock Ridge path (primary) or Joliet path
	ISOName string // raw identifier (primary) / decoded name (Joliet)
	Dir     bool
	LBA     uint32
	Size    int64 // summed over extents
	Extents int
	// Rock Ridge
	HasPX       bool
	Mode, NLink uint32
	UID, GID    uint32
	TF          []byte
	Symlink     string
	RRFlags     int // -1 when no RR entry
	Dev         [2]uint32
	RecTime     [7]byte
}

type ckBoot struct {
	Platform, Indicator, Media byte
	LoadSeg, Count             uint16
	LBA                        uint32
	Header                     byte // 0 for the default entry, else 0x90/0x91 of its section
}

type ckImage struct {
	VolumeBlocks uint32
	VolumeID     string
	Primary      map[string]*ckEntry
	PrimaryOrder []string
	Joliet       map[string]*ckEntry
	JolietLevel  int
	HasER        bool
	HasSP        bool
	CatalogLBA   uint32
	CatalogPlat  byte
	Boot         []ckBoot
	SpillLBAs    map[uint32]bool
}

type extent struct {
	start, end int64 // sectors
	what       string
}

type checker struct {
	r       io.ReaderAt
	size    int64
	img     *ckImage
	extents []extent
	errs    []string
	shapes  bool
}

func (c *checker) fail(format string, args ...any) {
	if len(c.errs) < 50 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

func (c *checker) read(off int64, n int) []byte {
	b := make([]byte, n)
	got, err := c.r.ReadAt(b, off)
	if got != n {
		c.fail("read %d bytes at %d: got %d, %v", n, off, got, err)
	}
	return b
}

func (c *checker) both32(b []byte, what string) uint32 {
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if le != be {
		c.fail("%s: both-endian mismatch LE %d BE %d", what, le, be)
	}
	return le
}

func (c *checker) both16(b []byte, what string) uint16 {
	le, be := binary.LittleEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	if le != be {
		c.fail("%s: both-endian mismatch LE %d BE %d", what, le, be)
	}
	return le
}

func (c *checker) claim(lba uint32, bytes int64, what string) {
	if bytes == 0 {
		return
	}
	c.extents = append(c.extents, extent{int64(lba), int64(lba) + (bytes+sectorSize-1)/sectorSize, what})
}

// checkISO runs every check; the returned error lists all problems found.
func checkISO(r io.ReaderAt, size int64) (*ckImage, error) { return checkISOOpts(r, size, true) }

// checkISOOpts can skip the Joliet/primary shape comparison, which assumes
// that one path names the same object in both trees.
func checkISOOpts(r io.ReaderAt, size int64, shapes bool) (*ckImage, error) {
	c := &checker{r: r, size: size, shapes: shapes, img: &ckImage{Primary: map[string]*ckEntry{}, Joliet: map[string]*ckEntry{}, SpillLBAs: map[uint32]bool{}}}
	c.run()
	if len(c.errs) > 0 {
		return c.img, fmt.Errorf("ISO check failed:\n  %s", strings.Join(c.errs, "\n  "))
	}
	return c.img, nil
}

func (c *checker) run() {
	if c.size%sectorSize != 0 {
		c.fail("size %d not a multiple of 2048", c.size)
	}
	var pvd, svd []byte
	for lba := int64(16); ; lba++ {
		if lba*sectorSize >= c.size {
			c.fail("no volume descriptor set terminator")
			return
		}
		vd := c.read(lba*sectorSize, sectorSize)
		if string(vd[1:6]) != "CD001" || vd[6] != 1 {
			c.fail("LBA %d: bad volume descriptor header", lba)
			return
		}
		c.claim(uint32(lba), sectorSize, "volume descriptor")
		switch vd[0] {
		case 1:
			pvd = vd
		case 2:
			svd = vd
		case 0:
			if !bytes.HasPrefix(vd[7:], []byte("EL TORITO SPECIFICATION")) {
				c.fail("boot record without El Torito id")
			}
			c.img.CatalogLBA = binary.LittleEndian.Uint32(vd[0x47:])
		case 255:
			goto done
		}
	}
done:
	if pvd == nil {
		c.fail("no PVD")
		return
	}
	c.img.VolumeBlocks = c.both32(pvd[80:], "PVD volume space size")
	if int64(c.img.VolumeBlocks)*sectorSize != c.size {
		c.fail("volume space size %d sectors, image %d bytes", c.img.VolumeBlocks, c.size)
	}
	c.img.VolumeID = strings.TrimRight(string(pvd[40:72]), " ")
	c.checkVD(pvd, false)
	if svd != nil {
		switch string(svd[88:91]) {
		case "%/@":
			c.img.JolietLevel = 1
		case "%/C":
			c.img.JolietLevel = 2
		case "%/E":
			c.img.JolietLevel = 3
		default:
			c.fail("SVD escape sequence %q", svd[88:91])
		}
		if c.both32(svd[80:], "SVD volume space size") != c.img.VolumeBlocks {
			c.fail("SVD volume space size differs")
		}
		c.checkVD(svd, true)
	}
	if c.img.CatalogLBA != 0 {
		c.checkCatalog()
	}
	c.checkExtents()
	if c.shapes {
		c.checkShapes()
	}
}

// checkVD walks one tree and verifies its path tables.
func (c *checker) checkVD(vd []byte, joliet bool) {
	c.both16(vd[120:], "volume set size")
	c.both16(vd[124:], "volume sequence number")
	if c.both16(vd[128:], "block size") != sectorSize {
		c.fail("block size not 2048")
	}
	ptSize := c.both32(vd[132:], "path table size")
	lLBA := binary.LittleEndian.Uint32(vd[140:])
	mLBA := binary.BigEndian.Uint32(vd[148:])
	root := vd[156:190]
	if root[0] != 34 || root[32] != 1 || root[33] != 0 || root[25] != 2 {
		c.fail("bad root record in volume descriptor")
	}
	rootLBA := c.both32(root[2:], "root extent")
	rootSize := c.both32(root[10:], "root size")
	tree := c.img.Primary
	if joliet {
		tree = c.img.Joliet
	}
	type pt struct {
		lba    uint32
		parent uint16
		name   string
	}
	var want []pt
	num := map[uint32]uint16{rootLBA: 1}
	type qd struct {
		lba, size uint32
		path      string
		parentLBA uint32
		name      string
	}
	queue := []qd{{rootLBA, rootSize, "", rootLBA, "\x00"}}
	for qi := 0; qi < len(queue); qi++ {
		d := queue[qi]
		want = append(want, pt{d.lba, num[d.parentLBA], d.name})
		num[d.lba] = uint16(qi + 1)
		for _, sub := range c.walkDir(d.lba, d.size, d.parentLBA, d.path, joliet, tree, qi == 0) {
			queue = append(queue, qd{sub.lba, sub.size, sub.path, d.lba, sub.id})
		}
	}
	c.claim(lLBA, int64(ptSize), "L path table")
	c.claim(mLBA, int64(ptSize), "M path table")
	for _, le := range []bool{true, false} {
		at := lLBA
		if !le {
			at = mLBA
		}
		tbl := c.read(int64(at)*sectorSize, int(ptSize))
		var got []pt
		for len(tbl) >= 8 {
			n := int(tbl[0])
			if n == 0 || 8+n > len(tbl) {
				c.fail("path table record length %d", n)
				break
			}
			e := pt{name: string(tbl[8 : 8+n])}
			if le {
				e.lba, e.parent = binary.LittleEndian.Uint32(tbl[2:]), binary.LittleEndian.Uint16(tbl[6:])
			} else {
				e.lba, e.parent = binary.BigEndian.Uint32(tbl[2:]), binary.BigEndian.Uint16(tbl[6:])
			}
			got = append(got, e)
			tbl = tbl[8+n+n%2:]
		}
		if len(tbl) != 0 {
			c.fail("path table has %d trailing bytes", len(tbl))
		}
		if !slices.Equal(got, want) {
			c.fail("path table (LE=%v, joliet=%v) differs from the tree:\n got %v\nwant %v", le, joliet, got, want)
		}
	}
}

type subdir struct {
	lba, size uint32
	path, id  string
}

// walkDir checks one directory extent and returns its subdirectories.
func (c *checker) walkDir(lba, size, parentLBA uint32, path string, joliet bool, tree map[string]*ckEntry, isRoot bool) []subdir {
	c.claim(lba, int64(size), "directory "+path)
	data := c.read(int64(lba)*sectorSize, int((int64(size)+sectorSize-1)/sectorSize*sectorSize))
	var subs []subdir
	var prevName string
	off, idx := 0, 0
	for off < int(size) {
		l := int(data[off])
		if l == 0 {
			next := (off/sectorSize + 1) * sectorSize
			if bytes.ContainsFunc(data[off:min(next, len(data))], func(r rune) bool { return r != 0 }) {
				c.fail("%s: garbage after end of records in sector", path)
			}
			off = next
			continue
		}
		if off/sectorSize != (off+l-1)/sectorSize {
			c.fail("%s: record at %d straddles a sector", path, off)
		}
		if l < 34 || off+l > len(data) {
			c.fail("%s: bad record length %d", path, l)
			return subs
		}
		rec := data[off : off+l]
		off += l
		elba := c.both32(rec[2:], path+" extent")
		esize := c.both32(rec[10:], path+" size")
		c.both16(rec[28:], path+" volume sequence")
		n := int(rec[32])
		if 33+n > l {
			c.fail("%s: identifier overflows record", path)
			return subs
		}
		id := rec[33 : 33+n]
		suOff := 33 + n + 1 - n%2
		su := rec[min(suOff, l):]
		flags := rec[25]
		rr := c.parseSU(su, path, joliet, isRoot && idx == 0)
		switch idx {
		case 0:
			if n != 1 || id[0] != 0 || elba != lba || esize != size || flags&2 == 0 {
				c.fail("%s: bad '.' record", path)
			}
		case 1:
			if n != 1 || id[0] != 1 || elba != parentLBA || flags&2 == 0 {
				c.fail("%s: bad '..' record (lba %d, want %d)", path, elba, parentLBA)
			}
		default:
			name := string(id)
			if joliet {
				name = decodeUTF16BE(id)
			}
			if idx > 2 && name != prevName && compareNames(prevName, name) >= 0 {
				c.fail("%s: %q sorted after %q", path, name, prevName)
			}
			display := name
			if !joliet {
				display = strings.TrimSuffix(name, ";1")
				if rr.name != "" {
					display = rr.name
				}
			}
			p := path + "/" + display
			e := tree[p]
			if e != nil && e.ISOName != name && rr.name == "" {
				// Without Rock Ridge, a file "X;1" and a directory "X" differ
				// only by the version suffix: key the file by its raw name.
				p = path + "/" + name
				e = tree[p]
			}
			if e != nil && name == prevName && e.Extents > 0 {
				// multi-extent continuation
				if int64(e.LBA)+(e.Size)/sectorSize != int64(elba) || e.Size%sectorSize != 0 {
					c.fail("%s: multi-extent part not contiguous", p)
				}
				e.Size += int64(esize)
				e.Extents++
				c.claim(elba, int64(esize), "file "+p)
			} else {
				if e != nil {
					c.fail("%s: duplicate name", p)
				}
				e = &ckEntry{Path: p, ISOName: name, Dir: flags&2 != 0, LBA: elba, Size: int64(esize), Extents: 1,
					HasPX: rr.px, Mode: rr.mode, NLink: rr.nlink, UID: rr.uid, GID: rr.gid, TF: rr.tf, Symlink: rr.sl, RRFlags: rr.rrFlags, Dev: rr.dev}
				copy(e.RecTime[:], rec[18:25])
				tree[p] = e
				if !joliet {
					c.img.PrimaryOrder = append(c.img.PrimaryOrder, p)
				}
				if e.Dir {
					subs = append(subs, subdir{elba, esize, p, string(id)})
				} else {
					c.claim(elba, int64(esize), "file "+p)
				}
			}
			if flags&0x80 != 0 && esize != MaxExtentSize {
				c.fail("%s: non-final extent of size %d", p, esize)
			}
			prevName = name
		}
		idx++
	}
	if off != int(size) {
		c.fail("%s: directory size %d but records end at %d", path, size, off)
	}
	return subs
}

func decodeUTF16BE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

type suInfo struct {
	px          bool
	mode, nlink uint32
	uid, gid    uint32
	tf          []byte
	name, sl    string
	rrFlags     int
	dev         [2]uint32
}

// parseSU checks SUSP entries (following CE into the spill area).
func (c *checker) parseSU(su []byte, path string, joliet, rootDot bool) suInfo {
	info := suInfo{rrFlags: -1}
	if joliet {
		if len(su) > 1 || (len(su) == 1 && su[0] != 0) {
			c.fail("%s: Joliet record has system use bytes", path)
		}
		return info
	}
	var nm, sl []byte
	for hops := 0; len(su) >= 4 && hops < 16; {
		if su[0] == 0 {
			break
		}
		l := int(su[2])
		if l < 4 || l > len(su) || su[3] != 1 {
			c.fail("%s: malformed SUSP entry %q (len %d of %d)", path, su[:2], l, len(su))
			return info
		}
		e := su[:l]
		su = su[l:]
		switch string(e[:2]) {
		case "SP":
			if !rootDot || e[4] != 0xBE || e[5] != 0xEF {
				c.fail("%s: misplaced or bad SP", path)
			}
			c.img.HasSP = true
		case "ER":
			if string(e[8:8+int(e[4])]) == "RRIP_1991A" {
				c.img.HasER = true
			}
		case "RR":
			info.rrFlags = int(e[4])
		case "PX":
			info.px = true
			info.mode = c.both32(e[4:], path+" PX mode")
			info.nlink = c.both32(e[12:], path+" PX nlink")
			info.uid = c.both32(e[20:], path+" PX uid")
			info.gid = c.both32(e[28:], path+" PX gid")
			if l >= 44 {
				c.both32(e[36:], path+" PX serial")
			}
		case "PN":
			info.dev = [2]uint32{c.both32(e[4:], path+" PN high"), c.both32(e[12:], path+" PN low")}
		case "TF":
			info.tf = append([]byte(nil), e[4:]...)
		case "NM":
			nm = append(nm, e[5:]...)
		case "SL":
			sl = append(sl, e[5:]...)
		case "CE":
			lba := c.both32(e[4:], path+" CE lba")
			off := c.both32(e[12:], path+" CE offset")
			n := c.both32(e[20:], path+" CE length")
			if off%4 != 0 || int(off)+int(n) > sectorSize {
				c.fail("%s: CE area %d+%d crosses a sector or is unaligned", path, off, n)
			}
			c.img.SpillLBAs[lba] = true
			su = c.read(int64(lba)*sectorSize+int64(off), int(n))
			hops++
		}
	}
	info.name = string(nm)
	info.sl = decodeSL(sl)
	return info
}

func decodeSL(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var parts []string
	cur := ""
	for len(b) >= 2 {
		f, n := b[0], int(b[1])
		if 2+n > len(b) {
			break
		}
		data := string(b[2 : 2+n])
		b = b[2+n:]
		switch {
		case f&0x08 != 0:
			parts = append(parts, "")
		case f&0x02 != 0:
			parts = append(parts, ".")
		case f&0x04 != 0:
			parts = append(parts, "..")
		case f&0x01 != 0:
			cur += data
		default:
			parts = append(parts, cur+data)
			cur = ""
		}
	}
	s := strings.Join(parts, "/")
	if len(parts) == 1 && parts[0] == "" {
		return "/"
	}
	return s
}

// checkCatalog verifies the validation entry, key bytes, entries and boot info tables.
func (c *checker) checkCatalog() {
	cat := c.read(int64(c.img.CatalogLBA)*sectorSize, sectorSize)
	v := cat[:32]
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	if v[0] != 1 || sum != 0 || v[30] != 0x55 || v[31] != 0xAA {
		c.fail("catalog validation entry: header %#x checksum-sum %#x key %x", v[0], sum, v[30:32])
	}
	c.img.CatalogPlat = v[1]
	entry := func(e []byte, hdr, plat byte) {
		b := ckBoot{Platform: plat, Indicator: e[0], Media: e[1], LoadSeg: binary.LittleEndian.Uint16(e[2:]),
			Count: binary.LittleEndian.Uint16(e[6:]), LBA: binary.LittleEndian.Uint32(e[8:]), Header: hdr}
		c.img.Boot = append(c.img.Boot, b)
	}
	entry(cat[32:64], 0, v[1])
	slots := 2
	for off := 64; off+32 <= len(cat); {
		h := cat[off : off+32]
		if h[0] != 0x90 && h[0] != 0x91 {
			c.fail("catalog slot %d: expected section header, got %#x", slots, h[0])
			break
		}
		n := int(binary.LittleEndian.Uint16(h[2:]))
		off += 32
		for i := 0; i < n && off+32 <= len(cat); i++ {
			entry(cat[off:off+32], h[0], h[1])
			off += 32
		}
		slots += 1 + n
		if h[0] == 0x91 {
			break
		}
	}
	c.claim(c.img.CatalogLBA, int64(slots+1)*32, "boot catalog")
}

// checkBootInfoTable verifies the patched table of the image at lba/size.
func (c *checker) checkBootInfoTable(lba uint32, size int64) error {
	data := c.read(int64(lba)*sectorSize, int(size))
	var sum uint32
	for i := 64; i < len(data); i += 4 {
		var w [4]byte
		copy(w[:], data[i:min(i+4, len(data))])
		sum += binary.LittleEndian.Uint32(w[:])
	}
	want := make([]byte, 56)
	binary.LittleEndian.PutUint32(want[0:], 16)
	binary.LittleEndian.PutUint32(want[4:], lba)
	binary.LittleEndian.PutUint32(want[8:], uint32(size))
	binary.LittleEndian.PutUint32(want[12:], sum)
	if !bytes.Equal(data[8:64], want) {
		return fmt.Errorf("boot info table at LBA %d: got %x want %x", lba, data[8:64], want)
	}
	return nil
}

// checkExtents: inside the volume, no overlaps (identical file extents shared
// by the two trees are fine), spill areas after every file.
func (c *checker) checkExtents() {
	seen := map[[2]int64]bool{}
	var uniq []extent
	for _, e := range c.extents {
		k := [2]int64{e.start, e.end}
		if seen[k] && (strings.HasPrefix(e.what, "file ") || e.what == "boot catalog") {
			continue
		}
		seen[k] = true
		uniq = append(uniq, e)
		if e.end > int64(c.img.VolumeBlocks) {
			c.fail("%s: extent %d-%d beyond volume end %d", e.what, e.start, e.end, c.img.VolumeBlocks)
		}
	}
	sort.Slice(uniq, func(i, j int) bool { return uniq[i].start < uniq[j].start })
	var lastFile int64
	for i := range uniq {
		if i > 0 && uniq[i].start < uniq[i-1].end {
			c.fail("extents overlap: %s [%d,%d) and %s [%d,%d)", uniq[i-1].what, uniq[i-1].start, uniq[i-1].end, uniq[i].what, uniq[i].start, uniq[i].end)
		}
		if strings.HasPrefix(uniq[i].what, "file ") {
			lastFile = max(lastFile, uniq[i].end)
		}
	}
	for lba := range c.img.SpillLBAs {
		if int64(lba) < lastFile || int64(lba) >= int64(c.img.VolumeBlocks) {
			c.fail("CE target LBA %d not in the spill area (files end at %d)", lba, lastFile)
		}
	}
}

// checkShapes: every Joliet object has a primary twin with the same extent.
func (c *checker) checkShapes() {
	for p, j := range c.img.Joliet {
		pe := c.img.Primary[p]
		if pe == nil {
			continue // objects only in Joliet are allowed; tests compare listings
		}
		if pe.Dir != j.Dir || (!j.Dir && (pe.LBA != j.LBA || pe.Size != j.Size)) {
			c.fail("%s: Joliet and primary differ (dir %v/%v lba %d/%d size %d/%d)", p, j.Dir, pe.Dir, j.LBA, pe.LBA, j.Size, pe.Size)
		}
	}
}
