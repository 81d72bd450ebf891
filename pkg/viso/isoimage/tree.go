package isoimage

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Source supplies a file's bytes. The executor decides how (lazily opened host
// files, ranges of an imported ISO, memory); it must be safe for concurrent
// ReadAt calls because Image.ReadAt is.
type Source interface {
	ReadAt(p []byte, off int64) (int, error)
}

// ID identifies an object of a Tree. IDs stay valid after Finalize.
type ID uint32

// RootID is the root directory, shared by all namespaces.
const RootID ID = 0

// Namespaces is a set of namespaces.
type Namespaces uint8

const (
	// Primary is the ISO 9660 namespace (with Rock Ridge data when enabled).
	Primary Namespaces = 1 << iota
	// Joliet is the Joliet (UTF-16) namespace.
	Joliet
	// AllNamespaces is every supported namespace.
	AllNamespaces = Primary | Joliet
)

// Names gives an object's destination path per namespace; "" leaves the object
// out of that namespace. The executor resolves --name-setup positions.
type Names struct {
	Primary string
	Joliet  string
	// ISOName, when set, is an imported ISO 9660 identifier used instead of
	// mangling the primary spec name (spec §4.6 step 6): any ";version" is
	// dropped, the rest kept verbatim but cut to 30 characters, and files get
	// ";1". The numeric-infix uniqueness rule still applies.
	ISOName string
}

// Times are an object's timestamps. Zero values mean "the epoch".
type Times struct {
	Birth, Modify, Access, Change time.Time
}

// Attrs are an object's POSIX attributes (only visible through Rock Ridge).
type Attrs struct {
	Mode     uint32 // permission and special bits (07777); type bits are implied by the object kind
	UID, GID uint32
	Times    Times
}

// MaxExtentSize is the largest extent of a multi-extent file (spec §4.6).
const MaxExtentSize = 0xFFFFF800

// fourGiB is the size from which a file needs ISO level 3.
const fourGiB = 1 << 32

type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindSpecial // device, FIFO or socket (only imported ISOs carry these)
	kindCatalog
)

const (
	flagPrimary uint8 = 1 << iota // has a name in the primary namespace
	flagJoliet                    // has a name in the Joliet namespace
	flagRemoved                   // removed from the image
	flagUsed                      // set during finalisation: appears in a written tree
)

// isoTime is the 7-byte ECMA-119 recording time (also Rock Ridge TF short form).
type isoTime [7]byte

// node is one object. It is kept small (see the memory benchmark): names are
// arena references, times an index into a deduplicated table, sources in a
// side table, and per-namespace parents are IDs. Rendering a directory sector
// touches only these hot fields.
type node struct {
	size     int64
	nameRef  strRef // primary spec name (also the Rock Ridge NM name)
	isoRef   strRef // mangled ISO 9660 identifier
	jnameRef strRef // Joliet spec name
	tix      uint32 // index into store.times
	mode     uint32
	uid      uint32
	gid      uint32
	pparen   ID     // parent in the primary namespace
	jparen   ID     // parent in the Joliet namespace
	lba      uint32 // data LBA (files) after finalisation
	aux      uint32 // directories: index into Tree.dirs; symlinks: index into Tree.links
	kind     kind
	flags    uint8
}

// dirInfo holds a directory's children per namespace (in insertion order; removed
// entries are filtered at finalisation) and its layout results.
type dirInfo struct {
	prim, jol []ID
}

type dirKey struct {
	parent ID
	name   string
}

// Config is the fixed part of a tree's configuration.
type Config struct {
	// Epoch is the image creation time: volume descriptor dates, the default
	// volume id, and the times of implicit directories, the root and the catalog.
	Epoch time.Time
	// SystemID and ApplicationID are the defaults for the volume descriptor
	// strings when the executor does not set them (both namespaces).
	SystemID, ApplicationID string
}

// Tree is the mutable namespace model. It is not safe for concurrent use.
type Tree struct {
	store
	cfg        Config
	epoch      isoTime
	dirs       []dirInfo
	links      []string
	specials   []special
	timeIdx    map[[4]isoTime]uint32
	primIdx    map[dirKey]ID // folded primary spec names
	isoIdx     map[dirKey]ID // ISO 9660 identifiers (already upper case)
	jolIdx     map[dirKey]ID // folded Joliet spec names
	isoLevel   int
	rrLevel    int
	jolLevel   int
	newDirMode uint32
	pad        bool
	sysArea    []byte
	vol        [2]volStrings
	boot       *BootCatalog
	catalog    ID // 0 = none (the root can never be the catalog)
	finalized  bool
}

// New returns an empty tree with the ISO maker's defaults: ISO level 3, Rock
// Ridge level 1, Joliet level 3, new-dir mode 0555, padding on.
func New(cfg Config) *Tree {
	t := &Tree{
		store:      store{str: &arena{}},
		timeIdx:    make(map[[4]isoTime]uint32),
		cfg:        cfg,
		epoch:      encodeTime(cfg.Epoch),
		primIdx:    make(map[dirKey]ID),
		isoIdx:     make(map[dirKey]ID),
		jolIdx:     make(map[dirKey]ID),
		isoLevel:   3,
		rrLevel:    1,
		jolLevel:   3,
		newDirMode: 0o555,
		pad:        true,
	}
	t.dirs = append(t.dirs, dirInfo{})
	t.timeIndex(Times{}) // index 0: the epoch, used by the root and implicit objects
	t.nodes = append(t.nodes, node{kind: kindDir, mode: 0o555, flags: flagPrimary | flagJoliet})
	t.srcs = append(t.srcs, nil)
	return t
}

// encodeTime converts to the 7-byte form in UTC; years outside 1900-2155 clamp.
func encodeTime(tm time.Time) isoTime {
	if tm.IsZero() {
		tm = time.Unix(0, 0)
	}
	u := tm.UTC()
	y := u.Year() - 1900
	switch {
	case y < 0:
		return isoTime{0, 1, 1, 0, 0, 0, 0}
	case y > 255:
		return isoTime{255, 12, 31, 23, 59, 59, 0}
	}
	return isoTime{byte(y), byte(u.Month()), byte(u.Day()), byte(u.Hour()), byte(u.Minute()), byte(u.Second()), 0}
}

// timeIndex returns the index of the encoded times in the shared table.
func (t *Tree) timeIndex(ts Times) uint32 {
	k := t.encodeTimes(ts)
	if i, ok := t.timeIdx[k]; ok {
		return i
	}
	i := uint32(len(t.times))
	t.times = append(t.times, k)
	t.timeIdx[k] = i
	return i
}

func (t *Tree) encodeTimes(ts Times) [4]isoTime {
	enc := func(tm time.Time) isoTime {
		if tm.IsZero() {
			return t.epoch
		}
		return encodeTime(tm)
	}
	return [4]isoTime{enc(ts.Birth), enc(ts.Modify), enc(ts.Access), enc(ts.Change)}
}

// SetISOLevel sets the ISO 9660 interchange level (1-3) for names added from
// now on and for the 4 GiB check.
func (t *Tree) SetISOLevel(level int) error {
	if level < 1 || level > 3 {
		return fmt.Errorf("failed to set ISO level to %d: %w", level, ErrInvalidParameter)
	}
	t.isoLevel = level
	return nil
}

// ISOLevel returns the current ISO level.
func (t *Tree) ISOLevel() int { return t.isoLevel }

// SetRockRidgeLevel sets the Rock Ridge level (0 none, 1 limited, 2 full) for the whole image.
func (t *Tree) SetRockRidgeLevel(level int) error {
	if level < 0 || level > 2 {
		return fmt.Errorf("failed to set Rock Ridge level to %d: %w", level, ErrInvalidParameter)
	}
	t.rrLevel = level
	return nil
}

// SetJolietLevel sets the Joliet UCS-2 level (0 disables the Joliet tree, 1-3
// choose the SVD escape sequence) for the whole image.
func (t *Tree) SetJolietLevel(level int) error {
	if level < 0 || level > 3 {
		return fmt.Errorf("failed to set joliet UCS level to %d: %w", level, ErrInvalidParameter)
	}
	t.jolLevel = level
	return nil
}

// SetNewDirMode sets the permission bits of directories created implicitly.
func (t *Tree) SetNewDirMode(mode uint32) { t.newDirMode = mode & 0o7777 }

// SetPad turns the 150-sector trailing padding on or off.
func (t *Tree) SetPad(on bool) { t.pad = on }

// SetSystemArea loads the 32 KiB system area (sectors 0-15). Shorter input is
// zero-filled, longer input cut; nil resets to zeros.
func (t *Tree) SetSystemArea(b []byte) {
	if b == nil {
		t.sysArea = nil
		return
	}
	t.sysArea = make([]byte, systemAreaSize)
	copy(t.sysArea, b)
}

// ReadSystemArea loads the system area from the first 32 KiB of r (-G).
func (t *Tree) ReadSystemArea(r io.ReaderAt) error {
	buf := make([]byte, systemAreaSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("error reading 32KB from generic boot image: %w", err)
	}
	t.SetSystemArea(buf[:n])
	return nil
}

func (t *Tree) dirOf(id ID) *dirInfo { return &t.dirs[t.nodes[id].aux] }

func (t *Tree) alive(id ID) bool { return t.nodes[id].flags&flagRemoved == 0 }

// child looks a name up in one namespace of a directory (case-insensitively).
func (t *Tree) child(ns Namespaces, dir ID, name string) (ID, bool) {
	idx := t.primIdx
	if ns == Joliet {
		idx = t.jolIdx
		name = strings.ToValidUTF8(name, "\uFFFD") // as attach stores it
	}
	id, ok := idx[dirKey{dir, foldKey(name)}]
	return id, ok
}

// Lookup finds the object at path in any of the given namespaces (primary
// first), matching spec names case-insensitively. Relative paths start at the root.
func (t *Tree) Lookup(ns Namespaces, path string) (ID, bool) {
	parts, err := splitPath(path, true)
	if err != nil {
		return 0, false
	}
	for _, one := range []Namespaces{Primary, Joliet} {
		if ns&one == 0 {
			continue
		}
		if id, ok := t.walk(one, parts); ok {
			return id, true
		}
	}
	return 0, false
}

func (t *Tree) walk(ns Namespaces, parts []string) (ID, bool) {
	cur := RootID
	for _, p := range parts {
		if t.nodes[cur].kind != kindDir {
			return 0, false
		}
		next, ok := t.child(ns, cur, p)
		if !ok {
			return 0, false
		}
		cur = next
	}
	return cur, true
}

// ensureParent walks to the directory that will hold the last component,
// creating missing directories with the new-dir mode and epoch times.
func (t *Tree) ensureParent(ns Namespaces, parts []string) (ID, error) {
	cur := RootID
	for _, p := range parts[:len(parts)-1] {
		next, ok := t.child(ns, cur, p)
		if !ok {
			id := t.newNode(node{kind: kindDir, mode: t.newDirMode}, nil)
			if err := t.attach(ns, cur, id, p, ""); err != nil {
				return 0, err
			}
			next = id
		} else if t.nodes[next].kind != kindDir {
			return 0, ErrNotADirectory
		}
		cur = next
	}
	return cur, nil
}

func (t *Tree) newNode(n node, src Source) ID {
	id := ID(len(t.nodes))
	if n.kind == kindDir {
		n.aux = uint32(len(t.dirs))
		t.dirs = append(t.dirs, dirInfo{})
	}
	t.nodes = append(t.nodes, n)
	t.srcs = append(t.srcs, src)
	return id
}

// attach gives id the name in ns under parent; the caller checked for clashes.
// isoName is an imported ISO identifier to use instead of mangling ("" = mangle).
func (t *Tree) attach(ns Namespaces, parent, id ID, name, isoName string) error {
	if len(name) > maxNameLen {
		return ErrNameTooLong
	}
	n := &t.nodes[id]
	d := t.dirOf(parent)
	if ns == Joliet {
		// Joliet stores UTF-16: invalid UTF-8 becomes U+FFFD, and the stored
		// name must say so for sorting and lookups to match the image.
		name = strings.ToValidUTF8(name, "\uFFFD")
		if n.flags&flagPrimary != 0 && t.name(id) == name {
			n.jnameRef = n.nameRef // share the bytes with the primary name
		} else {
			n.jnameRef = t.str.add(name)
		}
		n.jparen = parent
		n.flags |= flagJoliet
		t.jolIdx[dirKey{parent, foldKey(name)}] = id
		d.jol = append(d.jol, id)
		return nil
	}
	if n.kind != kindDir && n.size >= fourGiB && t.isoLevel < 3 {
		return ErrFileTooBig
	}
	level := t.isoLevel
	var iso string
	if isoName != "" {
		iso, level = importedName(isoName, n.kind == kindDir), 3
	} else {
		iso = mangleName(name, level, n.kind == kindDir)
	}
	iso = uniqueName(iso, level, n.kind == kindDir, func(s string) bool {
		_, ok := t.isoIdx[dirKey{parent, s}]
		return ok
	})
	if iso == "" {
		return ErrNameConflict
	}
	if n.flags&flagJoliet != 0 && t.jname(id) == name {
		n.nameRef = n.jnameRef
	} else {
		n.nameRef = t.str.add(name)
	}
	n.isoRef, n.pparen = t.str.add(iso), parent
	n.flags |= flagPrimary
	t.primIdx[dirKey{parent, foldKey(name)}] = id
	t.isoIdx[dirKey{parent, iso}] = id
	d.prim = append(d.prim, id)
	return nil
}

// nameIn names object id at path in namespace ns (creating parents).
func (t *Tree) nameIn(ns Namespaces, path string, id ID, isoName string) error {
	parts, err := splitPath(path, t.nodes[id].kind == kindDir)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return ErrAlreadyExists // the root
	}
	parent, err := t.ensureParent(ns, parts)
	if err != nil {
		return err
	}
	if _, ok := t.child(ns, parent, parts[len(parts)-1]); ok {
		return ErrAlreadyExists
	}
	return t.attach(ns, parent, id, parts[len(parts)-1], isoName)
}

func (t *Tree) checkMutable() error {
	if t.finalized {
		return ErrFinalized
	}
	return nil
}

// add creates an object and names it in every namespace of names. On failure
// the half-named object is removed again so the tree stays consistent.
func (t *Tree) add(names Names, n node, src Source, what string) (ID, error) {
	if err := t.checkMutable(); err != nil {
		return 0, err
	}
	if names.Primary == "" && names.Joliet == "" {
		return 0, &NameError{Path: "", Source: what, Err: ErrInvalidName}
	}
	id := t.newNode(n, src)
	for _, step := range []struct {
		ns   Namespaces
		path string
	}{{Primary, names.Primary}, {Joliet, names.Joliet}} {
		if step.path == "" {
			continue
		}
		if err := t.nameIn(step.ns, step.path, id, names.ISOName); err != nil {
			t.unlink(id)
			return 0, &NameError{Path: step.path, Source: what, Err: err}
		}
	}
	return id, nil
}

// AddFile adds a regular file of the given size whose bytes come from src.
// what names the source in error messages.
func (t *Tree) AddFile(names Names, src Source, size int64, a Attrs, what string) (ID, error) {
	if size < 0 {
		return 0, &NameError{Path: names.Primary + names.Joliet, Source: what, Err: ErrInvalidParameter}
	}
	return t.add(names, node{kind: kindFile, size: size, mode: a.Mode & 0o7777,
		uid: a.UID, gid: a.GID, tix: t.timeIndex(a.Times)}, src, what)
}

// AddSymlink adds a symbolic link (only imported ISOs produce these). Symlinks
// live in the primary/Rock Ridge tree only; a Joliet name is ignored.
func (t *Tree) AddSymlink(names Names, target string, a Attrs, what string) (ID, error) {
	names.Joliet = ""
	n := node{kind: kindSymlink, mode: a.Mode & 0o7777, uid: a.UID, gid: a.GID,
		tix: t.timeIndex(a.Times), aux: uint32(len(t.links))}
	id, err := t.add(names, n, nil, what)
	if err != nil {
		return 0, err
	}
	t.links = append(t.links, target)
	return id, nil
}

// SpecialType is the kind of a special file.
type SpecialType uint8

const (
	CharDevice SpecialType = iota
	BlockDevice
	FIFO
	Socket
)

// POSIX type bits of each special type.
var specialModes = [...]uint32{CharDevice: 0o020000, BlockDevice: 0o060000, FIFO: 0o010000, Socket: 0o140000}

type special struct {
	typ          SpecialType
	major, minor uint32
}

// AddSpecial adds a device node, FIFO or socket (as an imported ISO's Rock
// Ridge tree may hold; PN carries the device numbers). Like symlinks these
// exist in the primary/Rock Ridge tree only; a Joliet name is ignored.
func (t *Tree) AddSpecial(names Names, typ SpecialType, major, minor uint32, a Attrs, what string) (ID, error) {
	if typ > Socket {
		return 0, &NameError{Path: names.Primary, Source: what, Err: ErrInvalidParameter}
	}
	names.Joliet = ""
	n := node{kind: kindSpecial, mode: a.Mode & 0o7777, uid: a.UID, gid: a.GID,
		tix: t.timeIndex(a.Times), aux: uint32(len(t.specials))}
	id, err := t.add(names, n, nil, what)
	if err != nil {
		return 0, err
	}
	t.specials = append(t.specials, special{typ: typ, major: major, minor: minor})
	return id, nil
}

// AddDir adds a new directory; an existing name (any kind) is ErrAlreadyExists.
// This is what recursive adds use for subdirectories.
func (t *Tree) AddDir(names Names, a Attrs, what string) (ID, error) {
	return t.add(names, node{kind: kindDir, mode: a.Mode & 0o7777, uid: a.UID, gid: a.GID,
		tix: t.timeIndex(a.Times)}, nil, what)
}

// MergeDir is the top-level directory add of spec §3.6: an existing directory
// at the path (in any of the given namespaces) is reused and named in the
// namespaces where it is still missing; otherwise a new directory is created.
// created reports which happened.
func (t *Tree) MergeDir(names Names, a Attrs, what string) (id ID, created bool, err error) {
	if err := t.checkMutable(); err != nil {
		return 0, false, err
	}
	found := ID(0)
	have := false
	for _, step := range []struct {
		ns   Namespaces
		path string
	}{{Primary, names.Primary}, {Joliet, names.Joliet}} {
		if step.path == "" {
			continue
		}
		parts, err := splitPath(step.path, true)
		if err != nil {
			return 0, false, &NameError{Path: step.path, Source: what, Err: err}
		}
		got, ok := t.walk(step.ns, parts)
		if !ok {
			continue
		}
		if t.nodes[got].kind != kindDir || (have && got != found) {
			return 0, false, &NameError{Path: step.path, Source: what, Err: ErrAlreadyExists}
		}
		found, have = got, true
	}
	if !have {
		id, err := t.AddDir(names, a, what)
		return id, err == nil, err
	}
	if found == RootID {
		return RootID, false, nil
	}
	n := &t.nodes[found]
	if names.Primary != "" && n.flags&flagPrimary == 0 {
		if err := t.nameIn(Primary, names.Primary, found, names.ISOName); err != nil {
			return 0, false, &NameError{Path: names.Primary, Source: what, Err: err}
		}
	}
	if names.Joliet != "" && t.nodes[found].flags&flagJoliet == 0 {
		if err := t.nameIn(Joliet, names.Joliet, found, ""); err != nil {
			return 0, false, &NameError{Path: names.Joliet, Source: what, Err: err}
		}
	}
	return found, false, nil
}

// unlink drops every name of id (and, for directories, of its whole subtree)
// and marks the objects removed. Children lists are filtered at finalisation.
func (t *Tree) unlink(id ID) {
	n := &t.nodes[id]
	if n.flags&flagPrimary != 0 {
		delete(t.primIdx, dirKey{n.pparen, foldKey(t.name(id))})
		delete(t.isoIdx, dirKey{n.pparen, t.iso(id)})
	}
	if n.flags&flagJoliet != 0 {
		delete(t.jolIdx, dirKey{n.jparen, foldKey(t.jname(id))})
	}
	if n.kind == kindCatalog {
		// The catalog itself cannot be removed; losing its names (a removed
		// parent directory) only makes it hidden again.
		n.flags = 0
		return
	}
	n.flags = flagRemoved
	t.srcs[id] = nil
	if n.kind == kindDir {
		d := t.dirOf(id)
		for _, list := range [][]ID{d.prim, d.jol} {
			for _, c := range list {
				if t.alive(c) && c != id {
					t.unlink(c)
				}
			}
		}
		d.prim, d.jol = nil, nil
	}
}

// Remove removes every object found at path in the given namespaces from the
// whole image (all namespaces, whole subtree), repeating the lookup until
// nothing matches. It returns how many objects were removed. The root and the
// boot catalog cannot be removed (ErrAccessDenied).
func (t *Tree) Remove(ns Namespaces, path string) (int, error) {
	if err := t.checkMutable(); err != nil {
		return 0, err
	}
	count := 0
	for {
		id, ok := t.Lookup(ns, path)
		if !ok {
			return count, nil
		}
		if id == RootID || t.nodes[id].kind == kindCatalog {
			return count, &PathError{Op: "remove", Path: path, Err: ErrAccessDenied}
		}
		t.unlink(id)
		count++
	}
}

// each applies fn to every object found at path in the given namespaces.
func (t *Tree) each(op string, ns Namespaces, path string, fn func(n *node)) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	parts, err := splitPath(path, true)
	if err != nil {
		return &PathError{Op: op, Path: path, Err: err}
	}
	hit := false
	for _, one := range []Namespaces{Primary, Joliet} {
		if ns&one == 0 {
			continue
		}
		if id, ok := t.walk(one, parts); ok {
			fn(&t.nodes[id])
			hit = true
		}
	}
	if !hit {
		return &PathError{Op: op, Path: path, Err: ErrNotFound}
	}
	return nil
}

// Chmod replaces the permission bits (07777) of the object(s) at path, or ORs
// them in when add is set (the a+x / a+r / a+rx forms).
func (t *Tree) Chmod(ns Namespaces, path string, mode uint32, add bool) error {
	if mode > 0o7777 {
		return &PathError{Op: "chmod", Path: path, Err: ErrInvalidParameter}
	}
	return t.each("chmod", ns, path, func(n *node) {
		if add {
			n.mode |= mode
		} else {
			n.mode = mode
		}
	})
}

// Chown sets the owner id of the object(s) at path.
func (t *Tree) Chown(ns Namespaces, path string, uid uint32) error {
	return t.each("chown", ns, path, func(n *node) { n.uid = uid })
}

// Chgrp sets the group id of the object(s) at path.
func (t *Tree) Chgrp(ns Namespaces, path string, gid uint32) error {
	return t.each("chgrp", ns, path, func(n *node) { n.gid = gid })
}

// Path returns the primary (or, failing that, Joliet) path of an object, for
// messages; "" when it has no name.
func (t *Tree) Path(id ID) string { return t.path(id) }
