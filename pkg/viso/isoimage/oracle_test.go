package isoimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"
)

// Oracle helpers: external tools must be present; a missing one is a failure
// that names the Debian package to install, never a skip.

var toolPackages = map[string]string{
	"xorriso": "xorriso", "osirrox": "xorriso", "isoinfo": "genisoimage", "7z": "p7zip-full", "iso-info": "libcdio-utils",
}

func needTool(t *testing.T, bin string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s not found: install it with `apt-get install -y --no-install-recommends %s`", bin, toolPackages[bin])
	}
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	needTool(t, bin)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeSparse writes the image to a temp file, seeking over all-zero MiBs so
// multi-GiB images of zeros take no disk space.
func writeSparse(t *testing.T, img *Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.iso")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	zeros := make([]byte, len(buf))
	for off := int64(0); off < img.Size(); off += int64(len(buf)) {
		n, err := img.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("ReadAt %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], zeros[:n]) {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Truncate(img.Size()); err != nil {
		t.Fatal(err)
	}
	return path
}

// zeroSource is a sparse source of zeros (e.g. the 5 GiB test file).
type zeroSource struct{}

func (zeroSource) ReadAt(p []byte, off int64) (int, error) { clear(p); return len(p), nil }

// want is what a test expects to find for one path.
type want struct {
	mode    string // ls -l style, "" = not checked
	size    int64
	sha     string // hex SHA-256 of the content, "" for directories / unchecked
	symlink string
	dev     string // "major,minor" of a device
}

type fixture struct {
	tr      *Tree
	rr      map[string]want // by Rock Ridge path
	joliet  map[string]want // by Joliet path
	content map[string][]byte
}

var testEpoch = time.Date(2024, 5, 1, 10, 20, 30, 123456789, time.UTC)

func newFixture(t *testing.T) *fixture {
	return &fixture{tr: New(Config{Epoch: testEpoch, SystemID: "LINUX", ApplicationID: "CSI-VISO TEST"}),
		rr: map[string]want{}, joliet: map[string]want{}, content: map[string][]byte{}}
}

func shaHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func lsMode(dir bool, perm uint32) string {
	b := []byte("----------")
	if dir {
		b[0] = 'd'
	}
	for i, c := range "rwxrwxrwx" {
		if perm&(1<<(8-i)) != 0 {
			b[1+i] = byte(c)
		}
	}
	if perm&0o4000 != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[perm&0o100 != 0]
	}
	if perm&0o2000 != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[perm&0o010 != 0]
	}
	if perm&0o1000 != 0 {
		b[9] = map[bool]byte{true: 't', false: 'T'}[perm&0o001 != 0]
	}
	return string(b)
}

func (f *fixture) file(t *testing.T, names Names, data []byte, perm uint32) ID {
	t.Helper()
	id, err := f.tr.AddFile(names, memSource(data), int64(len(data)), Attrs{Mode: perm, Times: Times{Birth: testEpoch, Modify: testEpoch}}, "test:"+names.Primary)
	if err != nil {
		t.Fatalf("AddFile %v: %v", names, err)
	}
	w := want{mode: lsMode(false, perm), size: int64(len(data)), sha: shaHex(data)}
	if names.Primary != "" {
		f.rr[names.Primary] = w
		f.content[names.Primary] = data
	}
	if names.Joliet != "" {
		f.joliet[names.Joliet] = w
	}
	return id
}

var lsdlRE = regexp.MustCompile(`^(\S{10})\s+\d+\s+\d+\s+\d+\s+(\d+|\d+,\d+)\s+\S+\s+\d+\s+\S+\s+'(.*?)'(?: -> '(.*)')?$`)

// jolietUCS2Warnings are the only warnings xorriso may print about our Joliet
// tree: non-BMP names are written as UTF-16 surrogate pairs (spec §4.12), which
// UCS-2 readers flag.
var jolietUCS2Warnings = regexp.MustCompile(`valid only with character set UTF-16|not suitable for Joliet character set UCS-2|-return_with WARNING 32 triggered`)

// lsdl lists a tree with xorriso (RR view, or Joliet with norock). Any
// WARNING fails the test except, for Joliet, the UCS-2 ones above.
func lsdl(t *testing.T, iso string, joliet bool) map[string]want {
	t.Helper()
	needTool(t, "xorriso")
	args := []string{"-abort_on", "NEVER", "-return_with", "WARNING", "32"}
	if joliet {
		args = append(args, "-read_fs", "norock")
	}
	args = append(args, "-indev", iso, "-find", "/", "-exec", "lsdl")
	raw, err := exec.Command("xorriso", args...).CombinedOutput()
	out := string(raw)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 32 || !joliet {
			t.Fatalf("xorriso %v: %v\n%s", args, err, out)
		}
		for line := range strings.SplitSeq(out, "\n") {
			if (strings.Contains(line, "WARNING") || strings.Contains(line, "SORRY") || strings.Contains(line, "FAILURE")) && !jolietUCS2Warnings.MatchString(line) {
				t.Errorf("xorriso Joliet listing: %s", line)
			}
		}
	}
	got := map[string]want{}
	for line := range strings.SplitSeq(out, "\n") {
		m := lsdlRE.FindStringSubmatch(line)
		if m == nil || m[3] == "/" {
			continue
		}
		var size int64
		fmt.Sscan(m[2], &size)
		w := want{mode: m[1], size: size, symlink: m[4]}
		if strings.Contains(m[2], ",") {
			w.dev = m[2]
		}
		if m[1][0] == 'd' {
			w.size = 0
		}
		got[m[3]] = w
	}
	return got
}

func compareListing(t *testing.T, what string, got, exp map[string]want, checkMode bool) {
	t.Helper()
	for p, w := range exp {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: %q missing", what, p)
			continue
		}
		if w.sha != "" && g.size != w.size {
			t.Errorf("%s: %q size %d, want %d", what, p, g.size, w.size)
		}
		if checkMode && w.mode != "" && g.mode[1:] != w.mode[1:] {
			t.Errorf("%s: %q mode %s, want %s", what, p, g.mode, w.mode)
		}
		if w.dev != g.dev {
			t.Errorf("%s: %q device %q, want %q", what, p, g.dev, w.dev)
		}
		if w.symlink != "" && g.symlink != w.symlink {
			t.Errorf("%s: %q -> %q, want %q", what, p, g.symlink, w.symlink)
		}
	}
	for p := range got {
		if _, ok := exp[p]; !ok {
			t.Errorf("%s: unexpected %q", what, p)
		}
	}
}

// dirsOf adds the implicit parent directories of every expected path.
func dirsOf(m map[string]want) map[string]want {
	out := map[string]want{}
	for p, w := range m {
		out[p] = w
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if _, ok := out[d]; !ok {
				out[d] = want{}
			}
		}
	}
	return out
}

// extractAndHash extracts the RR tree with osirrox and checks every file's hash.
func extractAndHash(t *testing.T, iso string, files map[string]want) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "x")
	runTool(t, "osirrox", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso, "-extract", "/", dir)
	for p, w := range files {
		if w.sha == "" || w.symlink != "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("extracted %s: %v", p, err)
			continue
		}
		if shaHex(data) != w.sha {
			t.Errorf("extracted %s: sha256 differs", p)
		}
	}
}

func checkOwn(t *testing.T, img *Image) *ckImage {
	t.Helper()
	ck, err := checkISO(img, img.Size())
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// TestOracleRich builds an image with deep trees, long and Unicode names,
// modes, empty files, symlinks and a two-section El Torito catalog, and reads it
// back with xorriso, osirrox, isoinfo, 7z, kdomanski/iso9660 and our checker.
func TestOracleRich(t *testing.T) {
	f := newFixture(t)
	tr := f.tr
	must(t, tr.SetRockRidgeLevel(2))
	deep := "/deep"
	for i := range 12 {
		deep += fmt.Sprintf("/level%02d", i)
	}
	f.file(t, nm(deep+"/bottom.txt", deep+"/bottom.txt"), []byte("bottom\n"), 0o640)
	long := strings.Repeat("a-very-long-file-name-", 9) + "end.text" // 206 bytes: RR NM spills
	f.file(t, nm("/long/"+long, ""), []byte("long rr name\n"), 0o444)
	// A long directory name: its own record, its "." and the ".." of its
	// subdirectory all spill to the continuation area.
	longDir := "/long/" + strings.Repeat("directory-", 20) + "end"
	f.file(t, nm(longDir+"/sub/inner.txt", "/long/short-joliet-dir/sub/inner.txt"), []byte("inner\n"), 0o644)
	jlong := strings.Repeat("J", 99) + "-日本語-😀.txt" // 99 + 5 + 2 (surrogates) + 4 = 110 units
	if n := utf16Len(jlong); n != 110 {
		t.Fatalf("test name has %d UTF-16 units, want 110", n)
	}
	f.file(t, nm("/unicode/"+jlong, "/unicode/"+jlong), []byte("joliet 110 units\n"), 0o444)
	f.file(t, nm("/unicode/Ünïcödé-日本語.txt", "/unicode/Ünïcödé-日本語.txt"), []byte("unicode\n"), 0o644)
	f.file(t, nm("/unicode/emoji-😀-𝄞.txt", "/unicode/emoji-😀-𝄞.txt"), []byte("non-BMP\n"), 0o644)
	f.file(t, nm("/data/empty", "/data/empty"), nil, 0o644)
	f.file(t, nm("/data/empty2", "/data/empty2"), nil, 0o600)
	f.file(t, nm("/data/readme.txt", "/data/readme.txt"), []byte("1"), 0o755)
	f.file(t, nm("/data/READ-ME.txt", "/data/READ-ME.txt"), []byte("2"), 0o4755)
	f.file(t, nm("/data/MixedCase.Name.With.Dots", "/data/MixedCase.Name.With.Dots"), bytes.Repeat([]byte("x"), 5000), 0o644)
	rnd := make([]byte, 1<<20+123)
	for i := range rnd {
		rnd[i] = byte(i*7 + i>>9)
	}
	f.file(t, nm("/data/random.bin", "/data/random.bin"), rnd, 0o644)
	f.file(t, nm("/only-primary.txt", ""), []byte("p"), 0o444)
	f.file(t, nm("", "/only-joliet.txt"), []byte("j"), 0o444)
	f.file(t, nm("/split/primary-name.txt", "/other/joliet-name.txt"), []byte("split"), 0o444)
	if _, err := tr.AddDir(nm("/emptydir", "/emptydir"), Attrs{Mode: 0o750}, "test"); err != nil {
		t.Fatal(err)
	}
	f.rr["/emptydir"], f.joliet["/emptydir"] = want{mode: lsMode(true, 0o750)}, want{}
	if _, err := tr.AddSymlink(nm("/data/link", "/data/link"), "../data/readme.txt", Attrs{Mode: 0o777}, "test"); err != nil {
		t.Fatal(err)
	}
	f.rr["/data/link"] = want{symlink: "../data/readme.txt"}
	if _, err := tr.AddSymlink(nm("/abslink", ""), "/data/random.bin", Attrs{Mode: 0o777}, "test"); err != nil {
		t.Fatal(err)
	}
	f.rr["/abslink"] = want{symlink: "/data/random.bin"}
	if _, err := tr.AddSpecial(nm("/dev/null", "/dev/null"), CharDevice, 1, 3, Attrs{Mode: 0o666}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AddSpecial(nm("/dev/fifo", ""), FIFO, 0, 0, Attrs{Mode: 0o600}, "test"); err != nil {
		t.Fatal(err)
	}
	f.rr["/dev/null"], f.rr["/dev/fifo"] = want{mode: "crw-rw-rw-", dev: "1,3"}, want{mode: "prw-------"}
	// Boot: a BIOS no-emulation loader with a boot info table and an EFI image.
	loader := make([]byte, 38912)
	for i := range loader {
		loader[i] = byte(i * 13)
	}
	loaderID := f.file(t, nm("/isolinux/isolinux.bin", "/isolinux/isolinux.bin"), loader, 0o444)
	efi := bytes.Repeat([]byte{0xEF, 0x01}, 1<<20)
	efiID := f.file(t, nm("/boot/efiboot.img", "/boot/efiboot.img"), efi, 0o444)
	must(t, tr.NameBootCatalog(nm("/isolinux/boot.cat", "/isolinux/boot.cat")))
	f.rr["/isolinux/boot.cat"], f.joliet["/isolinux/boot.cat"] = want{mode: lsMode(false, 0o444)}, want{}
	must(t, tr.SetBootCatalog(BootCatalog{
		Platform: PlatformX86,
		Default:  &BootEntry{Image: loaderID, Emulation: EmulationNone, SectorCount: 4, SystemType: 0, BootInfoTable: true},
		Sections: []BootSection{{Platform: PlatformEFI, Entries: []BootEntry{{Image: efiID, Emulation: EmulationNone, SectorCount: 4096}}}},
	}))
	img, err := tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck := checkOwn(t, img)
	if !ck.HasER || !ck.HasSP {
		t.Errorf("RR level 2: ER %v SP %v", ck.HasER, ck.HasSP)
	}
	if len(ck.Boot) != 2 || ck.Boot[1].Platform != PlatformEFI || ck.Boot[1].Header != 0x91 {
		t.Errorf("catalog entries: %+v", ck.Boot)
	}
	for _, b := range img.BootEntries() {
		if b.BootInfoTable {
			c := &checker{r: img, size: img.Size()}
			if err := c.checkBootInfoTable(b.LBA, int64(len(loader))); err != nil {
				t.Error(err)
			}
		}
	}
	// PX of our checker: modes and nlink.
	if e := ck.Primary["/data"]; e == nil || e.NLink != 2 || e.Mode != sIFDIR|0o555 {
		t.Errorf("/data PX: %+v", e)
	}
	if e := ck.Primary["/dev/null"]; e == nil || e.Mode != 0o020666 || e.Dev != [2]uint32{0, 0x103} || e.RRFlags != 0x8B {
		t.Errorf("/dev/null PX/PN: %+v", e)
	}
	if _, ok := ck.Joliet["/dev/null"]; ok {
		t.Error("device in the Joliet tree")
	}
	if e := ck.Primary["/data/READ-ME.txt"]; e == nil || e.Mode != sIFREG|0o4755 || e.ISOName != "README1.TXT;1" {
		t.Errorf("READ-ME.txt: %+v", e)
	}
	// The boot info table changes bytes 8-63 of the loader as read from the image.
	patched := patchBootInfo(loader, img.BootEntries()[0].LBA)
	w := f.rr["/isolinux/isolinux.bin"]
	w.sha = shaHex(patched)
	f.rr["/isolinux/isolinux.bin"] = w
	iso := writeSparse(t, img)

	// xorriso RR view.
	rrWant := dirsOf(f.rr)
	compareListing(t, "xorriso RR", lsdl(t, iso, false), rrWant, true)
	// xorriso Joliet view (names whole up to 110 units).
	compareListing(t, "xorriso Joliet", lsdl(t, iso, true), dirsOf(f.joliet), false)
	extractAndHash(t, iso, f.rr)

	rep := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso, "-report_el_torito", "plain")
	for _, re := range []string{
		`El Torito cat path : /isolinux/boot.cat`,
		`El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s+\d+`,
		`El Torito boot img :\s+2\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+4096\s+\d+`,
		`El Torito img path :\s+1\s+/isolinux/isolinux.bin`,
		`El Torito img path :\s+2\s+/boot/efiboot.img`,
		`El Torito img opts :\s+1\s+boot-info-table`,
	} {
		if !regexp.MustCompile(re).MatchString(rep) {
			t.Errorf("report_el_torito lacks %q:\n%s", re, rep)
		}
	}
	info := runTool(t, "isoinfo", "-d", "-i", iso)
	for _, s := range []string{"Volume id: 2024-05-01T10:20:30.123456789Z", "Rock Ridge signatures version 1 found",
		"Joliet with UCS level 3 found", "Arch 0 (x86)", "Key 55 AA", "Boot media 0 (No Emulation Boot)", "Nsect 4"} {
		if !strings.Contains(info, s) {
			t.Errorf("isoinfo -d lacks %q:\n%s", s, info)
		}
	}
	if out := runTool(t, "7z", "t", iso); !strings.Contains(out, "Everything is Ok") {
		t.Errorf("7z t:\n%s", out)
	}
	kdomanskiCheck(t, img, f, 4<<30)
}

// kdomanskiCheck reads the primary/RR tree with github.com/kdomanski/iso9660
// and compares names, modes and content of files below limit bytes.
func kdomanskiCheck(t *testing.T, img *Image, f *fixture, limit int64) {
	t.Helper()
	ki, err := iso9660.OpenImage(img)
	if err != nil {
		t.Fatalf("kdomanski OpenImage: %v", err)
	}
	root, err := ki.RootDir()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(d *iso9660.File, path string)
	walk = func(d *iso9660.File, path string) {
		kids, err := d.GetChildren()
		if err != nil {
			t.Errorf("kdomanski %s: %v", path, err)
			return
		}
		for _, k := range kids {
			p := path + "/" + k.Name()
			seen[p] = true
			if k.IsDir() {
				walk(k, p)
				continue
			}
			w, ok := f.rr[p]
			if !ok {
				t.Errorf("kdomanski: unexpected %q", p)
				continue
			}
			if w.symlink != "" || w.size >= limit || w.sha == "" {
				continue
			}
			if k.Mode().Perm() != os.FileMode(0).Perm()|os.FileMode(modeBits(w.mode)) {
				t.Errorf("kdomanski %s: mode %v want %s", p, k.Mode(), w.mode)
			}
			data, err := io.ReadAll(k.Reader())
			if err != nil || shaHex(data) != w.sha {
				t.Errorf("kdomanski %s: content differs (%v)", p, err)
			}
		}
	}
	walk(root, "")
	var missing []string
	for p, w := range f.rr {
		if !seen[p] && w.sha != "" {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("kdomanski: missing %v", missing)
	}
}

// patchBootInfo applies the boot info table of spec §4.10, computed here
// independently of the package code.
func patchBootInfo(data []byte, lba uint32) []byte {
	out := bytes.Clone(data)
	var sum uint32
	for i := 64; i < len(data); i += 4 {
		var w [4]byte
		copy(w[:], data[i:min(i+4, len(data))])
		sum += uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
	}
	clear(out[8:64])
	for i, v := range []uint32{16, lba, uint32(len(data)), sum} {
		out[8+4*i], out[9+4*i], out[10+4*i], out[11+4*i] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return out
}

func modeBits(ls string) uint32 {
	var m uint32
	for i := range 9 {
		if ls[1+i] != '-' && ls[1+i] != 'S' && ls[1+i] != 'T' {
			m |= 1 << (8 - i)
		}
	}
	return m
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// nm builds Names from a primary and a Joliet path.
func nm(primary, joliet string) Names { return Names{Primary: primary, Joliet: joliet} }
