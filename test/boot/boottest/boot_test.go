package boottest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/csi-viso/csi-viso/test/boot/boottest"
)

// refFile is a data file of the reference image and its name in each view.
type refFile struct {
	rr, joliet, plain string // paths in the views; "" = absent from that view
	content           []byte
	mode              fs.FileMode
	symlink           string // target; content unused
}

// 80 characters: beyond ISO 9660 and default Joliet limits, within -joliet-long.
const longName = "this_is_a_very_long_file_name_that_exceeds_the_iso9660_limits_and_then_somex.txt"

func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// The plain (ISO 9660) names are the ones xorriso 1.5.4 derives with Rock
// Ridge on, as the kernel shows them (lowercased 8.3, non-ASCII mapped to _);
// xorriso maps the characters Joliet forbids (control characters, \) to _.
var refFiles = []refFile{
	{rr: "/data/hello.txt", joliet: "/data/hello.txt", plain: "/data/hello.txt", content: []byte("hello\n"), mode: 0o644},
	{rr: "/data/empty", joliet: "/data/empty", plain: "/data/empty", content: []byte{}, mode: 0o644},
	{rr: "/data/script.sh", joliet: "/data/script.sh", plain: "/data/script.sh", content: []byte("#!/bin/sh\necho hi\n"), mode: 0o755},
	{rr: "/data/secret", joliet: "/data/secret", plain: "/data/secret", content: []byte("s\n"), mode: 0o640},
	{rr: "/data/" + longName, joliet: "/data/" + longName, plain: "/data/this_is_.txt", content: []byte("long\n"), mode: 0o644},
	{rr: "/data/Ünïcödé-日本語.txt", joliet: "/data/Ünïcödé-日本語.txt", plain: "/data/_n_c_d__.txt", content: []byte("unicode\n"), mode: 0o644},
	// Console-hostile names: the guest prints them hex-encoded.
	{rr: "/data/odd name 'q' \"%25\" ~.txt", joliet: "/data/odd name 'q' \"%25\" ~.txt", plain: "/data/odd_name.txt", content: []byte("odd\n"), mode: 0o644},
	{rr: "/data/new\nline\\tab\t.txt", joliet: "/data/new_line_tab_.txt", plain: "/data/new_line.txt", content: []byte("nl\n"), mode: 0o600},
	{rr: "/data/sub/deep/blob.bin", joliet: "/data/sub/deep/blob.bin", plain: "/data/sub/deep/blob.bin", content: pattern(300*1024 + 7), mode: 0o644},
	// No Joliet symlinks; the ISO 9660 tree holds the node as an empty file.
	{rr: "/data/link", plain: "/data/link", symlink: "hello.txt", mode: 0o777},
}

var refDirs = [][3]string{ // rr, joliet, plain
	{"/data", "/data", "/data"},
	{"/data/sub", "/data/sub", "/data/sub"},
	{"/data/sub/deep", "/data/sub/deep", "/data/sub/deep"},
	{"/data/emptydir", "/data/emptydir", "/data/emptydir"},
}

func TestBootReferenceImage(t *testing.T) {
	start := time.Now()
	p := boottest.Payload(t)
	t.Logf("payload ready in %s: %s", time.Since(start).Round(time.Millisecond), p.Dir)
	iso := buildReference(t, p)

	for _, tc := range []struct{ mode, device string }{
		{boottest.ModeBIOS, "/dev/sr0"},
		{boottest.ModeUEFI, "/dev/sr0"},
		{boottest.ModeBIOSHDD, "/dev/sda"},
		{boottest.ModeDirect, "/dev/sr0"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			res := boottest.Boot(t, tc.mode, iso)
			if res.Device != tc.device {
				t.Errorf("guest mounted %s, want %s", res.Device, tc.device)
			}
			checkListing(t, res.Listing, p)
		})
	}
}

func checkListing(t *testing.T, l boottest.Listing, p boottest.PayloadFiles) {
	t.Helper()
	views := []struct {
		name string
		path func(refFile) string
		dir  int
	}{
		{boottest.ViewRockRidge, func(f refFile) string { return f.rr }, 0},
		{boottest.ViewJoliet, func(f refFile) string { return f.joliet }, 1},
		{boottest.ViewPlain, func(f refFile) string { return f.plain }, 2},
	}
	for _, vw := range views {
		v := l.View(vw.name)
		if v == nil {
			t.Errorf("view %s missing", vw.name)
			continue
		}
		want := map[string]bool{}
		for _, f := range refFiles {
			path := vw.path(f)
			if path == "" {
				continue
			}
			want[path] = true
			e, ok := v.Lookup(path)
			if !ok {
				t.Errorf("%s: %q missing", vw.name, path)
				continue
			}
			checkEntry(t, vw.name, e, f)
		}
		for _, d := range refDirs {
			want[d[vw.dir]] = true
			if e, ok := v.Lookup(d[vw.dir]); !ok || e.Type != boottest.TypeDir {
				t.Errorf("%s: directory %q: %+v %v", vw.name, d[vw.dir], e, ok)
			}
		}
		// Nothing else under /data, and the payload reads back intact.
		var extra []string
		for _, e := range v.Entries {
			if strings.HasPrefix(e.Path, "/data") && !want[e.Path] {
				extra = append(extra, e.Path)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			t.Errorf("%s: unexpected entries %q", vw.name, extra)
		}
		for img, host := range p.Tree() {
			e, ok := v.Lookup("/" + img)
			if img == boottest.ImageIsolinuxBin {
				continue // patched by the boot info table
			}
			if sum := fileSHA256(t, host); !ok || e.SHA256 != sum {
				t.Errorf("%s: payload /%s: got %+v, want sha256 %s", vw.name, img, e, sum)
			}
		}
	}
}

func checkEntry(t *testing.T, view string, e boottest.Entry, f refFile) {
	t.Helper()
	if f.symlink != "" && view == boottest.ViewPlain {
		if e.Type != boottest.TypeFile || e.Size != 0 {
			t.Errorf("%s: %q: got %+v, want an empty file", view, e.Path, e)
		}
		return
	}
	if f.symlink != "" {
		if e.Type != boottest.TypeSymlink || e.Target != f.symlink {
			t.Errorf("%s: %q: got %+v, want symlink to %q", view, e.Path, e, f.symlink)
		}
		return
	}
	sum := sha256.Sum256(f.content)
	if e.Type != boottest.TypeFile || e.Size != int64(len(f.content)) || e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("%s: %q: got type %s size %d sha256 %s, want file size %d sha256 %x",
			view, e.Path, e.Type, e.Size, e.SHA256, len(f.content), sum)
	}
	// Only Rock Ridge carries modes; the other views show isofs defaults.
	if view == boottest.ViewRockRidge && e.Mode != f.mode {
		t.Errorf("%s: %q: mode %v, want %v", view, e.Path, e.Mode, f.mode)
	}
}

// buildReference lays out the payload and the data files and makes a
// BIOS+UEFI isohybrid image with xorriso (installed by prepare.sh).
func buildReference(t *testing.T, p boottest.PayloadFiles) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for img, host := range p.Tree() {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatalf("payload: %v", err)
		}
		writeFile(t, filepath.Join(tree, img), b, 0o644)
	}
	for _, f := range refFiles {
		path := filepath.Join(tree, filepath.FromSlash(f.rr))
		if f.symlink != "" {
			if err := os.Symlink(f.symlink, path); err != nil {
				t.Fatalf("symlink: %v", err)
			}
			continue
		}
		writeFile(t, path, f.content, f.mode)
	}
	for _, d := range refDirs {
		if err := os.MkdirAll(filepath.Join(tree, d[0]), 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
	}
	iso := filepath.Join(dir, "ref.iso")
	// -joliet-long keeps the 80-character name whole in Joliet, as our own
	// images do (up to 110 UTF-16 units).
	cmd := exec.Command("xorriso", "-as", "mkisofs", "-o", iso, "-V", "CSIVISO_REF", "-R", "-J", "-joliet-long",
		"-b", boottest.ImageIsolinuxBin, "-c", boottest.ImageBootCatalog, "-no-emul-boot",
		"-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", boottest.ImageEFIBootImg, "-no-emul-boot",
		"-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-isohybrid-gpt-basdat", tree)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	return iso
}

func writeFile(t *testing.T, path string, b []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatalf("chmod: %v", err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestBootReportsUnreadableFile proves the failure path end to end: a
// primary-tree record whose extent lies past the end of the medium must make
// the guest report a read error (and Boot's error wrap ErrGuest), while the
// Joliet tree, which has its own record, still reads the file.
func TestBootReportsUnreadableFile(t *testing.T) {
	p := boottest.Payload(t)
	iso := buildReference(t, p)
	img, err := os.ReadFile(iso)
	if err != nil {
		t.Fatalf("read image: %v", err)
	}
	// The ISO 9660 name starts 33 bytes into its directory record; the
	// extent LBA is both-endian at offsets 2 (LE) and 6 (BE).
	name := []byte("HELLO.TXT;1")
	i := bytes.Index(img, name)
	if i < 33 || int(img[i-33+32]) != len(name) || bytes.Contains(img[i+1:], name) {
		t.Fatalf("cannot locate a unique primary record of hello.txt (at %d)", i)
	}
	rec := img[i-33:]
	const beyond = 0x00800000 // 16 GiB into an image of a few MiB
	binary.LittleEndian.PutUint32(rec[2:], beyond)
	binary.BigEndian.PutUint32(rec[6:], beyond)
	bad := filepath.Join(t.TempDir(), "bad.iso")
	if err := os.WriteFile(bad, img, 0o644); err != nil {
		t.Fatalf("write image: %v", err)
	}

	res, err := boottest.BootISO(context.Background(), boottest.ModeBIOS, bad, filepath.Join(t.TempDir(), "serial.log"))
	t.Logf("boot bios (corrupted): %s", res.Elapsed.Round(10*time.Millisecond))
	if !errors.Is(err, boottest.ErrGuest) || !errors.Is(err, boottest.ErrBootFailed) {
		t.Fatalf("BootISO error = %v, want ErrGuest and ErrBootFailed", err)
	}
	for _, view := range []string{boottest.ViewRockRidge, boottest.ViewPlain} {
		found := false
		for _, msg := range res.Errors {
			found = found || msg == view+": read /data/hello.txt"
		}
		if !found {
			t.Errorf("no read error for /data/hello.txt in view %s; errors: %q", view, res.Errors)
		}
	}
	if len(res.Errors) != 2 {
		t.Errorf("want exactly 2 guest errors, got %q", res.Errors)
	}
	e, ok := res.View(boottest.ViewJoliet).Lookup("/data/hello.txt")
	if sum := sha256.Sum256([]byte("hello\n")); !ok || e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("joliet: hello.txt = %+v, %v; want it intact", e, ok)
	}
}
