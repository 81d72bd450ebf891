package isoimage

import "strings"

// Namespace bookkeeping: per-directory lookup by folded spec name, ISO name
// mangling at the moment a name is added, implicit parents, and removal.

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
		if !ok && ns == Primary {
			next, ok = t.isoChild(cur, p) // an imported entry by its ISO 9660 identifier (spec §5.4)
		}
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
	t.parents = append(t.parents, [2]ID{})
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
		t.parents[id][1] = parent
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
	n.isoRef = t.str.add(iso)
	t.parents[id][0] = parent
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
