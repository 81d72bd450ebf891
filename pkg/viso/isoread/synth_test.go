package isoread

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// Helpers that craft ISO 9660 structures byte by byte, for hostile inputs the
// mastering tools refuse to produce.

func both32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func both16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

// dirRec builds a directory record.
func dirRec(ident string, lba, size uint32, flags byte, sysUse []byte) []byte {
	n := 33 + len(ident)
	if len(ident)%2 == 0 {
		n++
	}
	n += len(sysUse)
	if n%2 == 1 {
		n++
	}
	r := make([]byte, n)
	r[0] = byte(n)
	both32(r[2:], lba)
	both32(r[10:], size)
	r[18], r[19], r[20] = 124, 1, 2 // 2024-01-02
	r[25] = flags
	both16(r[28:], 1)
	r[32] = byte(len(ident))
	copy(r[33:], ident)
	copy(r[33+len(ident)+boolInt(len(ident)%2 == 0):], sysUse)
	return r
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// image is a crafted medium of whole sectors.
type image struct{ b []byte }

func newImage(sectors int) *image { return &image{make([]byte, sectors*SectorSize)} }

func (im *image) sector(lba int) []byte { return im.b[lba*SectorSize : (lba+1)*SectorSize] }

// vd writes a PVD (typ 1) or Joliet SVD (typ 2) at lba whose root directory
// is (rootLBA, rootSize).
func (im *image) vd(lba int, typ byte, rootLBA, rootSize uint32) []byte {
	s := im.sector(lba)
	s[0] = typ
	copy(s[1:], "CD001")
	s[6] = 1
	copy(s[8:72], bytes.Repeat([]byte(" "), 64))
	copy(s[40:], "CRAFTED")
	both32(s[80:], uint32(len(im.b)/SectorSize))
	if typ == 2 {
		copy(s[88:], "%/E")
	}
	both16(s[120:], 1)
	both16(s[124:], 1)
	both16(s[128:], SectorSize)
	copy(s[156:], dirRec("\x00", rootLBA, rootSize, flagDir, nil))
	s[881] = 1
	return s
}

func (im *image) terminator(lba int) {
	s := im.sector(lba)
	s[0] = 255
	copy(s[1:], "CD001")
	s[6] = 1
}

// dir writes records into consecutive sectors from lba, moving to the next
// sector when a record does not fit, and returns the data length.
func (im *image) dir(lba int, recs ...[]byte) uint32 {
	off := 0
	for _, r := range recs {
		if off%SectorSize+len(r) > SectorSize {
			off = (off/SectorSize + 1) * SectorSize
		}
		copy(im.b[lba*SectorSize+off:], r)
		off += len(r)
	}
	return uint32(off)
}

// rootLBA is where basic puts the root directory, leaving LBA 17-23 for
// further volume descriptors.
const rootLBA = 24

// basic returns a medium with a PVD at 16, a terminator at 17 and a root
// directory at rootLBA holding "." (with sysUse), ".." and recs.
func basic(sectors int, rootSU []byte, recs ...[]byte) *image {
	im := newImage(sectors)
	all := append([][]byte{dirRec("\x00", rootLBA, SectorSize, flagDir, rootSU), dirRec("\x01", rootLBA, SectorSize, flagDir, nil)}, recs...)
	size := im.dir(rootLBA, all...)
	im.vd(16, 1, rootLBA, size)
	im.terminator(17)
	// The "." record must carry the real size too.
	copy(im.b[rootLBA*SectorSize:], dirRec("\x00", rootLBA, size, flagDir, rootSU))
	return im
}

// SUSP entry builders.
func susp(sig string, data ...byte) []byte {
	return append([]byte{sig[0], sig[1], byte(4 + len(data)), 1}, data...)
}

func spEntry() []byte { return susp("SP", 0xBE, 0xEF, 0) }

func ceEntry(lba, off, length uint32) []byte {
	d := make([]byte, 24)
	both32(d, lba)
	both32(d[8:], off)
	both32(d[16:], length)
	return susp("CE", d...)
}

func nmEntry(flags byte, name string) []byte { return susp("NM", append([]byte{flags}, name...)...) }

func pxEntry(mode, nlink, uid, gid uint32, serial bool) []byte {
	n := 32
	if serial {
		n = 40
	}
	d := make([]byte, n)
	both32(d, mode)
	both32(d[8:], nlink)
	both32(d[16:], uid)
	both32(d[24:], gid)
	if serial {
		both32(d[32:], 77)
	}
	return susp("PX", d...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func ucs2(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}
