package oracle_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/csi-viso/csi-viso/pkg/viso"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
	"github.com/csi-viso/csi-viso/test/boot/boottest"
)

// Remastering tests (--import-iso, --push-iso, :must-remove:): base ISOs are
// mastered with xorriso from the boot payload plus a deep tree with long
// names, remastered by VISO files, and the results checked with xorriso,
// osirrox and (TestRemasterDebianStyleBoots) a Linux guest under QEMU.

// baseTime is the time of every node of the base ISO's source tree.
var baseTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	deepDir  = "pool/main/l/a/b/c/d/e/f/g/h"
	longName = "a-very-long-file-name-that-exceeds-the-sixty-four-characters-of-plain-joliet.txt"
)

// writeBaseTree lays out a Debian-style installer tree with the boot payload
// and returns its folder.
func writeBaseTree(t *testing.T, p boottest.PayloadFiles) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "base")
	files := map[string][]byte{
		"README.txt":             []byte("Debian-style test medium\n"),
		"run.sh":                 []byte("#!/bin/sh\necho installer\n"),
		deepDir + "/" + longName: pattern(70*1024+3, 11),
		"dists/stable/Release":   []byte("Suite: stable\n"),
		"isolinux/TRANS.TBL":     []byte("F README.TXT;1 README.txt\n"), // never imported
	}
	for img, host := range p.Tree() {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		files[img] = b
	}
	for name, b := range files {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(path, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("README.txt", filepath.Join(src, "readme.link")); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return exec.Command("touch", "-h", "-d", baseTime.Format(time.RFC3339), path).Run()
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// mkisofs runs xorriso -as mkisofs and returns the output path.
func mkisofs(t *testing.T, out string, args ...string) string {
	t.Helper()
	cmd := exec.Command("xorriso", append([]string{"-as", "mkisofs", "-quiet", "-o", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso -as mkisofs %v: %v\n%s", args, err, b)
	}
	return out
}

// makeBase masters the base ISO: RR + Joliet (long names), BIOS isolinux
// entry with boot info table, UEFI entry for efiboot.img (in xorriso's final
// 0x91 section), isohybrid MBR.
func makeBase(t *testing.T, p boottest.PayloadFiles, dir string) string {
	t.Helper()
	return mkisofs(t, filepath.Join(dir, "base.iso"), "-V", "DEBIAN_STYLE_TEST", "-publisher", "CSI-VISO TESTS",
		"-R", "-J", "-joliet-long",
		"-b", boottest.ImageIsolinuxBin, "-c", boottest.ImageBootCatalog,
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", boottest.ImageEFIBootImg, "-no-emul-boot",
		"-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", writeBaseTree(t, p))
}

// makeSecond masters the ISO the remasters push: a small tree with a symlink
// that only its Rock Ridge view shows.
func makeSecond(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "second")
	for name, body := range map[string]string{"top.txt": "top\n", "sub/file.txt": "second ISO\n", "sub/deeper/x.bin": "x"} {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("top.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	return mkisofs(t, filepath.Join(dir, "second.iso"), "-R", "-J", src)
}

// buildVISO writes a VISO with the given arguments (after the marker) into
// dir and builds its image; roots are extra media roots.
func buildVISO(t *testing.T, dir string, args []string, roots ...string) (string, error) {
	t.Helper()
	v := filepath.Join(dir, fmt.Sprintf("remaster-%d.viso", time.Now().UnixNano()))
	all := append([]string{"--iprt-iso-maker-file-marker-bourne-sh", "5a0f7c1e-2b3d-4e6f-9a8b-7c6d5e4f3a2b"}, args...)
	if err := os.WriteFile(v, []byte(argv.JoinBourne(all)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := viso.NewResolver(v, append([]string{dir}, roots...))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	doc, err := viso.ParseFile(v, res)
	if err != nil {
		return "", err
	}
	img, err := doc.Build(res)
	if err != nil {
		return "", err
	}
	defer img.Close()
	out := filepath.Join(t.TempDir(), "remaster.iso")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := img.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return out, f.Close()
}

// node is one entry of an extracted Rock Ridge tree.
type node struct {
	mode  fs.FileMode
	size  int64
	sum   string
	link  string
	mtime time.Time
}

func (n node) String() string {
	return fmt.Sprintf("%v %d %.12s %q %s", n.mode, n.size, n.sum, n.link, n.mtime.UTC().Format(time.RFC3339))
}

// extract unpacks the Rock Ridge tree of iso with osirrox and describes it.
func extract(t *testing.T, iso string) map[string]node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "x")
	cmd := exec.Command("osirrox", "-abort_on", "NEVER", "-return_with", "FAILURE", "32", "-indev", iso, "-extract", "/", dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("osirrox -extract %s: %v\n%s", iso, err, b)
	}
	out := map[string]node{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			rel = ""
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		n := node{mode: fi.Mode(), mtime: fi.ModTime()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			n.link, err = os.Readlink(path)
		case fi.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(path)
			n.size, n.sum = int64(len(b)), sha(b)
		}
		out["/"+filepath.ToSlash(rel)] = n
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// xorrisoReport runs xorriso on iso with the given commands and returns its output.
func xorrisoReport(t *testing.T, iso string, cmds ...string) string {
	t.Helper()
	args := append([]string{"-abort_on", "NEVER", "-indev", iso}, cmds...)
	b, err := exec.Command("xorriso", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso %v: %v\n%s", args, err, b)
	}
	return string(b)
}

// jolietNames lists the Joliet tree's paths.
func jolietNames(t *testing.T, iso string) map[string]bool {
	t.Helper()
	b, err := exec.Command("xorriso", "-abort_on", "NEVER", "-read_fs", "norock", "-indev", iso, "-find", "/").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -read_fs norock: %v\n%s", err, b)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "'/") {
			out[strings.Trim(l, "'")] = true
		}
	}
	return out
}

var bootImgRE = regexp.MustCompile(`(?m)^El Torito boot img :\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+(\d+)`)
var bootPathRE = regexp.MustCompile(`(?m)^El Torito img path :\s+(\d+)\s+(\S+)`)

// bootEntries summarises xorriso's El Torito report: "N platform emulation loadsize path".
func bootEntries(t *testing.T, iso string) []string {
	t.Helper()
	rep := xorrisoReport(t, iso, "-report_el_torito", "plain")
	paths := map[string]string{}
	for _, m := range bootPathRE.FindAllStringSubmatch(rep, -1) {
		paths[m[1]] = m[2]
	}
	var out []string
	for _, m := range bootImgRE.FindAllStringSubmatch(rep, -1) {
		out = append(out, fmt.Sprintf("%s %s %s %s %s", m[1], m[2], m[4], m[5], paths[m[1]]))
	}
	return out
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rational is the mode the default attribute style gives an imported node.
func rational(m fs.FileMode) fs.FileMode {
	perm := m.Perm()&^0o222 | 0o444
	if m.IsDir() {
		return m.Type() | perm | 0o555
	}
	if m.Perm()&0o111 != 0 {
		perm |= 0o111
	}
	return m.Type() | perm
}

var wantBootEntries = []string{
	"1 BIOS none 4 /" + boottest.ImageIsolinuxBin,
	"2 UEFI none %d /" + boottest.ImageEFIBootImg,
}

func efiLoadSize(t *testing.T, p boottest.PayloadFiles) []string {
	t.Helper()
	fi, err := os.Stat(p.EFIBootImg)
	if err != nil {
		t.Fatal(err)
	}
	return []string{wantBootEntries[0], fmt.Sprintf(wantBootEntries[1], fi.Size()/512)}
}

// TestImportISO imports a base ISO unchanged and compares the result with the
// base as osirrox and xorriso read them: every node with its name, content,
// rationalised mode and imported time, the Joliet names, the volume id and
// both El Torito entries (the UEFI one sits in the base's final 0x91 section,
// which VirtualBox drops).
func TestImportISO(t *testing.T) {
	p := boottest.Payload(t)
	dir := t.TempDir()
	base := makeBase(t, p, dir)
	start := time.Now()
	iso, err := buildVISO(t, dir, []string{"--import-iso", "base.iso"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import + write: %s", time.Since(start).Round(time.Millisecond))

	want, got := extract(t, base), extract(t, iso)
	for path, w := range want {
		g, ok := got[path]
		switch {
		case path == "/isolinux/TRANS.TBL":
			continue // checked below
		case !ok:
			t.Errorf("%s missing", path)
			continue
		case path == "/":
			continue
		case path == "/"+boottest.ImageBootCatalog:
			// The catalog is the image's own (new LBAs, its own size) at the base's path.
			if g.size == 0 || g.mode != rational(w.mode) {
				t.Errorf("boot catalog: %v", g)
			}
			continue
		case path == "/"+boottest.ImageIsolinuxBin:
			// Its boot info table is patched with the new LBAs.
			g.sum, w.sum = "", ""
		}
		w.mode = rational(w.mode)
		if w.link != "" {
			// osirrox sets no times on links; a link's permissions mean nothing.
			w.mode, w.mtime = g.mode, g.mtime
		}
		if g != w {
			t.Errorf("%s:\n got %v\nwant %v", path, g, w)
		}
		if w.link == "" && !g.mtime.Equal(baseTime) {
			t.Errorf("%s: time %s, want the imported %s", path, g.mtime.UTC(), baseTime)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: not in the base", path)
		}
	}
	if _, ok := want["/isolinux/TRANS.TBL"]; !ok {
		t.Error("the base lacks its TRANS.TBL: test setup broken")
	}
	if _, ok := got["/isolinux/TRANS.TBL"]; ok {
		t.Error("TRANS.TBL was imported")
	}
	// Joliet: same names, the long one whole.
	jw, jg := jolietNames(t, base), jolietNames(t, iso)
	delete(jw, "/isolinux/TRANS.TBL")
	if fmt.Sprint(jw) != fmt.Sprint(jg) {
		t.Errorf("Joliet tree:\n got %v\nwant %v", jg, jw)
	}
	if !jg["/"+deepDir+"/"+longName] {
		t.Errorf("Joliet lacks the long name")
	}
	if got, want := bootEntries(t, iso), efiLoadSize(t, p); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("El Torito entries:\n got %q\nwant %q", got, want)
	}
	pvd := xorrisoReport(t, iso, "-pvd_info")
	for _, s := range []string{"Volume Id    : DEBIAN_STYLE_TEST", "Publisher Id : CSI-VISO TESTS"} {
		if !strings.Contains(pvd, s) {
			t.Errorf("PVD info lacks %q:\n%s", s, pvd)
		}
	}
	// The isohybrid MBR came along with the system area.
	if rep := xorrisoReport(t, iso, "-report_system_area", "plain"); !strings.Contains(rep, "MBR") {
		t.Errorf("system area not imported:\n%s", rep)
	}
}

// TestRemasterVariants covers removal and replacement of imported entries,
// --import-iso-skip-eltorito, pushed ISOs and -b replacing the imported
// default entry.
func TestRemasterVariants(t *testing.T) {
	p := boottest.Payload(t)
	dir := t.TempDir()
	makeBase(t, p, dir)
	second := makeSecond(t, dir)
	inner := filepath.Join(t.TempDir(), "outer", "inner")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(inner, "second.iso"), b)
	mkisofs(t, filepath.Join(dir, "outer.iso"), "-R", "-J", filepath.Dir(inner))
	writeFile(t, filepath.Join(dir, "new-isolinux.cfg"), []byte("SAY new menu\n"))
	writeFile(t, filepath.Join(dir, "other.bin"), pattern(4096, 3))
	newCfg := sha([]byte("SAY new menu\n"))
	bios, efi := efiLoadSize(t, p)[0], efiLoadSize(t, p)[1]

	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, tree map[string]node, boot []string)
	}{
		{"must-remove and re-add", []string{"--import-iso", "base.iso",
			"isolinux/isolinux.cfg=:must-remove:", "isolinux/isolinux.cfg=new-isolinux.cfg"},
			func(t *testing.T, tree map[string]node, _ []string) {
				if n := tree["/isolinux/isolinux.cfg"]; n.sum != newCfg || n.mode != 0o444 {
					t.Errorf("isolinux.cfg = %v, want the new content", n)
				}
			}},
		{"remove by ISO identifier and Joliet name", []string{"--import-iso", "base.iso",
			"/README.TXT=:must-remove:", "/README.LIN=:must-remove:", "/" + deepDir + "/" + longName + "=:must-remove:", "/dists=:remove:"},
			func(t *testing.T, tree map[string]node, _ []string) {
				for _, gone := range []string{"/README.txt", "/readme.link", "/" + deepDir + "/" + longName, "/dists", "/dists/stable/Release"} {
					if _, ok := tree[gone]; ok {
						t.Errorf("%s still there", gone)
					}
				}
			}},
		{"boot image removed and re-added boots the new file", []string{"--import-iso", "base.iso",
			"/boot/efiboot.img=:must-remove:", "/boot/efiboot.img=other.bin"},
			func(t *testing.T, tree map[string]node, boot []string) {
				if n := tree["/boot/efiboot.img"]; n.size != 4096 {
					t.Errorf("efiboot.img = %v", n)
				}
				if fmt.Sprint(boot) != fmt.Sprint([]string{bios, efi}) {
					t.Errorf("boot entries %q", boot)
				}
			}},
		{"skip El Torito", []string{"--import-iso-skip-eltorito", "base.iso"},
			func(t *testing.T, tree map[string]node, boot []string) {
				if len(boot) != 0 {
					t.Errorf("boot entries %q, want none", boot)
				}
				if n, ok := tree["/"+boottest.ImageBootCatalog]; !ok || n.size != 2048 {
					t.Errorf("the base's catalog should be an ordinary file now: %v", n)
				}
			}},
		{"-b replaces the default entry, alt-boot appends", []string{"--import-iso", "base.iso",
			"/other.bin=other.bin", "-b", "/other.bin", "--no-emulation-boot", "--boot-load-size", "8",
			"--eltorito-alt-boot", "--eltorito-platform-id=efi", "--eltorito-boot=/other.bin", "--no-emulation-boot"},
			func(t *testing.T, _ map[string]node, boot []string) {
				want := []string{"1 BIOS none 8 /other.bin", efi, "3 UEFI none 4 /other.bin"}
				if fmt.Sprint(boot) != fmt.Sprint(want) {
					t.Errorf("boot entries\n got %q\nwant %q", boot, want)
				}
			}},
		{"push-iso copies a tree", []string{"--import-iso", "base.iso", "--push-iso", "second.iso", "/extras=/", "sub/file.txt=/sub/file.txt", "--pop"},
			func(t *testing.T, tree map[string]node, boot []string) {
				for path, body := range map[string]string{"/extras/top.txt": "top\n", "/extras/sub/file.txt": "second ISO\n",
					"/extras/sub/deeper/x.bin": "x", "/sub/file.txt": "second ISO\n"} {
					if n := tree[path]; n.sum != sha([]byte(body)) || n.mode != 0o444 {
						t.Errorf("%s = %v", path, n)
					}
				}
				if _, ok := tree["/extras/link"]; ok {
					t.Error("the Joliet view of a pushed ISO has no symlinks")
				}
				if fmt.Sprint(boot) != fmt.Sprint([]string{bios, efi}) {
					t.Errorf("boot entries %q", boot)
				}
			}},
		{"import from inside a pushed ISO", []string{"--push-iso", "outer.iso", "--import-iso", "/inner/second.iso", "--pop"},
			func(t *testing.T, tree map[string]node, _ []string) {
				if n := tree["/sub/file.txt"]; n.sum != sha([]byte("second ISO\n")) {
					t.Errorf("/sub/file.txt = %v", n)
				}
				if _, ok := tree["/link"]; !ok {
					t.Error("the imported Rock Ridge symlink is missing")
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iso, err := buildVISO(t, dir, c.args)
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, extract(t, iso), bootEntries(t, iso))
			}
		})
	}
}

// TestRemasterErrors checks that each failure names the argument and says why.
func TestRemasterErrors(t *testing.T) {
	p := boottest.Payload(t)
	dir := t.TempDir()
	makeBase(t, p, dir)
	makeSecond(t, dir)
	writeFile(t, filepath.Join(dir, "cfg"), []byte("x"))
	writeFile(t, filepath.Join(dir, "not-an-iso.iso"), bytes.Repeat([]byte{0x5a}, 64<<10))
	udf := make([]byte, 40*2048)
	for i, id := range []string{"BEA01", "NSR02", "TEA01"} {
		copy(udf[(16+i)*2048+1:], id)
		udf[(16+i)*2048+6] = 1
	}
	writeFile(t, filepath.Join(dir, "udf-only.iso"), udf)

	cases := []struct {
		name string
		args []string
		is   error
		msg  []string
	}{
		{"replace without removal", []string{"--import-iso", "base.iso", "isolinux/isolinux.cfg=cfg"},
			isoimage.ErrAlreadyExists, []string{"isolinux/isolinux.cfg=cfg"}},
		{"boot image removed, not re-added", []string{"--import-iso", "base.iso", "/isolinux/isolinux.bin=:must-remove:"},
			isomaker.ErrBootImageRemoved, []string{"#1", "/isolinux/isolinux.bin", "base.iso"}},
		{"missing import", []string{"--import-iso", "nope.iso"}, isomaker.ErrImportOpen, []string{"nope.iso"}},
		{"not an ISO", []string{"--import-iso", "not-an-iso.iso"}, isomaker.ErrImport, []string{"not-an-iso.iso"}},
		{"UDF only", []string{"--import-iso", "udf-only.iso"}, isomaker.ErrImport, []string{"udf-only.iso", "UDF is not supported"}},
		{"push of a non-ISO", []string{"--push-iso", "not-an-iso.iso", "/x=/", "--pop"}, nil, []string{"as ISO FS", "not-an-iso.iso"}},
		{"missing inside pushed ISO", []string{"--push-iso", "second.iso", "/x=nope.txt", "--pop"},
			isomaker.ErrSourceNotFound, []string{"nope.txt", "inside second.iso"}},
		{"symlink in a pushed Rock Ridge view", []string{"--push-iso-no-joliet", "second.iso", "/x=/", "--pop"},
			isomaker.ErrSymlinkInTree, []string{"link"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := buildVISO(t, dir, c.args)
			if err == nil {
				t.Fatal("built, want an error")
			}
			var ae *argv.Error
			if !errors.As(err, &ae) || ae.Line == 0 {
				t.Errorf("%v: not an *argv.Error with a line", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v: want %v", err, c.is)
			}
			for _, m := range c.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%v: lacks %q", err, m)
				}
			}
		})
	}
}

// gzipCPIO returns a gzip-compressed newc cpio archive holding one regular
// file; appended to an initramfs it adds that file (the kernel unpacks
// concatenated archives).
func gzipCPIO(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	var raw bytes.Buffer
	hdr := func(name string, mode uint32, size int) {
		fmt.Fprintf(&raw, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
		raw.WriteString(name + "\x00")
		for raw.Len()%4 != 0 {
			raw.WriteByte(0)
		}
	}
	hdr(name, 0o100644, len(body))
	raw.Write(body)
	for raw.Len()%4 != 0 {
		raw.WriteByte(0)
	}
	hdr("TRAILER!!!", 0, 0)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := io.Copy(zw, &raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestRemasterDebianStyleBoots is the headline remaster: a Debian-style
// installer ISO (BIOS isolinux + UEFI GRUB, kernel and initramfs, a deep tree
// with long names) remastered the way VirtualBox's unattended installer does
// it — modes bracketed around --import-iso, isolinux.cfg replaced through
// :must-remove:, a preseed file added, a second ISO pushed into /extras — boots
// under QEMU in BIOS and UEFI mode. BIOS proves the new menu ran (its SAY line
// reaches the serial console, its APPEND line adds a marker argument); UEFI's
// GRUB has its menu built in, so there the replaced initramfs proves the
// guest booted the new content. The guest's listings show the base tree, the
// replacements and the additions.
func TestRemasterDebianStyleBoots(t *testing.T) {
	p := boottest.Payload(t)
	dir := t.TempDir()
	base := makeBase(t, p, dir)
	makeSecond(t, dir)
	cmdline, err := os.ReadFile(filepath.Join(p.Dir, "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	menu := fmt.Sprintf("SERIAL 0 115200\nSAY csiviso-new-menu-loaded\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\n"+
		"LABEL linux\n  KERNEL /boot/vmlinuz\n  APPEND initrd=/boot/initrd.img %s csiviso.menu=new\n", strings.TrimSpace(string(cmdline)))
	uid := "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	cfg := writeFile(t, filepath.Join(dir, "Unattended-"+uid+"-isolinux-isolinux.cfg"), []byte(menu))
	initrd, err := os.ReadFile(p.Initrd)
	if err != nil {
		t.Fatal(err)
	}
	newInitrd := append(append([]byte(nil), initrd...), gzipCPIO(t, "csiviso-remastered", []byte("yes\n"))...)
	writeFile(t, filepath.Join(dir, "Unattended-"+uid+"-initrd.img"), newInitrd)
	preseed := []byte("d-i debian-installer/locale string en_US\n")
	writeFile(t, filepath.Join(dir, "Unattended-"+uid+"-preseed.cfg"), preseed)

	start := time.Now()
	iso, err := buildVISO(t, dir, []string{
		"--file-mode=0444", "--dir-mode=0555", "--no-file-mode", "--no-dir-mode",
		"--import-iso", base,
		"--file-mode=0444", "--dir-mode=0555",
		"isolinux/isolinux.cfg=:must-remove:", "isolinux/isolinux.cfg=" + cfg,
		"/boot/initrd.img=:must-remove:", "/boot/initrd.img=Unattended-" + uid + "-initrd.img",
		"/preseed.cfg=Unattended-" + uid + "-preseed.cfg",
		"--push-iso=second.iso", "/extras=/", "--pop",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("remaster built in %s", time.Since(start).Round(time.Millisecond))

	baseTree := extract(t, base)
	want := map[string][2]string{ // path -> size:sha, mode
		"/isolinux/isolinux.cfg": {fmt.Sprintf("%d:%s", len(menu), sha([]byte(menu))), "0444"},
		"/boot/initrd.img":       {fmt.Sprintf("%d:%s", len(newInitrd), sha(newInitrd)), "0444"},
		"/preseed.cfg":           {fmt.Sprintf("%d:%s", len(preseed), sha(preseed)), "0444"},
		"/extras/top.txt":        {fmt.Sprintf("%d:%s", 4, sha([]byte("top\n"))), "0444"},
		"/extras/sub/file.txt":   {fmt.Sprintf("%d:%s", 11, sha([]byte("second ISO\n"))), "0444"},
	}
	for path, n := range baseTree {
		if n.mode.IsRegular() && want[path] == [2]string{} && path != "/"+boottest.ImageBootCatalog &&
			path != "/"+boottest.ImageIsolinuxBin && path != "/isolinux/TRANS.TBL" {
			want[path] = [2]string{fmt.Sprintf("%d:%s", n.size, n.sum), fmt.Sprintf("%04o", rational(n.mode).Perm())}
		}
	}
	// bios-hdd: the base is isohybrid and stays in place, so its MBR still finds
	// isolinux and the remaster also boots as a raw hard disk.
	for _, mode := range []string{boottest.ModeBIOS, boottest.ModeUEFI, boottest.ModeBIOSHDD} {
		t.Run(mode, func(t *testing.T) {
			res := boottest.Boot(t, mode, iso)
			t.Logf("%s boot took %s", mode, res.Elapsed.Round(100*time.Millisecond))
			// The new menu's SAY line is checked on the CD boot; the hard-disk boot
			// proves the isohybrid path by its listing (once, under heavy load, its
			// serial log lacked isolinux's own output while the guest's was complete).
			if mode == boottest.ModeBIOS {
				log, err := os.ReadFile(res.Log)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(log, []byte("csiviso-new-menu-loaded")) {
					head := log
					if len(head) > 3000 {
						head = head[:3000]
					}
					t.Errorf("serial log lacks the new menu's SAY line; log starts:\n%s", head)
				}
			}
			for _, view := range []string{boottest.ViewRockRidge, boottest.ViewJoliet} {
				v := res.View(view)
				if v == nil {
					t.Fatalf("view %s missing (errors: %v)", view, res.Errors)
				}
				for path, w := range want {
					e, ok := v.Lookup(path)
					if !ok {
						t.Errorf("%s: %s missing", view, path)
						continue
					}
					if got := fmt.Sprintf("%d:%s", e.Size, e.SHA256); e.Type != boottest.TypeFile || got != w[0] {
						t.Errorf("%s: %s = %c %s, want %s", view, path, e.Type, got, w[0])
					}
					if view == boottest.ViewRockRidge && fmt.Sprintf("%04o", uint32(e.Mode.Perm())) != w[1] {
						t.Errorf("%s: %s mode %v, want %s", view, path, e.Mode.Perm(), w[1])
					}
				}
				if e, ok := v.Lookup("/" + deepDir + "/" + longName); !ok || e.Size != 70*1024+3 {
					t.Errorf("%s: deep long-named file missing or wrong: %+v", view, e)
				}
			}
		})
	}
}

var bootLBARE = regexp.MustCompile(`(?m)^El Torito boot img :\s+2\s+UEFI\s+\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\d+)`)

// TestImportUnusualBases imports a base whose UEFI image lives in an appended
// partition (no directory entry: imported as a hidden object, Debian's
// layout) and a genisoimage base whose deep directories are relocated to
// rr_moved (Rock Ridge CL links are followed, so the tree shows them in place).
func TestImportUnusualBases(t *testing.T) {
	p := boottest.Payload(t)
	dir := t.TempDir()
	src := writeBaseTree(t, p)
	efi, err := os.ReadFile(p.EFIBootImg)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("hidden UEFI image in an appended partition", func(t *testing.T) {
		mkisofs(t, filepath.Join(dir, "appended.iso"), "-R", "-J",
			"-b", boottest.ImageIsolinuxBin, "-c", boottest.ImageBootCatalog, "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
			"-append_partition", "2", "0xef", p.EFIBootImg,
			"-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot", src)
		iso, err := buildVISO(t, dir, []string{"--import-iso", "appended.iso"})
		if err != nil {
			t.Fatal(err)
		}
		rep := xorrisoReport(t, iso, "-report_el_torito", "plain")
		m := bootLBARE.FindStringSubmatch(rep)
		if m == nil {
			t.Fatalf("no UEFI entry:\n%s", rep)
		}
		var lba int64
		fmt.Sscan(m[1], &lba)
		f, err := os.Open(iso)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := make([]byte, len(efi))
		if _, err := f.ReadAt(got, lba*2048); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, efi) {
			t.Errorf("the hidden UEFI image at LBA %d is not efiboot.img", lba)
		}
	})
	t.Run("rr_moved relocation followed", func(t *testing.T) {
		base := filepath.Join(dir, "relocated.iso")
		if b, err := exec.Command("genisoimage", "-quiet", "-o", base, "-R", "-J", src).CombinedOutput(); err != nil {
			t.Fatalf("genisoimage: %v\n%s", err, b)
		}
		if l, err := exec.Command("isoinfo", "-l", "-i", base).CombinedOutput(); err != nil || !bytes.Contains(l, []byte("RR_MOVED")) {
			t.Fatalf("the base has no RR_MOVED (test setup broken): %v\n%s", err, l)
		}
		iso, err := buildVISO(t, dir, []string{"--import-iso", "relocated.iso"})
		if err != nil {
			t.Fatal(err)
		}
		tree := extract(t, iso)
		if n := tree["/"+deepDir+"/"+longName]; n.size != 70*1024+3 {
			t.Errorf("deep file = %v", n)
		}
		for path := range tree {
			if strings.Contains(strings.ToLower(path), "rr_moved") {
				t.Errorf("%s: relocation directory shown", path)
			}
		}
	})
}
