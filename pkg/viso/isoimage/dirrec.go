package isoimage

// Directory records (spec §4.3): the per-directory sector index built at
// finalisation and the on-demand rendering of any directory sector from it.

// dirLayout is a directory's place in one namespace's tree: its extent, the
// sorted children, and the first record of every sector so any sector can be
// rendered on its own.
type dirLayout struct {
	self, parent ID
	lba          uint32
	size         uint32 // exact bytes used
	subdirs      uint32
	num          uint32 // path table number (1 = root)
	kids         []ID
	sect         []recPos
}

// recPos is a record of a directory: rec 0 is ".", 1 is "..", 2+i is kid i;
// ext is the extent index of a multi-extent file.
type recPos struct{ rec, ext uint32 }

const padSectors = 150

func sectorsFor(n int64) int64 { return (n + sectorSize - 1) / sectorSize }

// extents is the number of directory records a file needs (spec §4.6).
func extents(n *node) uint32 {
	if (n.kind == kindFile || n.kind == kindCatalog) && n.size > 0xFFFFFFFF {
		return uint32((n.size + MaxExtentSize - 1) / MaxExtentSize)
	}
	return 1
}

// record resolves a record position to its subject object and kind.
func (dl *dirLayout) record(p recPos) (ID, recKind, bool) {
	switch {
	case p.rec == 0:
		return dl.self, recDot, true
	case p.rec == 1:
		return dl.parent, recDotDot, true
	case int(p.rec-2) < len(dl.kids):
		return dl.kids[p.rec-2], recSelf, true
	}
	return 0, 0, false
}

func (im *Image) next(dl *dirLayout, p recPos) recPos {
	if p.rec >= 2 && p.ext+1 < extents(&im.nodes[dl.kids[p.rec-2]]) {
		return recPos{p.rec, p.ext + 1}
	}
	return recPos{p.rec + 1, 0}
}

func (im *Image) idLen(s ID, k recKind, joliet bool) int {
	switch {
	case k != recSelf:
		return 1
	case joliet:
		return 2 * utf16Len(im.jname(s))
	}
	return int(im.nodes[s].isoRef.n)
}

func baseLen(idLen int) int { return 33 + idLen + 1 - idLen%2 }

// recordLen is the full length of a record (even).
func (im *Image) recordLen(s ID, k recKind, joliet bool) int {
	b := baseLen(im.idLen(s, k, joliet))
	if joliet || im.rrLevel == 0 {
		return b
	}
	l := b + im.plan(s, k).inlineLen(b)
	return l + l%2
}

// writeRecord renders one directory record at the start of out and returns
// its length. out must have room for the record (the layout guarantees it for
// directory sectors) and be zeroed.
func (im *Image) writeRecord(out []byte, s ID, k recKind, ext uint32, joliet, withSU bool) int {
	n := &im.nodes[s]
	var lba, size uint32
	var flags byte
	switch n.kind {
	case kindDir:
		dirs := im.pdir
		if joliet {
			dirs = im.jdir
		}
		lba, size, flags = dirs[n.aux].lba, dirs[n.aux].size, 0x02
	case kindSymlink, kindSpecial:
	default:
		lba = n.lba + ext*(MaxExtentSize/sectorSize)
		if n.size > 0xFFFFFFFF {
			size = uint32(min(int64(MaxExtentSize), n.size-int64(ext)*MaxExtentSize))
			if ext+1 < extents(n) {
				flags = 0x80
			}
		} else {
			size = uint32(n.size)
		}
	}
	put32Both(out[2:], lba)
	put32Both(out[10:], size)
	*(*isoTime)(out[18:]) = im.times[n.tix][0]
	out[25] = flags
	put16Both(out[28:], 1)
	idLen := 1
	switch {
	case k == recDot:
		out[33] = 0
	case k == recDotDot:
		out[33] = 1
	case joliet:
		idLen = len(appendUTF16BE(out[33:33], im.str.get(n.jnameRef)))
	default:
		idLen = copy(out[33:], im.str.get(n.isoRef))
	}
	out[32] = byte(idLen)
	l := baseLen(idLen)
	if withSU && !joliet && im.rrLevel > 0 {
		l += len(im.appendSU(out[l:l], s, k, l))
		l += l % 2
	}
	out[0] = byte(l)
	return l
}

// renderDirSector renders sector sec of a directory into out (2048 bytes):
// the records from this sector's first record up to the next sector's first.
func (im *Image) renderDirSector(dl *dirLayout, joliet bool, sec int, out []byte) {
	clear(out)
	if sec >= len(dl.sect) {
		return
	}
	p := dl.sect[sec]
	end := recPos{rec: uint32(len(dl.kids) + 2)}
	if sec+1 < len(dl.sect) {
		end = dl.sect[sec+1]
	}
	// Touch this sector's objects first: the loads are independent, so their
	// cache misses overlap instead of being paid one record at a time.
	first := max(int(p.rec), 2) - 2
	last := min(int(end.rec)-1, len(dl.kids))
	var sink uint8
	for i := first; i < last; i++ {
		n := &im.nodes[dl.kids[i]]
		sink += uint8(n.kind) + uint8(n.nameRef.n) + uint8(n.tix)
	}
	out[0] = sink // keeps the loads alive; the first record overwrites it
	off := 0
	for ; p.rec < 2 && p != end; p.rec++ {
		s, k := dl.self, recDot
		if p.rec == 1 {
			s, k = dl.parent, recDotDot
		}
		off += im.writeRecord(out[off:], s, k, 0, joliet, true)
	}
	for p != end && int(p.rec) < len(dl.kids)+2 {
		id := dl.kids[p.rec-2]
		off += im.writeRecord(out[off:], id, recSelf, p.ext, joliet, true)
		if n := &im.nodes[id]; n.size > 0xFFFFFFFF && p.ext+1 < extents(n) {
			p.ext++
		} else {
			p = recPos{rec: p.rec + 1}
		}
	}
}
