package viso

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
)

// buildErr parses and builds the VISO at p and returns the error (nil if it built).
func buildErr(t *testing.T, p string, roots ...string) error {
	t.Helper()
	res, err := NewResolver(p, roots)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	doc, err := ParseFile(p, res)
	if err != nil {
		return err
	}
	img, err := doc.Build(res)
	if err == nil {
		img.Close()
	}
	return err
}

// TestImageLayerErrors: every error of spec §8.3/§8.5 that the image layer owns
// is reported with the VISO, the line and the argument at fault, and wraps a
// sentinel callers can branch on.
func TestImageLayerErrors(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	longJoliet := strings.Repeat("j", 111)

	tests := []struct {
		name   string
		body   string // line 2 onwards
		files  map[string]string
		setup  func(t *testing.T, dir string)
		line   int    // 0: not tied to a line (layout error)
		arg    string // expected argument text ("" to skip)
		want   error
		msgHas string
	}{
		{name: "relative source missing", body: "/a=nope.txt\n", line: 2, arg: "/a=nope.txt", want: confine.ErrNotFound, msgHas: "nope.txt"},
		{name: "absolute source outside the roots", body: "/a=" + filepath.Join(outside, "secret") + "\n", line: 2, want: confine.ErrOutsideRoot},
		{name: "dot-dot escape", body: "/a=../x\n", line: 2, want: confine.ErrOutsideRoot},
		{name: "symlink leaving the folder", body: "/a=link\n", setup: func(t *testing.T, dir string) {
			os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
		}, line: 2, want: confine.ErrOutsideRoot},
		{name: "destination exists", body: "/a.txt=a.txt\n/A.TXT=a.txt\n", files: map[string]string{"a.txt": "a"},
			line: 3, arg: "/A.TXT=a.txt", want: isoimage.ErrAlreadyExists, msgHas: "Error setting name"},
		{name: "file under a file", body: "/a.txt=a.txt\n/a.txt/b=a.txt\n", files: map[string]string{"a.txt": "a"},
			line: 3, want: isoimage.ErrNotADirectory},
		{name: "file destination with trailing slash", body: "/dir/=a.txt\n", files: map[string]string{"a.txt": "a"},
			line: 2, want: isoimage.ErrNotADirectory},
		{name: "4 GiB file at level 2", body: "--iso-level=2\n/big=big.bin\n", setup: func(t *testing.T, dir string) {
			f, _ := os.Create(filepath.Join(dir, "big.bin"))
			f.Truncate(4 << 30)
			f.Close()
		}, line: 3, want: isoimage.ErrFileTooBig},
		{name: "symlink inside an added directory", body: "/d=tree\n", files: map[string]string{"tree/a": "a"}, setup: func(t *testing.T, dir string) {
			os.Symlink("a", filepath.Join(dir, "tree", "l"))
		}, line: 2, want: isomaker.ErrSymlinkInTree},
		{name: "FIFO inside an added directory", body: "/d=tree\n", files: map[string]string{"tree/a": "a"}, setup: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "tree", "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, line: 2, want: isomaker.ErrSpecialFile},
		{name: "FIFO as the source", body: "/f=fifo\n", setup: func(t *testing.T, dir string) {
			syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
		}, line: 2, want: confine.ErrSpecialFile},
		{name: "directory deeper than 32", body: "/d=deep\n", setup: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "deep", strings.Repeat("d/", 33))
			os.MkdirAll(p, 0o755)
			os.WriteFile(filepath.Join(p, "f"), []byte("f"), 0o644)
		}, line: 2, want: isomaker.ErrTooDeep},
		{name: "must-remove finds nothing", body: "/a.txt=a.txt\n/b.txt=:must-remove:\n", files: map[string]string{"a.txt": "a"},
			line: 3, arg: "/b.txt=:must-remove:", want: isomaker.ErrNothingRemoved},
		{name: "removing the root", body: "/a.txt=a.txt\n/=:remove:\n", files: map[string]string{"a.txt": "a"},
			line: 3, want: isoimage.ErrAccessDenied},
		{name: "chmod of a missing path", body: "/a.txt=a.txt\n--chmod=0755:/nope\n", files: map[string]string{"a.txt": "a"},
			line: 3, want: isomaker.ErrChangeTargetMissing},
		{name: "boot image not found", body: "/a.txt=a.txt\n-b /boot.bin\n--no-emulation-boot\n", files: map[string]string{"a.txt": "a"},
			line: 3, arg: "-b", want: isomaker.ErrBootImageNotFound},
		{name: "boot image is a directory", body: "/d=tree\n-b /d\n", files: map[string]string{"tree/a": "a"},
			line: 3, want: isomaker.ErrBootImageNotFound},
		{name: "Joliet name longer than 110 UTF-16 units", body: "/" + longJoliet + "=a.txt\n", files: map[string]string{"a.txt": "a"},
			want: isoimage.ErrNameTooLong, msgHas: longJoliet},
		{name: "nothing in the primary tree", body: "--name-setup=joliet\n/a.txt=a.txt\n", files: map[string]string{"a.txt": "a"},
			want: isoimage.ErrNoData},
		{name: "pushed ISO missing", body: "--push-iso=x.iso\n/a=/a\n--pop\n", line: 2, want: isomaker.ErrImportOpen, msgHas: "x.iso"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := visoFolder(t, tc.body, tc.files)
			if tc.setup != nil {
				tc.setup(t, filepath.Dir(p))
			}
			err := buildErr(t, p)
			if err == nil {
				t.Fatal("built without error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, "disc.viso") {
				t.Errorf("message does not name the VISO: %s", msg)
			}
			if tc.line > 0 {
				var ae *argv.Error
				if !errors.As(err, &ae) || ae.Line != tc.line {
					t.Errorf("want an *argv.Error on line %d, got %#v", tc.line, err)
				} else if tc.arg != "" && ae.Arg != tc.arg {
					t.Errorf("argument %q, want %q", ae.Arg, tc.arg)
				}
			}
			if tc.msgHas != "" && !strings.Contains(msg, tc.msgHas) {
				t.Errorf("message lacks %q: %s", tc.msgHas, msg)
			}
		})
	}
}
