package isoimage

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestOracleHiddenCatalogAuto: a hidden catalog with only a default entry whose
// media type comes from the auto rule (a 1.44 MB image is a floppy entry).
func TestOracleHiddenCatalogAuto(t *testing.T) {
	f := newFixture(t)
	floppy := bytes.Repeat([]byte{0xF6}, 1474560)
	id := f.file(t, nm("/floppy.img", "/floppy.img"), floppy, 0o444)
	must(t, f.tr.SetBootCatalog(BootCatalog{Default: &BootEntry{Image: id, NotBootable: true, LoadSegment: 0x7C0, SystemType: 1, SectorCount: 1}}))
	img, err := f.tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck := checkOwn(t, img)
	if len(ck.Boot) != 1 || ck.Boot[0].Media != 2 || ck.Boot[0].Indicator != 0 || ck.Boot[0].LoadSeg != 0x7C0 {
		t.Errorf("catalog: %+v", ck.Boot)
	}
	be := img.BootEntries()
	if len(be) != 1 || be[0].Emulation != EmulationFloppy144 || be[0].Bootable || be[0].Image != "/floppy.img" {
		t.Errorf("BootEntries: %+v", be)
	}
	iso := writeSparse(t, img)
	info := runTool(t, "isoinfo", "-d", "-i", iso)
	for _, s := range []string{"Boot media 2 (1.44MB Floppy)", "Bootid 0 (not bootable)", "Load segment 7C0", "Key 55 AA"} {
		if !strings.Contains(info, s) {
			t.Errorf("isoinfo -d lacks %q:\n%s", s, info)
		}
	}
	rep := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso, "-report_el_torito", "plain")
	if !regexp.MustCompile(`El Torito boot img :\s+1\s+BIOS\s+n\s+fd1.4\s+0x07c0\s+0x01\s+1\s`).MatchString(rep) {
		t.Errorf("report_el_torito:\n%s", rep)
	}
	if strings.Contains(rep, "cat path") {
		t.Errorf("hidden catalog has a path:\n%s", rep)
	}
	compareListing(t, "xorriso RR", lsdl(t, iso, false), map[string]want{"/floppy.img": {size: 1474560, sha: "x"}}, false)
	if out := runTool(t, "7z", "t", iso); !strings.Contains(out, "Everything is Ok") {
		t.Errorf("7z t:\n%s", out)
	}
}

// TestOracleThreeSections: x86 default entry plus three sections (0x90, 0x90,
// 0x91 headers), one of them with two entries, all read back by xorriso.
func TestOracleThreeSections(t *testing.T) {
	f := newFixture(t)
	var ids []ID
	for i := range 5 {
		data := bytes.Repeat([]byte{byte(i + 1)}, 2048*(i+1))
		ids = append(ids, f.file(t, nm(fmt.Sprintf("/boot/img%d.bin", i), fmt.Sprintf("/boot/img%d.bin", i)), data, 0o444))
	}
	no := func(id ID, count uint16) BootEntry {
		return BootEntry{Image: id, Emulation: EmulationNone, SectorCount: count}
	}
	must(t, f.tr.SetBootCatalog(BootCatalog{
		Default: &BootEntry{Image: ids[0], Emulation: EmulationNone, SectorCount: 4, BootInfoTable: true},
		Sections: []BootSection{
			{Platform: PlatformEFI, Entries: []BootEntry{no(ids[1], 8)}},
			{Platform: PlatformEFI, Entries: []BootEntry{no(ids[2], 12), no(ids[3], 16)}},
			{Platform: PlatformMac, Entries: []BootEntry{no(ids[4], 20)}},
		},
	}))
	img, err := f.tr.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	ck := checkOwn(t, img)
	var headers []byte
	for _, b := range ck.Boot[1:] {
		headers = append(headers, b.Header)
	}
	if !bytes.Equal(headers, []byte{0x90, 0x90, 0x90, 0x91}) || len(ck.Boot) != 5 {
		t.Errorf("section headers % x (%d entries)", headers, len(ck.Boot))
	}
	// Data order: catalog, then boot images in entry order.
	be := img.BootEntries()
	for i := 1; i < len(be); i++ {
		if be[i].LBA <= be[i-1].LBA {
			t.Errorf("boot images not in entry order: %+v", be)
		}
	}
	if ck.CatalogLBA >= be[0].LBA {
		t.Errorf("catalog at %d not before the first boot image at %d", ck.CatalogLBA, be[0].LBA)
	}
	iso := writeSparse(t, img)
	rep := runTool(t, "xorriso", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso, "-report_el_torito", "plain")
	for i, re := range []string{`1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s`, `2\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+8\s`,
		`3\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+12\s`, `4\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+16\s`, `5\s+Mac\s+y\s+none\s+0x0000\s+0x00\s+20\s`} {
		if !regexp.MustCompile(`El Torito boot img :\s+` + re).MatchString(rep) {
			t.Errorf("entry %d (%s) missing:\n%s", i+1, re, rep)
		}
		if !strings.Contains(rep, fmt.Sprintf("/boot/img%d.bin", i)) {
			t.Errorf("image path %d missing", i)
		}
	}
	if out := runTool(t, "7z", "t", iso); !strings.Contains(out, "Everything is Ok") {
		t.Errorf("7z t:\n%s", out)
	}
}
