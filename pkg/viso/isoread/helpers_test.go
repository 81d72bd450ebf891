package isoread

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needTool fails (never skips) when a required program is missing, naming
// the Debian package that provides it.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (install the Debian package %s): %v", name, pkg, err)
	}
	return p
}

// mkisofs runs xorriso's mkisofs emulation on src and returns the image path.
func mkisofs(t testing.TB, src string, args ...string) string {
	t.Helper()
	x := needTool(t, "xorriso", "xorriso")
	out := filepath.Join(t.TempDir(), "out.iso")
	argv := append([]string{"-as", "mkisofs", "-quiet", "-o", out}, args...)
	argv = append(argv, src)
	cmd := exec.Command(x, argv...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso %s: %v\n%s", strings.Join(argv, " "), err, b)
	}
	return out
}

// openFile opens an image file as a Volume.
func openFile(t testing.TB, path string, opts Options) *Volume {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, st.Size(), opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return v
}

// srcNode describes one node of a source tree to build on disk.
type srcNode struct {
	path   string // relative, '/'-separated
	data   []byte // file content (nil with dir or link)
	dir    bool
	link   string // symlink target
	mode   os.FileMode
	sparse int64 // > 0: a sparse file of this size (data written at its start and end)
}

func writeTree(t testing.TB, root string, nodes []srcNode) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(root, filepath.FromSlash(n.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case n.dir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case n.link != "":
			if err := os.Symlink(n.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		case n.sparse > 0:
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(n.data, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(n.data, n.sparse-int64(len(n.data))); err != nil {
				t.Fatal(err)
			}
			f.Close()
		default:
			if err := os.WriteFile(p, n.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if n.mode != 0 {
			if err := os.Chmod(p, n.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// srcEntry is what the source tree says about one path.
type srcEntry struct {
	kind   Kind
	perm   uint32
	size   int64
	target string
	sum    string
}

func hashReader(t testing.TB, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, 1<<20)); err != nil {
		t.Fatalf("hashing: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// scanSource lists a source directory keyed by "/rel/path".
func scanSource(t testing.TB, root string) map[string]srcEntry {
	t.Helper()
	out := map[string]srcEntry{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := "/" + filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		e := srcEntry{perm: uint32(fi.Mode().Perm())}
		switch {
		case fi.IsDir():
			e.kind = KindDir
		case fi.Mode()&os.ModeSymlink != 0:
			e.kind = KindSymlink
			e.target, _ = os.Readlink(p)
		default:
			e.kind = KindFile
			e.size = fi.Size()
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			e.sum = hashReader(t, f)
			f.Close()
		}
		out[key] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTree checks every entry of the tree against the source: names,
// kinds, sizes, modes (when checkMode), symlink targets and data hashes read
// through the entry's extents. skip lists image-only paths (e.g. boot.cat).
func compareTree(t *testing.T, v *Volume, tr *Tree, src map[string]srcEntry, checkMode bool, skip map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	err := tr.Walk(func(p string, e *Entry) error {
		if e.Parent == nil {
			return nil
		}
		if skip[p] {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		seen[p] = true
		want, ok := src[p]
		if !ok {
			t.Errorf("%s: in the image (%s) but not in the source", p, e.Kind)
			return nil
		}
		if e.Kind != want.kind {
			t.Errorf("%s: kind %s, want %s", p, e.Kind, want.kind)
			return nil
		}
		if checkMode && e.Mode&0o7777 != want.perm {
			t.Errorf("%s: mode %o, want %o", p, e.Mode&0o7777, want.perm)
		}
		switch e.Kind {
		case KindSymlink:
			if e.Target != want.target {
				t.Errorf("%s: target %q, want %q", p, e.Target, want.target)
			}
		case KindFile:
			if int64(e.Size) != want.size {
				t.Errorf("%s: size %d, want %d", p, e.Size, want.size)
			}
			f, err := v.Open(e)
			if err != nil {
				t.Errorf("%s: %v", p, err)
				return nil
			}
			if got := hashReader(t, f.Reader()); got != want.sum {
				t.Errorf("%s: sha256 %s, want %s", p, got, want.sum)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, e := range src {
		if !seen[p] && !skip[p] {
			t.Errorf("%s: %s in the source but not in the %s tree", p, e.kind, tr.View)
		}
	}
}

func data(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// withTimeout runs f and fails the test if it does not return in d (a hang).
func withTimeout(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("no result within %v: hang", d)
		return errors.New("timeout")
	}
}

var _ = bytes.Equal
