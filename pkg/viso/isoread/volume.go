package isoread

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf16"
)

// SectorSize is the only logical block size the reader accepts.
const SectorSize = 2048

const (
	firstVDSector  = 16 // volume descriptors start after the 32 KiB system area
	maxDescriptors = 32 // descriptors read before giving up on a terminator
	systemAreaSize = firstVDSector * SectorSize
)

// Defaults for Options' bounds.
const (
	DefaultMaxEntries  = 4_000_000
	DefaultMaxDirBytes = 1 << 30
	DefaultMaxDepth    = 32
)

// Options tune Open. The zero value reads everything with the default bounds.
type Options struct {
	// NoJoliet ignores a Joliet supplementary descriptor.
	NoJoliet bool
	// NoRockRidge ignores SUSP/Rock Ridge data in the primary tree.
	NoRockRidge bool
	// MaxEntries bounds the entries of one tree (0: DefaultMaxEntries).
	MaxEntries int
	// MaxDirBytes bounds the summed directory extents of one tree
	// (0: DefaultMaxDirBytes).
	MaxDirBytes int64
	// MaxDepth bounds the directory depth, the root being depth 0
	// (0: DefaultMaxDepth, the importer's limit of spec §5.2).
	MaxDepth int
}

func (o Options) withDefaults() Options {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxDirBytes <= 0 {
		o.MaxDirBytes = DefaultMaxDirBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// VolumeInfo holds the identifier strings and numbers of the PVD or the
// Joliet SVD. Strings are trimmed of trailing spaces and NULs; primary strings
// are the raw bytes (they may be invalid UTF-8), Joliet strings are decoded
// from UTF-16BE.
type VolumeInfo struct {
	SystemID            string
	VolumeID            string
	VolumeSetID         string
	PublisherID         string
	PreparerID          string
	ApplicationID       string
	CopyrightFileID     string
	AbstractFileID      string
	BibliographicFileID string

	Created   time.Time // zero when unspecified
	Modified  time.Time
	Expires   time.Time
	Effective time.Time

	// SpaceSize is the volume space size in sectors as recorded.
	SpaceSize uint32
	// DescriptorLBA is the sector of the descriptor.
	DescriptorLBA uint32
	// Escape is the Joliet escape sequence ("%/@", "%/C", "%/E"); empty for the PVD.
	Escape string

	root          rawRecord // the root directory record
	pathTableSize uint32
	lTableLBA     uint32
	mTableLBA     uint32
}

// Volume is an opened ISO 9660 medium.
type Volume struct {
	r    io.ReaderAt
	size int64
	opts Options

	primary    VolumeInfo
	joliet     *VolumeInfo
	systemArea []byte
	catalogLBA uint32 // El Torito boot catalog, valid when hasBoot
	hasBoot    bool
	bootRecLBA uint32

	mu    sync.Mutex
	trees map[View]*Tree
	errs  map[View]error
}

// Open reads the volume descriptors of the medium r of size bytes (spec §5.1).
// Trees are read lazily by Primary, Joliet and Tree.
func Open(r io.ReaderAt, size int64, opts Options) (*Volume, error) {
	v := &Volume{r: r, size: size, opts: opts.withDefaults(), trees: map[View]*Tree{}, errs: map[View]error{}}
	if size < (firstVDSector+1)*SectorSize {
		return nil, fmt.Errorf("medium of %d bytes is too small for a volume descriptor at LBA 16: %w", size, ErrNotISO9660)
	}
	sa := make([]byte, systemAreaSize)
	if err := v.readFull(sa, 0); err != nil {
		return nil, fmt.Errorf("reading the system area: %w", err)
	}
	v.systemArea = sa
	if err := v.readDescriptors(); err != nil {
		return nil, err
	}
	return v, nil
}

// readFull reads exactly len(p) bytes at off, treating a short read as corruption.
func (v *Volume) readFull(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > v.size {
		return fmt.Errorf("bytes %d..%d lie past the end of the %d-byte medium: %w", off, off+int64(len(p)), v.size, ErrCorrupt)
	}
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at offset %d: %w", len(p), off, err)
}

var vdMagic = []byte("CD001")

func (v *Volume) readDescriptors() error {
	sec := make([]byte, SectorSize)
	pvdSeen, terminated := false, false
	for i := range maxDescriptors {
		lba := uint32(firstVDSector + i)
		if int64(lba+1)*SectorSize > v.size {
			break
		}
		if err := v.readFull(sec, int64(lba)*SectorSize); err != nil {
			return fmt.Errorf("volume descriptor at LBA %d: %w", lba, err)
		}
		if !bytes.Equal(sec[1:6], vdMagic) {
			if !pvdSeen && v.hasUDF() {
				return fmt.Errorf("volume descriptor at LBA %d: %w", lba, ErrUDFOnly)
			}
			return fmt.Errorf("volume descriptor at LBA %d: Invalid volume descriptor header: % x: %w", lba, sec[:8], ErrNotISO9660)
		}
		if i == 0 && sec[0] != 0 && sec[0] != 1 {
			// Spec §5.1: the first descriptor must be a PVD or a boot record.
			if v.hasUDF() {
				return fmt.Errorf("volume descriptor at LBA %d (type %d): %w", lba, sec[0], ErrUDFOnly)
			}
			return fmt.Errorf("volume descriptor at LBA %d: Invalid volume descriptor header: % x: %w", lba, sec[:8], ErrNotISO9660)
		}
		switch sec[0] {
		case 0:
			if err := v.parseBootRecord(sec, lba); err != nil {
				return err
			}
		case 1:
			if pvdSeen {
				return fmt.Errorf("primary volume descriptor at LBA %d: Only a single primary volume descriptor is currently supported: %w", lba, ErrUnsupported)
			}
			info, err := v.parseVD(sec, lba, false)
			if err != nil {
				return err
			}
			v.primary = info
			pvdSeen = true
		case 2:
			esc := jolietEscape(sec[88:120])
			if esc == "" || v.opts.NoJoliet {
				continue // another supplementary descriptor: not ours to read
			}
			if v.joliet != nil {
				return fmt.Errorf("supplementary volume descriptor at LBA %d: a second Joliet descriptor: %w", lba, ErrUnsupported)
			}
			info, err := v.parseVD(sec, lba, true)
			if err != nil {
				return err
			}
			info.Escape = esc
			v.joliet = &info
		case 255:
			terminated = true
		}
		if terminated {
			break
		}
	}
	if !pvdSeen {
		if v.hasUDF() {
			return ErrUDFOnly
		}
		return fmt.Errorf("no primary volume descriptor in LBA 16..%d: %w", firstVDSector+maxDescriptors-1, ErrNotISO9660)
	}
	if !terminated {
		return fmt.Errorf("no volume descriptor set terminator within %d descriptors from LBA 16: %w", maxDescriptors, ErrCorrupt)
	}
	return nil
}

// hasUDF reports whether a UDF volume recognition sequence (an NSR02/NSR03
// descriptor) lies in the sectors after LBA 16, so a PVD-less medium can be
// reported as UDF-only rather than as garbage.
func (v *Volume) hasUDF() bool {
	sec := make([]byte, 8)
	for i := range maxDescriptors {
		off := int64(firstVDSector+i) * SectorSize
		if v.readFull(sec, off) != nil {
			return false
		}
		id := string(sec[1:6])
		if id == "NSR02" || id == "NSR03" {
			return true
		}
	}
	return false
}

// jolietEscape returns the Joliet UCS-2 level escape at the start of the SVD's
// escape sequence field, or "" for other supplementary descriptors.
func jolietEscape(field []byte) string {
	for _, e := range []string{"%/@", "%/C", "%/E"} {
		if bytes.HasPrefix(field, []byte(e)) {
			return e
		}
	}
	return ""
}

const elToritoID = "EL TORITO SPECIFICATION"

func (v *Volume) parseBootRecord(sec []byte, lba uint32) error {
	if trimField(sec[7:39]) != elToritoID {
		return nil // some other boot system: ignored
	}
	if v.hasBoot {
		return fmt.Errorf("boot record at LBA %d: a second El Torito boot record: %w", lba, ErrBootCatalog)
	}
	v.hasBoot = true
	v.bootRecLBA = lba
	v.catalogLBA = le32(sec[0x47:])
	return nil
}

// parseVD decodes a PVD or Joliet SVD and checks the fields spec §5.1 names.
func (v *Volume) parseVD(sec []byte, lba uint32, joliet bool) (VolumeInfo, error) {
	what := "primary volume descriptor"
	if joliet {
		what = "Joliet volume descriptor"
	}
	str := func(b []byte) string {
		if joliet {
			return trimField([]byte(decodeUCS2(b)))
		}
		return trimField(b)
	}
	info := VolumeInfo{
		SystemID:            str(sec[8:40]),
		VolumeID:            str(sec[40:72]),
		SpaceSize:           le32(sec[80:]),
		VolumeSetID:         str(sec[190:318]),
		PublisherID:         str(sec[318:446]),
		PreparerID:          str(sec[446:574]),
		ApplicationID:       str(sec[574:702]),
		CopyrightFileID:     str(sec[702:739]),
		AbstractFileID:      str(sec[739:776]),
		BibliographicFileID: str(sec[776:813]),
		Created:             decTime(sec[813:830]),
		Modified:            decTime(sec[830:847]),
		Expires:             decTime(sec[847:864]),
		Effective:           decTime(sec[864:881]),
		DescriptorLBA:       lba,
		pathTableSize:       le32(sec[132:]),
		lTableLBA:           le32(sec[140:]),
		mTableLBA:           uint32(sec[148])<<24 | uint32(sec[149])<<16 | uint32(sec[150])<<8 | uint32(sec[151]),
	}
	if bs := le16(sec[128:]); bs != SectorSize {
		return info, fmt.Errorf("%s at LBA %d: logical block size %d, only 2048 is supported: %w", what, lba, bs, ErrUnsupported)
	}
	if n := le16(sec[120:]); n != 1 {
		return info, fmt.Errorf("%s at LBA %d: volume set size %d, only single-volume sets are supported: %w", what, lba, n, ErrUnsupported)
	}
	if n := le16(sec[124:]); n != 1 {
		return info, fmt.Errorf("%s at LBA %d: volume sequence number %d, expected 1: %w", what, lba, n, ErrUnsupported)
	}
	root := sec[156:190]
	rec, err := parseRecord(root)
	if err != nil {
		return info, fmt.Errorf("%s at LBA %d: root directory record: %w", what, lba, err)
	}
	if root[0] != 34 || !rec.isDir() || rec.ident != "\x00" || rec.size == 0 {
		return info, fmt.Errorf("%s at LBA %d: root directory record is not a 34-byte directory record named 0x00 with data: %w", what, lba, ErrCorrupt)
	}
	if err := v.checkExtent(rec.lba, rec.size); err != nil {
		return info, fmt.Errorf("%s at LBA %d: root directory: %w", what, lba, err)
	}
	info.root = rec
	return info, nil
}

// checkExtent fails when the byte range of an extent leaves the medium.
func (v *Volume) checkExtent(lba uint32, length uint64) error {
	if length == 0 {
		return nil
	}
	end := uint64(lba)*SectorSize + length
	if end > uint64(v.size) {
		return fmt.Errorf("extent at LBA %d of %d bytes ends past the end of the %d-byte medium: %w", lba, length, v.size, ErrCorrupt)
	}
	return nil
}

// decodeUCS2 decodes UTF-16BE (surrogate pairs allowed); an odd trailing
// byte is dropped and unpaired surrogates become U+FFFD.
func decodeUCS2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u))
}

// PrimaryInfo returns the primary volume descriptor's strings and times.
func (v *Volume) PrimaryInfo() VolumeInfo { return v.primary }

// JolietInfo returns the Joliet descriptor's strings, or nil without Joliet.
func (v *Volume) JolietInfo() *VolumeInfo { return v.joliet }

// HasJoliet reports whether a Joliet descriptor was recognised.
func (v *Volume) HasJoliet() bool { return v.joliet != nil }

// SystemArea returns sectors 0-15 (32 KiB) of the medium. The slice is shared;
// callers must not modify it.
func (v *Volume) SystemArea() []byte { return v.systemArea }

// Size returns the medium size given to Open.
func (v *Volume) Size() int64 { return v.size }
