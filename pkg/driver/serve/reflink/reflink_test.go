package reflink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/internal/testfs"
	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/driver/serve/reflink"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

const gib = 1 << 30

// writeRandom writes n pseudo-random bytes (fast, reproducible) to path.
func writeRandom(t *testing.T, path string, n int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	buf := make([]byte, 4<<20)
	for n > 0 {
		k := min(int64(len(buf)), n)
		_, _ = r.Read(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// remasterFixture lays out, in dir, a 1 GiB base ISO (one big random file
// plus an isolinux-like tree, mastered by xorriso) and a VISO remastering it
// the way VirtualBox's unattended installer does: a replaced menu, an added
// answer file, and an added file whose size is not a multiple of 2048 so
// that the files after it sit at odd sectors (copied, not cloned).
func remasterFixture(t *testing.T, dir string) (visoPath string, added int64) {
	t.Helper()
	// The base's source tree lives outside dir: deleting it there would
	// free blocks late (btrfs) and blur the disk-use measurement.
	src := t.TempDir()
	for _, d := range []string{"isolinux", "install.amd"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeRandom(t, filepath.Join(src, "install.amd", "big.bin"), gib, 1)
	writeRandom(t, filepath.Join(src, "install.amd", "odd.bin"), 1234567, 2)
	if err := os.WriteFile(filepath.Join(src, "isolinux", "isolinux.cfg"), []byte("default install\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xorriso", "-abort_on", "FAILURE", "-outdev", filepath.Join(dir, "base.iso"),
		"-volid", "BASE", "-joliet", "on", "-map", src, "/").CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	writeRandom(t, filepath.Join(dir, "extra.bin"), 3<<20+777, 3)
	writeRandom(t, filepath.Join(dir, "tail.bin"), 5<<20, 4)
	files := map[string]string{
		"Unattended-1-isolinux.cfg": "default auto\nlabel auto\n  append auto=true priority=critical preseed/file=/cdrom/preseed.cfg\n",
		"Unattended-1-preseed.cfg":  "d-i debian-installer/locale string en_US\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		added += int64(len(body))
	}
	added += 3<<20 + 777 + 5<<20
	visoPath = filepath.Join(dir, "Unattended-1.viso")
	body := "--iprt-iso-maker-file-marker-bourne-sh 6b2b1a35-8a1f-4f4e-9a8f-0d7b2f1f5c11\n" +
		"--rock-ridge --import-iso=base.iso\n" +
		"/isolinux/isolinux.cfg=:must-remove: /isolinux/isolinux.cfg=Unattended-1-isolinux.cfg\n" +
		"/preseed.cfg=Unattended-1-preseed.cfg /extra.bin=extra.bin /tail.bin=tail.bin\n"
	if err := os.WriteFile(visoPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return visoPath, added
}

// buildHash is what `csi-viso build` writes for the VISO, hashed.
func buildHash(t *testing.T, visoPath string) [32]byte {
	t.Helper()
	res, err := viso.NewResolver(visoPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	doc, err := viso.ParseFile(visoPath, res)
	if err != nil {
		t.Fatal(err)
	}
	img, err := doc.Build(res)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	h := sha256.New()
	if _, err := img.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := f.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// sharedBytes sums the extents filefrag flags "shared".
func sharedBytes(t *testing.T, path string) (shared int64, extents int) {
	t.Helper()
	out, err := exec.Command("filefrag", "-v", "-b1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("filefrag: %v\n%s", err, out)
	}
	// "   0:        0..    4095:    1234..  5329:   4096:             shared"
	re := regexp.MustCompile(`^\s*\d+:\s*\d+\.\.\s*\d+:\s*\d+\.\.\s*\d+:\s*(\d+):.*\bshared\b`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			var n int64
			for _, c := range m[1] {
				n = n*10 + int64(c-'0')
			}
			shared += n
			extents++
		}
	}
	return shared, extents
}

// TestMaterializeOnReflinkFS: on XFS (reflink=1) and btrfs made by the test,
// the materialised image of a VISO remastering a 1 GiB base is byte for byte
// what `csi-viso build` writes, its base data is shared with the base ISO
// (filefrag), and the disk it takes is under 1 % of the base plus the added
// files.
func TestMaterializeOnReflinkFS(t *testing.T) {
	for _, kind := range []string{"xfs", "btrfs"} {
		t.Run(kind, func(t *testing.T) {
			dir := testfs.Mount(t, kind, 4*gib)
			visoPath, added := remasterFixture(t, dir)
			want := buildHash(t, visoPath)
			if err := reflink.Probe(dir); err != nil {
				t.Fatalf("Probe on %s: %v", kind, err)
			}

			img, err := viso.NewBackend(nil).Open(context.Background(), visoPath, backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close(false)
			out := filepath.Join(dir, "state", "vol.img")
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				t.Fatal(err)
			}
			before := testfs.Free(t, dir)
			st, err := reflink.Materialize(context.Background(), img.(reflink.Image), out, reflink.Options{MaxCopyBytes: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			used := before - testfs.Free(t, dir)
			t.Logf("%s: size %d, cloned %d, copied %d, extra disk %d bytes (%.3f %% of base+added)",
				kind, st.Size, st.Cloned, st.Copied, used, 100*float64(used)/float64(gib+added))

			if got := fileHash(t, out); got != want {
				t.Fatalf("materialised image differs from csi-viso build")
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != st.Size || fi.Mode().Perm() != 0o444 {
				t.Errorf("image: size %d mode %v, want %d 0444", fi.Size(), fi.Mode().Perm(), st.Size)
			}
			if st.Cloned < gib {
				t.Errorf("cloned %d bytes, want at least the 1 GiB base file", st.Cloned)
			}
			shared, n := sharedBytes(t, out)
			if shared < gib {
				t.Errorf("filefrag shows %d shared bytes in %d extents, want ≥ 1 GiB", shared, n)
			}
			if limit := (gib + added) / 100; used > limit {
				t.Errorf("extra disk %d bytes, want < 1 %% of base+added (%d)", used, limit)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "state", ".*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestMaterializeRefusals: a file system that cannot share blocks is
// ErrNotSupported (Probe and Materialize), the copy bound is ErrTooMuchCopy
// checked before writing, and neither leaves a file behind.
func TestMaterializeRefusals(t *testing.T) {
	dir := testfs.Mount(t, "ext4", 256<<20)
	if err := reflink.Probe(dir); !errors.Is(err, reflink.ErrNotSupported) {
		t.Fatalf("Probe on ext4: %v, want ErrNotSupported", err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img := fileImage{f: f, size: int64(len(data))}
	out := filepath.Join(dir, "out.img")
	if _, err := reflink.Materialize(context.Background(), img, out, reflink.Options{}); !errors.Is(err, reflink.ErrNotSupported) {
		t.Errorf("Materialize on ext4: %v, want ErrNotSupported", err)
	}
	xfs := testfs.Mount(t, "xfs", 512<<20)
	if _, err := reflink.Materialize(context.Background(), img, filepath.Join(xfs, "out.img"), reflink.Options{}); !errors.Is(err, reflink.ErrNotSupported) {
		t.Errorf("Materialize of an ext4 source on xfs: %v, want ErrNotSupported (another file system)", err)
	}
	unaligned := fileImage{f: f, size: int64(len(data)) - 100, shift: 100}
	if _, err := reflink.Materialize(context.Background(), unaligned, filepath.Join(xfs, "out2.img"), reflink.Options{MaxCopyBytes: 4096}); !errors.Is(err, reflink.ErrTooMuchCopy) {
		t.Errorf("unaligned source with a 4 KiB copy bound: %v, want ErrTooMuchCopy", err)
	}
	for _, d := range []string{dir, xfs} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "src.bin" && e.Name() != "lost+found" {
				t.Errorf("%s left in %s", e.Name(), d)
			}
		}
	}
}

// fileImage is an image that is a file's bytes from shift on.
type fileImage struct {
	f           *os.File
	size, shift int64
}

func (i fileImage) Size() int64 { return i.size }
func (i fileImage) ReadAt(p []byte, off int64) (int, error) {
	return i.f.ReadAt(p, off+i.shift)
}
func (i fileImage) HostExtents(fn func(off, n int64, f *os.File, fileOff int64) error) error {
	return fn(0, i.size, i.f, i.shift)
}
