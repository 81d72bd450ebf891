//go:build unix

package confine

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree builds, under a fresh temp dir X:
//
//	X/vm/file.txt, X/vm/sub/inner.txt, X/vm/a/ (empty dir)
//	X/vm/link-in       -> file.txt            (stays inside)
//	X/vm/link-out      -> ../outside/secret   (leaves)
//	X/vm/dirlink-out   -> ../outside          (directory, leaves)
//	X/vm/dirlink-in    -> sub                 (directory, stays inside)
//	X/vm/abs-link      -> X/vm/file.txt       (absolute target: refused by os.Root)
//	X/vm/devnull       -> /dev/null
//	X/vm/dangling      -> nowhere
//	X/vm/fifo          (named pipe)
//	X/vm/chardev       (character device 1,3)
//	X/vm-other/f, X/outside/secret
func tree(t *testing.T) (x, vm string) {
	t.Helper()
	x = t.TempDir()
	vm = filepath.Join(x, "vm")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"vm/sub", "vm/a", "vm-other", "outside"} {
		must(os.MkdirAll(filepath.Join(x, d), 0o755))
	}
	for name, body := range map[string]string{
		"vm/file.txt":      "file",
		"vm/sub/inner.txt": "inner",
		"vm-other/f":       "other",
		"outside/secret":   "secret",
	} {
		must(os.WriteFile(filepath.Join(x, name), []byte(body), 0o644))
	}
	for name, target := range map[string]string{
		"link-in":     "file.txt",
		"link-out":    "../outside/secret",
		"dirlink-out": "../outside",
		"dirlink-in":  "sub",
		"abs-link":    filepath.Join(vm, "file.txt"),
		"devnull":     "/dev/null",
		"dangling":    "nowhere",
	} {
		must(os.Symlink(target, filepath.Join(vm, name)))
	}
	must(syscall.Mkfifo(filepath.Join(vm, "fifo"), 0o644))
	// The test machine runs as root; a device node in a temp dir is the case a
	// hostile staged folder would present.
	must(syscall.Mknod(filepath.Join(vm, "chardev"), syscall.S_IFCHR|0o644, int((1<<8)|3)))
	return x, vm
}

func newResolver(t *testing.T, base string, media ...string) *Resolver {
	t.Helper()
	r, err := New(base, media)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// wantErr checks err against the expected sentinel (nil = success expected).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not a *confine.Error", err)
		}
	}
}

func TestOpen(t *testing.T) {
	x, vm := tree(t)
	withBase := newResolver(t, vm, vm)
	noMedia := newResolver(t, vm)

	tests := []struct {
		name string
		r    *Resolver
		path string
		want error
		body string // expected content for regular files; "" for directories
		dir  bool
	}{
		{"relative file", noMedia, "file.txt", nil, "file", false},
		{"relative nested", noMedia, "sub/inner.txt", nil, "inner", false},
		{"dot-dot staying inside", noMedia, "sub/../file.txt", nil, "file", false},
		{"a/../b with a a directory", noMedia, "a/../sub/inner.txt", nil, "inner", false},
		{"absolute inside base when base is a root", withBase, filepath.Join(vm, "file.txt"), nil, "file", false},
		{"absolute inside base, base not a root", noMedia, filepath.Join(vm, "file.txt"), ErrOutsideRoot, "", false},
		{"absolute outside all roots", withBase, filepath.Join(x, "outside/secret"), ErrOutsideRoot, "", false},
		{"sibling sharing the prefix", withBase, filepath.Join(x, "vm-other/f"), ErrOutsideRoot, "", false},
		{"absolute with dot-dot out of root", withBase, vm + "/../outside/secret", ErrOutsideRoot, "", false},
		{"dot-dot escape", noMedia, "../outside/secret", ErrOutsideRoot, "", false},
		{"dot-dot alone", noMedia, "..", ErrOutsideRoot, "", false},
		{"a/../../x", noMedia, "a/../../vm-other/f", ErrOutsideRoot, "", false},
		{"symlink inside to inside", noMedia, "link-in", nil, "file", false},
		{"symlink pointing outside", noMedia, "link-out", ErrOutsideRoot, "", false},
		{"through symlinked dir pointing outside", noMedia, "dirlink-out/secret", ErrOutsideRoot, "", false},
		{"symlinked dir pointing outside itself", noMedia, "dirlink-out", ErrOutsideRoot, "", false},
		{"through symlinked dir inside", noMedia, "dirlink-in/inner.txt", nil, "inner", false},
		{"absolute symlink", noMedia, "abs-link", ErrOutsideRoot, "", false},
		{"/dev/null through a symlink", noMedia, "devnull", ErrOutsideRoot, "", false},
		{"/dev/null directly", withBase, "/dev/null", ErrOutsideRoot, "", false},
		{"/proc/self/root trick", withBase, "/proc/self/root" + filepath.Join(x, "outside/secret"), ErrOutsideRoot, "", false},
		{"/proc/self/root into the root", withBase, "/proc/self/root" + filepath.Join(vm, "file.txt"), ErrOutsideRoot, "", false},
		{"char device", noMedia, "chardev", ErrSpecialFile, "", false},
		{"fifo", noMedia, "fifo", ErrSpecialFile, "", false},
		{"missing", noMedia, "nope", ErrNotFound, "", false},
		{"missing matches fs.ErrNotExist", noMedia, "sub/nope", fs.ErrNotExist, "", false},
		{"file used as directory", noMedia, "file.txt/x", ErrNotFound, "", false},
		{"dangling symlink", noMedia, "dangling", ErrNotFound, "", false},
		{"empty path", noMedia, "", ErrNotFound, "", false},
		{"directory", noMedia, "sub", nil, "", true},
		{"base itself", noMedia, ".", nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A FIFO open that blocked would hang the test forever: run with a deadline.
			type result struct {
				f   *os.File
				err error
			}
			done := make(chan result, 1)
			go func() {
				f, err := tc.r.Open(tc.path)
				done <- result{f, err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Open(%q) blocked", tc.path)
			}
			wantErr(t, res.err, tc.want)
			if res.err != nil {
				if !strings.Contains(res.err.Error(), tc.path) {
					t.Errorf("error %q does not name the path %q", res.err, tc.path)
				}
				return
			}
			defer res.f.Close()
			fi, err := res.f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() != tc.dir {
				t.Fatalf("IsDir = %v, want %v", fi.IsDir(), tc.dir)
			}
			if !tc.dir {
				b, err := io.ReadAll(res.f)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != tc.body {
					t.Fatalf("content %q, want %q", b, tc.body)
				}
			}
		})
	}
}

// TestEscapeDetection pins the os.Root error text we match on: if a Go release
// renames it, symlink escapes would stop mapping to ErrOutsideRoot.
func TestEscapeDetection(t *testing.T) {
	_, vm := tree(t)
	rt, err := os.OpenRoot(vm)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	_, err = rt.Open("link-out")
	if classify(err) != ErrOutsideRoot {
		t.Fatalf("os.Root escape error %v not recognised", err)
	}
}

func TestErrorNamesRoot(t *testing.T) {
	_, vm := tree(t)
	r := newResolver(t, vm)
	_, err := r.Open("link-out")
	if err == nil || !strings.Contains(err.Error(), vm) || !strings.Contains(err.Error(), "link-out") {
		t.Fatalf("error %v should name path and root %s", err, vm)
	}
}

func TestStatLstat(t *testing.T) {
	_, vm := tree(t)
	r := newResolver(t, vm, vm)
	tests := []struct {
		path      string
		stat      fs.FileMode // type bits expected from Stat
		statErr   error
		lstat     fs.FileMode
		lstatErr  error
		statSize  int64
		checkSize bool
	}{
		{path: "file.txt", stat: 0, lstat: 0, statSize: 4, checkSize: true},
		{path: "link-in", stat: 0, lstat: fs.ModeSymlink, statSize: 4, checkSize: true},
		{path: "link-out", statErr: ErrOutsideRoot, lstat: fs.ModeSymlink},
		{path: "abs-link", statErr: ErrOutsideRoot, lstat: fs.ModeSymlink},
		{path: "dangling", statErr: ErrNotFound, lstat: fs.ModeSymlink},
		{path: "dirlink-out/secret", statErr: ErrOutsideRoot, lstatErr: ErrOutsideRoot},
		{path: "sub", stat: fs.ModeDir, lstat: fs.ModeDir},
		{path: "fifo", stat: fs.ModeNamedPipe, lstat: fs.ModeNamedPipe},
		{path: "chardev", stat: fs.ModeDevice | fs.ModeCharDevice, lstat: fs.ModeDevice | fs.ModeCharDevice},
		{path: "../vm-other/f", statErr: ErrOutsideRoot, lstatErr: ErrOutsideRoot},
		{path: vm + "/sub/inner.txt", stat: 0, lstat: 0, statSize: 5, checkSize: true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			fi, err := r.Stat(tc.path)
			wantErr(t, err, tc.statErr)
			if err == nil {
				if got := fi.Mode().Type(); got != tc.stat {
					t.Errorf("Stat type = %v, want %v", got, tc.stat)
				}
				if tc.checkSize && fi.Size() != tc.statSize {
					t.Errorf("Stat size = %d, want %d", fi.Size(), tc.statSize)
				}
			}
			fi, err = r.Lstat(tc.path)
			wantErr(t, err, tc.lstatErr)
			if err == nil {
				if got := fi.Mode().Type(); got != tc.lstat {
					t.Errorf("Lstat type = %v, want %v", got, tc.lstat)
				}
			}
		})
	}
}

func TestReadDir(t *testing.T) {
	_, vm := tree(t)
	r := newResolver(t, vm)
	tests := []struct {
		path  string
		names []string
		want  error
	}{
		{"sub", []string{"inner.txt"}, nil},
		{"dirlink-in", []string{"inner.txt"}, nil},
		{"a", nil, nil},
		{"dirlink-out", nil, ErrOutsideRoot},
		{"..", nil, ErrOutsideRoot},
		{"missing", nil, ErrNotFound},
		{"fifo", nil, ErrSpecialFile},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			ents, err := r.ReadDir(tc.path)
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Fatalf("entries %v, want %v", names, tc.names)
			}
		})
	}
	// A regular file is not a directory: the error comes from the OS.
	if _, err := r.ReadDir("file.txt"); err == nil {
		t.Fatal("ReadDir of a file succeeded")
	}
}

func TestReadFile(t *testing.T) {
	_, vm := tree(t)
	r := newResolver(t, vm)
	tests := []struct {
		path string
		max  int64
		want error
		body string
	}{
		{"file.txt", 100, nil, "file"},
		{"file.txt", 4, nil, "file"},
		{"file.txt", 3, ErrTooLarge, ""},
		{"file.txt", -1, ErrTooLarge, ""},
		{"link-in", 10, nil, "file"},
		{"link-out", 10, ErrOutsideRoot, ""},
		{"sub", 10, ErrSpecialFile, ""},
		{"fifo", 10, ErrSpecialFile, ""},
		{"chardev", 10, ErrSpecialFile, ""},
		{"nope", 10, ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			b, err := r.ReadFile(tc.path, tc.max)
			wantErr(t, err, tc.want)
			if err == nil && string(b) != tc.body {
				t.Fatalf("content %q, want %q", b, tc.body)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name    string
		path    string // relative to vm unless absolute
		want    error
		gone    []string // relative to x: must not exist afterwards (Lstat)
		survive []string // relative to x: must still exist afterwards
	}{
		{"regular file", "file.txt", nil, []string{"vm/file.txt"}, []string{"vm/link-in"}},
		{"symlink removes the link", "link-out", nil, []string{"vm/link-out"}, []string{"outside/secret"}},
		{"symlink inside removes the link", "link-in", nil, []string{"vm/link-in"}, []string{"vm/file.txt"}},
		{"dangling symlink", "dangling", nil, []string{"vm/dangling"}, nil},
		{"symlinked dir to outside", "dirlink-out", nil, []string{"vm/dirlink-out"}, []string{"outside/secret"}},
		{"through symlinked dir to outside", "dirlink-out/secret", ErrOutsideRoot, nil, []string{"outside/secret", "vm/dirlink-out"}},
		{"directory refused", "a", ErrSpecialFile, nil, []string{"vm/a"}},
		{"base refused", ".", ErrSpecialFile, nil, []string{"vm"}},
		{"fifo refused", "fifo", ErrSpecialFile, nil, []string{"vm/fifo"}},
		{"device refused", "chardev", ErrSpecialFile, nil, []string{"vm/chardev"}},
		{"dot-dot escape", "../outside/secret", ErrOutsideRoot, nil, []string{"outside/secret"}},
		{"a/../../x escape", "a/../../vm-other/f", ErrOutsideRoot, nil, []string{"vm-other/f"}},
		{"sibling prefix", "@/vm-other/f", ErrOutsideRoot, nil, []string{"vm-other/f"}},
		{"missing", "nope", ErrNotFound, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, vm := tree(t)
			r := newResolver(t, vm, vm)
			path := tc.path
			if strings.HasPrefix(path, "@") {
				path = x + path[1:]
			}
			wantErr(t, r.Remove(path), tc.want)
			for _, g := range tc.gone {
				if _, err := os.Lstat(filepath.Join(x, g)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still exists (err %v)", g, err)
				}
			}
			for _, s := range tc.survive {
				if _, err := os.Lstat(filepath.Join(x, s)); err != nil {
					t.Errorf("%s was removed: %v", s, err)
				}
			}
		})
	}
}

func TestLocate(t *testing.T) {
	x, vm := tree(t)
	media := filepath.Join(x, "outside")
	nested := filepath.Join(vm, "sub")
	r := newResolver(t, vm, vm, media, nested, vm+"/") // duplicate spelled differently
	if got := len(r.MediaRoots()); got != 3 {
		t.Fatalf("media roots %v, want 3 distinct", r.MediaRoots())
	}
	tests := []struct {
		path, root, rel string
		want            error
	}{
		{"file.txt", vm, "file.txt", nil},
		{"./a//b/../c", vm, "a/c", nil},
		{".", vm, ".", nil},
		{"../x", "", "", ErrOutsideRoot},
		{"a/../../x", "", "", ErrOutsideRoot},
		{vm, vm, ".", nil},
		{vm + "/f", vm, "f", nil},
		{nested + "/deep/f", nested, "deep/f", nil}, // most specific root wins
		{media + "/secret", media, "secret", nil},
		{x + "/vm-other/f", "", "", ErrOutsideRoot},
		{x + "/outside-not/f", "", "", ErrOutsideRoot},
		{"/", "", "", ErrOutsideRoot},
		{"", "", "", ErrNotFound},
		{"a\x00b", "", "", ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			root, rel, err := r.Locate(tc.path)
			wantErr(t, err, tc.want)
			if root != tc.root || rel != tc.rel {
				t.Fatalf("Locate = (%q, %q), want (%q, %q)", root, rel, tc.root, tc.rel)
			}
		})
	}
}

// A media root named through a symlink accepts paths written with either
// spelling, and still refuses its siblings.
func TestMediaRootThroughSymlink(t *testing.T) {
	x, vm := tree(t)
	alias := filepath.Join(x, "media-alias")
	if err := os.Symlink("outside", alias); err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, vm, alias)
	for _, p := range []string{alias + "/secret", filepath.Join(x, "outside/secret")} {
		b, err := r.ReadFile(p, 100)
		if err != nil || string(b) != "secret" {
			t.Fatalf("ReadFile(%q) = %q, %v", p, b, err)
		}
	}
	if _, err := r.Open(filepath.Join(x, "vm-other/f")); !errors.Is(err, ErrOutsideRoot) {
		t.Fatalf("sibling: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	x, vm := tree(t)
	tests := []struct {
		name  string
		base  string
		media []string
	}{
		{"missing base", filepath.Join(x, "nope"), nil},
		{"base is a file", filepath.Join(vm, "file.txt"), nil},
		{"missing media root", vm, []string{filepath.Join(x, "nope")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := New(tc.base, tc.media); err == nil {
				_ = r.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		dir, p, rel string
		ok          bool
	}{
		{"/vm", "/vm", ".", true},
		{"/vm", "/vm/x", "x", true},
		{"/vm", "/vm-other/x", "", false},
		{"/vm", "/vmx", "", false},
		{"/vm", "/", "", false},
		{"/", "/etc/passwd", "etc/passwd", true},
	}
	for _, tc := range tests {
		rel, ok := Within(tc.dir, tc.p)
		if rel != tc.rel || ok != tc.ok {
			t.Errorf("Within(%q, %q) = %q, %v; want %q, %v", tc.dir, tc.p, rel, ok, tc.rel, tc.ok)
		}
	}
}

// Locate never returns a relative path that climbs out of its root, and an
// absolute path it accepts lies inside the root it names.
func FuzzLocate(f *testing.F) {
	for _, s := range []string{"a", "../a", "a/../../b", "/vm/x", "/vm-other/x", "/vm/../etc", "/", ".", "a//b/./c/..", "/vm"} {
		f.Add(s)
	}
	r := &Resolver{base: &root{dir: "/base", real: "/base"}, media: []*root{{dir: "/vm", real: "/vm"}}}
	f.Fuzz(func(t *testing.T, p string) {
		dir, rel, err := r.Locate(p)
		if err != nil {
			return
		}
		if filepath.IsAbs(rel) || escapes(rel) || rel != filepath.Clean(rel) {
			t.Fatalf("Locate(%q) = %q, %q", p, dir, rel)
		}
		if filepath.IsAbs(p) && filepath.Join(dir, rel) != filepath.Clean(p) {
			t.Fatalf("Locate(%q) = %q, %q: does not rejoin", p, dir, rel)
		}
	})
}
