package isoread

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMultiExtentSparse masters a sparse 4.5 GiB file with -iso-level 3; the
// image is written through cp --sparse=always so disk use stays small. The
// two directory records must merge into one entry whose data, read through
// the extents, hashes like the source.
func TestMultiExtentSparse(t *testing.T) {
	const size = 4_831_838_208 // 4.5 GiB: one full 0xFFFFF800-byte extent plus a rest
	needTool(t, "xorriso", "xorriso")
	needTool(t, "cp", "coreutils")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeTree(t, src, []srcNode{
		{path: "huge.bin", sparse: size, data: data(5000, 9)},
		{path: "small.txt", data: []byte("small\n")},
	})
	// Data across the 4 GiB boundary, which falls inside the second extent.
	f, err := os.OpenFile(filepath.Join(src, "huge.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data(10000, 7), 0xFFFFF800-5000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	iso := filepath.Join(dir, "big.iso")
	cmd := exec.Command("sh", "-c", `xorriso -as mkisofs -quiet -iso-level 3 -R -J -o - "$1" | cp --sparse=always /dev/stdin "$2"`, "sh", src, iso)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	want := scanSource(t, src)
	v := openFile(t, iso, Options{})
	for _, view := range []View{ViewRockRidge, ViewJoliet, ViewISO9660} {
		tr, err := v.Tree(view)
		if err != nil {
			t.Fatal(err)
		}
		e, err := tr.Lookup("/HUGE.BIN")
		if err != nil {
			t.Fatalf("%s: %v", view, err)
		}
		if e.Size != size || len(e.Extents) != 2 || e.Extents[0].Length != 0xFFFFF800 {
			t.Fatalf("%s: size %d extents %+v, want two extents totalling %d", view, e.Size, e.Extents, uint64(size))
		}
		if e.Extents[1].LBA != e.Extents[0].LBA+0xFFFFF800/SectorSize {
			t.Errorf("%s: extents not contiguous: %+v", view, e.Extents)
		}
		if view == ViewRockRidge {
			compareTree(t, v, tr, want, true, nil)
		}
	}
}
