package isoimage

import (
	"fmt"
	"io"
	"slices"
)

// sectorAlloc hands out sectors for directories, path tables, the catalog,
// file data and the spill area.
type sectorAlloc interface {
	alloc(n int64) int64
}

// seqAlloc is the ISO maker's layout: everything one after the other.
type seqAlloc struct{ cur int64 }

func (s *seqAlloc) alloc(n int64) int64 {
	at := s.cur
	s.cur += n
	return at
}

// inplace is the state of one in-place layout while Finalize runs.
type inplace struct {
	base    *Base
	pin     []uint32 // by ID: kept LBA, 0 = not kept (LBA 0 is never a kept extent)
	kept    []span   // merged sectors of kept extents
	gaps    *gapAlloc
	descEnd int64
}

// newInplace finds the kept files among the files the layout writes (named
// and used, or boot images) and prepares first-fit allocation around them.
func (t *Tree) newInplace(im *Image, refs []bootEntryRef, descEnd int64) *inplace {
	ip := &inplace{base: t.base, pin: make([]uint32, len(im.nodes)), descEnd: descEnd}
	var spans []span
	keep := func(id ID) {
		if ip.pin[id] != 0 {
			return
		}
		lba, ok := t.pinnedLBA(id, descEnd)
		if !ok {
			return
		}
		ip.pin[id] = lba
		if n := sectorsFor(im.nodes[id].size); n > 0 {
			spans = append(spans, span{int64(lba), int64(lba) + n})
		}
	}
	for _, r := range refs {
		keep(r.entry.Image)
	}
	for id := range im.nodes {
		if n := &im.nodes[id]; n.kind == kindFile && n.flags&flagUsed != 0 {
			keep(ID(id))
		}
	}
	ip.kept = mergeSpans(spans)
	ip.gaps = newGapAlloc(descEnd, ip.kept)
	return ip
}

func (ip *inplace) alloc(n int64) int64 { return ip.gaps.alloc(n) }

// usedEnd is the end of the highest sector anything of the new image uses.
func (ip *inplace) usedEnd() int64 {
	end := max(ip.descEnd, ip.gaps.high)
	if k := len(ip.kept); k > 0 {
		end = max(end, ip.kept[k-1].end)
	}
	return end
}

// size decides the image size in sectors: at least the base (so the base's
// partition tables and anything past its volume stay addressable), with the
// padding after the last used sector, room for a regenerated backup GPT, and
// the base's 1 MiB alignment kept when it was an aligned isohybrid.
func (ip *inplace) size(pad bool, h *hybrid) int64 {
	used := ip.usedEnd()
	end := used
	if pad {
		end += padSectors
	}
	if h != nil && h.gpt != nil {
		end = max(end, used+h.gpt.reserveSectors())
	}
	baseSectors := sectorsFor(ip.base.Size)
	size := max(baseSectors, end)
	if h != nil && h.mbr && ip.base.Size%mib == 0 {
		size = (size + mib/sectorSize - 1) / (mib / sectorSize) * (mib / sectorSize)
	}
	return size
}

const mib = 1 << 20

// pinSources makes the boot images that stay in place read their bytes from
// the base too, so the boot info checksum covers exactly what is served.
func (ip *inplace) pinSources(im *Image, refs []bootEntryRef) {
	for _, r := range refs {
		id := r.entry.Image
		if lba := ip.pin[id]; lba != 0 {
			im.srcs[id] = io.NewSectionReader(ip.base.Source, int64(lba)*sectorSize, im.nodes[id].size)
		}
	}
}

// regions adds the kept runs (served from the base) and the added files
// (served from their sources), sorts all regions and checks that none
// overlap.
func (ip *inplace) regions(im *Image) error {
	im.base = ip.base
	for _, k := range ip.kept {
		im.regions = append(im.regions, region{start: k.start * sectorSize, end: k.end * sectorSize, kind: regBase})
	}
	for id, tbl := range im.patches {
		if lba := ip.pin[id]; lba != 0 {
			im.basePatches = append(im.basePatches, bootPatch{off: int64(lba)*sectorSize + 8, tbl: tbl})
		}
	}
	slices.SortFunc(im.basePatches, func(a, b bootPatch) int { return cmpInt64(a.off, b.off) })
	slices.SortFunc(im.order, func(a, b ID) int { return cmpInt64(int64(im.nodes[a].lba), int64(im.nodes[b].lba)) })
	// Added files that follow each other share one data region; readData
	// serves the sector tails between them as zeros.
	for _, id := range im.order {
		n := &im.nodes[id]
		start := int64(n.lba) * sectorSize
		if k := len(im.regions) - 1; k >= 0 && im.regions[k].kind == regData &&
			sectorsFor(im.regions[k].end)*sectorSize == start {
			im.regions[k].end = start + n.size
			continue
		}
		im.regions = append(im.regions, region{start: start, end: start + n.size, kind: regData})
	}
	slices.SortFunc(im.regions, func(a, b region) int { return cmpInt64(a.start, b.start) })
	for i := 1; i < len(im.regions); i++ {
		if a, b := &im.regions[i-1], &im.regions[i]; b.start < a.end {
			return fmt.Errorf("RTFsIsoMakerFinalize failed: in-place layout: bytes %d-%d overlap %d-%d: %w",
				a.start, a.end, b.start, b.end, ErrLayoutConflict)
		}
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
