package isoimage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// isohybrid fix-ups of an in-place layout. An isohybrid base carries, in its
// system area, an MBR whose first partition covers the whole ISO and/or a GPT
// (header at byte 512) with a partition covering the ISO and a backup header
// with its entries in the last sectors of the image. Partitions that point at
// boot images (the EFI system partition = efiboot.img) stay valid because
// those images keep their LBAs. When the image grows, only what depends on
// its size changes: the covering MBR partitions, the GPT's backup and
// last-usable LBAs, the covering GPT partition, the CRCs, and the backup GPT
// written at the new end. Sizes in this file are in 512-byte blocks unless
// named otherwise.

const (
	mbrSigOff   = 510
	mbrTableOff = 446
	gptHdrOff   = 512
	block       = 512
	// coverSlack: a partition "covers the ISO" when it starts inside the
	// first 32 KiB (the system area) and ends within 32 KiB of the ISO's end.
	coverSlack = systemAreaSize / block
)

// hybrid is what parseHybrid recognised in a system area.
type hybrid struct {
	sys []byte
	mbr bool     // 55 AA at 510 with at least one partition covering the ISO start
	gpt *gptInfo // a valid primary GPT inside the system area, or nil
}

type gptInfo struct {
	hdrSize    int
	entriesLBA int64
	entries    int
	entrySize  int
	lastUsable int64
}

// entryBlocks is the size of the partition entry array in blocks.
func (g *gptInfo) entryBlocks() int64 {
	return (int64(g.entries)*int64(g.entrySize) + block - 1) / block
}

// reserveSectors is how many 2048-byte sectors the backup GPT (entries, then
// the header in the very last block) needs at the end of the image.
func (g *gptInfo) reserveSectors() int64 {
	return sectorsFor((g.entryBlocks() + 1) * block)
}

// parseHybrid looks for an isohybrid MBR and a GPT. Anything malformed is
// left alone (nil parts): the system area is then served as it came.
func parseHybrid(sys []byte) *hybrid {
	if len(sys) < systemAreaSize {
		return nil
	}
	h := &hybrid{sys: sys}
	if sys[mbrSigOff] == 0x55 && sys[mbrSigOff+1] == 0xAA {
		for i := range 4 {
			e := sys[mbrTableOff+16*i:]
			if start, n := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:]); n > 0 && start < coverSlack {
				h.mbr = true
			}
		}
	}
	h.gpt = parseGPT(sys)
	if !h.mbr && h.gpt == nil {
		return nil
	}
	return h
}

func parseGPT(sys []byte) *gptInfo {
	hdr := sys[gptHdrOff : gptHdrOff+block]
	if string(hdr[:8]) != "EFI PART" {
		return nil
	}
	le := binary.LittleEndian
	g := &gptInfo{hdrSize: int(le.Uint32(hdr[12:])), entries: int(le.Uint32(hdr[80:])), entrySize: int(le.Uint32(hdr[84:]))}
	if g.hdrSize < 92 || g.hdrSize > block || le.Uint64(hdr[24:]) != 1 {
		return nil
	}
	if headerCRC(hdr[:g.hdrSize]) != le.Uint32(hdr[16:]) {
		return nil
	}
	entriesLBA := le.Uint64(hdr[72:])
	if entriesLBA < 2 || entriesLBA > uint64(len(sys)/block) || g.entrySize < 128 || g.entrySize%8 != 0 ||
		g.entries < 1 || g.entries > len(sys)/128 {
		return nil
	}
	g.entriesLBA = int64(entriesLBA)
	end := g.entriesLBA*block + int64(g.entries)*int64(g.entrySize)
	if end > int64(len(sys)) {
		return nil
	}
	if crc32.ChecksumIEEE(sys[g.entriesLBA*block:end]) != le.Uint32(hdr[88:]) {
		return nil
	}
	g.lastUsable = int64(le.Uint64(hdr[48:]))
	return g
}

// headerCRC is the header's CRC32 computed with its own CRC field zeroed.
func headerCRC(hdr []byte) uint32 {
	c := bytes.Clone(hdr)
	clear(c[16:20])
	return crc32.ChecksumIEEE(c)
}

// fixup returns the system area for an image of newSize bytes made over a
// base of oldSize bytes, and the backup GPT (entries then header) with its
// byte offset in the image (nil when there is no GPT). When the size did not
// change the system area is returned as it came.
func (h *hybrid) fixup(oldSize, newSize int64) (sys, backup []byte, at int64) {
	sys = h.sys
	oldBlocks, newBlocks := oldSize/block, newSize/block
	if oldBlocks != newBlocks {
		sys = bytes.Clone(h.sys)
		if h.mbr {
			fixMBR(sys, oldBlocks, newBlocks)
		}
		if h.gpt != nil {
			h.gpt.fixPrimary(sys, newBlocks)
		}
	}
	if h.gpt == nil {
		return sys, nil, 0
	}
	backup, at = h.gpt.backup(sys, newBlocks)
	return sys, backup, at
}

// fixMBR resizes the partitions that cover the ISO to the new image end and
// rewrites their end CHS in the geometry they were written with.
func fixMBR(sys []byte, oldBlocks, newBlocks int64) {
	le := binary.LittleEndian
	for i := range 4 {
		e := sys[mbrTableOff+16*i : mbrTableOff+16*i+16]
		start, n := int64(le.Uint32(e[8:])), int64(le.Uint32(e[12:]))
		if n == 0 || start >= coverSlack || start+n < oldBlocks-coverSlack {
			continue
		}
		newN := min(newBlocks-start, 0xFFFFFFFF)
		for _, geo := range [][2]int64{{64, 32}, {255, 63}} {
			if chs(start+n-1, geo[0], geo[1]) == [3]byte(e[5:8]) {
				c := chs(start+newN-1, geo[0], geo[1])
				copy(e[5:8], c[:])
				break
			}
		}
		le.PutUint32(e[12:], uint32(newN))
	}
}

// chs encodes an LBA as cylinder/head/sector for the given geometry; beyond
// cylinder 1023 it is the maximum value, as partitioners write it.
func chs(lba, heads, secs int64) [3]byte {
	c := lba / (heads * secs)
	hd := (lba / secs) % heads
	s := lba%secs + 1
	if c > 1023 {
		c, hd, s = 1023, heads-1, secs
	}
	return [3]byte{byte(hd), byte(s) | byte(c>>8&3)<<6, byte(c)}
}

// fixPrimary moves the backup and last-usable LBAs to the new end, grows the
// partition covering the ISO by the same amount and recomputes both CRCs.
func (g *gptInfo) fixPrimary(sys []byte, newBlocks int64) {
	le := binary.LittleEndian
	hdr := sys[gptHdrOff : gptHdrOff+block]
	newLast := newBlocks - 2 - g.entryBlocks()
	grow := newLast - g.lastUsable
	ents := sys[g.entriesLBA*block : g.entriesLBA*block+int64(g.entries)*int64(g.entrySize)]
	for i := range g.entries {
		e := ents[i*g.entrySize:]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue // unused entry
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		if first < coverSlack && last <= g.lastUsable && last >= g.lastUsable-coverSlack {
			le.PutUint64(e[40:], uint64(last+grow))
		}
	}
	le.PutUint64(hdr[32:], uint64(newBlocks-1))
	le.PutUint64(hdr[48:], uint64(newLast))
	le.PutUint32(hdr[88:], crc32.ChecksumIEEE(ents))
	le.PutUint32(hdr[16:], headerCRC(hdr[:g.hdrSize]))
}

// backup renders the backup entries and header for an image of newBlocks
// blocks from the (fixed) primary GPT in sys.
func (g *gptInfo) backup(sys []byte, newBlocks int64) ([]byte, int64) {
	le := binary.LittleEndian
	eb := g.entryBlocks()
	out := make([]byte, (eb+1)*block)
	n := int64(g.entries) * int64(g.entrySize)
	copy(out, sys[g.entriesLBA*block:g.entriesLBA*block+n])
	hdr := out[eb*block:]
	copy(hdr, sys[gptHdrOff:gptHdrOff+g.hdrSize])
	le.PutUint64(hdr[24:], uint64(newBlocks-1))
	le.PutUint64(hdr[32:], 1)
	le.PutUint64(hdr[72:], uint64(newBlocks-1-eb))
	le.PutUint32(hdr[16:], headerCRC(hdr[:g.hdrSize]))
	return out, (newBlocks - 1 - eb) * block
}
