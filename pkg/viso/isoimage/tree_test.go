package isoimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecordSizes(t *testing.T) {
	for _, tc := range []struct{ rr, want int }{{1, 150}, {2, 156}, {0, 52}} {
		tr := New(Config{Epoch: testEpoch})
		must(t, tr.SetRockRidgeLevel(tc.rr))
		id, err := tr.AddFile(Names{Primary: "/autounattend.xml"}, memSource("x"), 1, Attrs{Mode: 0o444}, "a")
		if err != nil {
			t.Fatal(err)
		}
		img, err := tr.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		if img.iso(id) != "AUTOUNATTEND.XML;1" {
			t.Fatalf("iso name %q", img.iso(id))
		}
		if got := img.recordLen(id, recSelf, false); got != tc.want {
			t.Errorf("RR level %d: record length %d, want %d", tc.rr, got, tc.want)
		}
		rec := make([]byte, 255)
		if n := img.writeRecord(rec, id, recSelf, 0, false, true); n != tc.want || int(rec[0]) != n {
			t.Errorf("written record length %d (byte %d), want %d", n, rec[0], tc.want)
		}
		if tc.rr == 1 {
			// 33 + 18 + pad, then PX, TF, NM in that order.
			su := rec[52:]
			if string(su[0:2]) != "PX" || string(su[44:46]) != "TF" || string(su[77:79]) != "NM" || string(su[82:98]) != "autounattend.xml" {
				t.Errorf("level-1 entries: %q", su)
			}
			if binary.LittleEndian.Uint32(su[4:]) != sIFREG|0o444 || binary.BigEndian.Uint32(su[8:]) != sIFREG|0o444 {
				t.Errorf("PX mode bytes % x", su[4:12])
			}
		}
		if tc.rr == 2 && (string(rec[52:54]) != "RR" || rec[56] != 0x89) {
			t.Errorf("level-2 RR entry % x", rec[52:57])
		}
	}
}

func TestCatalogChecksum(t *testing.T) {
	for _, plat := range []uint8{PlatformX86, PlatformEFI, PlatformPPC, 0x42} {
		c := &BootCatalog{Platform: plat}
		copy(c.ID[:], "SOME ID STRING")
		refs := []bootEntryRef{{entry: BootEntry{Image: 1, LoadSegment: 0x7C0, SystemType: 1, SectorCount: 4}, media: EmulationNone}}
		c.Default = &refs[0].entry
		out := renderCatalog(c, refs, func(ID) uint32 { return 1234 })
		var sum uint16
		for i := 0; i < 32; i += 2 {
			sum += binary.LittleEndian.Uint16(out[i:])
		}
		if sum != 0 || out[30] != 0x55 || out[31] != 0xAA || out[0] != 1 || out[1] != plat {
			t.Errorf("platform %#x: sum %#x, bytes % x", plat, sum, out[:32])
		}
		if len(out) != 96 || out[64] != 0x91 || out[32] != 0x88 || binary.LittleEndian.Uint32(out[40:]) != 1234 {
			t.Errorf("default entry/terminator: % x", out[32:])
		}
	}
}

func TestBootInfoTableAndAuto(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	sum, err := bootInfoChecksum(memSource(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var want uint32
	for i := 64; i < 1000; i += 4 {
		want += binary.LittleEndian.Uint32(data[i:])
	}
	if sum != want {
		t.Errorf("checksum %#x, want %#x", sum, want)
	}
	if s, _ := bootInfoChecksum(memSource(data[:63]), 63); s != 0 {
		t.Errorf("short file checksum %#x", s)
	}
	// Partial last word is zero padded.
	s67, _ := bootInfoChecksum(memSource(data[:67]), 67)
	if s67 != uint32(64)|uint32(65)<<8|uint32(66)<<16 {
		t.Errorf("partial word checksum %#x", s67)
	}
	if _, err := bootInfoChecksum(memSource(data[:100]), 200); !errors.Is(err, ErrSourceShrank) {
		t.Errorf("short source: %v", err)
	}
	for size, w := range map[int64]Emulation{1228800: EmulationFloppy12, 2048: EmulationFloppy144, 1474560: EmulationFloppy144,
		1474561: EmulationFloppy288, 2949120: EmulationFloppy288, 2949121: EmulationHardDisk} {
		if got := resolveAuto(size); got != w {
			t.Errorf("auto(%d) = %v, want %v", size, got, w)
		}
	}
}

func TestTreeErrors(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	add := func(p string) error {
		_, err := tr.AddFile(nm(p, p), memSource(nil), 0, Attrs{}, "src")
		return err
	}
	must(t, add("/a/b"))
	err := add("/A/B")
	if !errors.Is(err, ErrAlreadyExists) || err.Error() != "Error setting name '/A/B' on 'src': already exists" {
		t.Errorf("duplicate: %v", err)
	}
	if err := add("/a/b/c"); !errors.Is(err, ErrNotADirectory) {
		t.Errorf("file as dir: %v", err)
	}
	if err := add("/x/"); !errors.Is(err, ErrNotADirectory) {
		t.Errorf("trailing slash: %v", err)
	}
	if err := add("/x/.."); !errors.Is(err, ErrInvalidName) {
		t.Errorf("dot-dot: %v", err)
	}
	// A failed Joliet name leaves nothing behind in the primary tree.
	must(t, add("/j"))
	if _, err := tr.AddFile(nm("/fresh", "/J"), memSource(nil), 0, Attrs{}, "src"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("joliet clash: %v", err)
	}
	if _, ok := tr.Lookup(Primary, "/fresh"); ok {
		t.Error("half-added object left in the primary tree")
	}
	// Case-insensitive reuse of directories and top-level merge.
	d, created, err := tr.MergeDir(nm("/Docs", "/Docs"), Attrs{Mode: 0o755}, "dir")
	if err != nil || !created {
		t.Fatal(err, created)
	}
	must(t, add("/DOCS/x.txt"))
	if id, ok := tr.Lookup(AllNamespaces, "/docs/X.TXT"); !ok || tr.parents[id][0] != d {
		t.Error("case-insensitive lookup failed")
	}
	d2, created, err := tr.MergeDir(nm("/docs", "/docs"), Attrs{}, "dir2")
	if err != nil || created || d2 != d {
		t.Errorf("merge: %v %v %v", d2, created, err)
	}
	if _, err := tr.AddDir(nm("/docs", "/docs"), Attrs{}, "dir3"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("AddDir on existing: %v", err)
	}
	if _, _, err := tr.MergeDir(nm("/a/b", ""), Attrs{}, "x"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("merge onto file: %v", err)
	}
	// chmod / chown / chgrp
	must(t, tr.Chmod(AllNamespaces, "/docs/x.txt", 0o640, false))
	must(t, tr.Chmod(AllNamespaces, "/docs/x.txt", 0o111, true))
	must(t, tr.Chown(Primary, "/docs/x.txt", 1000))
	must(t, tr.Chgrp(Joliet, "/docs/x.txt", 2000))
	id, _ := tr.Lookup(Primary, "/docs/x.txt")
	if n := tr.nodes[id]; n.mode != 0o751 || n.uid != 1000 || n.gid != 2000 {
		t.Errorf("attrs %o %d %d", n.mode, n.uid, n.gid)
	}
	if err := tr.Chmod(Primary, "/nope", 0o644, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("chmod missing: %v", err)
	}
	if err := tr.Chmod(Primary, "/docs", 0o10000, false); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("chmod mask: %v", err)
	}
	// Removal: subtree, root, catalog.
	if n, err := tr.Remove(Primary, "/docs"); n != 1 || err != nil {
		t.Errorf("remove: %d %v", n, err)
	}
	if _, ok := tr.Lookup(AllNamespaces, "/docs/x.txt"); ok {
		t.Error("subtree survived removal")
	}
	must(t, add("/docs/x.txt")) // the name is free again
	if _, err := tr.Remove(Primary, "/"); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("remove root: %v", err)
	}
	must(t, tr.NameBootCatalog(nm("/boot.cat", "/boot.cat")))
	if _, err := tr.Remove(Joliet, "/BOOT.CAT"); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("remove catalog: %v", err)
	}
	tr2 := New(Config{Epoch: testEpoch})
	must(t, tr2.NameBootCatalog(Names{Primary: "/sub/cat/boot.cat"}))
	if n, err := tr2.Remove(Primary, "/sub"); n != 1 || err != nil {
		t.Errorf("remove dir holding the catalog: %d %v", n, err)
	}
	if cat := tr2.nodes[tr2.catalog]; cat.flags != 0 {
		t.Errorf("catalog flags %#x after its directory was removed: want hidden, alive", cat.flags)
	}
	if _, err := tr.Finalize(); !errors.Is(err, ErrNoDefaultEntry) {
		t.Errorf("catalog without default entry: %v", err)
	}
	img, _ := tr.AddFile(nm("/boot.img", ""), memSource(make([]byte, 4096)), 4096, Attrs{}, "img")
	must(t, tr.SetBootCatalog(BootCatalog{Default: &BootEntry{Image: img}}))
	if _, err := tr.Remove(Primary, "/boot.img"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Finalize(); !errors.Is(err, ErrBootImageMissing) {
		t.Errorf("dangling boot image: %v", err)
	}
	must(t, tr.SetBootCatalog(BootCatalog{Default: &BootEntry{}}))
	if _, err := tr.Finalize(); !errors.Is(err, ErrNoBootImage) {
		t.Errorf("entry without image: %v", err)
	}
	many := BootCatalog{Default: &BootEntry{Image: 1}, Sections: []BootSection{{Entries: make([]BootEntry, 62)}}}
	if err := tr.SetBootCatalog(many); !errors.Is(err, ErrTooManyBootEntries) {
		t.Errorf("64 entries: %v", err)
	}
	for _, lvl := range []int{0, 4} {
		if err := tr.SetISOLevel(lvl); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("iso level %d: %v", lvl, err)
		}
	}
	if err := tr.SetJolietLevel(4); !errors.Is(err, ErrInvalidParameter) {
		t.Error("joliet level 4 accepted")
	}
}

func TestNoPrimaryTreeAndFinalizeOnce(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	if _, err := tr.AddFile(Names{Joliet: "/j.txt"}, memSource(nil), 0, Attrs{}, "j"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Finalize(); !errors.Is(err, ErrNoData) {
		t.Errorf("Joliet-only: %v", err)
	}
	if _, err := tr.AddFile(Names{Primary: "/p.txt"}, memSource(nil), 0, Attrs{}, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AddFile(Names{Primary: "/late"}, memSource(nil), 0, Attrs{}, "late"); !errors.Is(err, ErrFinalized) {
		t.Errorf("add after finalize: %v", err)
	}
}

func TestJolietNameTooLong(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	name := "/dir/" + strings.Repeat("x", 111)
	if _, err := tr.AddFile(nm("/ok", name), memSource(nil), 0, Attrs{}, "x"); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Finalize()
	if !errors.Is(err, ErrNameTooLong) || !strings.Contains(err.Error(), name) {
		t.Errorf("got %v", err)
	}
}

func TestVolumeStrings(t *testing.T) {
	tr := New(Config{Epoch: testEpoch, SystemID: "SYS", ApplicationID: "APP"})
	must(t, tr.SetVolumeString(AllNamespaces, PublisherID, "Pub ü"))
	must(t, tr.SetVolumeString(Primary, VolumeSetID, strings.Repeat("v", 200)))
	must(t, tr.SetVolumeString(Joliet, AbstractFileID, strings.Repeat("😀", 20)))
	must(t, tr.SetVolumeString(Joliet, CopyrightFileID, strings.Repeat("c", 256)))
	if _, err := tr.AddFile(nm("/f", "/f"), memSource(nil), 0, Attrs{}, "f"); err != nil {
		t.Fatal(err)
	}
	img, err := tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	if img.VolumeID() != "2024-05-01T10:20:30.123456789Z" {
		t.Errorf("volume id %q", img.VolumeID())
	}
	pvd, svd := make([]byte, 2048), make([]byte, 2048)
	img.ReadAt(pvd, 16*2048)
	img.ReadAt(svd, 17*2048)
	if string(pvd[8:40]) != "SYS"+strings.Repeat(" ", 29) || string(pvd[318:324]) != "Pub \xc3\xbc" || pvd[324] != ' ' {
		t.Errorf("PVD strings %q %q", pvd[8:40], pvd[318:330])
	}
	if string(pvd[190:318]) != strings.Repeat("v", 128) {
		t.Error("volume set id not cut at 128 bytes")
	}
	if string(pvd[813:830]) != "2024050110203012\x00" || string(pvd[847:864]) != "0000000000000000\x00" {
		t.Errorf("PVD dates %q %q", pvd[813:830], pvd[847:864])
	}
	if got := decodeUTF16BE(svd[40:72]); got != "2024-05-01T10:20" {
		t.Errorf("Joliet volume id %q", got)
	}
	if !bytes.Equal(svd[8:40], bytes.Repeat([]byte{0, ' '}, 16)) {
		t.Errorf("Joliet system id % x", svd[8:40])
	}
	if got := decodeUTF16BE(svd[739:775]); got != strings.Repeat("😀", 9) {
		t.Errorf("Joliet abstract %q", got)
	}
	if !bytes.Equal(svd[702:738], bytes.Repeat([]byte{0, ' '}, 18)) {
		t.Errorf("Joliet copyright over 255 units should be blank: % x", svd[702:738])
	}
	if string(svd[88:91]) != "%/E" {
		t.Errorf("escape %q", svd[88:91])
	}
}

// TestReadAtContract checks EOF rules, odd offsets against WriteTo, and concurrent readers.
func TestReadAtContract(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		f.file(t, nm("/d"+string(rune('a'+i%5))+"/file"+strings.Repeat("x", i)+".bin", "/j/f"+strings.Repeat("y", i)),
			bytes.Repeat([]byte{byte(i)}, i*700), 0o644)
	}
	img, err := f.tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	if n, err := img.WriteTo(&whole); err != nil || n != img.Size() {
		t.Fatalf("WriteTo %d %v", n, err)
	}
	buf := make([]byte, 10)
	if n, err := img.ReadAt(buf, img.Size()); n != 0 || err != io.EOF {
		t.Errorf("at end: %d %v", n, err)
	}
	if n, err := img.ReadAt(buf, img.Size()+5); n != 0 || err != io.EOF {
		t.Errorf("past end: %d %v", n, err)
	}
	if n, err := img.ReadAt(buf, img.Size()-4); n != 4 || err != io.EOF {
		t.Errorf("crossing end: %d %v", n, err)
	}
	if _, err := img.ReadAt(buf, -1); err == nil {
		t.Error("negative offset accepted")
	}
	data := whole.Bytes()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, 7000)
			for off := int64(g * 333); off < img.Size(); off += 4099 {
				n, _ := img.ReadAt(b, off)
				if !bytes.Equal(b[:n], data[off:off+int64(n)]) {
					t.Errorf("goroutine %d: mismatch at %d", g, off)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDeterminism(t *testing.T) {
	build := func(epoch time.Time) [32]byte {
		tr := New(Config{Epoch: epoch})
		for _, p := range []string{"/b/x", "/a/y", "/c", "/a/z/w"} {
			if _, err := tr.AddFile(nm(p, p), memSource(p), int64(len(p)), Attrs{Mode: 0o644}, p); err != nil {
				t.Fatal(err)
			}
		}
		img, err := tr.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := img.WriteTo(h); err != nil {
			t.Fatal(err)
		}
		return [32]byte(h.Sum(nil))
	}
	a, b := build(testEpoch), build(testEpoch)
	if a != b {
		t.Error("same input, different bytes")
	}
	if c := build(testEpoch.Add(time.Second)); c == a {
		t.Error("epoch does not reach the image")
	}
}

type shrinkingSource struct{}

func (shrinkingSource) ReadAt(p []byte, off int64) (int, error) { return 0, io.EOF }

func TestSourceShrank(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	if _, err := tr.AddFile(nm("/gone", "/gone"), shrinkingSource{}, 5000, Attrs{}, "gone"); err != nil {
		t.Fatal(err)
	}
	img, err := tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	_, err = img.WriteTo(io.Discard)
	if !errors.Is(err, ErrSourceShrank) || !strings.Contains(err.Error(), "/gone") {
		t.Errorf("got %v", err)
	}
}

func TestFilesAndSystemArea(t *testing.T) {
	tr := New(Config{Epoch: testEpoch})
	for _, p := range []string{"/b/z.txt", "/a.txt", "/b/c/d.bin"} {
		if _, err := tr.AddFile(nm(p, p), memSource(p), int64(len(p)), Attrs{Mode: 0o640}, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.AddSymlink(Names{Primary: "/ln"}, "a.txt", Attrs{}, "ln"); err != nil {
		t.Fatal(err)
	}
	sys := bytes.Repeat([]byte("G"), 40000) // longer than 32 KiB: cut
	must(t, tr.ReadSystemArea(bytes.NewReader(sys)))
	img, err := tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range img.Files() {
		got = append(got, fmt.Sprintf("%s:%d:%o", f.Path, f.Size, f.Mode))
	}
	want := []string{"/a.txt:6:640", "/b/z.txt:8:640", "/b/c/d.bin:10:640"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Files() = %v, want %v", got, want)
	}
	area := make([]byte, 32768+1)
	img.ReadAt(area, 0)
	if !bytes.Equal(area[:32768], sys[:32768]) || area[32768] != 1 {
		t.Error("system area not served from -G data")
	}
}

func TestEmptyTree(t *testing.T) {
	img, err := New(Config{Epoch: testEpoch}).Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkISO(img, img.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Primary) != 0 || ck.JolietLevel != 0 || img.Size() != (16+2+3+150)*2048 {
		t.Errorf("empty image: %d entries, Joliet %d, size %d", len(ck.Primary), ck.JolietLevel, img.Size())
	}
}
