package isoimage

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/csi-viso/csi-viso/internal/hostfile"
)

type rootOpener struct{ dir string }

func (o rootOpener) Open(p string) (*os.File, error) { return os.Open(filepath.Join(o.dir, p)) }

// fdFixture is an image whose files come from host files (one of them a
// patched boot image, one past 4 GiB so it has several extents, one empty)
// plus a memory file.
type fdFixture struct {
	img  *Image
	ids  map[string]ID
	pool *hostfile.Pool
}

const bigFdSize = 4<<30 + 3*sectorSize + 100 // > 4 GiB: three directory extents

func newFdFixture(t *testing.T) *fdFixture {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.bin", pattern(5000, 1))
	write("boot.bin", pattern(4*sectorSize, 2))
	write("empty.bin", nil)
	// Sparse apart from recognisable bytes around the 4 GiB extent boundary.
	big, err := os.Create(filepath.Join(dir, "big.bin"))
	must(t, err)
	must(t, big.Truncate(bigFdSize))
	_, err = big.WriteAt(pattern(2*sectorSize, 3), 4<<30-sectorSize)
	must(t, err)
	must(t, big.Close())

	pool := hostfile.NewPool(rootOpener{dir}, 2)
	t.Cleanup(func() { pool.Close() })
	tr := New(Config{Epoch: testEpoch})
	fx := &fdFixture{pool: pool, ids: map[string]ID{}}
	add := func(name string, src Source, size int64) {
		id, err := tr.AddFile(nm("/"+name, "/"+name), src, size, Attrs{Mode: 0o444}, name)
		must(t, err)
		fx.ids[name] = id
	}
	for _, f := range []struct {
		name string
		size int64
	}{{"a.bin", 5000}, {"boot.bin", 4 * sectorSize}, {"empty.bin", 0}, {"big.bin", bigFdSize}} {
		add(f.name, pool.File(f.name, f.size), f.size)
	}
	add("mem.txt", memSource(pattern(3000, 4)), 3000)
	must(t, tr.SetBootCatalog(BootCatalog{Default: &BootEntry{Image: fx.ids["boot.bin"], Emulation: EmulationNone, SectorCount: 4, BootInfoTable: true}}))
	fx.img, err = tr.Finalize()
	must(t, err)
	return fx
}

func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkLent compares the lent file's bytes with ReadAt's and releases it.
func checkLent(t *testing.T, im *Image, off int64, n int, f *os.File, fileOff int64, release func()) {
	t.Helper()
	if release != nil {
		defer release()
	}
	want := make([]byte, n)
	if _, err := im.ReadAt(want, off); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	got := make([]byte, n)
	if _, err := f.ReadAt(got, fileOff); err != nil {
		t.Fatalf("read lent file at %d: %v", fileOff, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("lent bytes at image offset %d (+%d) differ from ReadAt", off, n)
	}
}

func TestFdRangeMapping(t *testing.T) {
	fx := newFdFixture(t)
	im := fx.img
	at := func(name string) int64 { return int64(im.nodes[fx.ids[name]].lba) * sectorSize }
	a, boot, big, mem := at("a.bin"), at("boot.bin"), at("big.bin"), at("mem.txt")
	tests := []struct {
		name    string
		off     int64
		n       int
		wantOK  bool
		wantOff int64 // offset in the lent file
	}{
		{"whole file", a, 5000, true, 0},
		{"first byte", a, 1, true, 0},
		{"last byte", a + 4999, 1, true, 4999},
		{"into the sector tail", a + 4999, 2, false, 0},
		{"sector tail only", a + 5000, 48, false, 0},
		{"from the previous sector", a - 1, 2, false, 0},
		{"boot image before the table", boot, 8, true, 0},
		{"boot image into the table", boot, 9, false, 0},
		{"boot info table", boot + 8, 56, false, 0},
		{"last table byte", boot + 63, 1, false, 0},
		{"boot image after the table", boot + 64, 4*sectorSize - 64, true, 64},
		{"memory file", mem, 3000, false, 0},
		{"big file start", big, 1 << 20, true, 0},
		{"big file across the 4 GiB extent edge", big + 4<<30 - sectorSize, 2 * sectorSize, true, 4<<30 - sectorSize},
		{"big file end", big + bigFdSize - 100, 100, true, bigFdSize - 100},
		{"big file end plus tail", big + bigFdSize - 100, 101, false, 0},
		{"system area", 0, sectorSize, false, 0},
		{"volume descriptors", 16 * sectorSize, sectorSize, false, 0},
		{"whole image", 0, int(min(im.size, 1<<30)), false, 0},
		{"empty read", a, 0, false, 0},
		{"negative offset", -1, 4, false, 0},
		{"past the end", im.size - 1, 2, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, off, release, ok := im.FdRange(tc.off, tc.n)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if off != tc.wantOff {
				t.Errorf("file offset %d, want %d", off, tc.wantOff)
			}
			checkLent(t, im, tc.off, tc.n, f, off, release)
		})
	}
	if p := im.patches[fx.ids["boot.bin"]]; p == nil {
		t.Fatal("boot image has no boot info table: the patched cases test nothing")
	}
}

// TestFdRangeAgreesWithReadAt: wherever FdRange lends a file, its bytes are
// the image's; reads are random in place and size, dense around the files.
func TestFdRangeAgreesWithReadAt(t *testing.T) {
	fx := newFdFixture(t)
	im := fx.img
	r := rand.New(rand.NewPCG(1, 2))
	var lent int
	for range 3000 {
		var off int64
		if r.IntN(4) == 0 {
			off = r.Int64N(im.size)
		} else {
			name := []string{"a.bin", "boot.bin", "empty.bin", "big.bin", "mem.txt"}[r.IntN(5)]
			off = int64(im.nodes[fx.ids[name]].lba)*sectorSize + r.Int64N(3*sectorSize) - sectorSize
		}
		n := 1 + r.IntN(3*sectorSize)
		f, fileOff, release, ok := im.FdRange(off, n)
		if !ok {
			continue
		}
		lent++
		checkLent(t, im, off, n, f, fileOff, release)
	}
	if lent < 300 {
		t.Fatalf("only %d of 3000 reads lent a file", lent)
	}
}

// baseExtentSource is a file of the base ISO the in-place layout keeps.
type baseExtentSource struct {
	*io.SectionReader
	lba uint32
}

func (s baseExtentSource) BaseExtent() (uint32, bool) { return s.lba, true }

// TestFdRangeInPlace: kept files are lent from the base file itself, except
// the boot info table laid over the kept boot image.
func TestFdRangeInPlace(t *testing.T) {
	// The base: a first image with a data file and a boot image, on disk.
	tr := New(Config{Epoch: testEpoch})
	data, bootData := pattern(10*sectorSize+7, 5), pattern(4*sectorSize, 6)
	dataID, err := tr.AddFile(nm("/data.bin", ""), memSource(data), int64(len(data)), Attrs{Mode: 0o444}, "data")
	must(t, err)
	bootID, err := tr.AddFile(nm("/boot.bin", ""), memSource(bootData), int64(len(bootData)), Attrs{Mode: 0o444}, "boot")
	must(t, err)
	baseImg, err := tr.Finalize()
	must(t, err)
	path := filepath.Join(t.TempDir(), "base.iso")
	out, err := os.Create(path)
	must(t, err)
	_, err = baseImg.WriteTo(out)
	must(t, err)
	must(t, out.Close())
	base, err := os.Open(path)
	must(t, err)
	defer base.Close()

	// The new image keeps both files at their LBAs and adds one.
	tr = New(Config{Epoch: testEpoch})
	must(t, tr.SetBase(Base{Size: baseImg.Size(), Source: base}))
	keep := func(name string, id ID, size int64) ID {
		lba := baseImg.nodes[id].lba
		src := baseExtentSource{io.NewSectionReader(base, int64(lba)*sectorSize, size), lba}
		nid, err := tr.AddFile(nm(name, ""), src, size, Attrs{Mode: 0o444}, name)
		must(t, err)
		return nid
	}
	keptData := keep("/data.bin", dataID, int64(len(data)))
	keptBoot := keep("/boot.bin", bootID, int64(len(bootData)))
	_, err = tr.AddFile(nm("/new.txt", ""), memSource([]byte("new")), 3, Attrs{Mode: 0o444}, "new")
	must(t, err)
	must(t, tr.SetBootCatalog(BootCatalog{Default: &BootEntry{Image: keptBoot, Emulation: EmulationNone, SectorCount: 4, BootInfoTable: true}}))
	im, err := tr.Finalize()
	must(t, err)
	if im.base == nil || len(im.basePatches) != 1 {
		t.Fatalf("not an in-place layout with one patched boot image (base %v, patches %d)", im.base != nil, len(im.basePatches))
	}
	d := int64(im.nodes[keptData].lba) * sectorSize
	b := int64(im.nodes[keptBoot].lba) * sectorSize
	for _, tc := range []struct {
		name   string
		off    int64
		n      int
		wantOK bool
	}{
		{"kept file", d, len(data), true},
		{"kept file middle", d + 100, 5000, true},
		{"kept boot image head", b, 8, true},
		{"kept boot image table", b + 8, 56, false},
		{"kept boot image tail", b + 64, 100, true},
		{"new metadata", 16 * sectorSize, sectorSize, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, off, release, ok := im.FdRange(tc.off, tc.n)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if f != base || off != tc.off {
				t.Errorf("lent %s at %d, want the base at the same offset %d", f.Name(), off, tc.off)
			}
			checkLent(t, im, tc.off, tc.n, f, off, release)
		})
	}
}
