package isoimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"slices"
	"testing"
)

func TestGapAllocFirstFit(t *testing.T) {
	tests := []struct {
		name  string
		from  int64
		kept  []span
		sizes []int64
		want  []int64
	}{
		{"no kept extents: sequential", 20, nil, []int64{1, 2, 3}, []int64{20, 21, 23}},
		{"fills the hole before the first kept extent", 20, []span{{25, 100}}, []int64{3, 2, 1}, []int64{20, 23, 100}},
		{"too big for the first hole", 20, []span{{22, 30}, {40, 50}}, []int64{5, 2, 1, 3}, []int64{30, 20, 35, 36}},
		{"later hole before the end", 18, []span{{19, 30}, {32, 40}}, []int64{2, 1, 4}, []int64{30, 18, 40}},
		{"zero-size requests take no space", 20, []span{{21, 30}}, []int64{0, 1, 0}, []int64{20, 20, 30}},
		{"kept extent below from is ignored", 20, []span{{5, 10}, {20, 24}}, []int64{1}, []int64{24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGapAlloc(tc.from, mergeSpans(slices.Clone(tc.kept)))
			var got []int64
			for _, n := range tc.sizes {
				got = append(got, g.alloc(n))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("allocations %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeSpans(t *testing.T) {
	got := mergeSpans([]span{{10, 20}, {5, 8}, {8, 9}, {15, 30}, {40, 41}})
	want := []span{{5, 9}, {10, 30}, {40, 41}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCHS(t *testing.T) {
	tests := []struct {
		lba, heads, secs int64
		want             [3]byte
	}{
		{0, 64, 32, [3]byte{0, 1, 0}},
		{24575, 64, 32, [3]byte{63, 32, 11}}, // 12 MiB, last block: cylinder 11
		{2048*1024 + 5, 64, 32, [3]byte{63, 32 | 3<<6, 0xFF}},
		{16065, 255, 63, [3]byte{0, 1, 1}},
	}
	for _, tc := range tests {
		if got := chs(tc.lba, tc.heads, tc.secs); got != tc.want {
			t.Errorf("chs(%d, %d, %d) = %v, want %v", tc.lba, tc.heads, tc.secs, got, tc.want)
		}
	}
}

// synthGPT builds a system area with an isohybrid MBR and a GPT the way
// xorriso writes them for an image of blocks 512-byte blocks.
func synthGPT(blocks int64) []byte {
	le := binary.LittleEndian
	sys := make([]byte, systemAreaSize)
	sys[510], sys[511] = 0x55, 0xAA
	p := sys[446:]
	p[0], p[4] = 0x80, 0x00
	c := chs(blocks-1, 64, 32)
	copy(p[5:8], c[:])
	le.PutUint32(p[12:], uint32(blocks))
	p = sys[462:]
	p[4] = 0xEF
	le.PutUint32(p[8:], 140)
	le.PutUint32(p[12:], 2072)
	const entries, esize = 248, 128
	ents := sys[1024 : 1024+entries*esize]
	for i, r := range [][2]int64{{0, blocks - 65}, {140, 140 + 2071}} {
		e := ents[i*esize:]
		e[0] = byte(i + 1) // a type GUID that is not all zero
		le.PutUint64(e[32:], uint64(r[0]))
		le.PutUint64(e[40:], uint64(r[1]))
	}
	hdr := sys[512:1024]
	copy(hdr, "EFI PART")
	le.PutUint32(hdr[8:], 0x00010000)
	le.PutUint32(hdr[12:], 92)
	le.PutUint64(hdr[24:], 1)
	le.PutUint64(hdr[32:], uint64(blocks-1))
	le.PutUint64(hdr[40:], 64)
	le.PutUint64(hdr[48:], uint64(blocks-64))
	le.PutUint64(hdr[72:], 2)
	le.PutUint32(hdr[80:], entries)
	le.PutUint32(hdr[84:], esize)
	le.PutUint32(hdr[88:], crc32.ChecksumIEEE(ents))
	le.PutUint32(hdr[16:], headerCRC(hdr[:92]))
	return sys
}

func TestHybridFixup(t *testing.T) {
	le := binary.LittleEndian
	const oldBlocks, newBlocks = 24576, 30720
	sys := synthGPT(oldBlocks)
	h := parseHybrid(sys)
	if h == nil || !h.mbr || h.gpt == nil {
		t.Fatalf("parseHybrid: %+v", h)
	}
	if got := h.gpt.reserveSectors(); got != 16 {
		t.Errorf("reserveSectors %d, want 16", got)
	}
	t.Run("same size", func(t *testing.T) {
		out, backup, at := h.fixup(oldBlocks*512, oldBlocks*512)
		if !bytes.Equal(out, sys) {
			t.Error("system area changed")
		}
		if at != (oldBlocks-63)*512 || len(backup) != 63*512 {
			t.Errorf("backup at %d (%d bytes)", at, len(backup))
		}
	})
	t.Run("grown", func(t *testing.T) {
		out, backup, at := h.fixup(oldBlocks*512, newBlocks*512)
		if le.Uint32(out[446+12:]) != newBlocks || le.Uint32(out[462+8:]) != 140 || le.Uint32(out[462+12:]) != 2072 {
			t.Errorf("MBR: %d, %d+%d", le.Uint32(out[446+12:]), le.Uint32(out[462+8:]), le.Uint32(out[462+12:]))
		}
		if c := chs(newBlocks-1, 64, 32); !bytes.Equal(out[446+5:446+8], c[:]) {
			t.Errorf("MBR end CHS %v, want %v", out[446+5:446+8], c)
		}
		hdr := out[512:1024]
		if parseGPT(out) == nil {
			t.Fatal("fixed primary GPT does not parse (CRC)")
		}
		if le.Uint64(hdr[32:]) != newBlocks-1 || le.Uint64(hdr[48:]) != newBlocks-64 {
			t.Errorf("header alternate %d last usable %d", le.Uint64(hdr[32:]), le.Uint64(hdr[48:]))
		}
		if l := le.Uint64(out[1024+40:]); l != newBlocks-65 {
			t.Errorf("ISO partition ends at %d, want %d", l, newBlocks-65)
		}
		if l := le.Uint64(out[1024+128+40:]); l != 140+2071 {
			t.Errorf("ESP ends at %d, want unchanged", l)
		}
		if at != (newBlocks-63)*512 {
			t.Errorf("backup at %d", at)
		}
		bh := backup[62*512:]
		if le.Uint64(bh[24:]) != newBlocks-1 || le.Uint64(bh[32:]) != 1 || le.Uint64(bh[72:]) != newBlocks-63 ||
			headerCRC(bh[:92]) != le.Uint32(bh[16:]) || !bytes.Equal(backup[:248*128], out[1024:1024+248*128]) {
			t.Error("backup header or entries wrong")
		}
		if !bytes.Equal(h.sys, sys) {
			t.Error("fixup modified the tree's system area")
		}
	})
}

func TestParseHybridRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func([]byte)
		mbr    bool
	}{
		{"bad header CRC", func(b []byte) { b[512+16] ^= 1 }, true},
		{"bad entries CRC", func(b []byte) { b[1024+100] ^= 1 }, true},
		{"entries past the system area", func(b []byte) {
			binary.LittleEndian.PutUint32(b[512+80:], 100000)
			binary.LittleEndian.PutUint32(b[512+16:], headerCRC(b[512:604]))
		}, true},
		{"huge header size", func(b []byte) { binary.LittleEndian.PutUint32(b[512+12:], 1<<31) }, true},
		{"no MBR signature either", func(b []byte) { b[510] = 0; b[512] = 'X' }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys := synthGPT(24576)
			tc.mutate(sys)
			h := parseHybrid(sys)
			if tc.mbr {
				if h == nil || !h.mbr || h.gpt != nil {
					t.Fatalf("want MBR only, got %+v", h)
				}
				return
			}
			if h != nil {
				t.Fatalf("want nothing recognised, got %+v", h)
			}
		})
	}
	if parseHybrid(make([]byte, 100)) != nil {
		t.Error("short system area recognised")
	}
}

func TestSetBaseErrors(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	for _, b := range []Base{{Size: 0, Source: bytes.NewReader(nil)}, {Size: 4096}} {
		if err := tr.SetBase(b); !errors.Is(err, ErrBaseInvalid) {
			t.Errorf("SetBase(%+v): %v", b, err)
		}
	}
	if err := tr.SetBase(Base{Size: 1 << 20, Source: bytes.NewReader(make([]byte, 1<<20))}); err != nil {
		t.Fatal(err)
	}
	if err := tr.SetBase(Base{Size: 1 << 20, Source: bytes.NewReader(nil)}); !errors.Is(err, ErrBaseInvalid) {
		t.Errorf("second SetBase: %v", err)
	}
}

// TestInPlaceFallbacks: extents in the new descriptor area or past the base
// are not kept; the files move, keep their content, and the kept ones stay.
func TestInPlaceFallbacks(t *testing.T) {
	const baseSectors = 64
	base := make([]byte, baseSectors*sectorSize)
	fill := func(lba int, b byte) []byte {
		s := base[lba*sectorSize : (lba+1)*sectorSize]
		for i := range s {
			s[i] = b
		}
		return s
	}
	kept, early := fill(40, 'k'), fill(17, 'e')
	fill(50, 'r') // a removed file's sector: must read as zeros
	tr := New(Config{Epoch: testEpoch})
	src := bytes.NewReader(base)
	if err := tr.SetBase(Base{Size: int64(len(base)), Source: src}); err != nil {
		t.Fatal(err)
	}
	add := func(p string, lba uint32, data []byte) ID {
		id, err := tr.AddFile(Names{Primary: p, Joliet: p}, baseSource{io.NewSectionReader(src, int64(lba)*sectorSize, int64(len(data))), lba},
			int64(len(data)), Attrs{Mode: 0o444}, p)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	add("/kept.bin", 40, kept)
	add("/early.bin", 17, early) // the Joliet SVD needs sector 17
	add("/past.bin", baseSectors, []byte("x"))
	add("/removed.bin", 50, base[50*sectorSize:51*sectorSize])
	if _, err := tr.Remove(AllNamespaces, "/removed.bin"); err != nil {
		t.Fatal(err)
	}
	img, err := tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkISO(img, img.Size())
	if err != nil {
		t.Fatal(err)
	}
	if e := ck.Primary["/kept.bin"]; e == nil || e.LBA != 40 {
		t.Errorf("kept.bin: %+v", e)
	}
	if e := ck.Primary["/early.bin"]; e == nil || e.LBA == 17 {
		t.Errorf("early.bin should have moved: %+v", e)
	}
	for p, want := range map[string][]byte{"/kept.bin": kept, "/early.bin": early} {
		e := ck.Primary[p]
		got := make([]byte, len(want))
		if _, err := img.ReadAt(got, int64(e.LBA)*sectorSize); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%v)", p, err)
		}
	}
	got := make([]byte, sectorSize)
	if _, err := img.ReadAt(got, 50*sectorSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, sectorSize)) && bytes.Contains(got, []byte("rrrr")) {
		t.Error("removed file's sector is readable")
	}
}
