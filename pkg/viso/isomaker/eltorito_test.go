package isomaker

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// catalogJSON parses text and returns the JSON of its El Torito catalog.
func catalogJSON(t *testing.T, text string) string {
	t.Helper()
	plan, err := parseText(text, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	b, err := json.Marshal(plan.ElTorito)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func entryJSON(entry, slot int, media string, imageOp int, extra string) string {
	return fmt.Sprintf(`{"entry":%d,"slot":%d,"bootable":true,"media":"%s","loadSegment":1984,"sectorCount":4,"bootInfoTable":false,"imageOp":%d%s}`,
		entry, slot, media, imageOp, extra)
}

func TestElToritoCatalog(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"no boot options", "/a=a", `null`},
		{"default entry", "/a=a -b /a",
			`{"platformId":0,"default":` + entryJSON(1, 1, "auto", 1, "") + `}`},
		{"all entry settings",
			"/i.bin=i.bin --eltorito-boot /i.bin --no-emulation-boot --boot-load-seg 0 --boot-load-size=8 --boot-info-table --no-boot",
			`{"platformId":0,"default":{"entry":1,"slot":1,"bootable":false,"media":"no-emulation","loadSegment":0,"sectorCount":8,"bootInfoTable":true,"imageOp":1}}`},
		{"media types, last wins", "/a=a --eltorito-floppy-12 --eltorito-floppy-144 --eltorito-floppy-288 -b /a",
			`{"platformId":0,"default":` + entryJSON(1, 1, "floppy-2.88", 1, "") + `}`},
		{"hard disk", "/a=a -hard-disk-boot -b /a",
			`{"platformId":0,"default":` + entryJSON(1, 1, "hard-disk", 1, "") + `}`},
		{"validation platform before any entry", "/a=a --eltorito-platform-id PPC -b /a",
			`{"platformId":1,"default":` + entryJSON(1, 1, "auto", 1, "") + `}`},
		{"EFI section via alt-boot then platform id",
			"/A=A /B=B -b /A --eltorito-alt-boot --eltorito-platform-id=efi --eltorito-boot=/B --no-emulation-boot",
			`{"platformId":0,"default":` + entryJSON(1, 1, "auto", 2, "") +
				`,"sections":[{"platformId":239,"entries":[` + entryJSON(2, 3, "no-emulation", 3, "") + `]}]}`},
		{"EFI section via platform id then alt-boot",
			"/A=A /B=B -b /A -eltorito-platform-id efi -eltorito-alt-boot -b /B",
			`{"platformId":0,"default":` + entryJSON(1, 1, "auto", 2, "") +
				`,"sections":[{"platformId":239,"entries":[` + entryJSON(2, 3, "auto", 3, "") + `]}]}`},
		{"alt-boot without platform inherits the validation platform",
			"/A=A --eltorito-platform-id Mac -b /A --eltorito-new-entry --eltorito-add-image /B=B",
			`{"platformId":2,"default":` + entryJSON(1, 1, "auto", 1, "") +
				`,"sections":[{"platformId":2,"entries":[` + entryJSON(2, 3, "auto", 2, "") + `]}]}`},
		{"two entries in one section, then a platform id splits the third",
			"/A=A -b /A --eltorito-alt-boot -b /A --eltorito-alt-boot --eltorito-platform-id 0x42 -b /A",
			`{"platformId":0,"default":` + entryJSON(1, 1, "auto", 1, "") +
				`,"sections":[{"platformId":0,"entries":[` + entryJSON(2, 3, "auto", 2, "") + `]},` +
				`{"platformId":66,"entries":[` + entryJSON(3, 5, "auto", 3, "") + `]}]}`},
		{"platform id after the last image leaves an empty section",
			"/A=A -b /A --eltorito-platform-id 7",
			`{"platformId":0,"default":` + entryJSON(1, 1, "auto", 1, "") + `,"sections":[{"platformId":7,"entries":[]}]}`},
		{"new entry first creates the default entry (OS/2 style)",
			"--import-iso os2.iso --name-setup-from-import --eltorito-new-entry --eltorito-add-image /os2boot.img=boot.img --eltorito-floppy-288",
			`{"platformId":0,"default":` + entryJSON(1, 1, "floppy-2.88", 2, "") + `}`},
		{"catalog only, import may supply the default entry",
			"--import-iso a.iso -c /boot.cat", `{"platformId":0}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := catalogJSON(t, tc.text); got != tc.want {
				t.Errorf("catalog:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestElToritoOperations(t *testing.T) {
	plan, err := parseText("--name-setup iso,joliet -b /BOOT.IMG --eltorito-alt-boot --eltorito-add-image /EFI.IMG=/efi.img=efi.img -c /BOOT.CAT=/boot.catalog", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"op":"name-setup","positions":[{"namespaces":["primary"]},{"namespaces":["joliet"]}]}`,
		`{"op":"eltorito-boot","path":"/BOOT.IMG","entry":1}`,
		`{"op":"eltorito-add-image","names":["/EFI.IMG","/efi.img"],"source":"efi.img","entry":2}`,
		`{"op":"boot-catalog","names":["/BOOT.CAT","/boot.catalog"]}`,
	}
	if got := briefAll(t, plan.Operations); !equalStrings(got, want) {
		t.Errorf("ops:\n got %q\nwant %q", got, want)
	}
	if plan.ElTorito.Default.ImageOp != 1 || plan.ElTorito.Sections[0].Entries[0].ImageOp != 2 {
		t.Errorf("image ops %+v", plan.ElTorito)
	}
	// -c names follow the name setup: one name repeats, leading slash added.
	ops := optionOps(t, "-b /a --name-setup iso,joliet --boot-catalog isolinux/boot.cat")
	if ops[2] != `{"op":"boot-catalog","names":["/isolinux/boot.cat","/isolinux/boot.cat"]}` {
		t.Errorf("boot-catalog op %s", ops[2])
	}
}

func TestElToritoErrors(t *testing.T) {
	many := "/a=a -b /a" + strings.Repeat(" --eltorito-alt-boot -b /a", 61)
	if _, err := parseText(many, nil); err != nil {
		t.Fatalf("64 slots must fit: %v", err)
	}
	tests := []struct {
		name      string
		text      string
		sentinel  error
		fragments []string
		line      int
		arg       string
	}{
		{"second image for the default entry", "/a=a -b /a\n--eltorito-boot /b", ErrBootImageTwice,
			[]string{"boot image already given for current El Torito entry (1)"}, 2, "--eltorito-boot"},
		{"second image via add-image", "/a=a -b /a --eltorito-alt-boot -b /a\n--eltorito-add-image /c=c", ErrBootImageTwice,
			[]string{"(3)"}, 2, "--eltorito-add-image"},
		{"unknown platform", "/a=a --eltorito-platform-id\narm -b /a", ErrPlatformID,
			[]string{"invalid or unknown platform ID: arm"}, 2, "arm"},
		{"platform names are case-sensitive", "/a=a --eltorito-platform-id EFI -b /a", ErrPlatformID, nil, 1, "EFI"},
		{"platform number too big", "/a=a --eltorito-platform-id 256 -b /a", ErrPlatformID, nil, 1, "256"},
		{"too many entries", many + "\n--eltorito-alt-boot", ErrTooManyBootEntries,
			[]string{"too many boot catalog entries"}, 2, "--eltorito-alt-boot"},
		{"too many via platform id", many + "\n--eltorito-platform-id 1", ErrTooManyBootEntries, nil, 2, "--eltorito-platform-id"},
		{"entry without image", "/a=a\n--no-emulation-boot", ErrBootEntryNoImage,
			[]string{"no image name given for boot catalog entry #1"}, 2, "--no-emulation-boot"},
		{"section entry without image", "/a=a -b /a\n--eltorito-alt-boot --boot-info-table", ErrBootEntryNoImage,
			[]string{"#3"}, 2, "--eltorito-alt-boot"},
		{"catalog without default entry", "/a=a\n-c /boot.cat", ErrBootNoDefaultEntry, nil, 2, "-c"},
		{"platform only", "/a=a\n--eltorito-platform-id efi", ErrBootNoDefaultEntry, nil, 2, "--eltorito-platform-id"},
		{"skip-eltorito import cannot supply one", "--import-iso-skip-eltorito a.iso\n-c /boot.cat", ErrBootNoDefaultEntry, nil, 2, "-c"},
		{"empty boot path", "/a=a -b ''", ErrEmptyPath, nil, 1, ""},
		{"empty catalog name", "/a=a -b /a -c=", ErrEmptyPath, nil, 1, "-c="},
		{"catalog too many names", "/a=a -b /a -c /x=/y", ErrFileSpec, []string{"too many names specified (max 1): /x=/y"}, 1, "/x=/y"},
		{"catalog dot name", "/a=a -b /a -c /x/..", ErrInvalidName, []string{"on 'boot catalog'"}, 1, "/x/.."},
		{"add-image cannot remove", "/a=a --eltorito-add-image /b=:remove:", ErrFileSpec, []string{"cannot remove"}, 1, "/b=:remove:"},
		{"add-image bad spec", "/a=a --eltorito-add-image /b=", ErrFileSpec, []string{"--eltorito-add-image: ", "empty source file name"}, 1, "/b="},
		{"add-image dot name", "/a=a --eltorito-add-image /b/.=x", ErrInvalidName, nil, 1, "/b/.=x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantError(t, tc.text, nil, tc.sentinel, tc.fragments...)
			if ae.Line != tc.line || ae.Arg != tc.arg {
				t.Errorf("blamed %d %q, want %d %q", ae.Line, ae.Arg, tc.line, tc.arg)
			}
		})
	}
}
