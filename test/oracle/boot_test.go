// Package oracle_test checks images csi-viso synthesises from VISO files with
// independent readers: a real Linux kernel under QEMU (BIOS and UEFI firmware),
// xorriso, isoinfo and 7z.
package oracle_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/test/boot/boottest"
)

// dataFile is a file the VISO adds below /data, with the name the Rock Ridge
// and Joliet views must show.
type dataFile struct {
	name    string // relative to /data (and to the VISO's data/ folder)
	content []byte
	mode    fs.FileMode
}

func pattern(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

var dataFiles = []dataFile{
	{"hello.txt", []byte("hello\n"), 0o644},
	{"empty", nil, 0o644},
	{"run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755},
	{strings.Repeat("long-name-", 10) + ".txt", []byte("100 characters\n"), 0o644},
	{"Ünïcödé-日本語-🚀.txt", []byte("unicode\n"), 0o644},
	{"with space & 'quote'.cfg", []byte("odd\n"), 0o644},
	{"a/b/c/d/e/f/g/h/i/j/deep.bin", pattern(300*1024+7, 7), 0o644},
}

// writeBootVISO lays out a VISO folder that boots the payload with isolinux
// (BIOS, no emulation, boot info table) and GRUB (an EFI 0xEF section), and
// carries the data files. Payload files are referenced by absolute path, so the
// payload folder is a media root.
func writeBootVISO(t *testing.T, p boottest.PayloadFiles) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range dataFiles {
		path := filepath.Join(dir, "data", f.name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.content, f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, f.mode)
	}
	efi, err := os.Stat(p.EFIBootImg)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--iprt-iso-maker-file-marker-bourne-sh", "9b2f6c1d-0e4a-4b7c-8d3e-5f6a7b8c9d0e",
		"--rock-ridge", "--volume-id=CSIVISO_BOOT",
	}
	tree := p.Tree()
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "/"+k+"="+tree[k])
	}
	args = append(args, "/data=data",
		"-b", "/"+boottest.ImageIsolinuxBin, "--no-emulation-boot", "--boot-load-size", "4", "--boot-info-table",
		"--eltorito-alt-boot", "--eltorito-platform-id=efi", "--eltorito-boot=/"+boottest.ImageEFIBootImg,
		"--no-emulation-boot", fmt.Sprintf("--boot-load-size=%d", efi.Size()/512),
		"-c", "/"+boottest.ImageBootCatalog)
	v := filepath.Join(dir, "boot.viso")
	if err := os.WriteFile(v, []byte(argv.JoinBourne(args)), 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

// buildISO synthesises the image of the VISO at v into a file, with roots as its
// media roots (none: the VISO's folder). All-zero MiBs are skipped, so a 5 GiB
// file of zeros costs no disk.
func buildISO(t *testing.T, v string, roots ...string) string {
	t.Helper()
	res, err := viso.NewResolver(v, roots)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	doc, err := viso.ParseFile(v, res)
	if err != nil {
		t.Fatal(err)
	}
	img, err := doc.Build(res)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	out := filepath.Join(t.TempDir(), "image.iso")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for off := int64(0); off < img.Size(); off += int64(len(buf)) {
		n, err := img.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if bytes.Equal(buf[:n], zero[:n]) {
			continue
		}
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(img.Size()); err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// expected lists, per path of the Rock Ridge / Joliet views, the size, SHA-256
// and (Rock Ridge) mode the VISO asked for.
type expectFile struct {
	size int64
	sum  string
	mode fs.FileMode
}

func expectations(t *testing.T, p boottest.PayloadFiles) map[string]expectFile {
	t.Helper()
	want := map[string]expectFile{}
	for img, host := range p.Tree() {
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		if img == boottest.ImageIsolinuxBin {
			continue // the boot info table is patched in: checked by content elsewhere
		}
		want["/"+img] = expectFile{int64(len(b)), sha(b), 0o444}
	}
	for _, f := range dataFiles {
		mode := fs.FileMode(0o444)
		if f.mode&0o111 != 0 {
			mode = 0o555 // rational attributes: write bits off, read on, execute kept
		}
		want["/data/"+f.name] = expectFile{int64(len(f.content)), sha(f.content), mode}
	}
	return want
}

// TestBootSynthesisedImage boots a VISO-built image in BIOS (isolinux, El Torito
// default entry) and UEFI (OVMF, GRUB in the 0xEF section) firmware; in each, a
// small Linux guest mounts the CD with the real isofs driver and lists its Rock
// Ridge, Joliet and plain ISO 9660 views. The listings must equal what the VISO
// asked for.
func TestBootSynthesisedImage(t *testing.T) {
	p := boottest.Payload(t)
	v := writeBootVISO(t, p)
	iso := buildISO(t, v, p.Dir, filepath.Dir(v))
	want := expectations(t, p)

	for _, mode := range []string{boottest.ModeBIOS, boottest.ModeUEFI} {
		t.Run(mode, func(t *testing.T) {
			res := boottest.Boot(t, mode, iso)
			t.Logf("%s boot took %s", mode, res.Elapsed.Round(1e8))
			for _, view := range []string{boottest.ViewRockRidge, boottest.ViewJoliet} {
				v := res.View(view)
				if v == nil {
					t.Fatalf("view %s missing (errors: %v)", view, res.Errors)
				}
				for path, w := range want {
					e, ok := v.Lookup(path)
					if !ok {
						t.Errorf("%s: %q missing", view, path)
						continue
					}
					if e.Type != boottest.TypeFile || e.Size != w.size || e.SHA256 != w.sum {
						t.Errorf("%s: %q = %c %d %s, want file %d %s", view, path, e.Type, e.Size, e.SHA256, w.size, w.sum)
					}
					if view == boottest.ViewRockRidge && e.Mode.Perm() != w.mode {
						t.Errorf("%s: %q mode %v, want %v", view, path, e.Mode.Perm(), w.mode)
					}
				}
				// Nothing more than asked for: the payload, the data, the visible catalog.
				files := 0
				for _, e := range v.Entries {
					if e.Type == boottest.TypeFile {
						files++
					}
				}
				if wantFiles := len(want) + 2; files != wantFiles { // + isolinux.bin + boot.cat
					t.Errorf("%s: %d files, want %d", view, files, wantFiles)
				}
			}
			// The plain ISO 9660 view holds the same bytes under mangled 8.3-style names.
			plain := res.View(boottest.ViewPlain)
			if plain == nil {
				t.Fatal("plain view missing")
			}
			sums := map[string]int{}
			for _, e := range plain.Entries {
				if e.Type == boottest.TypeFile {
					sums[fmt.Sprintf("%d:%s", e.Size, e.SHA256)]++
				}
			}
			for path, w := range want {
				k := fmt.Sprintf("%d:%s", w.size, w.sum)
				if sums[k] == 0 {
					t.Errorf("plain view lacks the content of %s", path)
				}
				sums[k]--
			}
			if _, ok := plain.Lookup("/isolinux/isolinux.bin"); !ok {
				t.Error("plain view: /isolinux/isolinux.bin missing")
			}
		})
	}
}
