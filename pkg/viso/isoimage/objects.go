package isoimage

// The executor's operations on objects: adding files, directories, symlinks
// and special files, and changing attributes of existing entries.

// AddFile adds a regular file of the given size whose bytes come from src.
// what names the source in error messages.
func (t *Tree) AddFile(names Names, src Source, size int64, a Attrs, what string) (ID, error) {
	if err := t.checkMutable(); err != nil { // before touching the shared time table
		return 0, err
	}
	if size < 0 {
		return 0, &NameError{Path: names.Primary + names.Joliet, Source: what, Err: ErrInvalidParameter}
	}
	return t.add(names, node{kind: kindFile, size: size, mode: a.Mode & 0o7777,
		uid: a.UID, gid: a.GID, tix: t.timeIndex(a.Times)}, src, what)
}

// AddSymlink adds a symbolic link (only imported ISOs produce these). Symlinks
// live in the primary/Rock Ridge tree only; a Joliet name is ignored.
func (t *Tree) AddSymlink(names Names, target string, a Attrs, what string) (ID, error) {
	if err := t.checkMutable(); err != nil { // before touching the shared time table
		return 0, err
	}
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
	if err := t.checkMutable(); err != nil { // before touching the shared time table
		return 0, err
	}
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
	if err := t.checkMutable(); err != nil { // before touching the shared time table
		return 0, err
	}
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
		delete(t.primIdx, dirKey{t.parents[id][0], foldKey(t.name(id))})
		delete(t.isoIdx, dirKey{t.parents[id][0], t.iso(id)})
	}
	if n.flags&flagJoliet != 0 {
		delete(t.jolIdx, dirKey{t.parents[id][1], foldKey(t.jname(id))})
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
