package isoread

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// maxPathTableSize bounds a path table; 64 KiB directories' worth of records
// is far beyond real media, and the table is only a cross-check.
const maxPathTableSize = 64 << 20

// CheckPathTables cross-checks the type-L and type-M path tables of the
// primary (and Joliet) descriptor against the directory trees: the same
// directories in breadth-first directory order with the same extents,
// parent numbers and identifiers. Lookups never use the path tables.
func (v *Volume) CheckPathTables() error {
	prim, err := v.Primary()
	if err != nil {
		return err
	}
	if err := v.checkTables(&v.primary, prim, "primary"); err != nil {
		return err
	}
	if v.joliet != nil {
		jol, err := v.Joliet()
		if err != nil {
			return err
		}
		return v.checkTables(v.joliet, jol, "Joliet")
	}
	return nil
}

// ptDir is a directory in path-table order.
type ptDir struct {
	lba    uint32
	parent uint16
	ident  string
}

func (v *Volume) checkTables(info *VolumeInfo, t *Tree, what string) error {
	want := pathTableOrder(t)
	if len(want) > 0xFFFF {
		return fmt.Errorf("%s path table: %d directories exceed the 65535 a path table can number: %w", what, len(want), ErrLimit)
	}
	if err := v.checkTable(info, want, info.lTableLBA, binary.LittleEndian, what+" type-L path table"); err != nil {
		return err
	}
	if info.mTableLBA != 0 {
		return v.checkTable(info, want, info.mTableLBA, binary.BigEndian, what+" type-M path table")
	}
	return nil
}

// pathTableOrder lists the tree's directories breadth-first, children in
// directory order: the ECMA-119 path table order for a sorted directory.
func pathTableOrder(t *Tree) []ptDir {
	type item struct {
		e      *Entry
		parent uint16
	}
	out := []ptDir{}
	queue := []item{{t.Root, 1}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		id := "\x00"
		if it.e.Parent != nil {
			id = it.e.Ident
		}
		out = append(out, ptDir{lba: it.e.LBA(), parent: it.parent, ident: id})
		num := uint16(len(out))
		for _, c := range it.e.children {
			if c.IsDir() {
				queue = append(queue, item{c, num})
			}
		}
	}
	return out
}

func (v *Volume) checkTable(info *VolumeInfo, want []ptDir, lba uint32, order binary.ByteOrder, what string) error {
	size := info.pathTableSize
	where := fmt.Sprintf("%s at LBA %d", what, lba)
	if size > maxPathTableSize {
		return fmt.Errorf("%s: size %d exceeds %d: %w", where, size, maxPathTableSize, ErrLimit)
	}
	if err := v.checkExtent(lba, uint64(size)); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	r := bufio.NewReader(io.NewSectionReader(v.r, int64(lba)*SectorSize, int64(size)))
	var hdr [8]byte
	name := make([]byte, 256)
	for i, w := range want {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("%s: record %d of %d: %v: %w", where, i+1, len(want), err, ErrCorrupt)
		}
		n := int(hdr[0])
		if n == 0 {
			return fmt.Errorf("%s: record %d has an empty identifier: %w", where, i+1, ErrCorrupt)
		}
		padded := n + n%2
		if _, err := io.ReadFull(r, name[:padded]); err != nil {
			return fmt.Errorf("%s: record %d identifier: %v: %w", where, i+1, err, ErrCorrupt)
		}
		got := ptDir{lba: order.Uint32(hdr[2:]) + uint32(hdr[1]), parent: order.Uint16(hdr[6:]), ident: string(name[:n])}
		if info.Escape != "" && i > 0 {
			got.ident = decodeUCS2(name[:n])
		}
		if got != w {
			return fmt.Errorf("%s: record %d is (LBA %d, parent %d, %q), the directory tree has (LBA %d, parent %d, %q): %w",
				where, i+1, got.lba, got.parent, got.ident, w.lba, w.parent, w.ident, ErrCorrupt)
		}
	}
	if extra, _ := r.Peek(1); len(extra) > 0 {
		return fmt.Errorf("%s: more records than the %d directories of the tree: %w", where, len(want), ErrCorrupt)
	}
	return nil
}
