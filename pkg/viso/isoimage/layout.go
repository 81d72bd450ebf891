package isoimage

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
)

// treeLayout is one namespace's directories in breadth-first order.
type treeLayout struct {
	order  []uint32 // dirInfo indexes, breadth-first
	ptSize uint32
	lTable []byte
	mTable []byte
	lLBA   uint32
	mLBA   uint32
}

// Finalize validates the tree, computes the layout and returns the image. The
// tree cannot be changed afterwards.
func (t *Tree) Finalize() (*Image, error) {
	if err := t.checkMutable(); err != nil {
		return nil, err
	}
	refs, err := t.checkBoot()
	if err != nil {
		return nil, err
	}
	im := &Image{
		// Shared with the tree: a finalised tree no longer changes.
		store: store{nodes: slices.Clip(t.nodes), srcs: slices.Clip(t.srcs), parents: slices.Clip(t.parents),
			times: slices.Clip(t.times), str: t.str},
		links:    t.links,
		specials: t.specials,
		rrLevel:  t.rrLevel,
		pdir:     make([]dirLayout, len(t.dirs)),
		spill:    make(map[uint64]uint32),
	}
	for i := range im.nodes {
		im.nodes[i].flags &^= flagUsed
	}
	// Breadth-first walks; sorted children.
	jolKids := len(t.liveKids(RootID, true)) > 0
	if len(t.liveKids(RootID, false)) == 0 && jolKids {
		return nil, fmt.Errorf("RTFsIsoMakerFinalize failed: %w", ErrNoData)
	}
	jolietOn := t.jolLevel > 0 && jolKids
	prim := t.walkTree(im, im.pdir, false)
	im.porder = prim.order
	if len(prim.order) > 0xFFFF {
		return nil, fmt.Errorf("%d directories exceed the path table's 65535: %w", len(prim.order), ErrImageTooLarge)
	}
	var jol treeLayout
	if jolietOn {
		im.jdir = make([]dirLayout, len(t.dirs))
		jol = t.walkTree(im, im.jdir, true)
		if len(jol.order) > 0xFFFF {
			return nil, fmt.Errorf("%d Joliet directories exceed the path table's 65535: %w", len(jol.order), ErrImageTooLarge)
		}
	}
	// Directory sizes and sector tables; spill allocation.
	var spillBuf []byte
	if err := im.sizeDirs(prim.order, false, &spillBuf); err != nil {
		return nil, err
	}
	if jolietOn {
		if err := im.sizeDirs(jol.order, true, nil); err != nil {
			return nil, err
		}
	}
	// Sector allocation (spec §4.1). The volume descriptors always start at
	// 16; the rest follows them (ISO maker layout) or, over a base ISO, fills
	// the sectors its kept files leave free (inplace.go).
	cur := int64(pvdLBA + 1)
	var brLBA, svdLBA int64
	if t.catalog != 0 {
		brLBA, cur = cur, cur+1
	}
	if jolietOn {
		svdLBA, cur = cur, cur+1
	}
	termLBA := cur
	cur++
	var (
		al  sectorAlloc
		seq *seqAlloc
		ip  *inplace
		hy  *hybrid
	)
	if t.base != nil {
		ip = t.newInplace(im, refs, cur)
		al = ip
		hy = parseHybrid(t.sysArea)
	} else {
		seq = &seqAlloc{cur: cur}
		al = seq
	}
	placeDirs := func(tl *treeLayout, dirs []dirLayout) {
		for _, d := range tl.order {
			dirs[d].lba = uint32(al.alloc(sectorsFor(int64(dirs[d].size))))
		}
		tl.lLBA = uint32(al.alloc(sectorsFor(int64(tl.ptSize))))
		tl.mLBA = uint32(al.alloc(sectorsFor(int64(tl.ptSize))))
	}
	placeDirs(&prim, im.pdir)
	if jolietOn {
		placeDirs(&jol, im.jdir)
	}
	// File data in object order (spec §4.8); kept files stay where they are.
	var dataStart int64
	if seq != nil {
		dataStart = seq.cur
	}
	placed := make([]bool, len(im.nodes))
	place := func(id ID) {
		if placed[id] {
			return
		}
		placed[id] = true
		n := &im.nodes[id]
		if ip != nil && ip.pin[id] != 0 {
			n.lba = ip.pin[id]
			return
		}
		n.lba = uint32(al.alloc(sectorsFor(n.size)))
		if n.size > 0 {
			im.order = append(im.order, id)
		}
	}
	if t.catalog != 0 {
		im.nodes[t.catalog].size = t.boot.catalogSize()
		place(t.catalog)
		for _, r := range refs {
			place(r.entry.Image)
		}
	}
	for id := range im.nodes {
		n := &im.nodes[id]
		if n.kind == kindFile && n.flags&flagUsed != 0 {
			place(ID(id))
		}
	}
	var dataEnd int64
	if seq != nil {
		dataEnd = seq.cur
		im.spillLBA = uint32(seq.cur)
		cur = seq.cur + sectorsFor(int64(len(spillBuf)))
		if t.pad {
			cur += padSectors
		}
	} else {
		if len(spillBuf) > 0 {
			im.spillLBA = uint32(ip.alloc(sectorsFor(int64(len(spillBuf)))))
		}
		cur = ip.size(t.pad, hy)
	}
	if cur > 0xFFFFFFFF {
		return nil, fmt.Errorf("%d sectors: %w", cur, ErrImageTooLarge)
	}
	im.size = cur * sectorSize
	// The spill area was generated before its LBA was known; CE entries add
	// spillLBA at render time, so the content itself is final.
	if ip != nil {
		ip.pinSources(im, refs)
	}
	if t.catalog != 0 {
		catalog := renderCatalog(t.boot, refs, func(id ID) uint32 { return im.nodes[id].lba })
		im.srcs[t.catalog] = memSource(catalog)
		if err := im.bootInfo(t, refs); err != nil {
			return nil, err
		}
	}
	prim.lTable, prim.mTable = im.pathTables(prim.order, im.pdir, false)
	if jolietOn {
		jol.lTable, jol.mTable = im.pathTables(jol.order, im.jdir, true)
	}
	// Volume descriptors.
	vd := func(joliet bool, tl *treeLayout) []byte {
		var root [34]byte
		im.writeRecord(root[:], RootID, recDot, 0, joliet, false) // no system use in the VD copy
		root[0] = 34
		return t.renderVD(vdParams{joliet: joliet, jolietLevel: t.jolLevel, volumeBlocks: uint32(cur),
			pathTableLen: tl.ptSize, lTable: tl.lLBA, mTable: tl.mLBA, root: root})
	}
	if t.sysArea != nil {
		sys := t.sysArea
		if hy != nil {
			var backup []byte
			var at int64
			sys, backup, at = hy.fixup(t.base.Size, im.size)
			if len(backup) > 0 {
				im.regions = append(im.regions, region{start: at, end: at + int64(len(backup)), kind: regMem, mem: backup})
			}
		}
		im.addMem(0, sys)
	}
	pvd := vd(false, &prim)
	im.volumeID = strings.TrimRight(string(pvd[40:72]), " ")
	im.addMem(pvdLBA, pvd)
	if brLBA != 0 {
		im.addMem(brLBA, renderBootRecord(im.nodes[t.catalog].lba))
	}
	if jolietOn {
		im.addMem(svdLBA, vd(true, &jol))
	}
	im.addMem(termLBA, renderTerminator())
	for _, d := range prim.order {
		im.addDir(regPrimaryDir, d, im.pdir)
	}
	im.addMem(int64(prim.lLBA), prim.lTable)
	im.addMem(int64(prim.mLBA), prim.mTable)
	if jolietOn {
		for _, d := range jol.order {
			im.addDir(regJolietDir, d, im.jdir)
		}
		im.addMem(int64(jol.lLBA), jol.lTable)
		im.addMem(int64(jol.mLBA), jol.mTable)
	}
	if ip == nil && dataEnd > dataStart {
		im.regions = append(im.regions, region{start: dataStart * sectorSize, end: dataEnd * sectorSize, kind: regData})
	}
	if len(spillBuf) > 0 {
		im.addMem(int64(im.spillLBA), spillBuf)
	}
	if ip != nil {
		// Regions so far were appended in allocation order; this sorts them.
		if err := ip.regions(im); err != nil {
			return nil, err
		}
	}
	t.finalized = true
	return im, nil
}

func (im *Image) addMem(lba int64, b []byte) {
	im.regions = append(im.regions, region{start: lba * sectorSize, end: lba*sectorSize + int64(len(b)), kind: regMem, mem: b})
}

func (im *Image) addDir(k regionKind, d uint32, dirs []dirLayout) {
	start := int64(dirs[d].lba) * sectorSize
	im.regions = append(im.regions, region{start: start, end: start + int64(len(dirs[d].sect))*sectorSize, kind: k, dir: d})
}

// liveKids returns the live children of dir in one namespace.
func (t *Tree) liveKids(dir ID, joliet bool) []ID {
	d := t.dirOf(dir)
	list, flag := d.prim, flagPrimary
	if joliet {
		list, flag = d.jol, flagJoliet
	}
	out := make([]ID, 0, len(list))
	for _, c := range list {
		n := &t.nodes[c]
		if n.flags&flag == 0 {
			continue
		}
		if (joliet && t.parents[c][1] != dir) || (!joliet && t.parents[c][0] != dir) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// walkTree lays the namespace's directories out breadth-first with sorted
// children, numbering them for the path tables, and marks files as used.
func (t *Tree) walkTree(im *Image, dirs []dirLayout, joliet bool) treeLayout {
	var tl treeLayout
	tl.order = append(tl.order, 0)
	dirs[0].self, dirs[0].parent, dirs[0].num = RootID, RootID, 1
	for qi := 0; qi < len(tl.order); qi++ {
		d := tl.order[qi]
		dl := &dirs[d]
		kids := t.liveKids(dl.self, joliet)
		if joliet {
			slices.SortFunc(kids, func(a, b ID) int { return compareNames(t.jname(a), t.jname(b)) })
		} else {
			slices.SortFunc(kids, func(a, b ID) int { return compareNames(t.iso(a), t.iso(b)) })
		}
		dl.kids = kids
		for _, c := range kids {
			n := &im.nodes[c]
			n.flags |= flagUsed
			if n.kind == kindDir {
				sub := &dirs[n.aux]
				sub.self, sub.parent, sub.num = c, dl.self, uint32(len(tl.order)+1)
				tl.order = append(tl.order, n.aux)
				dl.subdirs++
			}
		}
	}
	for _, d := range tl.order {
		tl.ptSize += uint32(8 + ptIDLen(im, dirs[d].self, joliet))
		tl.ptSize += tl.ptSize % 2
	}
	return tl
}

func ptIDLen(im *Image, id ID, joliet bool) int {
	switch {
	case id == RootID:
		return 1
	case joliet:
		return 2 * utf16Len(im.jname(id))
	}
	return int(im.nodes[id].isoRef.n)
}

// sizeDirs computes every directory's exact size and per-sector start records,
// checking record limits and allocating spill space (primary only).
func (im *Image) sizeDirs(order []uint32, joliet bool, spill *[]byte) error {
	dirs := im.pdir
	if joliet {
		dirs = im.jdir
	}
	for _, d := range order {
		dl := &dirs[d]
		dl.sect = dl.sect[:0]
		off := 0
		p := recPos{}
		dl.sect = append(dl.sect, p)
		for {
			s, k, ok := dl.record(p)
			if !ok {
				break
			}
			if joliet && k == recSelf && utf16Len(im.jname(s)) > 110 {
				return fmt.Errorf("RTFsIsoMakerFinalize failed: Joliet name '%s': %w", im.jolietPath(s), ErrNameTooLong)
			}
			l := im.recordLen(s, k, joliet)
			if l > 255 {
				return fmt.Errorf("RTFsIsoMakerFinalize failed: '%s': %w", im.path(s), ErrNameTooLong)
			}
			if !joliet && im.rrLevel > 0 && p.ext == 0 {
				if err := im.allocSpill(s, k, spill); err != nil {
					return err
				}
			}
			if off+l > sectorSize {
				off = 0
				dl.sect = append(dl.sect, p)
			}
			off += l
			p = im.next(dl, p)
		}
		dl.size = uint32((len(dl.sect)-1)*sectorSize + off)
		dl.sect = slices.Clip(dl.sect)
	}
	return nil
}

// allocSpill reserves spill space for a record whose entries do not fit.
func (im *Image) allocSpill(s ID, k recKind, spill *[]byte) error {
	key := spillKey(s, k)
	if _, done := im.spill[key]; done {
		return nil
	}
	b := baseLen(im.idLen(s, k, false))
	p := im.plan(s, k)
	if !p.spills(b) {
		return nil
	}
	content := im.spillContent(nil, s, k)
	if len(content) > sectorSize {
		return fmt.Errorf("RTFsIsoMakerFinalize failed: Rock Ridge data of '%s': %w", im.path(s), ErrNameTooLong)
	}
	off := (len(*spill) + 3) &^ 3
	if off/sectorSize != (off+len(content)-1)/sectorSize {
		off = (off + sectorSize - 1) &^ (sectorSize - 1)
	}
	grown := make([]byte, off+len(content))
	copy(grown, *spill)
	copy(grown[off:], content)
	*spill = grown
	im.spill[key] = uint32(off)
	return nil
}

func (im *Image) jolietPath(id ID) string {
	var parts []string
	for cur := id; cur != RootID; cur = im.parents[cur][1] {
		parts = append(parts, im.jname(cur))
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// pathTables renders the L and M path tables (spec §4.4).
func (im *Image) pathTables(order []uint32, dirs []dirLayout, joliet bool) ([]byte, []byte) {
	var l, m []byte
	for _, d := range order {
		dl := &dirs[d]
		var id []byte
		switch {
		case dl.self == RootID:
			id = []byte{0}
		case joliet:
			id = appendUTF16BE(nil, im.jname(dl.self))
		default:
			id = []byte(im.iso(dl.self))
		}
		parent := dirs[im.nodes[dl.parent].aux].num
		for _, tbl := range []*[]byte{&l, &m} {
			b := append(*tbl, byte(len(id)), 0)
			if tbl == &l {
				b = binary.LittleEndian.AppendUint32(b, dl.lba)
				b = binary.LittleEndian.AppendUint16(b, uint16(parent))
			} else {
				b = binary.BigEndian.AppendUint32(b, dl.lba)
				b = binary.BigEndian.AppendUint16(b, uint16(parent))
			}
			b = append(b, id...)
			if len(id)%2 == 1 {
				b = append(b, 0)
			}
			*tbl = b
		}
	}
	return l, m
}

// bootInfo computes the boot info tables and the public entry descriptions.
func (im *Image) bootInfo(t *Tree, refs []bootEntryRef) error {
	im.patches = make(map[ID]*[56]byte)
	for _, r := range refs {
		id := r.entry.Image
		n := &im.nodes[id]
		if r.entry.BootInfoTable && im.patches[id] == nil {
			sum, err := bootInfoChecksum(im.srcs[id], n.size)
			if err != nil {
				return fmt.Errorf("boot image '%s': %w", im.path(id), err)
			}
			tbl := bootInfoTable(n.lba, n.size, sum)
			im.patches[id] = &tbl
		}
		im.boot = append(im.boot, BootEntryInfo{
			Platform: r.platform, Bootable: !r.entry.NotBootable, Emulation: r.media,
			Image: im.path(id), LBA: n.lba, LoadSegment: r.entry.LoadSegment,
			LoadSize: r.entry.SectorCount, BootInfoTable: r.entry.BootInfoTable,
		})
	}
	return nil
}

// memSource serves a byte slice.
type memSource []byte

func (m memSource) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
