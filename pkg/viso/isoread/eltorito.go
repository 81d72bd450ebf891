package isoread

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// El Torito catalog entry header ids and boot indicators.
const (
	catValidation    = 0x01
	catSectionHeader = 0x90
	catFinalHeader   = 0x91
	catBootable      = 0x88
	catNotBootable   = 0x00
	catExtension     = 0x44
	catSlotSize      = 32
	catSlots         = SectorSize / catSlotSize
)

// Emulation media types (low nibble of an entry's media type byte).
const (
	MediaNoEmulation = 0
	MediaFloppy12    = 1
	MediaFloppy144   = 2
	MediaFloppy288   = 3
	MediaHardDisk    = 4
)

// maxChecksumBytes bounds the data read to verify a boot-info-table checksum;
// boot loaders that use the table are a few tens of KiB.
const maxChecksumBytes = 64 << 20

// BootCatalog is the El Torito boot catalog of a medium.
type BootCatalog struct {
	// BootRecordLBA is the sector of the El Torito boot record descriptor.
	BootRecordLBA uint32
	// LBA is the catalog's sector.
	LBA uint32
	// File is the primary-tree file starting at LBA (the visible catalog,
	// e.g. isolinux/boot.cat), or nil for a hidden catalog.
	File *Entry
	// PlatformID and IDString come from the validation entry.
	PlatformID uint8
	IDString   [24]byte
	// Default is the initial/default entry (slot 1).
	Default *BootEntry
	// Sections are the section headers (0x90, and the final 0x91) with
	// their entries, all of them imported.
	Sections []BootSection
}

// BootSection is a section header with its entries.
type BootSection struct {
	Slot       int
	HeaderID   uint8 // 0x90, or 0x91 for the final section
	PlatformID uint8 // 0 x86, 1 PowerPC, 2 Mac, 0xEF EFI
	IDString   [28]byte
	Count      uint16 // entries the header declares
	Entries    []*BootEntry
}

// BootEntry is the default entry or a section entry.
type BootEntry struct {
	Slot          int
	BootIndicator uint8 // 0x88 bootable, 0x00 not bootable
	MediaType     uint8 // raw byte; Emulation() gives the type
	LoadSegment   uint16
	SystemType    uint8
	SectorCount   uint16
	LBA           uint32
	// SelectionType and Selection are a section entry's selection criteria
	// (type byte and the 19 vendor bytes); Extensions are the raw 32-byte
	// 0x44 extension entries that follow it.
	SelectionType uint8
	Selection     []byte
	Extensions    [][]byte

	// File is the primary-tree file starting at LBA, or nil.
	File *Entry
	// ImageSize is File's size, else the rule of spec §5.3 item 4: the
	// emulated floppy size, or the distance to the next known extent, or to
	// the end of the medium.
	ImageSize int64
	// BootInfo is the boot-info table found in bytes 8-63, or nil.
	BootInfo *BootInfoTable
}

// Emulation returns the media type without its flag bits.
func (e *BootEntry) Emulation() uint8 { return e.MediaType & 0x0F }

// Bootable reports a 0x88 boot indicator.
func (e *BootEntry) Bootable() bool { return e.BootIndicator == catBootable }

// BootInfoTable is a boot-info table found in a boot image (spec §4.10, §5.3
// item 5): the PVD LBA and the image LBA match and bytes 24-63 are zero.
type BootInfoTable struct {
	PVDLBA   uint32
	FileLBA  uint32
	Length   uint32
	Checksum uint32
	// LengthMatches: Length equals the image size.
	LengthMatches bool
	// ChecksumVerified: the checksum was computed (Length fits the medium
	// and maxChecksumBytes); ChecksumMatches: it equals Checksum.
	ChecksumVerified bool
	ChecksumMatches  bool
}

// HasBootCatalog reports whether the medium has an El Torito boot record.
func (v *Volume) HasBootCatalog() bool { return v.hasBoot }

// BootCatalog reads the El Torito catalog; (nil, nil) without a boot record.
// Boot images are matched against the primary tree, so its errors surface here.
func (v *Volume) BootCatalog() (*BootCatalog, error) {
	if !v.hasBoot {
		return nil, nil
	}
	cat, err := v.readCatalog()
	if err != nil {
		return nil, fmt.Errorf("boot catalog (El Torito) at LBA %d: %w", v.catalogLBA, err)
	}
	return cat, nil
}

func (v *Volume) readCatalog() (*BootCatalog, error) {
	cat := &BootCatalog{BootRecordLBA: v.bootRecLBA, LBA: v.catalogLBA}
	sec := make([]byte, SectorSize)
	if err := v.checkExtent(cat.LBA, SectorSize); err != nil {
		return nil, err
	}
	if err := v.readFull(sec, int64(cat.LBA)*SectorSize); err != nil {
		return nil, err
	}
	val := sec[:catSlotSize]
	var sum uint16
	for i := 0; i < catSlotSize; i += 2 {
		sum += binary.LittleEndian.Uint16(val[i:])
	}
	if val[0] != catValidation || val[30] != 0x55 || val[31] != 0xAA || sum != 0 {
		//lint:ignore ST1005 the importer's message text (spec §5.3)
		return nil, fmt.Errorf("Invalid boot catalog validation entry: header id %#02x, key %02x %02x, checksum sum %#04x: %w", val[0], val[30], val[31], sum, ErrBootCatalog)
	}
	cat.PlatformID = val[1]
	copy(cat.IDString[:], val[4:28])

	slot := func(i int) []byte { return sec[i*catSlotSize : (i+1)*catSlotSize] }
	def, err := parseBootEntry(slot(1), 1, false)
	if err != nil {
		return nil, err
	}
	cat.Default = def

	var cur *BootSection
	done := false
	for i := 2; i < catSlots && !done; i++ {
		s := slot(i)
		switch {
		case allZero(s):
			done = true // an empty slot ends the catalog
		case s[0] == catSectionHeader || s[0] == catFinalHeader:
			cat.Sections = append(cat.Sections, BootSection{Slot: i, HeaderID: s[0], PlatformID: s[1], Count: le16(s[2:])})
			cur = &cat.Sections[len(cat.Sections)-1]
			copy(cur.IDString[:], s[4:32])
			done = cur.HeaderID == catFinalHeader && cur.Count == 0
		case s[0] == catBootable || s[0] == catNotBootable:
			if cur == nil {
				return nil, fmt.Errorf("slot %d: section entry without a section header: %w", i, ErrBootCatalog)
			}
			e, err := parseBootEntry(s, i, true)
			if err != nil {
				return nil, err
			}
			for i+1 < catSlots && slot(i + 1)[0] == catExtension {
				i++
				e.Extensions = append(e.Extensions, slices.Clone(slot(i)))
			}
			cur.Entries = append(cur.Entries, e)
			done = cur.HeaderID == catFinalHeader && len(cur.Entries) >= int(cur.Count)
		default:
			return nil, fmt.Errorf("slot %d: unknown catalog entry type %#02x: %w", i, s[0], ErrBootCatalog)
		}
	}
	if !done {
		//lint:ignore ST1005 the importer's message text (spec §5.3)
		return nil, fmt.Errorf("Boot catalog is probably larger than a sector, or it's missing the final section header entry: %w", ErrBootCatalog)
	}
	if err := v.resolveImages(cat); err != nil {
		return nil, err
	}
	return cat, nil
}

func parseBootEntry(s []byte, slot int, section bool) (*BootEntry, error) {
	if s[0] != catBootable && s[0] != catNotBootable {
		return nil, fmt.Errorf("slot %d: boot indicator %#02x is neither 0x88 nor 0x00: %w", slot, s[0], ErrBootCatalog)
	}
	e := &BootEntry{Slot: slot, BootIndicator: s[0], MediaType: s[1], LoadSegment: le16(s[2:]),
		SystemType: s[4], SectorCount: le16(s[6:]), LBA: le32(s[8:])}
	if section {
		e.SelectionType = s[12]
		e.Selection = slices.Clone(s[13:32])
	}
	return e, nil
}

// Entries returns the default entry followed by every section entry.
func (c *BootCatalog) Entries() []*BootEntry {
	all := []*BootEntry{c.Default}
	for _, s := range c.Sections {
		all = append(all, s.Entries...)
	}
	return all
}

// resolveImages matches each entry's image to a primary-tree file, sizes the
// unmatched ones and detects boot-info tables.
func (v *Volume) resolveImages(cat *BootCatalog) error {
	prim, err := v.Primary()
	if err != nil {
		return err
	}
	cat.File = prim.FileAt(cat.LBA)
	var starts []uint32 // sorted extent starts, built only when needed
	for _, e := range cat.Entries() {
		if e.File = prim.FileAt(e.LBA); e.File != nil {
			e.ImageSize = int64(e.File.Size)
		} else {
			if starts == nil {
				if starts, err = v.knownStarts(cat); err != nil {
					return err
				}
			}
			e.ImageSize = v.hiddenImageSize(e, starts)
		}
		if err := v.detectBootInfo(e); err != nil {
			return fmt.Errorf("boot image of slot %d at LBA %d: %w", e.Slot, e.LBA, err)
		}
	}
	return nil
}

// hiddenImageSize applies spec §5.3 item 4 to an image no file starts at.
func (v *Volume) hiddenImageSize(e *BootEntry, starts []uint32) int64 {
	switch e.Emulation() {
	case MediaFloppy12:
		return 1_228_800
	case MediaFloppy144:
		return 1_474_560
	case MediaFloppy288:
		return 2_949_120
	}
	start := int64(e.LBA) * SectorSize
	if start >= v.size {
		return 0
	}
	i, _ := slices.BinarySearch(starts, e.LBA+1)
	if i < len(starts) {
		return int64(starts[i])*SectorSize - start
	}
	return v.size - start
}

// knownStarts collects the start LBAs of every known structure: file and
// directory extents of the trees read, path tables and the catalog.
func (v *Volume) knownStarts(cat *BootCatalog) ([]uint32, error) {
	starts := []uint32{cat.LBA, v.primary.lTableLBA, v.primary.mTableLBA}
	prim, err := v.Primary()
	if err != nil {
		return nil, err
	}
	trees := []*Tree{prim}
	if v.joliet != nil {
		starts = append(starts, v.joliet.lTableLBA, v.joliet.mTableLBA)
		jol, err := v.Joliet()
		if err != nil {
			return nil, err
		}
		trees = append(trees, jol)
	}
	for _, t := range trees {
		_ = t.Walk(func(_ string, e *Entry) error {
			for _, x := range e.Extents {
				if x.Length > 0 {
					starts = append(starts, x.LBA)
				}
			}
			return nil
		})
	}
	slices.Sort(starts)
	return slices.Compact(starts), nil
}

// detectBootInfo looks for a boot-info table in bytes 8-63 of the image
// (spec §5.3 item 5) and verifies its checksum when affordable.
func (v *Volume) detectBootInfo(e *BootEntry) error {
	start := int64(e.LBA) * SectorSize
	if e.ImageSize < 64 || start+64 > v.size {
		return nil
	}
	head := make([]byte, 64)
	if err := v.readFull(head, start); err != nil {
		return err
	}
	if le32(head[8:]) != v.primary.DescriptorLBA || le32(head[12:]) != e.LBA || !allZero(head[24:64]) {
		return nil
	}
	bi := &BootInfoTable{PVDLBA: le32(head[8:]), FileLBA: e.LBA, Length: le32(head[16:]), Checksum: le32(head[20:])}
	bi.LengthMatches = int64(bi.Length) == e.ImageSize
	e.BootInfo = bi
	if bi.Length < 64 || bi.Length > maxChecksumBytes || start+int64(bi.Length) > v.size {
		return nil
	}
	sum, err := bootInfoChecksum(io.NewSectionReader(v.r, start+64, int64(bi.Length)-64))
	if err != nil {
		return err
	}
	bi.ChecksumVerified = true
	bi.ChecksumMatches = sum == bi.Checksum
	return nil
}

// bootInfoChecksum sums little-endian 32-bit words, a partial last word
// zero-padded (spec §4.10).
func bootInfoChecksum(r io.Reader) (uint32, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var sum uint32
	var w [4]byte
	for {
		n, err := io.ReadFull(br, w[:])
		if n > 0 {
			clear(w[n:])
			sum += binary.LittleEndian.Uint32(w[:])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return sum, nil
		}
		if err != nil {
			return 0, fmt.Errorf("computing the boot-info-table checksum: %w", err)
		}
	}
}
