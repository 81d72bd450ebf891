package isoimage

import (
	"encoding/binary"
	"fmt"
	"io"
)

// El Torito platform ids.
const (
	PlatformX86 uint8 = 0
	PlatformPPC uint8 = 1
	PlatformMac uint8 = 2
	PlatformEFI uint8 = 0xEF
)

// Emulation is an entry's media type; the zero value is the ISO maker's
// "auto" rule (spec §2.7), resolved from the image size at finalisation.
type Emulation uint8

const (
	EmulationAuto Emulation = iota
	EmulationNone
	EmulationFloppy12
	EmulationFloppy144
	EmulationFloppy288
	EmulationHardDisk
)

var emulationNames = [...]string{"auto", "none", "floppy-1.2M", "floppy-1.44M", "floppy-2.88M", "hard-disk"}

func (e Emulation) String() string {
	if int(e) < len(emulationNames) {
		return emulationNames[e]
	}
	return fmt.Sprintf("emulation(%d)", uint8(e))
}

// mediaByte is the catalog encoding (0 no emulation, 1-3 floppies, 4 hard disk).
func (e Emulation) mediaByte() byte { return byte(e) - 1 }

// resolveAuto applies the auto rule of spec §2.7.
func resolveAuto(size int64) Emulation {
	switch {
	case size == 1228800:
		return EmulationFloppy12
	case size <= 1474560:
		return EmulationFloppy144
	case size <= 2949120:
		return EmulationFloppy288
	}
	return EmulationHardDisk
}

// BootEntry is a default or section entry of the boot catalog.
type BootEntry struct {
	Image         ID // a file object of the tree
	NotBootable   bool
	Emulation     Emulation
	LoadSegment   uint16
	SystemType    uint8
	SectorCount   uint16
	Selection     [20]byte // bytes 12-31 of the entry: selection criteria type + criteria (zeros: none)
	BootInfoTable bool     // patch the 56-byte boot info table at read time
}

// BootSection is a section header with its entries.
type BootSection struct {
	Platform uint8
	ID       [28]byte
	Entries  []BootEntry
}

// BootCatalog describes the whole El Torito catalog.
type BootCatalog struct {
	Platform uint8    // validation entry platform
	ID       [24]byte // validation entry id string
	Default  *BootEntry
	Sections []BootSection
}

// maxCatalogEntries is the number of slots after the validation entry.
const maxCatalogEntries = 63

func (c *BootCatalog) slots() int {
	n := 1 // validation entry
	if c.Default != nil {
		n++
	}
	for _, s := range c.Sections {
		n += 1 + len(s.Entries)
	}
	return n
}

// catalogSize is (used slots + 1) × 32 (spec §4.10): the extra slot holds the
// 0x91 terminator header when there are no sections, and stays zero otherwise
// (the last section's own header is then 0x91).
func (c *BootCatalog) catalogSize() int64 {
	return int64(c.slots()+1) * 32
}

// SetBootCatalog sets (replaces) the boot catalog description. The catalog
// file is hidden unless NameBootCatalog gives it names.
func (t *Tree) SetBootCatalog(c BootCatalog) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	if c.slots()-1 > maxCatalogEntries {
		return ErrTooManyBootEntries
	}
	if c.Default != nil {
		d := *c.Default
		c.Default = &d
	}
	secs := make([]BootSection, len(c.Sections))
	for i, s := range c.Sections {
		secs[i] = s
		secs[i].Entries = append([]BootEntry(nil), s.Entries...)
	}
	c.Sections = secs
	t.boot = &c
	if t.catalog == 0 {
		t.catalog = t.newNode(node{kind: kindCatalog, mode: 0o444}, nil)
	}
	return nil
}

// NameBootCatalog makes the boot catalog visible under names (-c). It may be
// called before SetBootCatalog; a catalog without a default entry fails at
// finalisation (ErrNoDefaultEntry).
func (t *Tree) NameBootCatalog(names Names) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	if t.catalog == 0 {
		id, err := t.add(names, node{kind: kindCatalog, mode: 0o444}, nil, "boot catalog")
		if err != nil {
			return err
		}
		t.catalog = id
		return nil
	}
	for _, step := range []struct {
		ns   Namespaces
		path string
	}{{Primary, names.Primary}, {Joliet, names.Joliet}} {
		if step.path == "" || t.nodes[t.catalog].flags&flagOf(step.ns) != 0 {
			continue
		}
		if err := t.nameIn(step.ns, step.path, t.catalog, names.ISOName); err != nil {
			return &NameError{Path: step.path, Source: "boot catalog", Err: err}
		}
	}
	return nil
}

func flagOf(ns Namespaces) uint8 {
	if ns == Joliet {
		return flagJoliet
	}
	return flagPrimary
}

// bootEntryRef is a resolved entry: where it sits and what it boots.
type bootEntryRef struct {
	entry    BootEntry
	platform uint8
	media    Emulation
}

// checkBoot validates the catalog at finalisation and resolves auto media.
func (t *Tree) checkBoot() ([]bootEntryRef, error) {
	if t.catalog == 0 {
		return nil, nil
	}
	c := t.boot
	if c == nil || c.Default == nil {
		return nil, ErrNoDefaultEntry
	}
	var refs []bootEntryRef
	add := func(e BootEntry, platform uint8, num int) error {
		if e.Image == RootID {
			return fmt.Errorf("no image name given for boot catalog entry #%d: %w", num, ErrNoBootImage)
		}
		if int(e.Image) >= len(t.nodes) || !t.alive(e.Image) || t.nodes[e.Image].kind != kindFile {
			return fmt.Errorf("unable to locate image for boot catalog entry #%d: %w", num, ErrBootImageMissing)
		}
		m := e.Emulation
		if m == EmulationAuto {
			m = resolveAuto(t.nodes[e.Image].size)
		}
		if m > EmulationHardDisk {
			return fmt.Errorf("boot catalog entry #%d: emulation %d: %w", num, m, ErrInvalidParameter)
		}
		refs = append(refs, bootEntryRef{entry: e, platform: platform, media: m})
		return nil
	}
	if err := add(*c.Default, c.Platform, 1); err != nil {
		return nil, err
	}
	num := 2
	for _, s := range c.Sections {
		num++ // the header slot
		for _, e := range s.Entries {
			if err := add(e, s.Platform, num); err != nil {
				return nil, err
			}
			num++
		}
	}
	return refs, nil
}

func putBootEntry(b []byte, r bootEntryRef, lba uint32) {
	if !r.entry.NotBootable {
		b[0] = 0x88
	}
	b[1] = r.media.mediaByte()
	binary.LittleEndian.PutUint16(b[2:], r.entry.LoadSegment)
	b[4] = r.entry.SystemType
	binary.LittleEndian.PutUint16(b[6:], r.entry.SectorCount)
	binary.LittleEndian.PutUint32(b[8:], lba)
	copy(b[12:32], r.entry.Selection[:])
}

// renderCatalog produces the catalog file; lbas holds the image LBA per ref.
func renderCatalog(c *BootCatalog, refs []bootEntryRef, lbaOf func(ID) uint32) []byte {
	out := make([]byte, c.catalogSize())
	v := out[:32]
	v[0] = 1
	v[1] = c.Platform
	copy(v[4:28], c.ID[:])
	v[30], v[31] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	binary.LittleEndian.PutUint16(v[28:], -sum)
	putBootEntry(out[32:64], refs[0], lbaOf(refs[0].entry.Image))
	off, ri := 64, 1
	if len(c.Sections) == 0 {
		out[off] = 0x91 // terminator header: platform x86, no entries
		return out
	}
	for i, s := range c.Sections {
		h := out[off : off+32]
		h[0] = 0x90
		if i == len(c.Sections)-1 {
			h[0] = 0x91
		}
		h[1] = s.Platform
		binary.LittleEndian.PutUint16(h[2:], uint16(len(s.Entries)))
		copy(h[4:32], s.ID[:])
		off += 32
		for range s.Entries {
			putBootEntry(out[off:off+32], refs[ri], lbaOf(refs[ri].entry.Image))
			ri++
			off += 32
		}
	}
	return out
}

// bootInfoChecksum sums the little-endian 32-bit words of src from byte 64 to
// size (a partial last word is zero-padded).
func bootInfoChecksum(src Source, size int64) (uint32, error) {
	if size <= 64 {
		return 0, nil
	}
	var sum uint32
	buf := make([]byte, 256<<10)
	for off := int64(64); off < size; {
		n := int(min(int64(len(buf)), size-off))
		got, err := src.ReadAt(buf[:n], off)
		if got < n {
			if err == nil || err == io.EOF {
				err = ErrSourceShrank
			}
			return 0, fmt.Errorf("computing boot info table checksum at offset %d: %w", off, err)
		}
		chunk := buf[:n]
		for len(chunk) >= 4 {
			sum += binary.LittleEndian.Uint32(chunk)
			chunk = chunk[4:]
		}
		if len(chunk) > 0 {
			var w [4]byte
			copy(w[:], chunk)
			sum += binary.LittleEndian.Uint32(w[:])
		}
		off += int64(n)
	}
	return sum, nil
}

// bootInfoTable is the 56 bytes patched over bytes 8-63 of a boot image.
func bootInfoTable(lba uint32, size int64, sum uint32) [56]byte {
	var b [56]byte
	binary.LittleEndian.PutUint32(b[0:], pvdLBA)
	binary.LittleEndian.PutUint32(b[4:], lba)
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
	binary.LittleEndian.PutUint32(b[12:], sum)
	return b
}
