package isoread

import (
	"fmt"
	"strings"
	"time"
)

// Bounds on Rock Ridge data of one directory record. Real media use a few
// hundred bytes; the bounds only stop hostile media.
const (
	maxCEHops     = 32       // continuation areas chained from one record
	maxCELength   = 64 << 10 // bytes of one continuation area
	maxSUSPBytes  = 64 << 10 // continuation bytes read for one record
	maxNameBytes  = 1024     // an NM name
	maxTargetSize = 4096     // an SL target (PATH_MAX)
)

// RRIP extension identifiers an ER entry may declare (spec §4.7, §5.2).
var rripIDs = []string{"RRIP_1991A", "IEEE_P1282", "IEEE_1282"}

// rrInfo collects the SUSP/Rock Ridge entries of one directory record.
type rrInfo struct {
	any bool // some Rock Ridge entry was seen

	spFound bool
	spSkip  int
	erIDs   []string

	name        strings.Builder
	hasName     bool
	nameSpecial bool // NM with CURRENT or PARENT flag

	hasPX                 bool
	mode, nlink, uid, gid uint32
	serial                uint32
	hasTF                 bool
	creation, modify      time.Time
	access, attrChange    time.Time
	hasSL                 bool
	target                strings.Builder
	slNeedSep             bool
	hasPN                 bool
	devHigh, devLow       uint32
	hasCL, hasRE          bool
	clLBA                 uint32
}

// suspReader parses system use areas, following CE continuation areas with
// loop and size bounds. budget is shared with the tree's directory bytes so a
// medium cannot make every record read 64 KiB of continuation data.
type suspReader struct {
	v      *Volume
	budget *int64
}

type ceRef struct {
	lba         uint32
	off, length uint32
}

// parse reads the entries of area (already past the SP skip bytes) and the
// continuation areas it chains to. where names the record for errors.
func (s *suspReader) parse(area []byte, where string) (*rrInfo, error) {
	info := &rrInfo{}
	visited := map[uint64]bool{}
	read := 0
	for hop := 0; ; hop++ {
		next, err := info.parseArea(area, where)
		if err != nil {
			return nil, err
		}
		if next == nil {
			return info, nil
		}
		if hop >= maxCEHops {
			return nil, fmt.Errorf("%s: more than %d chained CE continuation areas: %w", where, maxCEHops, ErrLoop)
		}
		key := uint64(next.lba)*SectorSize + uint64(next.off)
		if visited[key] {
			return nil, fmt.Errorf("%s: CE continuation area at LBA %d offset %d is reached twice: %w", where, next.lba, next.off, ErrLoop)
		}
		visited[key] = true
		if next.length > maxCELength || read+int(next.length) > maxSUSPBytes {
			return nil, fmt.Errorf("%s: CE continuation area at LBA %d of %d bytes exceeds %d bytes of SUSP data: %w", where, next.lba, next.length, maxSUSPBytes, ErrLimit)
		}
		*s.budget -= int64(next.length)
		if *s.budget < 0 {
			return nil, fmt.Errorf("%s: CE continuation area at LBA %d: directory and continuation bytes exceed the limit: %w", where, next.lba, ErrLimit)
		}
		read += int(next.length)
		area = make([]byte, next.length)
		if err := s.v.readFull(area, int64(next.lba)*SectorSize+int64(next.off)); err != nil {
			return nil, fmt.Errorf("%s: CE continuation area at LBA %d offset %d: %w", where, next.lba, next.off, err)
		}
	}
}

// parseArea decodes the entries of one area and returns the CE reference it
// holds, if any.
func (info *rrInfo) parseArea(b []byte, where string) (*ceRef, error) {
	var next *ceRef
	for len(b) >= 4 {
		n := int(b[2])
		if n < 4 {
			if allZero(b) {
				break // padding after the last entry
			}
			return nil, fmt.Errorf("%s: SUSP entry %q with length %d: %w", where, b[:2], n, ErrCorrupt)
		}
		if n > len(b) {
			return nil, fmt.Errorf("%s: SUSP entry %q of %d bytes overruns the %d bytes left in its area: %w", where, b[:2], n, len(b), ErrCorrupt)
		}
		e := b[:n]
		b = b[n:]
		sig := string(e[:2])
		bad := func(min int) error {
			if n < min {
				return fmt.Errorf("%s: SUSP entry %s of %d bytes, needs %d: %w", where, sig, n, min, ErrCorrupt)
			}
			return nil
		}
		switch sig {
		case "ST":
			b = nil
		case "CE":
			if err := bad(28); err != nil {
				return nil, err
			}
			next = &ceRef{lba: le32(e[4:]), off: le32(e[12:]), length: le32(e[20:])}
		case "SP":
			if err := bad(7); err != nil {
				return nil, err
			}
			if e[4] == 0xBE && e[5] == 0xEF {
				info.spFound = true
				info.spSkip = int(e[6])
			}
		case "ER":
			if err := bad(8); err != nil {
				return nil, err
			}
			idLen := int(e[4])
			if 8+idLen > n {
				return nil, fmt.Errorf("%s: ER identifier of %d bytes overruns the entry: %w", where, idLen, ErrCorrupt)
			}
			info.erIDs = append(info.erIDs, string(e[8:8+idLen]))
		case "NM":
			if err := bad(5); err != nil {
				return nil, err
			}
			info.any = true
			info.hasName = true
			if e[4]&0x06 != 0 {
				info.nameSpecial = true
			}
			if info.name.Len()+n-5 > maxNameBytes {
				return nil, fmt.Errorf("%s: Rock Ridge NM name longer than %d bytes: %w", where, maxNameBytes, ErrLimit)
			}
			info.name.Write(e[5:])
		case "PX":
			if err := bad(36); err != nil {
				return nil, err
			}
			info.any, info.hasPX = true, true
			info.mode, info.nlink, info.uid, info.gid = le32(e[4:]), le32(e[12:]), le32(e[20:]), le32(e[28:])
			if n >= 44 {
				info.serial = le32(e[36:])
			}
		case "TF":
			if err := bad(5); err != nil {
				return nil, err
			}
			info.any = true
			if err := info.parseTF(e, where); err != nil {
				return nil, err
			}
		case "SL":
			if err := bad(5); err != nil {
				return nil, err
			}
			info.any = true
			if err := info.parseSL(e[5:], where); err != nil {
				return nil, err
			}
		case "PN":
			if err := bad(20); err != nil {
				return nil, err
			}
			info.any, info.hasPN = true, true
			info.devHigh, info.devLow = le32(e[4:]), le32(e[12:])
		case "CL":
			if err := bad(12); err != nil {
				return nil, err
			}
			info.any, info.hasCL = true, true
			info.clLBA = le32(e[4:])
		case "RE":
			info.any, info.hasRE = true, true
		case "PL", "RR":
			info.any = true
		}
	}
	return next, nil
}

// TF flag bits (RRIP §4.1.6).
const (
	tfCreation   = 0x01
	tfModify     = 0x02
	tfAccess     = 0x04
	tfAttributes = 0x08
	tfLongForm   = 0x80
)

func (info *rrInfo) parseTF(e []byte, where string) error {
	flags := e[4]
	width := 7
	if flags&tfLongForm != 0 {
		width = 17
	}
	p := e[5:]
	for bit := byte(1); bit < tfLongForm; bit <<= 1 {
		if flags&bit == 0 {
			continue
		}
		if len(p) < width {
			return fmt.Errorf("%s: TF entry with flags %#02x is too short for its timestamps: %w", where, flags, ErrCorrupt)
		}
		var t time.Time
		if width == 7 {
			t = recordTime(p[:7])
		} else {
			t = decTime(p[:17])
		}
		p = p[width:]
		switch bit {
		case tfCreation:
			info.creation = t
		case tfModify:
			info.modify = t
		case tfAccess:
			info.access = t
		case tfAttributes:
			info.attrChange = t
		}
	}
	info.hasTF = true
	return nil
}

// SL component flags (RRIP §4.1.3.1).
const (
	slContinue = 0x01
	slCurrent  = 0x02
	slParent   = 0x04
	slRoot     = 0x08
)

// parseSL appends the component records of one SL entry to the target.
// Components are joined with '/' unless the previous one carried CONTINUE.
func (info *rrInfo) parseSL(p []byte, where string) error {
	info.hasSL = true
	for len(p) > 0 {
		if len(p) < 2 || 2+int(p[1]) > len(p) {
			return fmt.Errorf("%s: SL component record overruns its entry: %w", where, ErrCorrupt)
		}
		flags, text := p[0], p[2:2+int(p[1])]
		p = p[2+int(p[1]):]
		if info.slNeedSep {
			info.target.WriteByte('/')
		}
		switch {
		case flags&slRoot != 0:
			info.target.WriteByte('/')
		case flags&slParent != 0:
			info.target.WriteString("..")
		case flags&slCurrent != 0:
			info.target.WriteByte('.')
		default:
			info.target.Write(text)
		}
		// After the root component the '/' is already written.
		info.slNeedSep = flags&slContinue == 0 && flags&slRoot == 0
		if info.target.Len() > maxTargetSize {
			return fmt.Errorf("%s: Rock Ridge SL target longer than %d bytes: %w", where, maxTargetSize, ErrLimit)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
