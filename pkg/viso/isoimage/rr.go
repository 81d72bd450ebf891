package isoimage

import (
	"encoding/binary"
	"slices"
	"strings"
)

// Rock Ridge / SUSP entries of the primary namespace (spec §4.7).

// recKind says which record a directory record is: an object's own record or
// the "." / ".." copies inside a directory.
type recKind uint8

const (
	recSelf recKind = iota
	recDot
	recDotDot
)

const (
	lenSP = 7
	lenRR = 5
	lenPX = 44
	lenTF = 33
	lenCE = 28
	lenPN = 20
	lenER = 8 + len(erID) + len(erDesc) + len(erSrc)
	// nmPiece is the largest name piece per NM entry.
	nmPiece = 250

	erID   = "RRIP_1991A"
	erDesc = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	erSrc  = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."
)

// POSIX file type bits for PX.
const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// suPlan says which entries a record carries; it is derived purely from the
// object and the record kind so layout and rendering agree.
type suPlan struct {
	sp, er, rr, pn bool
	nm, sl         int // total bytes of the NM / SL entries
	full           int // bytes of every entry when nothing spills
}

func (im *Image) plan(s ID, k recKind) suPlan {
	var p suPlan
	if im.rrLevel == 0 {
		return p
	}
	n := &im.nodes[s]
	p.sp = s == RootID && k == recDot // only the root's own "." (SUSP requires it first)
	p.er = s == RootID && k == recDot && im.rrLevel == 2
	p.rr = im.rrLevel == 2
	if s != RootID {
		l := int(n.nameRef.n)
		p.nm = 5 + l
		if l > nmPiece {
			p.nm = 5*((l+nmPiece-1)/nmPiece) + l
		}
	}
	if n.kind == kindSymlink && k == recSelf {
		p.sl = len(appendSL(nil, im.links[n.aux]))
	}
	if n.kind == kindSpecial && im.specials[n.aux].typ <= BlockDevice {
		p.pn = true
	}
	p.full = lenPX + lenTF + p.nm + p.sl
	if p.pn {
		p.full += lenPN
	}
	if p.sp {
		p.full += lenSP
	}
	if p.er {
		p.full += lenER
	}
	if p.rr {
		p.full += lenRR
	}
	return p
}

// spills reports whether the record's entries go to the spill area. baseLen is
// 33 + identifier length + pad byte.
func (p suPlan) spills(baseLen int) bool {
	return p.er || baseLen+p.full >= 255
}

// inlineLen is the number of system-use bytes kept in the record.
func (p suPlan) inlineLen(baseLen int) int {
	if !p.spills(baseLen) {
		return p.full
	}
	n := lenCE
	if p.sp {
		n += lenSP
	}
	if p.rr && !p.er {
		n += lenRR
	}
	return n
}

// spillLen is the number of bytes placed in the spill area.
func (p suPlan) spillLen(baseLen int) int {
	if !p.spills(baseLen) {
		return 0
	}
	return p.full + lenCE - p.inlineLen(baseLen)
}

func (im *Image) rrFlags(s ID, k recKind) byte {
	f := byte(0x01 | 0x80) // PX, TF
	if s != RootID {
		f |= 0x08
	}
	if im.nodes[s].kind == kindSymlink && k == recSelf {
		f |= 0x04
	}
	if n := &im.nodes[s]; n.kind == kindSpecial && im.specials[n.aux].typ <= BlockDevice {
		f |= 0x02
	}
	return f
}

func appendSP(b []byte) []byte { return append(b, 'S', 'P', lenSP, 1, 0xBE, 0xEF, 0) }

func appendRR(b []byte, flags byte) []byte { return append(b, 'R', 'R', lenRR, 1, flags) }

func appendER(b []byte) []byte {
	b = append(b, 'E', 'R', byte(lenER), 1, byte(len(erID)), byte(len(erDesc)), byte(len(erSrc)), 1)
	b = append(b, erID...)
	b = append(b, erDesc...)
	return append(b, erSrc...)
}

func appendBoth32(b []byte, v uint32) []byte {
	b = binary.LittleEndian.AppendUint32(b, v)
	return binary.BigEndian.AppendUint32(b, v)
}

func (im *Image) appendPX(b []byte, s ID) []byte {
	n := &im.nodes[s]
	mode, links := n.mode, uint32(1)
	switch n.kind {
	case kindDir:
		mode |= sIFDIR
		links = im.pdir[n.aux].subdirs + 2
	case kindSymlink:
		mode |= sIFLNK
	case kindSpecial:
		mode |= specialModes[im.specials[n.aux].typ]
	default:
		mode |= sIFREG
	}
	b = slices.Grow(b, lenPX)
	e := b[len(b) : len(b)+lenPX]
	e[0], e[1], e[2], e[3] = 'P', 'X', lenPX, 1
	put32Both(e[4:], mode)
	put32Both(e[12:], links)
	put32Both(e[20:], n.uid)
	put32Both(e[28:], n.gid)
	put32Both(e[36:], 0) // serial number 0, as the ISO maker writes
	return b[:len(b)+lenPX]
}

func (im *Image) appendTF(b []byte, s ID) []byte {
	b = slices.Grow(b, lenTF)
	e := b[len(b) : len(b)+lenTF]
	e[0], e[1], e[2], e[3], e[4] = 'T', 'F', lenTF, 1, 0x0F
	t := &im.times[im.nodes[s].tix]
	*(*isoTime)(e[5:]) = t[0]
	*(*isoTime)(e[12:]) = t[1]
	*(*isoTime)(e[19:]) = t[2]
	*(*isoTime)(e[26:]) = t[3]
	return b[:len(b)+lenTF]
}

func appendNM(b []byte, name string, k recKind) []byte {
	var extra byte
	switch k {
	case recDot:
		extra = 0x02
	case recDotDot:
		extra = 0x04
	}
	for {
		piece := name[:min(len(name), nmPiece)]
		name = name[len(piece):]
		flags := extra
		if len(name) > 0 {
			flags |= 0x01
		}
		b = append(b, 'N', 'M', byte(5+len(piece)), 1, flags)
		b = append(b, piece...)
		if len(name) == 0 {
			return b
		}
	}
}

// appendSL encodes a symlink target as SL entries (component records packed
// into entries of at most 255 bytes, CONTINUE flags where split).
func appendSL(b []byte, target string) []byte {
	type comp struct {
		flags byte
		data  string
	}
	var comps []comp
	if strings.HasPrefix(target, "/") {
		comps = append(comps, comp{flags: 0x08})
	}
	for part := range strings.SplitSeq(target, "/") {
		switch part {
		case "":
		case ".":
			comps = append(comps, comp{flags: 0x02})
		case "..":
			comps = append(comps, comp{flags: 0x04})
		default:
			for len(part) > 248 {
				comps = append(comps, comp{flags: 0x01, data: part[:248]})
				part = part[248:]
			}
			comps = append(comps, comp{data: part})
		}
	}
	if len(comps) == 0 {
		comps = append(comps, comp{flags: 0x02}) // empty target: point at "."
	}
	start := len(b)
	b = append(b, 'S', 'L', 5, 1, 0)
	for _, c := range comps {
		if len(b)-start+2+len(c.data) > 255 {
			b[start+2] = byte(len(b) - start)
			b[start+4] = 0x01
			start = len(b)
			b = append(b, 'S', 'L', 5, 1, 0)
		}
		b = append(b, c.flags, byte(len(c.data)))
		b = append(b, c.data...)
	}
	b[start+2] = byte(len(b) - start)
	return b
}

// appendEntries writes the entries of plan p that are not kept inline
// (everything when inline is false), in spec order.
func (im *Image) appendEntries(b []byte, s ID, k recKind, p suPlan, spilled bool) []byte {
	if p.sp && !spilled {
		b = appendSP(b)
	}
	if p.er {
		b = appendER(b)
	}
	if p.rr && (!spilled || p.er) {
		b = appendRR(b, im.rrFlags(s, k))
	}
	b = im.appendPX(b, s)
	b = im.appendTF(b, s)
	if p.pn {
		// RRIP: the high and low 32 bits of a 64-bit dev_t. Encoded like
		// glibc's makedev, which is how mkisofs/libisofs write and read it
		// (and Linux isofs decodes for major < 4096, minor < 256).
		d := im.specials[im.nodes[s].aux]
		mj, mn := uint64(d.major), uint64(d.minor)
		dev := mn&0xff | (mj&0xfff)<<8 | (mn&^0xff)<<12 | (mj&^0xfff)<<32
		b = append(b, 'P', 'N', lenPN, 1)
		b = appendBoth32(b, uint32(dev>>32))
		b = appendBoth32(b, uint32(dev))
	}
	if p.sl > 0 {
		b = appendSL(b, im.links[im.nodes[s].aux])
	}
	if p.nm > 0 {
		b = appendNM(b, im.name(s), k)
	}
	return b
}

// appendSU writes the system-use bytes kept in a record.
func (im *Image) appendSU(b []byte, s ID, k recKind, baseLen int) []byte {
	// Fast path for the common record (a file's or directory's own record with
	// a short name): the same bytes appendEntries writes, without the plan.
	if n := &im.nodes[s]; k == recSelf && (n.kind == kindFile || n.kind == kindDir) &&
		n.nameRef.n <= nmPiece && baseLen+lenRR+lenPX+lenTF+5+int(n.nameRef.n) < 255 {
		if im.rrLevel == 2 {
			b = appendRR(b, 0x89)
		}
		b = im.appendPX(b, s)
		b = im.appendTF(b, s)
		return appendNM(b, im.str.get(n.nameRef), recSelf)
	}
	p := im.plan(s, k)
	if im.rrLevel == 0 {
		return b
	}
	if !p.spills(baseLen) {
		return im.appendEntries(b, s, k, p, false)
	}
	if p.sp {
		b = appendSP(b)
	}
	if p.rr && !p.er {
		b = appendRR(b, im.rrFlags(s, k))
	}
	off := im.spill[spillKey(s, k)]
	lba := im.spillLBA + off/sectorSize
	b = append(b, 'C', 'E', lenCE, 1)
	b = appendBoth32(b, lba)
	b = appendBoth32(b, off%sectorSize)
	return appendBoth32(b, uint32(p.spillLen(baseLen)))
}

// spillContent is what goes to the spill area for a spilling record.
func (im *Image) spillContent(b []byte, s ID, k recKind) []byte {
	p := im.plan(s, k)
	if p.rr && !p.er {
		// RR stays inline; write the rest.
		q := p
		q.rr = false
		q.sp = false
		return im.appendEntries(b, s, k, q, true)
	}
	q := p
	q.sp = false
	return im.appendEntries(b, s, k, q, true)
}

func spillKey(s ID, k recKind) uint64 { return uint64(s)<<2 | uint64(k) }
