package isoread

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// readAll opens the medium and reads every tree and the boot catalog, the
// way an import does; it returns the first error.
func readAll(b []byte, opts Options) error {
	v, err := Open(bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		return err
	}
	if _, err := v.Tree(ViewRockRidge); err != nil {
		return err
	}
	if v.HasJoliet() {
		if _, err := v.Joliet(); err != nil {
			return err
		}
	}
	if _, err := v.BootCatalog(); err != nil {
		return err
	}
	if v.PrimaryInfo().pathTableSize == 0 {
		return nil // crafted media without path tables
	}
	return v.CheckPathTables()
}

func TestHostileMedia(t *testing.T) {
	sp := spEntry()
	cases := []struct {
		name string
		img  func() []byte
		want error
		text string
	}{
		{"too small", func() []byte { return make([]byte, 16*SectorSize) }, ErrNotISO9660, ""},
		{"garbage", func() []byte { return bytes.Repeat([]byte{0xA5}, 40*SectorSize) }, ErrNotISO9660, "Invalid volume descriptor header"},
		{"UDF only", func() []byte {
			im := newImage(40)
			for i, id := range []string{"BEA01", "NSR02", "TEA01"} {
				s := im.sector(16 + i)
				copy(s[1:], id)
				s[6] = 1
			}
			return im.b
		}, ErrUDFOnly, "UDF is not supported"},
		{"no terminator", func() []byte {
			im := basic(60, nil)
			for i := 17; i < 60; i++ {
				s := im.sector(i)
				s[0] = 3 // partition descriptors, ignored
				copy(s[1:], "CD001")
			}
			return im.b
		}, ErrCorrupt, "terminator"},
		{"two PVDs", func() []byte {
			im := basic(30, nil)
			copy(im.sector(17), im.sector(16))
			im.terminator(19)
			return im.b
		}, ErrUnsupported, "Only a single primary volume descriptor"},
		{"block size 512", func() []byte {
			im := basic(30, nil)
			both16(im.sector(16)[128:], 512)
			return im.b
		}, ErrUnsupported, "logical block size 512"},
		{"volume set size 2", func() []byte {
			im := basic(30, nil)
			both16(im.sector(16)[120:], 2)
			return im.b
		}, ErrUnsupported, "volume set size"},
		{"root past the end", func() []byte {
			im := basic(30, nil)
			both32(im.sector(16)[156+2:], 5000)
			return im.b
		}, ErrCorrupt, "past the end"},
		{"directory loop to parent", func() []byte {
			im := basic(40, nil, dirRec("A", 25, SectorSize, flagDir, nil))
			im.dir(25, dirRec("\x00", 25, 200, flagDir, nil), dirRec("\x01", rootLBA, 200, flagDir, nil), dirRec("UP", rootLBA, 200, flagDir, nil))
			return im.b
		}, ErrLoop, "already visited"},
		{"directory pointing at itself", func() []byte {
			im := basic(40, nil, dirRec("A", 25, SectorSize, flagDir, nil))
			im.dir(25, dirRec("\x00", 25, 200, flagDir, nil), dirRec("\x01", rootLBA, 200, flagDir, nil), dirRec("SELF", 25, 200, flagDir, nil))
			return im.b
		}, ErrLoop, "already visited"},
		{"file extent beyond the end", func() []byte {
			return basic(40, nil, dirRec("F;1", 5000, 4096, 0, nil)).b
		}, ErrCorrupt, "past the end"},
		{"file extent straddling the end", func() []byte {
			return basic(40, nil, dirRec("F;1", 39, 4096, 0, nil)).b
		}, ErrCorrupt, "past the end"},
		{"directory extent beyond the end", func() []byte {
			return basic(40, nil, dirRec("D", 4000, 2048, flagDir, nil)).b
		}, ErrCorrupt, "past the end"},
		{"record overruns its sector", func() []byte {
			// Records fill most of the sector; the next claims 2 bytes more than are left.
			var recs [][]byte
			for i := range 43 {
				recs = append(recs, dirRec(fmt.Sprintf("F%05d;1", i), 26, 1, 0, nil))
			}
			im := basic(40, nil, recs...)
			off := 68 + 43*len(recs[0])
			r := dirRec("G;1", 26, 1, 0, nil)
			r[0] = byte(SectorSize - off + 2)
			copy(im.sector(rootLBA)[off:], r)
			both32(im.sector(16)[156+10:], SectorSize)
			both32(im.sector(rootLBA)[10:], SectorSize)
			return im.b
		}, ErrCorrupt, "overruns its sector"},
		{"record overruns the directory", func() []byte {
			im := basic(40, nil, dirRec("F;1", 26, 1, 0, nil))
			// Shrink the data length so the last record sticks out.
			both32(im.sector(16)[156+10:], 34+34+20)
			return im.b
		}, ErrCorrupt, "data length"},
		{"identifier longer than its record", func() []byte {
			r := dirRec("F;1", 26, 1, 0, nil)
			r[32] = 100
			return basic(40, nil, r).b
		}, ErrCorrupt, "identifier length"},
		{"name with a slash", func() []byte {
			return basic(40, nil, dirRec("A/B;1", 26, 1, 0, nil)).b
		}, ErrInvalidName, "Invalid name at"},
		{"CE past the end", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, ceEntry(900000, 0, 100))).b
		}, ErrCorrupt, "CE continuation area"},
		{"CE at itself", func() []byte {
			im := basic(40, sp, dirRec("F;1", 26, 1, 0, ceEntry(30, 0, 28)))
			copy(im.sector(30), ceEntry(30, 0, 28))
			return im.b
		}, ErrLoop, "reached twice"},
		{"CE chain too long", func() []byte {
			im := basic(120, sp, dirRec("F;1", 26, 1, 0, ceEntry(30, 0, 28)))
			for i := 30; i < 119; i++ {
				copy(im.sector(i), ceEntry(uint32(i+1), 0, 28))
			}
			return im.b
		}, ErrLoop, "chained CE"},
		{"CE area too large", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, ceEntry(30, 0, 1<<20))).b
		}, ErrLimit, "SUSP data"},
		{"NM overflowing its area", func() []byte {
			nm := nmEntry(0, "name")
			nm[2] = 200
			return basic(40, sp, dirRec("F;1", 26, 1, 0, nm)).b
		}, ErrCorrupt, "overruns"},
		{"NM too long through continuations", func() []byte {
			im := basic(40, sp, dirRec("F;1", 26, 1, 0, ceEntry(30, 0, 2040)))
			area := im.sector(30)
			for off := 0; off+255 <= 2040; off += 255 {
				copy(area[off:], nmEntry(1, strings.Repeat("n", 250)))
			}
			return im.b
		}, ErrLimit, "NM name"},
		{"SUSP entry length 2", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, []byte{'P', 'X', 2, 1, 9, 9})).b
		}, ErrCorrupt, "SUSP entry"},
		{"short PX", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, susp("PX", 1, 2, 3, 4))).b
		}, ErrCorrupt, "PX"},
		{"truncated TF", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, susp("TF", 0x0F, 1, 2, 3))).b
		}, ErrCorrupt, "TF"},
		{"SL component overrun", func() []byte {
			return basic(40, sp, dirRec("F;1", 26, 1, 0, susp("SL", 0, 0, 50, 'a'))).b
		}, ErrCorrupt, "SL component"},
		{"multi-extent non-contiguous", func() []byte {
			return basic(40, nil, dirRec("BIG;1", 26, 2048, flagMultiExtent, nil), dirRec("BIG;1", 31, 100, 0, nil)).b
		}, ErrMultiExtent, "non-contiguous multi-extent"},
		{"multi-extent misaligned", func() []byte {
			return basic(40, nil, dirRec("BIG;1", 26, 2000, flagMultiExtent, nil), dirRec("BIG;1", 27, 100, 0, nil)).b
		}, ErrMultiExtent, "misaligned multi-extent"},
		{"multi-extent unterminated", func() []byte {
			return basic(40, nil, dirRec("BIG;1", 26, 2048, flagMultiExtent, nil)).b
		}, ErrMultiExtent, "without a final record"},
		{"multi-extent directory", func() []byte {
			return basic(40, nil, dirRec("D", 26, 2048, flagDir|flagMultiExtent, nil)).b
		}, ErrCorrupt, "multi-extent flag"},
		{"odd Joliet name", func() []byte {
			im := basic(40, nil)
			im.vd(17, 2, 25, 34+34+36)
			im.terminator(18)
			im.dir(25, dirRec("\x00", 25, 104, flagDir, nil), dirRec("\x01", 25, 104, flagDir, nil), dirRec("abc", 26, 1, 0, nil))
			return im.b
		}, ErrInvalidName, "odd-length Joliet"},
		{"two boot records", func() []byte {
			im := basic(40, nil)
			for _, l := range []int{17, 18} {
				s := im.sector(l)
				s[0] = 0
				copy(s[1:], "CD001")
				s[6] = 1
				copy(s[7:], elToritoID)
			}
			im.terminator(19)
			return im.b
		}, ErrBootCatalog, "second El Torito"},
		{"catalog past the end", func() []byte { return bootImage(func(c []byte) {}, 900000) }, ErrCorrupt, "past the end"},
		{"catalog bad checksum", func() []byte { return bootImage(func(c []byte) { c[4] ^= 1 }, 0) }, ErrBootCatalog, "Invalid boot catalog validation entry"},
		{"catalog bad key", func() []byte { return bootImage(func(c []byte) { c[31] = 0; fixChecksum(c) }, 0) }, ErrBootCatalog, "Invalid boot catalog validation entry"},
		{"catalog without final header", func() []byte {
			return bootImage(func(c []byte) {
				c[64] = 0x90
				c[65] = 0xEF
				for i := 3; i < catSlots; i++ {
					e := c[i*32 : i*32+32]
					e[0] = 0x88
					binary.LittleEndian.PutUint32(e[8:], 40)
				}
			}, 0)
		}, ErrBootCatalog, "Boot catalog is probably larger than a sector, or it's missing the final section header entry"},
		{"catalog entry without header", func() []byte {
			return bootImage(func(c []byte) { c[64] = 0x88 }, 0)
		}, ErrBootCatalog, "without a section header"},
		{"catalog unknown entry", func() []byte {
			return bootImage(func(c []byte) { c[64] = 0x33 }, 0)
		}, ErrBootCatalog, "unknown catalog entry"},
		{"catalog bad default indicator", func() []byte {
			return bootImage(func(c []byte) { c[32] = 0x77 }, 0)
		}, ErrBootCatalog, "boot indicator"},
		{"path table mismatch", func() []byte {
			im := basic(40, nil, dirRec("D", 25, 68, flagDir, nil))
			im.dir(25, dirRec("\x00", 25, 68, flagDir, nil), dirRec("\x01", rootLBA, 68, flagDir, nil))
			pt := im.sector(27)
			copy(pt, []byte{1, 0, rootLBA, 0, 0, 0, 1, 0, 1, 0, 99, 0, 0, 0, 1, 0, 'D', 0})
			both32(im.sector(16)[132:], 18)
			binary.LittleEndian.PutUint32(im.sector(16)[140:], 27)
			return im.b
		}, ErrCorrupt, "path table"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img()
			err := withTimeout(t, 10*time.Second, func() error { return readAll(img, Options{}) })
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

// bootImage returns a medium with an El Torito boot record whose catalog at
// LBA 22 (or catLBA) holds a valid validation and default entry, then lets
// edit change the catalog sector.
func bootImage(edit func(cat []byte), catLBA uint32) []byte {
	im := newImage(60)
	all := [][]byte{dirRec("\x00", 19, 0, flagDir, nil), dirRec("\x01", 19, 0, flagDir, nil)}
	size := im.dir(19, all...)
	copy(im.sector(19), dirRec("\x00", 19, size, flagDir, nil))
	im.vd(16, 1, 19, size)
	br := im.sector(17)
	copy(br[1:], "CD001")
	br[6] = 1
	copy(br[7:], elToritoID)
	if catLBA == 0 {
		catLBA = 22
	}
	binary.LittleEndian.PutUint32(br[0x47:], catLBA)
	im.terminator(18)
	c := im.sector(22)
	c[0], c[30], c[31] = 1, 0x55, 0xAA
	copy(c[4:], "CRAFTED")
	fixChecksum(c)
	c[32] = 0x88
	binary.LittleEndian.PutUint16(c[32+6:], 4)
	binary.LittleEndian.PutUint32(c[32+8:], 40)
	edit(c)
	return im.b
}

func fixChecksum(c []byte) {
	c[28], c[29] = 0, 0
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(c[i:])
	}
	binary.LittleEndian.PutUint16(c[28:], -sum)
}
