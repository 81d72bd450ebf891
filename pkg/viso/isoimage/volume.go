package isoimage

import (
	"encoding/binary"
	"fmt"
	"time"
)

const (
	sectorSize     = 2048
	systemAreaSize = 16 * sectorSize
	pvdLBA         = 16
)

// VolumeField names one of the volume descriptor strings of spec §2.8.
type VolumeField int

const (
	VolumeID VolumeField = iota
	VolumeSetID
	PublisherID
	PreparerID
	ApplicationID
	SystemID
	CopyrightFileID
	AbstractFileID
	BibliographicFileID
	numVolumeFields
)

// volField gives each string's offset and size in a volume descriptor.
var volField = [numVolumeFields]struct{ off, size int }{
	VolumeID:            {40, 32},
	VolumeSetID:         {190, 128},
	PublisherID:         {318, 128},
	PreparerID:          {446, 128},
	ApplicationID:       {574, 128},
	SystemID:            {8, 32},
	CopyrightFileID:     {702, 37},
	AbstractFileID:      {739, 37},
	BibliographicFileID: {776, 37},
}

// volStrings holds the values set by the executor; "" means unset (default).
type volStrings [numVolumeFields]string

// SetVolumeString sets a volume descriptor string in the given namespaces. An
// empty value resets the field to its default. Values are stored verbatim and
// cut when written.
func (t *Tree) SetVolumeString(ns Namespaces, f VolumeField, value string) error {
	if err := t.checkMutable(); err != nil {
		return err
	}
	if f < 0 || f >= numVolumeFields {
		return fmt.Errorf("volume string %d: %w", f, ErrInvalidParameter)
	}
	if ns&Primary != 0 {
		t.vol[0][f] = value
	}
	if ns&Joliet != 0 {
		t.vol[1][f] = value
	}
	return nil
}

// defaultVolumeID is the epoch as YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ (30 chars).
func defaultVolumeID(epoch time.Time) string {
	return epoch.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// effective returns the string written for field f of namespace ns (0 primary, 1 Joliet).
func (t *Tree) effective(ns int, f VolumeField) string {
	if v := t.vol[ns][f]; v != "" {
		return v
	}
	switch f {
	case VolumeID:
		return defaultVolumeID(t.cfg.Epoch)
	case ApplicationID:
		return t.cfg.ApplicationID
	case SystemID:
		if ns == 0 {
			return t.cfg.SystemID
		}
	}
	return ""
}

// putPrimaryString writes raw bytes cut at the field size, space padded.
func putPrimaryString(dst []byte, s string) {
	n := copy(dst, s)
	for i := n; i < len(dst); i++ {
		dst[i] = ' '
	}
}

// putJolietString writes UTF-16BE cut to half the field in code units, padded
// with U+0020; a value longer than 255 units is written blank (spec §2.8).
func putJolietString(dst []byte, s string) {
	var enc []byte
	if utf16Len(s) <= 255 {
		enc = appendUTF16BE(nil, s)
	}
	units := len(dst) / 2
	if len(enc) > units*2 {
		enc = enc[:units*2]
		// Do not leave half of a surrogate pair at the end.
		if hi := uint16(enc[len(enc)-2])<<8 | uint16(enc[len(enc)-1]); hi >= 0xD800 && hi < 0xDC00 {
			enc = enc[:len(enc)-2]
		}
	}
	copy(dst, enc)
	for i := len(enc); i+1 < len(dst); i += 2 {
		dst[i], dst[i+1] = 0x00, 0x20
	}
}

// longTime is the 17-byte volume descriptor date of spec §4.2.
func longTime(tm time.Time) [17]byte {
	var b [17]byte
	u := tm.UTC()
	s := fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", u.Year()%10000, int(u.Month()), u.Day(),
		u.Hour(), u.Minute(), u.Second(), u.Nanosecond()/10_000_000)
	copy(b[:16], s)
	return b
}

func unsetLongTime() [17]byte {
	var b [17]byte
	copy(b[:16], "0000000000000000")
	return b
}

func put16Both(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

func put32Both(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

// vdParams are the layout facts a volume descriptor needs.
type vdParams struct {
	joliet       bool
	jolietLevel  int
	volumeBlocks uint32
	pathTableLen uint32
	lTable       uint32
	mTable       uint32
	root         [34]byte
}

func (t *Tree) renderVD(p vdParams) []byte {
	b := make([]byte, sectorSize)
	ns := 0
	b[0] = 1
	if p.joliet {
		ns, b[0] = 1, 2
	}
	copy(b[1:6], "CD001")
	b[6] = 1
	for f := VolumeField(0); f < numVolumeFields; f++ {
		fld := volField[f]
		v := t.effective(ns, f)
		if p.joliet {
			if f == VolumeID && t.vol[1][f] == "" {
				v = v[:min(len(v), 16)]
			}
			putJolietString(b[fld.off:fld.off+fld.size], v)
		} else {
			putPrimaryString(b[fld.off:fld.off+fld.size], v)
		}
	}
	put32Both(b[80:], p.volumeBlocks)
	if p.joliet {
		esc := [...]string{1: "%/@", 2: "%/C", 3: "%/E"}[p.jolietLevel]
		copy(b[88:120], esc)
	}
	put16Both(b[120:], 1)
	put16Both(b[124:], 1)
	put16Both(b[128:], sectorSize)
	put32Both(b[132:], p.pathTableLen)
	binary.LittleEndian.PutUint32(b[140:], p.lTable)
	binary.BigEndian.PutUint32(b[148:], p.mTable)
	copy(b[156:190], p.root[:])
	ct := longTime(t.cfg.Epoch)
	un := unsetLongTime()
	copy(b[813:], ct[:])
	copy(b[830:], ct[:])
	copy(b[847:], un[:])
	copy(b[864:], un[:])
	b[881] = 1
	return b
}

func renderBootRecord(catalogLBA uint32) []byte {
	b := make([]byte, sectorSize)
	copy(b[1:6], "CD001")
	b[6] = 1
	copy(b[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(b[0x47:], catalogLBA)
	return b
}

func renderTerminator() []byte {
	b := make([]byte, sectorSize)
	b[0] = 255
	copy(b[1:6], "CD001")
	b[6] = 1
	return b
}
