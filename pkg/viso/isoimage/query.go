package isoimage

// IsFile reports whether id is a live regular file of the tree (what a boot
// entry's image must be).
func (t *Tree) IsFile(id ID) bool {
	return int(id) < len(t.nodes) && t.alive(id) && t.nodes[id].kind == kindFile
}
