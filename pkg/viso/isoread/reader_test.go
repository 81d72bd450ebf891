package isoread

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const longName = "a-very-long-file-name-that-goes-well-beyond-sixty-four-characters-for-joliet.txt"

// standardTree is the source tree most xorriso cases master.
func standardTree() []srcNode {
	return []srcNode{
		{path: "isolinux/isolinux.bin", data: data(30*1024+100, 1)},
		{path: "isolinux/isolinux.cfg", data: []byte("default linux\n")},
		{path: "boot/efi.img", data: data(96*1024, 2)},
		{path: "data/hello.txt", data: []byte("hello\n")},
		{path: "data/" + longName, data: data(3000, 3)},
		{path: "data/Ünïcödé-日本語.txt", data: []byte("unicode\n")},
		{path: "data/MixedCase.Name.With.Dots", data: []byte("dots\n")},
		{path: "data/empty", data: []byte{}},
		{path: "data/emptydir", dir: true},
		{path: "data/private.key", data: []byte("secret\n"), mode: 0o640},
		{path: "data/run.sh", data: []byte("#!/bin/sh\n"), mode: 0o755},
		{path: "data/link", link: "hello.txt"},
		{path: "data/abslink", link: "/etc/../x/./y"},
		{path: "data/dirlink", link: "../boot"},
		{path: "data/a/b/c/d/e/f/g/h/i/j/deep.txt", data: []byte("deep\n")},
		{path: "data/random.bin", data: data(200*1024+7, 4)},
	}
}

func TestXorrisoTrees(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, standardTree())
	want := scanSource(t, src)
	symlinks := map[string]bool{}
	for p, e := range want {
		if e.kind == KindSymlink {
			symlinks[p] = true
		}
	}
	boot := []string{"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
		"-boot-load-size", "4", "-boot-info-table", "-eltorito-alt-boot", "-e", "boot/efi.img", "-no-emul-boot"}

	cases := []struct {
		name      string
		args      []string
		rr        bool
		joliet    bool
		bootCat   bool
		rrMoved   bool
		skipJ     map[string]bool // source paths absent from the Joliet tree
		checkPath bool
	}{
		{name: "rr+joliet-long", args: []string{"-R", "-J", "-joliet-long"}, rr: true, joliet: true, skipJ: symlinks, checkPath: true},
		{name: "rr-no-joliet", args: []string{"-R"}, rr: true, checkPath: true},
		{name: "boot", args: append([]string{"-R", "-J", "-joliet-long"}, boot...), rr: true, joliet: true, bootCat: true, skipJ: symlinks, checkPath: true},
		{name: "relocated", args: []string{"-R", "-J", "-joliet-long", "-rr_reloc_dir", "rr_moved"}, rr: true, joliet: true, rrMoved: true, skipJ: withPath(symlinks, "/rr_moved")},
		{name: "norock", args: []string{"--norock"}, checkPath: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iso := mkisofs(t, src, tc.args...)
			v := openFile(t, iso, Options{})
			if v.HasJoliet() != tc.joliet {
				t.Fatalf("HasJoliet = %v, want %v", v.HasJoliet(), tc.joliet)
			}
			prim, err := v.Primary()
			if err != nil {
				t.Fatal(err)
			}
			if prim.RockRidge != tc.rr {
				t.Fatalf("RockRidge = %v, want %v", prim.RockRidge, tc.rr)
			}
			skip := map[string]bool{}
			if tc.bootCat {
				skip["/isolinux/boot.cat"] = true
				// The boot-info table patched bytes 8-63 of isolinux.bin.
				skip["/isolinux/isolinux.bin"] = true
			}
			switch {
			case tc.rrMoved:
				checkRelocated(t, v, prim, want)
			case tc.rr:
				if prim.RRIP != "RRIP_1991A" && prim.RRIP != "IEEE_P1282" && prim.RRIP != "IEEE_1282" {
					t.Errorf("RRIP = %q, want an RRIP identifier", prim.RRIP)
				}
				compareTree(t, v, prim, want, true, skip)
			default:
				checkPlainNames(t, prim)
			}
			if tc.joliet {
				jol, err := v.Joliet()
				if err != nil {
					t.Fatal(err)
				}
				jskip := map[string]bool{}
				for p := range tc.skipJ {
					jskip[p] = true
				}
				for p := range skip {
					jskip[p] = true
				}
				compareTree(t, v, jol, want, false, jskip)
				if got, err := v.PushView(false, false); err != nil || got != jol {
					t.Errorf("PushView(false,false) = %v, %v; want the Joliet tree", got, err)
				}
				if e, err := jol.Lookup("/DATA/" + strings.ToUpper(longName)); err != nil || e.Name != longName {
					t.Errorf("case-insensitive Joliet lookup of the long name: %v, %v", e, err)
				}
			} else if _, err := v.Joliet(); !errors.Is(err, ErrNotFound) {
				t.Errorf("Joliet() without Joliet: %v, want ErrNotFound", err)
			}
			noRock, err := v.PushView(true, true)
			if err != nil {
				t.Fatal(err)
			}
			if noRock.RockRidge {
				t.Error("PushView(true, true) used Rock Ridge")
			}
			checkPlainNames(t, noRock)
			if tc.checkPath {
				if err := v.CheckPathTables(); err != nil {
					t.Errorf("CheckPathTables: %v", err)
				}
			}
			cat, err := v.BootCatalog()
			if err != nil {
				t.Fatal(err)
			}
			if (cat != nil) != tc.bootCat {
				t.Fatalf("boot catalog present = %v, want %v", cat != nil, tc.bootCat)
			}
			if cat != nil {
				checkBootCatalog(t, v, prim, cat)
			}
		})
	}
}

// checkPlainNames: names of a view without Rock Ridge are ISO identifiers
// without versions, and every entry is a file or directory.
func checkPlainNames(t *testing.T, tr *Tree) {
	t.Helper()
	n := 0
	_ = tr.Walk(func(p string, e *Entry) error {
		if e.Parent == nil {
			return nil
		}
		n++
		if e.Name != e.Ident || strings.Contains(e.Name, ";") || e.RockRidge {
			t.Errorf("%s: name %q ident %q rr %v: want a plain ISO name", p, e.Name, e.Ident, e.RockRidge)
		}
		if e.Kind != KindFile && e.Kind != KindDir {
			t.Errorf("%s: kind %s without Rock Ridge", p, e.Kind)
		}
		return nil
	})
	if n < 10 {
		t.Errorf("only %d entries in the %s tree", n, tr.View)
	}
}

// checkRelocated: with -rr_reloc_dir, the deep directory lives under
// /rr_moved and its original place holds a CL placeholder (spec §5.2).
func checkRelocated(t *testing.T, v *Volume, prim *Tree, want map[string]srcEntry) {
	t.Helper()
	e, err := prim.Lookup("/rr_moved/g/h/i/j/deep.txt")
	if err != nil {
		t.Fatalf("relocated file: %v", err)
	}
	f, err := v.Open(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := hashReader(t, f.Reader()); got != want["/data/a/b/c/d/e/f/g/h/i/j/deep.txt"].sum {
		t.Errorf("relocated file content differs")
	}
	g, err := prim.Lookup("/rr_moved/g")
	if err != nil || !g.Relocated {
		t.Errorf("/rr_moved/g: %v, relocated %v", err, g != nil && g.Relocated)
	}
	ph, err := prim.Lookup("/data/a/b/c/d/e/f/g")
	if err != nil {
		t.Fatal(err)
	}
	if ph.ChildLink != g.LBA() || ph.Kind != KindFile || ph.Size != 0 {
		t.Errorf("placeholder: CL %d (dir at %d), kind %s, size %d", ph.ChildLink, g.LBA(), ph.Kind, ph.Size)
	}
}

func checkBootCatalog(t *testing.T, v *Volume, prim *Tree, cat *BootCatalog) {
	t.Helper()
	catFile, _ := prim.Lookup("/isolinux/boot.cat")
	if cat.File == nil || cat.File != catFile {
		t.Errorf("catalog file = %v, want /isolinux/boot.cat", cat.File)
	}
	bin, _ := prim.Lookup("/isolinux/isolinux.bin")
	efi, _ := prim.Lookup("/boot/efi.img")
	d := cat.Default
	if d.File != bin || !d.Bootable() || d.Emulation() != MediaNoEmulation || d.SectorCount != 4 || d.LBA != bin.LBA() {
		t.Errorf("default entry = %+v, want bootable no-emulation isolinux.bin with 4 sectors", d)
	}
	if d.ImageSize != int64(bin.Size) {
		t.Errorf("default image size %d, want %d", d.ImageSize, bin.Size)
	}
	bi := d.BootInfo
	if bi == nil || bi.PVDLBA != 16 || bi.FileLBA != bin.LBA() || !bi.LengthMatches || !bi.ChecksumVerified || !bi.ChecksumMatches {
		t.Errorf("boot-info table = %+v, want detected with matching length and checksum", bi)
	}
	if len(cat.Sections) != 1 {
		t.Fatalf("%d sections, want 1 (the final 0x91 UEFI section)", len(cat.Sections))
	}
	s := cat.Sections[0]
	if s.HeaderID != 0x91 || s.PlatformID != 0xEF || s.Count != 1 || len(s.Entries) != 1 {
		t.Fatalf("section = %+v, want 0x91 EFI with one entry", s)
	}
	e := s.Entries[0]
	if e.File != efi || e.ImageSize != int64(efi.Size) || !e.Bootable() || e.BootInfo != nil {
		t.Errorf("EFI entry = %+v, want efi.img", e)
	}
	if got := len(cat.Entries()); got != 2 {
		t.Errorf("Entries() = %d, want 2", got)
	}
}

// TestHiddenBootImage: an image in no tree is sized by the distance to the
// next known extent or the end of the medium (spec §5.3 item 4).
func TestHiddenBootImage(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, standardTree())
	iso := mkisofs(t, src, "-R", "-J", "-b", "isolinux/isolinux.bin", "-no-emul-boot", "-boot-load-size", "4",
		"-eltorito-alt-boot", "-e", "boot/efi.img", "-no-emul-boot",
		"-hide", filepath.Join(src, "boot/efi.img"), "-hide-joliet", filepath.Join(src, "boot/efi.img"))
	v := openFile(t, iso, Options{})
	cat, err := v.BootCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Sections) != 1 || len(cat.Sections[0].Entries) != 1 {
		t.Fatalf("sections %+v", cat.Sections)
	}
	e := cat.Sections[0].Entries[0]
	if e.File != nil {
		t.Fatalf("hidden EFI image matched %s", e.File.Path())
	}
	efi := data(96*1024, 2)
	if e.ImageSize < int64(len(efi)) || e.ImageSize%SectorSize != 0 || int64(e.LBA)*SectorSize+e.ImageSize > v.Size() {
		t.Fatalf("hidden image size %d for a %d-byte image", e.ImageSize, len(efi))
	}
	got := make([]byte, len(efi))
	if _, err := v.r.ReadAt(got, int64(e.LBA)*SectorSize); err != nil || string(got) != string(efi) {
		t.Errorf("hidden image data differs: %v", err)
	}
}

// TestDeepTree: without relocation a 40-level tree exceeds the depth limit.
func TestDeepTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	deep := strings.Repeat("d/", 40) + "f.txt"
	writeTree(t, src, []srcNode{{path: deep, data: []byte("x")}})
	iso := mkisofs(t, src, "-R", "-J")
	for _, view := range []View{ViewRockRidge, ViewJoliet} {
		v := openFile(t, iso, Options{})
		_, err := v.Tree(view)
		if !errors.Is(err, ErrTooDeep) || !strings.Contains(err.Error(), "is too deep") {
			t.Errorf("%s: %v, want ErrTooDeep", view, err)
		}
		v = openFile(t, iso, Options{MaxDepth: 64})
		tr, err := v.Tree(view)
		if err != nil {
			t.Fatalf("%s with MaxDepth 64: %v", view, err)
		}
		if _, err := tr.Lookup("/" + deep); err != nil {
			t.Errorf("%s: %v", view, err)
		}
	}
}

func TestVolumeStrings(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, []srcNode{{path: "a.txt", data: []byte("a")}})
	iso := mkisofs(t, src, "-R", "-J", "-V", "MY_VOLUME", "-volset", "SET", "-publisher", "Pub Ltd",
		"-p", "Preparer", "-A", "App", "-sysid", "SYS", "-copyright", "COPY.TXT", "-abstract", "ABS.TXT", "-biblio", "BIB.TXT")
	v := openFile(t, iso, Options{})
	// xorriso writes d-characters into the PVD; the Joliet SVD keeps the case.
	wantPrim := VolumeInfo{SystemID: "SYS", VolumeID: "MY_VOLUME", VolumeSetID: "SET", PublisherID: "PUB LTD",
		PreparerID: "PREPARER", ApplicationID: "APP", CopyrightFileID: "COPY_TXT", AbstractFileID: "ABS_TXT", BibliographicFileID: "BIB_TXT"}
	wantJol := VolumeInfo{SystemID: "SYS", VolumeID: "MY_VOLUME", VolumeSetID: "SET", PublisherID: "Pub Ltd",
		PreparerID: "Preparer", ApplicationID: "App", CopyrightFileID: "COPY.TXT", AbstractFileID: "ABS.TXT", BibliographicFileID: "BIB.TXT"}
	for i, info := range []VolumeInfo{v.PrimaryInfo(), *v.JolietInfo()} {
		want := wantPrim
		if i == 1 {
			want = wantJol
		}
		got := info
		if got.Created.IsZero() || got.Created.Unix() != 1700000000 {
			t.Errorf("created %v, want SOURCE_DATE_EPOCH", got.Created)
		}
		g := VolumeInfo{SystemID: got.SystemID, VolumeID: got.VolumeID, VolumeSetID: got.VolumeSetID, PublisherID: got.PublisherID,
			PreparerID: got.PreparerID, ApplicationID: got.ApplicationID, CopyrightFileID: got.CopyrightFileID,
			AbstractFileID: got.AbstractFileID, BibliographicFileID: got.BibliographicFileID}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("%q strings:\n got %+v\nwant %+v", info.Escape, g, want)
		}
	}
	if v.JolietInfo().Escape != "%/E" {
		t.Errorf("Joliet escape %q", v.JolietInfo().Escape)
	}
	if len(v.SystemArea()) != 32768 {
		t.Errorf("system area of %d bytes", len(v.SystemArea()))
	}
	if !utf8.ValidString(v.PrimaryInfo().VolumeID) {
		t.Error("volume id not UTF-8")
	}
}

func withPath(m map[string]bool, p string) map[string]bool {
	out := map[string]bool{p: true}
	for k := range m {
		out[k] = true
	}
	return out
}
