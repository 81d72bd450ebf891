package isoread

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
)

// View selects which tree of a medium is read and which names it shows.
type View uint8

const (
	// ViewRockRidge is the primary tree with Rock Ridge names and attributes
	// (plain ISO 9660 when the medium has no SUSP SP entry).
	ViewRockRidge View = iota
	// ViewISO9660 is the primary tree with ISO 9660 names; Rock Ridge ignored.
	ViewISO9660
	// ViewJoliet is the Joliet tree.
	ViewJoliet
)

func (v View) String() string {
	switch v {
	case ViewRockRidge:
		return "rock-ridge"
	case ViewISO9660:
		return "iso9660"
	case ViewJoliet:
		return "joliet"
	}
	return fmt.Sprintf("view(%d)", uint8(v))
}

// Tree is one directory hierarchy of the medium.
type Tree struct {
	View View
	Root *Entry
	// RockRidge reports that Rock Ridge data was used (root "." carried SP).
	RockRidge bool
	// RRIP is the RRIP identifier an ER entry declared ("RRIP_1991A",
	// "IEEE_P1282", "IEEE_1282"), or "" (spec §5.2: sets RR level 2).
	RRIP string
	// Entries counts the entries below the root; DirBytes sums the
	// directory extents read.
	Entries  int
	DirBytes int64

	lbaOnce sync.Once
	byLBA   map[uint32]*Entry
}

// Primary returns the primary tree: with Rock Ridge unless Options.NoRockRidge.
func (v *Volume) Primary() (*Tree, error) {
	if v.opts.NoRockRidge {
		return v.Tree(ViewISO9660)
	}
	return v.Tree(ViewRockRidge)
}

// Joliet returns the Joliet tree, or ErrNotFound without one.
func (v *Volume) Joliet() (*Tree, error) { return v.Tree(ViewJoliet) }

// PushView returns the tree a --push-iso variant reads (spec §2.3): Joliet
// unless noJoliet or absent, else the primary tree with Rock Ridge unless
// noRock. UDF, preferred by VirtualBox, is not supported.
func (v *Volume) PushView(noJoliet, noRock bool) (*Tree, error) {
	if !noJoliet && v.joliet != nil {
		return v.Tree(ViewJoliet)
	}
	if noRock || v.opts.NoRockRidge {
		return v.Tree(ViewISO9660)
	}
	return v.Tree(ViewRockRidge)
}

// Tree reads (once) and returns the tree of the given view.
func (v *Volume) Tree(view View) (*Tree, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t, ok := v.trees[view]; ok {
		return t, nil
	}
	if err, ok := v.errs[view]; ok {
		return nil, err
	}
	t, err := v.readTree(view)
	if err != nil {
		err = fmt.Errorf("%s tree: %w", view, err)
		v.errs[view] = err
		return nil, err
	}
	v.trees[view] = t
	return t, nil
}

// builder reads one tree.
type builder struct {
	v       *Volume
	tree    *Tree
	joliet  bool
	rr      bool // Rock Ridge parsing enabled
	skip    int  // SUSP SP skip length
	visited map[uint32]bool
	budget  int64 // directory + continuation bytes left
	susp    suspReader
	sec     []byte
}

func (v *Volume) readTree(view View) (*Tree, error) {
	info := &v.primary
	if view == ViewJoliet {
		if v.joliet == nil {
			return nil, fmt.Errorf("the medium has no Joliet volume descriptor: %w", ErrNotFound)
		}
		info = v.joliet
	}
	b := &builder{
		v:       v,
		tree:    &Tree{View: view},
		joliet:  view == ViewJoliet,
		rr:      view == ViewRockRidge,
		visited: map[uint32]bool{},
		budget:  v.opts.MaxDirBytes,
		sec:     make([]byte, SectorSize),
	}
	b.susp = suspReader{v: v, budget: &b.budget}
	rootRec := info.root
	root := &Entry{Kind: KindDir, Mode: ModeDir | 0o555, Nlink: 2, Size: rootRec.size,
		Extents: []Extent{{rootRec.lba, rootRec.size}}}
	root.setTimes(Times{Record: rootRec.time})
	b.tree.Root = root
	if err := b.readDir(root, rootRec.lba, rootRec.size, "/", 0); err != nil {
		return nil, err
	}
	b.tree.DirBytes = v.opts.MaxDirBytes - b.budget
	return b.tree, nil
}

// readDir lists the directory extent (lba, size) into dir, then descends.
func (b *builder) readDir(dir *Entry, lba uint32, size uint64, path string, depth int) error {
	if depth > b.v.opts.MaxDepth {
		//lint:ignore ST1005 the importer's message text (spec §5.2)
		return fmt.Errorf("Dir at '%s' is too deep (depth %d > %d): %w", path, depth, b.v.opts.MaxDepth, ErrTooDeep)
	}
	if b.visited[lba] {
		return fmt.Errorf("directory '%s' at LBA %d: extent already visited: %w", path, lba, ErrLoop)
	}
	b.visited[lba] = true
	if size == 0 {
		return fmt.Errorf("directory '%s' at LBA %d: empty directory extent: %w", path, lba, ErrCorrupt)
	}
	if err := b.v.checkExtent(lba, size); err != nil {
		return fmt.Errorf("directory '%s': %w", path, err)
	}
	alloc := int64((size + SectorSize - 1) / SectorSize * SectorSize)
	if b.budget -= alloc; b.budget < 0 {
		return fmt.Errorf("directory '%s' at LBA %d: directory bytes exceed %d: %w", path, lba, b.v.opts.MaxDirBytes, ErrLimit)
	}

	var pending *Entry // multi-extent file still expecting records
	var pendingIdent string
	first := true
	for secIdx := uint64(0); secIdx*SectorSize < size; secIdx++ {
		secLBA := lba + uint32(secIdx)
		n := min(uint64(SectorSize), size-secIdx*SectorSize)
		buf := b.sec[:n]
		if err := b.v.readFull(buf, int64(secLBA)*SectorSize); err != nil {
			return fmt.Errorf("directory '%s' sector LBA %d: %w", path, secLBA, err)
		}
		for off := 0; off < len(buf); {
			recLen := int(buf[off])
			if recLen == 0 {
				break // the rest of the sector is padding
			}
			where := fmt.Sprintf("directory '%s' record at LBA %d offset %d", path, secLBA, off)
			if off+recLen > len(buf) {
				end := "its sector"
				if len(buf) < SectorSize {
					end = "the directory's data length"
				}
				return fmt.Errorf("%s: record length %d overruns %s: %w", where, recLen, end, ErrCorrupt)
			}
			rec, err := parseRecord(buf[off : off+recLen])
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			off += recLen
			if first {
				first = false
				if dir.Parent == nil {
					if err := b.rootDot(dir, rec, where); err != nil {
						return err
					}
				}
			}
			if rec.ident == "\x00" || rec.ident == "\x01" {
				continue // "." and ".."
			}
			if pending != nil {
				if rec.ident != pendingIdent {
					return fmt.Errorf("%s: multi-extent file '%s' ends without a final record: %w", where, pending.Name, ErrMultiExtent)
				}
				if err := b.appendExtent(pending, rec, where); err != nil {
					return err
				}
				if rec.flags&flagMultiExtent == 0 {
					pending = nil
				}
				continue
			}
			e, err := b.makeEntry(rec, dir, path, where)
			if err != nil {
				return err
			}
			if e == nil {
				continue
			}
			if rec.flags&flagMultiExtent != 0 {
				if e.Kind == KindDir {
					return fmt.Errorf("%s: directory '%s' with the multi-extent flag: %w", where, e.Name, ErrCorrupt)
				}
				pending, pendingIdent = e, rec.ident
			}
		}
	}
	if pending != nil {
		return fmt.Errorf("directory '%s' at LBA %d: multi-extent file '%s' ends without a final record: %w", path, lba, pending.Name, ErrMultiExtent)
	}
	for _, c := range dir.children {
		if c.Kind != KindDir {
			continue
		}
		if err := b.readDir(c, c.Extents[0].LBA, c.Size, joinPath(path, c.Name), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// rootDot takes the root's attributes from its "." record and, for the Rock
// Ridge view, detects SUSP (SP) and RRIP (ER) there.
func (b *builder) rootDot(root *Entry, rec rawRecord, where string) error {
	if rec.ident != "\x00" {
		return fmt.Errorf("%s: the root directory does not start with a \".\" record: %w", where, ErrCorrupt)
	}
	root.setTimes(Times{Record: rec.time})
	if !b.rr {
		return nil
	}
	if len(rec.sysUse) < 7 || string(rec.sysUse[:2]) != "SP" {
		b.rr = false // no SUSP: plain ISO 9660 names
		return nil
	}
	info, err := b.susp.parse(rec.sysUse, where)
	if err != nil {
		return err
	}
	if !info.spFound {
		b.rr = false
		return nil
	}
	b.skip = info.spSkip
	b.tree.RockRidge = true
	for _, id := range info.erIDs {
		for _, r := range rripIDs {
			if id == r && b.tree.RRIP == "" {
				b.tree.RRIP = id
			}
		}
	}
	applyRR(root, info)
	root.Kind, root.Mode = KindDir, ModeDir|root.Mode&^ModeTypeMask
	return nil
}

// appendExtent adds a follow-up record of a multi-extent file, enforcing the
// contiguity and alignment spec §5.2 requires.
func (b *builder) appendExtent(e *Entry, rec rawRecord, where string) error {
	last := e.Extents[len(e.Extents)-1]
	if last.Length%SectorSize != 0 {
		return fmt.Errorf("%s: misaligned multi-extent file '%s': extent at LBA %d has %d bytes: %w", where, e.Name, last.LBA, last.Length, ErrMultiExtent)
	}
	if uint64(rec.lba) != uint64(last.LBA)+last.Length/SectorSize {
		return fmt.Errorf("%s: non-contiguous multi-extent file '%s': extent at LBA %d does not follow LBA %d: %w", where, e.Name, rec.lba, last.LBA, ErrMultiExtent)
	}
	if err := b.v.checkExtent(rec.lba, rec.size); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	e.Extents = append(e.Extents, Extent{rec.lba, rec.size})
	if e.Kind == KindFile {
		e.Size += rec.size
	}
	return nil
}

// makeEntry builds the entry of one child record and appends it to dir; it
// returns nil for records that are not tree members (associated files).
func (b *builder) makeEntry(rec rawRecord, dir *Entry, path, where string) (*Entry, error) {
	if rec.flags&flagAssociated != 0 {
		return nil, nil // an associated file (e.g. a Mac resource fork) is not a tree member
	}
	if rec.unitSize != 0 || rec.gapSize != 0 {
		return nil, fmt.Errorf("%s: interleaved file: %w", where, ErrUnsupported)
	}
	b.tree.Entries++
	if b.tree.Entries > b.v.opts.MaxEntries {
		return nil, fmt.Errorf("%s: more than %d entries: %w", where, b.v.opts.MaxEntries, ErrLimit)
	}
	ident := rec.ident
	if b.joliet {
		if len(ident)%2 != 0 {
			return nil, fmt.Errorf("%s: Invalid name at '%s': odd-length Joliet identifier: %w", where, path, ErrInvalidName)
		}
		ident = decodeUCS2([]byte(ident))
	}
	if !rec.isDir() {
		ident = stripVersion(ident)
	}
	e := &Entry{Name: ident, Ident: ident, Parent: dir,
		Hidden: rec.flags&flagHidden != 0, Size: rec.size, Extents: []Extent{{rec.lba, rec.size}}}
	e.setTimes(Times{Record: rec.time})
	if rec.isDir() {
		e.Kind, e.Mode, e.Nlink = KindDir, ModeDir|0o555, 2
	} else {
		e.Kind, e.Mode, e.Nlink = KindFile, ModeRegular|0o444, 1
	}
	if b.rr {
		area := rec.sysUse
		if b.skip <= len(area) {
			area = area[b.skip:]
		} else {
			area = nil
		}
		info, err := b.susp.parse(area, where)
		if err != nil {
			return nil, err
		}
		if info.nameSpecial {
			return nil, fmt.Errorf("%s: Invalid name at '%s': NM with the CURRENT/PARENT flag on an ordinary record: %w", where, path, ErrInvalidName)
		}
		applyRR(e, info)
	}
	if err := checkName(e.Name); err != nil {
		return nil, fmt.Errorf("%s: Invalid name at '%s': %q %v: %w", where, path, e.Name, err, ErrInvalidName)
	}
	if e.Kind == KindFile || e.Kind == KindDir {
		if err := b.v.checkExtent(rec.lba, rec.size); err != nil {
			return nil, fmt.Errorf("%s: '%s': %w", where, e.Name, err)
		}
	} else {
		e.Size = 0
	}
	dir.children = append(dir.children, e)
	return e, nil
}

// applyRR copies Rock Ridge data onto e. The record's directory flag decides
// the structure; PX only refines files into symlinks, devices, FIFOs, sockets.
func applyRR(e *Entry, info *rrInfo) {
	if !info.any {
		return
	}
	e.RockRidge = true
	if info.hasName && info.name.Len() > 0 {
		e.Name = info.name.String()
	}
	if info.hasPX {
		e.UID, e.GID, e.Nlink, e.Serial = info.uid, info.gid, info.nlink, info.serial
		typ := info.mode & ModeTypeMask
		if e.Kind == KindDir {
			typ = ModeDir
		} else {
			switch typ {
			case ModeSymlink:
				e.Kind = KindSymlink
			case ModeBlock, ModeChar:
				e.Kind = KindDevice
			case ModeFIFO:
				e.Kind = KindFIFO
			case ModeSocket:
				e.Kind = KindSocket
			default:
				typ = ModeRegular
			}
		}
		e.Mode = typ | info.mode&^ModeTypeMask
	}
	if info.hasSL && e.Kind != KindDir {
		e.Kind = KindSymlink
		e.Mode = ModeSymlink | e.Mode&^ModeTypeMask
		e.Target = info.target.String()
	}
	if info.hasTF {
		t := e.Times()
		t.Creation, t.Modify, t.Access, t.Attributes = info.creation, info.modify, info.access, info.attrChange
		e.setTimes(t)
	}
	if info.hasPN {
		e.DevHigh, e.DevLow = info.devHigh, info.devLow
	}
	if info.hasCL {
		e.ChildLink = info.clLBA
	}
	e.Relocated = info.hasRE
}

// stripVersion removes a file identifier's ";N" version (1-5 digits).
func stripVersion(id string) string {
	i := strings.LastIndexByte(id, ';')
	if i < 0 {
		return id
	}
	v := id[i+1:]
	if len(v) < 1 || len(v) > 5 {
		return id
	}
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return id
		}
	}
	return id[:i]
}

var errBadName = errors.New("is not a usable path component")

func checkName(n string) error {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
		return errBadName
	}
	return nil
}

// WalkFunc is called for every entry of a walk with its absolute path.
// Returning fs.SkipDir from a directory skips its children.
type WalkFunc func(path string, e *Entry) error

// Walk visits root and everything below it in pre-order, directory order.
func Walk(root *Entry, fn WalkFunc) error {
	return walk(root.Path(), root, fn)
}

func walk(path string, e *Entry, fn WalkFunc) error {
	if err := fn(path, e); err != nil {
		if errors.Is(err, fs.SkipDir) && e.IsDir() {
			return nil
		}
		return err
	}
	for _, c := range e.children {
		if err := walk(joinPath(path, c.Name), c, fn); err != nil {
			return err
		}
	}
	return nil
}

// Walk visits the whole tree (see the Walk function).
func (t *Tree) Walk(fn WalkFunc) error { return Walk(t.Root, fn) }

// Lookup finds the entry at path ("/a/b"), matching each component against
// Name, then Ident, case-insensitively.
func (t *Tree) Lookup(path string) (*Entry, error) {
	e := t.Root
	for _, comp := range strings.Split(path, "/") {
		if comp == "" || comp == "." {
			continue
		}
		if !e.IsDir() {
			return nil, fmt.Errorf("lookup '%s': '%s' is not a directory: %w", path, e.Path(), ErrNotFound)
		}
		c := e.Child(comp)
		if c == nil {
			return nil, fmt.Errorf("lookup '%s': no '%s' in '%s': %w", path, comp, e.Path(), ErrNotFound)
		}
		e = c
	}
	return e, nil
}

// FileAt returns the non-empty file whose data starts at lba, or nil.
func (t *Tree) FileAt(lba uint32) *Entry {
	t.lbaOnce.Do(func() {
		t.byLBA = map[uint32]*Entry{}
		_ = t.Walk(func(_ string, e *Entry) error {
			if e.Kind == KindFile && e.Size > 0 {
				if _, ok := t.byLBA[e.LBA()]; !ok {
					t.byLBA[e.LBA()] = e
				}
			}
			return nil
		})
	})
	return t.byLBA[lba]
}
