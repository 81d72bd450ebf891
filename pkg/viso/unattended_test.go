package viso

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

func unattendedArgs(texts ...string) []argv.Arg {
	out := make([]argv.Arg, len(texts))
	for i, s := range texts {
		out[i] = argv.Arg{Text: s, Line: 1}
	}
	return out
}

func TestUnattendedTargets(t *testing.T) {
	const dir = "/vms/deb"
	tests := []struct {
		name string
		args []argv.Arg
		want []string
	}{
		{"spec example: generated preseed", unattendedArgs("/preseed.cfg=/vms/deb/Unattended-1234-preseed.cfg"), []string{"Unattended-1234-preseed.cfg"}},
		{"relative value", unattendedArgs("/a=Unattended-a"), []string{"Unattended-a"}},
		{"whole argument without =", unattendedArgs("Unattended-b"), []string{"Unattended-b"}},
		{"nested relative", unattendedArgs("/x=sub/Unattended-c"), []string{"sub/Unattended-c"}},
		{"text after the last =", unattendedArgs("/a=b=Unattended-d"), []string{"Unattended-d"}},
		{"must-remove keyword", unattendedArgs("isolinux/isolinux.cfg=:must-remove:", "/Unattended-e=:remove:"), nil},
		{"separate option value scanned", unattendedArgs("--import-iso", "Unattended-base.iso"), []string{"Unattended-base.iso"}},
		{"option=value scanned", unattendedArgs("--push-iso=Unattended-p.iso"), []string{"Unattended-p.iso"}},
		{"import ISO outside the folder", unattendedArgs("--import-iso", "/isos/debian.iso", "--push-iso=/usr/share/virtualbox/VBoxGuestAdditions.iso"), nil},
		{"leading dash skipped", unattendedArgs("/a=-Unattended-f", "-Unattended-g"), nil},
		{"marker and UUID skipped", unattendedArgs("--iprt-iso-maker-file-marker-bourne-sh", "1f0e7a6c-2b54-4a8a-9f3e-0d5c8e7b9a11"), nil},
		{"sibling sharing the prefix", unattendedArgs("/a=/vms/deb-other/Unattended-h", "/vms/deb2/Unattended-i"), nil},
		{"dot-dot out of the folder", unattendedArgs("../deb-other/Unattended-j", "sub/../../deb-other/Unattended-k"), nil},
		{"dot-dot staying inside", unattendedArgs("sub/../Unattended-l", "/vms/deb/./x/../Unattended-m"), []string{"Unattended-l", "Unattended-m"}},
		{"prefix is case-sensitive", unattendedArgs("unattended-n", "UNATTENDED-o"), nil},
		{"prefix only in a directory name", unattendedArgs("Unattended-dir/file"), nil},
		{"other names kept", unattendedArgs("/a=notes.txt", "/b=README"), nil},
		{"duplicates once, first order", unattendedArgs("Unattended-q", "/x=Unattended-p", "/y=./Unattended-q"), []string{"Unattended-q", "Unattended-p"}},
		{"empty value", unattendedArgs("/a=", "="), nil},
		{"the folder itself", unattendedArgs("/vms/deb", "."), nil},
		{"absolute outside", unattendedArgs("/etc/Unattended-r"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := UnattendedTargets(dir, tc.args)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("UnattendedTargets = %q, want %q", got, tc.want)
			}
		})
	}
}

// decoys builds the folder layout of the cleanup tests under a temp dir X and
// returns X and the .viso path X/vm/aux.viso. Paths are relative to X.
func decoys(t *testing.T) (x, viso string) {
	t.Helper()
	x = t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"vm/sub", "vm/Unattended-dir", "vm-other", "outside"} {
		must(os.MkdirAll(filepath.Join(x, d), 0o755))
	}
	for _, f := range []string{
		"vm/aux.viso",
		"vm/Unattended-1-preseed.cfg",
		"vm/Unattended-rel.cfg",
		"vm/sub/Unattended-nested",
		"vm/notes.txt",
		"vm/Unattended-unreferenced",
		"vm/Unattended-c",
		"vm/Unattended-base.iso",
		"vm/Unattended-p.iso",
		"vm/unattended-lower",
		"vm-other/Unattended-a",
		"vm-other/Unattended-b",
		"vm-other/Unattended-c",
		"outside/Unattended-o",
		"outside/target",
	} {
		must(os.WriteFile(filepath.Join(x, f), []byte(f), 0o644))
	}
	must(os.Symlink("../outside", filepath.Join(x, "vm/linkdir")))
	must(os.Symlink("../outside/target", filepath.Join(x, "vm/Unattended-x")))
	return x, filepath.Join(x, "vm/aux.viso")
}

func TestRemoveVISO(t *testing.T) {
	// The VISO's text after the "VBox-Iso-Maker" prefix, as the envelope reader
	// would hand it over; absolute references point into the test's own tree x.
	visoArgs := func(x string) []argv.Arg {
		return argv.SplitBourne(strings.Join([]string{
			"--iprt-iso-maker-file-marker-bourne-sh 1f0e7a6c-2b54-4a8a-9f3e-0d5c8e7b9a11",
			"--import-iso Unattended-base.iso",
			"--push-iso=Unattended-p.iso --pop",
			"/preseed.cfg=" + x + "/vm/Unattended-1-preseed.cfg",
			"/rel.cfg=Unattended-rel.cfg",
			"/n=sub/Unattended-nested",
			"/a=" + x + "/vm-other/Unattended-a",
			"/b=../vm-other/Unattended-b",
			"/c2=sub/../../vm-other/Unattended-c",
			"/o=linkdir/Unattended-o",
			"/x=Unattended-x",
			"/notes=notes.txt",
			"/Unattended-c=:must-remove:",
			"isolinux/isolinux.cfg=:must-remove:",
			"/missing=Unattended-missing",
			"/d=Unattended-dir",
			"/l=unattended-lower",
		}, "\n"))
	}

	kept := []string{
		"vm/notes.txt", "vm/Unattended-unreferenced", "vm/Unattended-c", "vm/unattended-lower",
		"vm/Unattended-dir", "vm/linkdir", "vm/sub",
		"vm-other/Unattended-a", "vm-other/Unattended-b", "vm-other/Unattended-c",
		"outside/Unattended-o", "outside/target",
	}
	tests := []struct {
		name       string
		unattended bool
		removed    []string // relative to X, in order
		gone       []string
		keep       []string
		warnings   []error // one sentinel per expected warning, in order
	}{
		{
			name:       "unattended",
			unattended: true,
			removed: []string{
				"vm/Unattended-base.iso", "vm/Unattended-p.iso", "vm/Unattended-1-preseed.cfg",
				"vm/Unattended-rel.cfg", "vm/sub/Unattended-nested", "vm/Unattended-x", "vm/aux.viso",
			},
			keep: kept,
			warnings: []error{
				confine.ErrOutsideRoot, // linkdir/Unattended-o through the symlinked dir
				fs.ErrNotExist,         // Unattended-missing
				confine.ErrSpecialFile, // Unattended-dir is a directory
			},
		},
		{
			name:       "not unattended",
			unattended: false,
			removed:    []string{"vm/aux.viso"},
			keep: append(slices.Clone(kept), "vm/Unattended-base.iso", "vm/Unattended-p.iso",
				"vm/Unattended-1-preseed.cfg", "vm/Unattended-rel.cfg", "vm/sub/Unattended-nested", "vm/Unattended-x"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, viso := decoys(t)
			removed, warnings, err := RemoveVISO(viso, visoArgs(x), tc.unattended)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range tc.removed {
				want = append(want, filepath.Join(x, r))
			}
			if !slices.Equal(removed, want) {
				t.Errorf("removed = %q\nwant      %q", removed, want)
			}
			for _, r := range tc.removed {
				if _, err := os.Lstat(filepath.Join(x, r)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still exists (%v)", r, err)
				}
			}
			for _, k := range tc.keep {
				if _, err := os.Lstat(filepath.Join(x, k)); err != nil {
					t.Errorf("%s was removed: %v", k, err)
				}
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("warnings = %v, want %d", warnings, len(tc.warnings))
			}
			for i, w := range warnings {
				if !errors.Is(w, tc.warnings[i]) {
					t.Errorf("warning %d = %v, want %v", i, w, tc.warnings[i])
				}
				if !strings.Contains(w.Error(), viso) {
					t.Errorf("warning %q does not name the VISO", w)
				}
			}
		})
	}
}

// The unattended installer names the VISO itself Unattended-…-aux-iso.viso; if
// it references itself it is still deleted exactly once, last.
func TestRemoveVISOSelfReference(t *testing.T) {
	dir := t.TempDir()
	viso := filepath.Join(dir, "Unattended-1-aux-iso.viso")
	if err := os.WriteFile(viso, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	removed, warnings, err := RemoveVISO(viso, unattendedArgs("/self=Unattended-1-aux-iso.viso"), true)
	if err != nil || len(warnings) != 0 || !slices.Equal(removed, []string{viso}) {
		t.Fatalf("RemoveVISO = %q, %v, %v", removed, warnings, err)
	}
}

func TestRemoveVISOErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.viso"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing VISO", filepath.Join(dir, "nope.viso"), fs.ErrNotExist},
		{"VISO is a directory", filepath.Join(dir, "d.viso"), confine.ErrSpecialFile},
		{"folder missing", filepath.Join(dir, "nodir", "x.viso"), fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := RemoveVISO(tc.path, nil, true)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// Whatever the arguments, every target is a clean relative path inside the
// folder whose base name carries the prefix.
func FuzzUnattendedTargets(f *testing.F) {
	for _, s := range []string{"Unattended-a", "/a=../Unattended-b", "x=/vms/deb/Unattended-c", "/vms/deb-x/Unattended-d",
		"sub/../../deb/Unattended-e", "a=b=./Unattended-f/", "--import-iso", "//vms//deb//Unattended-g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rel := range UnattendedTargets("/vms/deb", unattendedArgs(s)) {
			if filepath.IsAbs(rel) || rel != filepath.Clean(rel) || rel == "." || rel == ".." ||
				strings.HasPrefix(rel, "../") || !strings.HasPrefix(filepath.Base(rel), UnattendedPrefix) {
				t.Fatalf("argument %q gave target %q", s, rel)
			}
		}
	})
}
