package isoimage

import "strings"

// Operations the --import-iso executor needs beyond the host-file ones:
// hidden boot images, a Joliet name for an object the primary tree already
// holds (imports match the two trees by extent), lookups by imported ISO 9660
// identifier, and the Rock Ridge level in force at import time.
//
// In-place layout hook: the executor gives every file it imports from the
// first --import-iso a Source that also implements
//
//	BaseExtent() (lba uint32, ok bool)
//
// ok is true when the file's bytes are exactly Size bytes starting at sector
// lba of the base ISO (the first import, read straight from a host file);
// later imports and pushed ISOs report ok == false. A layout that keeps the
// base in place detects it with a type assertion on the Source.

// AddHiddenFile adds a file object without any name: an imported boot image
// that no directory entry points at (spec §5.3 item 4). It only exists as the
// image of a boot catalog entry; one that no entry uses is never laid out.
func (t *Tree) AddHiddenFile(src Source, size int64, a Attrs) (ID, error) {
	if err := t.checkMutable(); err != nil {
		return 0, err
	}
	if size < 0 {
		return 0, &NameError{Source: "hidden boot image", Err: ErrInvalidParameter}
	}
	return t.newNode(node{kind: kindFile, size: size, mode: a.Mode & 0o7777,
		uid: a.UID, gid: a.GID, tix: t.timeIndex(a.Times)}, src), nil
}

// AddName names an existing object at path in one namespace (Primary or
// Joliet), creating missing parents. The importer uses it to give a primary
// file its Joliet name once the Joliet record with the same extent is found.
// Naming an object twice in one namespace, a removed object or a symlink or
// special file in Joliet is ErrInvalidParameter; a taken path ErrAlreadyExists.
func (t *Tree) AddName(id ID, ns Namespaces, path string, isoName string) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	if int(id) >= len(t.nodes) || id == RootID || !t.alive(id) || (ns != Primary && ns != Joliet) ||
		t.nodes[id].flags&flagOf(ns) != 0 {
		return &NameError{Path: path, Source: t.path(id), Err: ErrInvalidParameter}
	}
	if k := t.nodes[id].kind; ns == Joliet && (k == kindSymlink || k == kindSpecial) {
		return &NameError{Path: path, Source: t.path(id), Err: ErrInvalidParameter}
	}
	if ns == Joliet {
		isoName = ""
	}
	if err := t.nameIn(ns, path, id, isoName); err != nil {
		return &NameError{Path: path, Source: t.path(id), Err: err}
	}
	return nil
}

// HasName reports whether id is named in namespace ns.
func (t *Tree) HasName(id ID, ns Namespaces) bool {
	return int(id) < len(t.nodes) && t.alive(id) && t.nodes[id].flags&flagOf(ns) != 0
}

// IsDir reports whether id is a live directory.
func (t *Tree) IsDir(id ID) bool {
	return int(id) < len(t.nodes) && t.alive(id) && t.nodes[id].kind == kindDir
}

// PrimaryParent returns the primary-namespace parent of a named object.
func (t *Tree) PrimaryParent(id ID) (ID, bool) {
	if !t.HasName(id, Primary) || id == RootID {
		return 0, false
	}
	return t.parents[id][0], true
}

// RockRidgeLevel returns the Rock Ridge level currently set (0, 1 or 2).
// Rock Ridge names of an imported ISO are only taken while it is above 0
// (spec §2.5 (c)).
func (t *Tree) RockRidgeLevel() int { return t.rrLevel }

// isoChild finds a primary child by its ISO 9660 identifier: spec §5.4 lets
// removals and lookups address an imported entry by the identifier the
// source was mastered with even when its spec name is a longer Rock Ridge
// name. Files carry ";1" in the index; a version the caller wrote is ignored.
func (t *Tree) isoChild(dir ID, name string) (ID, bool) {
	if name == "" || len(t.isoIdx) == 0 {
		return 0, false
	}
	up := strings.ToUpper(name)
	if i := strings.IndexByte(up, ';'); i >= 0 {
		up = up[:i]
	}
	if id, ok := t.isoIdx[dirKey{dir, up}]; ok && t.nodes[id].kind == kindDir {
		return id, true
	}
	if id, ok := t.isoIdx[dirKey{dir, up + ";1"}]; ok && t.nodes[id].kind != kindDir {
		return id, true
	}
	return 0, false
}

// CatalogID returns the boot catalog object once SetBootCatalog or
// NameBootCatalog created it.
func (t *Tree) CatalogID() (ID, bool) { return t.catalog, t.catalog != 0 }
