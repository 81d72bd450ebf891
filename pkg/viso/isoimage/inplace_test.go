package isoimage

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso/isoread"
	"github.com/csi-viso/csi-viso/test/boot/boottest"
)

// baseSource is what the importer hands the tree for a file of the base: a
// range of the base file that knows its LBA.
type baseSource struct {
	*io.SectionReader
	lba uint32
}

func (s baseSource) BaseExtent() (uint32, bool) { return s.lba, true }

const (
	removedPath = "/data/remove-me.bin"
	cfgPath     = "/" + boottest.ImageIsolinuxCfg
)

// buildHybridBase makes a BIOS+UEFI isohybrid base from the boot payload and
// some data files with xorriso, exactly as distributions master theirs.
func buildHybridBase(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	needTool(t, "xorriso")
	p := boottest.Payload(t)
	tree := filepath.Join(t.TempDir(), "tree")
	content := map[string][]byte{}
	put := func(rel string, b []byte) {
		path := filepath.Join(tree, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		content["/"+rel] = b
	}
	for img, host := range p.Tree() {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatalf("payload: %v", err)
		}
		put(img, b)
	}
	put("data/keep-1.bin", randomBytes(t, 7000))
	put(strings.TrimPrefix(removedPath, "/"), randomBytes(t, 40000))
	put("data/keep-2.bin", randomBytes(t, 3000))
	put("data/deep/er/still/a-rather-long-file-name-for-joliet-and-rock-ridge.txt", []byte("deep\n"))
	iso := filepath.Join(t.TempDir(), "base.iso")
	runTool(t, "xorriso", "-as", "mkisofs", "-o", iso, "-V", "INPLACE_BASE", "-R", "-J", "-joliet-long",
		"-b", boottest.ImageIsolinuxBin, "-c", boottest.ImageBootCatalog, "-no-emul-boot",
		"-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", boottest.ImageEFIBootImg, "-no-emul-boot",
		"-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-isohybrid-gpt-basdat", tree)
	return iso, content
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// remastered is an in-place image over a base and what the test expects.
type remastered struct {
	img      *Image
	path     string
	base     []byte
	baseLBA  map[string]uint32 // kept files: path -> LBA in the base
	removed  isoread.Extent
	content  map[string][]byte // every file of the new image by path
	firstLBA uint32            // the lowest LBA of a kept non-empty file
}

// remaster imports the base by hand (every file kept at its extent, the
// catalog and both boot entries, the system area), removes one file,
// replaces isolinux.cfg and adds files; grow adds one big enough that the
// image outgrows the base.
func remaster(t *testing.T, basePath string, content map[string][]byte, grow bool) *remastered {
	t.Helper()
	f, err := os.Open(basePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	vol, err := isoread.Open(f, fi.Size(), isoread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prim, err := vol.Primary()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := vol.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	tr := New(Config{Epoch: testEpoch, SystemID: "LINUX", ApplicationID: "CSI-VISO INPLACE TEST"})
	tr.SetSystemArea(vol.SystemArea())
	if err := tr.SetBase(Base{Size: fi.Size(), Source: f}); err != nil {
		t.Fatal(err)
	}
	r := &remastered{baseLBA: map[string]uint32{}, content: map[string][]byte{}, firstLBA: ^uint32(0)}
	ids := map[string]ID{}
	err = prim.Walk(func(p string, e *isoread.Entry) error {
		if p == "/" {
			return nil
		}
		names := Names{Primary: p, Joliet: p}
		a := Attrs{Mode: e.Mode & 0o7777}
		if e.IsDir() {
			_, err := tr.AddDir(names, a, "base:"+p)
			return err
		}
		lba := e.Extents[0].LBA
		if lba == cat.LBA {
			return tr.NameBootCatalog(names)
		}
		src := baseSource{io.NewSectionReader(f, int64(lba)*sectorSize, int64(e.Size)), lba}
		id, err := tr.AddFile(names, src, int64(e.Size), a, "base:"+p)
		if err != nil {
			return err
		}
		ids[p] = id
		if p == removedPath {
			r.removed = e.Extents[0]
		} else if p != cfgPath {
			r.baseLBA[p] = lba
			r.content[p] = content[p]
			if e.Size > 0 {
				r.firstLBA = min(r.firstLBA, lba)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bc := BootCatalog{Platform: PlatformX86,
		Default: &BootEntry{Image: ids["/"+boottest.ImageIsolinuxBin], Emulation: EmulationNone, SectorCount: 4, BootInfoTable: true}}
	for _, s := range cat.Sections {
		sec := BootSection{Platform: s.PlatformID}
		for _, e := range s.Entries {
			sec.Entries = append(sec.Entries, BootEntry{Image: ids[e.File.Path()], Emulation: EmulationNone, SectorCount: e.SectorCount})
		}
		bc.Sections = append(bc.Sections, sec)
	}
	if err := tr.SetBootCatalog(bc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{removedPath, cfgPath} {
		if n, err := tr.Remove(AllNamespaces, p); err != nil || n != 1 {
			t.Fatalf("remove %s: %d, %v", p, n, err)
		}
	}
	add := func(p string, b []byte) {
		if _, err := tr.AddFile(Names{Primary: p, Joliet: p}, memSource(b), int64(len(b)), Attrs{Mode: 0o444}, "test:"+p); err != nil {
			t.Fatal(err)
		}
		r.content[p] = b
	}
	add(cfgPath, append([]byte("# remastered in place\n"), content[cfgPath]...))
	add("/added/hello.txt", []byte("hello from the in-place layout\n"))
	add("/data/new-file.txt", []byte("a new file next to kept ones\n"))
	if grow {
		add("/added/big.bin", randomBytes(t, 3<<20))
	}
	img, err := tr.Finalize()
	if err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	r.img = img
	r.path = writeSparse(t, img)
	if r.base, err = os.ReadFile(basePath); err != nil {
		t.Fatal(err)
	}
	return r
}

var reportLBA = regexp.MustCompile(`File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'`)

func TestInPlaceHybrid(t *testing.T) {
	base, content := buildHybridBase(t)
	for _, grow := range []bool{false, true} {
		t.Run(fmt.Sprintf("grow=%v", grow), func(t *testing.T) {
			r := remaster(t, base, content, grow)
			baseSize := int64(len(r.base))
			if grow == (r.img.Size() == baseSize) {
				t.Fatalf("image size %d, base %d: grow=%v expected", r.img.Size(), baseSize, grow)
			}
			t.Logf("base %d sectors, image %d sectors, first kept LBA %d, removed file at %d", baseSize/sectorSize,
				r.img.Size()/sectorSize, r.firstLBA, r.removed.LBA)
			checkKeptLBAs(t, r)
			checkContent(t, r)
			checkNewMetadataInGaps(t, r)
			unclaimed := checkOwnChecker(t, r)
			checkUnclaimedZero(t, r, unclaimed)
			checkRemovedGone(t, r)
			checkOracles(t, r)
			checkPartitions(t, r, baseSize)
		})
	}
}

// checkKeptLBAs: xorriso reports every kept file at its base LBA.
func checkKeptLBAs(t *testing.T, r *remastered) {
	out := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "SORRY", "32", "-indev", r.path, "-find", "/", "-exec", "report_lba")
	got := map[string]uint32{}
	for _, m := range reportLBA.FindAllStringSubmatch(out, -1) {
		lba, _ := strconv.ParseUint(m[2], 10, 32)
		got[m[5]] = uint32(lba)
	}
	for p, want := range r.baseLBA {
		if len(r.content[p]) == 0 {
			continue // xorriso does not report empty files
		}
		if got[p] != want {
			t.Errorf("%s: LBA %d in the new image, %d in the base", p, got[p], want)
		}
	}
	if _, ok := got[removedPath]; ok {
		t.Errorf("%s still listed", removedPath)
	}
}

// checkContent reads every file back through our reader of the new image.
func checkContent(t *testing.T, r *remastered) {
	vol, err := isoread.Open(r.img, r.img.Size(), isoread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, view := range []isoread.View{isoread.ViewRockRidge, isoread.ViewJoliet} {
		tr, err := vol.Tree(view)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		err = tr.Walk(func(p string, e *isoread.Entry) error {
			if e.IsDir() || p == "/"+boottest.ImageBootCatalog {
				return nil
			}
			want, ok := r.content[p]
			if !ok {
				return fmt.Errorf("%s: unexpected file %s", view, p)
			}
			seen++
			file, err := vol.Open(e)
			if err != nil {
				return err
			}
			got, err := io.ReadAll(file.Reader())
			if err != nil {
				return err
			}
			if p == "/"+boottest.ImageIsolinuxBin {
				// The boot info table (bytes 8-63) is ours; the rest is the base's.
				if !bytes.Equal(got[:8], want[:8]) || !bytes.Equal(got[64:], want[64:]) {
					return fmt.Errorf("%s: %s differs outside the boot info table", view, p)
				}
				return nil
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("%s: %s: content differs (%d bytes, want %d)", view, p, len(got), len(want))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != len(r.content) {
			t.Errorf("%s: %d files, want %d", view, seen, len(r.content))
		}
	}
}

// checkNewMetadataInGaps: the new root directory and path tables sit in the
// base's old metadata area, before the first kept file.
func checkNewMetadataInGaps(t *testing.T, r *remastered) {
	pvd := make([]byte, sectorSize)
	if _, err := r.img.ReadAt(pvd, pvdLBA*sectorSize); err != nil {
		t.Fatal(err)
	}
	root := binary.LittleEndian.Uint32(pvd[156+2:])
	lTable := binary.LittleEndian.Uint32(pvd[140:])
	for what, lba := range map[string]uint32{"root directory": root, "L path table": lTable} {
		if lba <= pvdLBA || lba >= r.firstLBA {
			t.Errorf("%s at LBA %d, want in the old metadata gap (17..%d)", what, lba, r.firstLBA)
		}
	}
}

// checkOwnChecker runs our checker and returns the sectors nothing claims.
// Its rule that Rock Ridge spill areas follow all file data holds for the
// sequential layout only; in place the spill area fills a free gap, so that
// one rule is replaced by: spill sectors are inside the volume and no
// claimed extent uses them.
func checkOwnChecker(t *testing.T, r *remastered) []bool {
	c := &checker{r: r.img, size: r.img.Size(), shapes: true,
		img: &ckImage{Primary: map[string]*ckEntry{}, Joliet: map[string]*ckEntry{}, SpillLBAs: map[uint32]bool{}}}
	c.run()
	for _, e := range c.errs {
		if !strings.HasPrefix(e, "CE target LBA") {
			t.Errorf("checker: %s", e)
		}
	}
	sectors := r.img.Size() / sectorSize
	claimed := make([]bool, sectors)
	for i := range systemAreaSize / sectorSize {
		claimed[i] = true
	}
	for _, e := range c.extents {
		for s := e.start; s < e.end && s < sectors; s++ {
			claimed[s] = true
		}
	}
	for lba := range c.img.SpillLBAs {
		if int64(lba) >= sectors || claimed[lba] {
			t.Errorf("spill sector %d outside the volume or inside a claimed extent", lba)
			continue
		}
	}
	for lba := range c.img.SpillLBAs {
		claimed[lba] = true
	}
	unclaimed := make([]bool, sectors)
	for i := range claimed {
		unclaimed[i] = !claimed[i]
	}
	return unclaimed
}

// checkUnclaimedZero: every sector no structure of the new image claims
// reads as zeros, except the backup GPT in the last sectors.
func checkUnclaimedZero(t *testing.T, r *remastered, unclaimed []bool) {
	gptStart := int64(len(unclaimed)) - 16 // xorriso's 248-entry array + header: 16 sectors
	buf := make([]byte, sectorSize)
	bad := 0
	for s, free := range unclaimed {
		if !free || int64(s) >= gptStart {
			continue
		}
		if _, err := r.img.ReadAt(buf, int64(s)*sectorSize); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, make([]byte, sectorSize)) {
			if bad++; bad <= 5 {
				t.Errorf("unclaimed sector %d is not zero", s)
			}
		}
	}
}

// checkRemovedGone: no piece of the removed file is readable anywhere in the
// raw image, and its base sectors read as zeros unless reused.
func checkRemovedGone(t *testing.T, r *remastered) {
	raw, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(r.removed.LBA) * sectorSize
	old := r.base[start : start+int64(r.removed.Length)]
	for off := 0; off+64 <= len(old); off += 4096 {
		if bytes.Contains(raw, old[off:off+64]) {
			t.Fatalf("bytes %d-%d of the removed file are still in the image", off, off+64)
		}
	}
}

// checkOracles: xorriso, isoinfo and 7z read the image without complaint.
func checkOracles(t *testing.T, r *remastered) {
	out := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "SORRY", "32", "-indev", r.path,
		"-find", "/", "-exec", "lsdl")
	for p := range r.content {
		if !strings.Contains(out, "'"+p+"'") {
			t.Errorf("xorriso listing lacks %s", p)
		}
	}
	runTool(t, "isoinfo", "-i", r.path, "-R", "-l")
	runTool(t, "isoinfo", "-i", r.path, "-J", "-l")
	out = runTool(t, "7z", "t", r.path)
	if !strings.Contains(out, "Everything is Ok") {
		t.Errorf("7z t: %s", out)
	}
	dir := t.TempDir()
	runTool(t, "osirrox", "-indev", r.path, "-extract", "/added/hello.txt", filepath.Join(dir, "hello.txt"))
	if b, err := os.ReadFile(filepath.Join(dir, "hello.txt")); err != nil || !bytes.Equal(b, r.content["/added/hello.txt"]) {
		t.Errorf("osirrox extract: %q, %v", b, err)
	}
}

var (
	reMBRPart = regexp.MustCompile(`MBR partition\s*:\s*(\d+)\s+0x\w+\s+0x(\w+)\s+(\d+)\s+(\d+)`)
	reGPTLBA  = regexp.MustCompile(`GPT lba range\s*:\s*(\d+)\s+(\d+)\s+(\d+)`)
	reGPTPart = regexp.MustCompile(`GPT start and size\s*:\s*(\d+)\s+(\d+)\s+(\d+)`)
	reISO512  = regexp.MustCompile(`ISO image size/512\s*:\s*(\d+)`)
)

// checkPartitions: xorriso, sfdisk and sgdisk see partition tables that
// match the new size, with the EFI partition still at efiboot.img.
func checkPartitions(t *testing.T, r *remastered, baseSize int64) {
	blocks := r.img.Size() / 512
	rep := runTool(t, "xorriso", "-indev", r.path, "-report_system_area", "plain")
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	if m := reISO512.FindStringSubmatch(rep); m == nil || atoi(m[1]) != blocks {
		t.Errorf("xorriso ISO size/512 %v, want %d\n%s", m, blocks, rep)
	}
	efi := int64(r.baseLBA["/"+boottest.ImageEFIBootImg]) * 4
	mbr := reMBRPart.FindAllStringSubmatch(rep, -1)
	if len(mbr) != 2 || atoi(mbr[0][3]) != 0 || atoi(mbr[0][4]) != blocks || mbr[1][2] != "ef" || atoi(mbr[1][3]) != efi {
		t.Errorf("MBR partitions %v: want 0+%d and ef at %d\n%s", mbr, blocks, efi, rep)
	}
	if m := reGPTLBA.FindStringSubmatch(rep); m == nil || atoi(m[3]) != blocks-1 || atoi(m[2]) != blocks-64 {
		t.Errorf("GPT lba range %v, want backup at %d, last usable %d\n%s", m, blocks-1, blocks-64, rep)
	}
	gpt := reGPTPart.FindAllStringSubmatch(rep, -1)
	if len(gpt) != 2 || atoi(gpt[0][2]) != 0 || atoi(gpt[0][3]) != blocks-64 || atoi(gpt[1][2]) != efi {
		t.Errorf("GPT partitions %v: want 0+%d and the ESP at %d\n%s", gpt, blocks-64, efi, rep)
	}
	if strings.Contains(strings.ToLower(rep), "crc") || strings.Contains(rep, "damaged") {
		t.Errorf("xorriso reports a GPT problem:\n%s", rep)
	}
	needPartTool(t, "sfdisk", "fdisk")
	dump := runTool(t, "sfdisk", "--dump", r.path)
	if !strings.Contains(dump, fmt.Sprintf("start=           0, size=%12d, type=0, bootable", blocks)) {
		t.Errorf("sfdisk --dump:\n%s", dump)
	}
	// sgdisk -v flags xorriso's hybrid layout itself (MBR partitions overlap
	// the GPT); the new image must have exactly the base's findings and no
	// CRC or backup-header problem.
	needPartTool(t, "sgdisk", "gdisk")
	baseFile := filepath.Join(t.TempDir(), "base.iso")
	if err := os.WriteFile(baseFile, r.base, 0o644); err != nil {
		t.Fatal(err)
	}
	want, got := sgdiskVerify(t, baseFile), sgdiskVerify(t, r.path)
	if want != got || strings.Contains(strings.ToLower(got), "crc") || strings.Contains(strings.ToLower(got), "backup") {
		t.Errorf("sgdisk -v of the new image:\n%s\nbase:\n%s", got, want)
	}
	if r.img.Size() == baseSize {
		sys := make([]byte, systemAreaSize)
		if _, err := r.img.ReadAt(sys, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sys, r.base[:systemAreaSize]) {
			t.Errorf("same size, but the system area changed")
		}
	}
	checkGPTBytes(t, r)
}

func needPartTool(t *testing.T, bin, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s not found: install it with `apt-get install -y --no-install-recommends %s`", bin, pkg)
	}
}

// sgdiskVerify returns sgdisk -v's report (which exits non-zero on findings).
func sgdiskVerify(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sgdisk", "-v", path).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("sgdisk -v %s: %v", path, err)
	}
	return string(out)
}

// checkGPTBytes validates both GPT headers and entry arrays from the raw
// image: signatures, CRCs, mutual pointers, identical entries.
func checkGPTBytes(t *testing.T, r *remastered) {
	le := binary.LittleEndian
	read := func(off int64, n int) []byte {
		b := make([]byte, n)
		if _, err := r.img.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		return b
	}
	blocks := r.img.Size() / 512
	var arrays [2][]byte
	for i, lba := range []int64{1, blocks - 1} {
		hdr := read(lba*512, 512)
		hs := le.Uint32(hdr[12:])
		if string(hdr[:8]) != "EFI PART" || hs < 92 || hs > 512 {
			t.Fatalf("GPT header at block %d: bad signature or size", lba)
		}
		if headerCRC(hdr[:hs]) != le.Uint32(hdr[16:]) {
			t.Errorf("GPT header at block %d: header CRC mismatch", lba)
		}
		other := map[int64]int64{1: blocks - 1, blocks - 1: 1}[lba]
		if int64(le.Uint64(hdr[24:])) != lba || int64(le.Uint64(hdr[32:])) != other {
			t.Errorf("GPT header at block %d: my/alternate LBA %d/%d", lba, le.Uint64(hdr[24:]), le.Uint64(hdr[32:]))
		}
		n := int(le.Uint32(hdr[80:]) * le.Uint32(hdr[84:]))
		arrays[i] = read(int64(le.Uint64(hdr[72:]))*512, n)
		if crc32.ChecksumIEEE(arrays[i]) != le.Uint32(hdr[88:]) {
			t.Errorf("GPT header at block %d: entry array CRC mismatch", lba)
		}
	}
	if !bytes.Equal(arrays[0], arrays[1]) {
		t.Errorf("primary and backup GPT entries differ")
	}
}

// TestInPlaceBootsAsDisk boots the grown in-place image under QEMU as a raw
// hard disk (isohybrid MBR in BIOS mode, the GPT's EFI partition in UEFI
// mode): the guest sees the kept base files, the replaced isolinux.cfg, the
// added files, and not the removed one.
func TestInPlaceBootsAsDisk(t *testing.T) {
	base, content := buildHybridBase(t)
	r := remaster(t, base, content, true)
	for _, mode := range []string{boottest.ModeBIOSHDD, boottest.ModeUEFIHDD} {
		t.Run(mode, func(t *testing.T) {
			res := boottest.Boot(t, mode, r.path)
			v := res.View(boottest.ViewRockRidge)
			if v == nil {
				t.Fatalf("no Rock Ridge view; errors %v", res.Errors)
			}
			for _, p := range []string{cfgPath, "/added/hello.txt", "/added/big.bin", "/data/new-file.txt", "/data/keep-1.bin", "/boot/vmlinuz"} {
				e, ok := v.Lookup(p)
				if !ok {
					t.Errorf("guest does not list %s", p)
					continue
				}
				if want := shaHex(r.content[p]); e.SHA256 != want {
					t.Errorf("%s: guest sha256 %s, want %s", p, e.SHA256, want)
				}
			}
			if _, ok := v.Lookup(removedPath); ok {
				t.Errorf("guest still lists %s", removedPath)
			}
		})
	}
}
