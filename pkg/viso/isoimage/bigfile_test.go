package isoimage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"testing"
	"time"
)

// TestOracleBigFile: a sparse 5 GiB file of zeros needs ISO level 3 and is
// written as two extents; xorriso must list one 5 GiB file and 7z must stream
// the right bytes.
func TestOracleBigFile(t *testing.T) {
	const size = 5 << 30
	for _, level := range []int{1, 2} {
		tr := New(Config{Epoch: testEpoch})
		must(t, tr.SetISOLevel(level))
		_, err := tr.AddFile(nm("/big.bin", "/big.bin"), zeroSource{}, size, Attrs{Mode: 0o444}, "zeros")
		if !errors.Is(err, ErrFileTooBig) {
			t.Fatalf("level %d: got %v, want ErrFileTooBig", level, err)
		}
		if want := "Error setting name '/big.bin' on 'zeros': file too big, requires ISO level 3"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	}
	f := newFixture(t)
	must(t, f.tr.SetRockRidgeLevel(2))
	if _, err := f.tr.AddFile(nm("/big/big.bin", "/big/big.bin"), zeroSource{}, size, Attrs{Mode: 0o444}, "zeros"); err != nil {
		t.Fatal(err)
	}
	f.file(t, nm("/big/after.txt", "/big/after.txt"), []byte("after the big one\n"), 0o644)
	img, err := f.tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck := checkOwn(t, img)
	e := ck.Primary["/big/big.bin"]
	if e == nil || e.Extents != 2 || e.Size != size {
		t.Fatalf("big.bin in checker: %+v", e)
	}
	if j := ck.Joliet["/big/big.bin"]; j == nil || j.Extents != 2 || j.Size != size {
		t.Fatalf("big.bin in Joliet: %+v", j)
	}
	start := time.Now()
	iso := writeSparse(t, img)
	t.Logf("written in %v", time.Since(start))
	got := lsdl(t, iso, false)
	if w := got["/big/big.bin"]; w.size != size {
		t.Errorf("xorriso lists big.bin with size %d", w.size)
	}
	rep := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso,
		"-find", "/big/big.bin", "-exec", "report_lba")
	if n := len(regexp.MustCompile(`(?m)^File data lba:\s+\d+`).FindAllString(rep, -1)); n != 2 {
		t.Errorf("report_lba shows %d extents, want 2:\n%s", n, rep)
	}
	t.Logf("xorriso done at %v", time.Since(start))
	// Extract once with osirrox (holes kept: sparse=1m) and hash the result;
	// 7z x -so would do the same at a tenth of the speed.
	dir := t.TempDir()
	runTool(t, "osirrox", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-osirrox", "on:sparse=1m",
		"-indev", iso, "-extract", "/big", dir+"/big")
	t.Logf("osirrox done at %v", time.Since(start))
	// The content is all zeros: compare chunk by chunk (a hash of 5 GiB costs a
	// minute here and proves nothing more).
	bf, err := os.Open(dir + "/big/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	buf, zeros := make([]byte, 4<<20), make([]byte, 4<<20)
	var n int64
	for {
		m, err := io.ReadFull(bf, buf)
		if !bytes.Equal(buf[:m], zeros[:m]) {
			t.Fatalf("extracted big.bin: non-zero bytes near offset %d", n)
		}
		n += int64(m)
		if err != nil {
			break
		}
	}
	if n != size {
		t.Errorf("extracted big.bin: %d bytes, want %d", n, int64(size))
	}
	t.Logf("content checked at %v", time.Since(start))
	if b, _ := os.ReadFile(dir + "/big/after.txt"); string(b) != "after the big one\n" {
		t.Errorf("after.txt: %q", b)
	}
}
