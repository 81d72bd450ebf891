// Package confine is the single gate through which csi-viso opens, inspects and
// deletes the files a VISO names.
//
// A VISO is written by an untrusted user (a namespace user's ConfigMap) while the
// process reading it may be privileged on the host, so every source path goes
// through a Resolver built on os.Root:
//
//   - a relative path resolves inside the base folder (the VISO's folder);
//   - an absolute path must lie, after filepath.Clean, inside one of the media
//     roots by a real path-boundary check ("/vm" does not contain "/vm-other/x"),
//     and is then opened through that root's os.Root;
//   - ".." may move around inside a root ("a/../b" is "b") but never out of it
//     ("../x" and "a/../../x" are refused);
//   - symlinks are followed only while they stay inside the root they were met in
//     (os.Root enforces this; absolute symlink targets always count as leaving);
//   - devices, FIFOs and sockets are refused, and opening never blocks on a FIFO.
//
// Paths are cleaned lexically before use, so "a/../b" means "b" even when "a" is
// a symlink. That is what VirtualBox does when it makes paths absolute, and both
// readings stay inside the root anyway.
package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// root is one folder paths may resolve in.
type root struct {
	dir  string   // absolute, cleaned, as the caller named it
	real string   // dir with symlinks evaluated at New time (may equal dir)
	os   *os.Root // handle every operation goes through
}

// Resolver resolves and opens VISO source paths inside the allowed folders.
// It is safe for concurrent use (os.Root is).
type Resolver struct {
	base  *root
	media []*root // longest dir first, so nested roots match most specifically

	// catalog, when set, names media the operator lists: a plain file name
	// not found in the base folder resolves to the verified local copy it
	// returns (ok false: not a catalog name). Pins are released at Close.
	catalog func(name string) (path string, release func(), ok bool, err error)
	mu      sync.Mutex
	pins    []func()
}

// SetCatalog makes plain file names that are not in the base folder resolve
// through lookup (the operator's media catalog and its node cache).
func (r *Resolver) SetCatalog(lookup func(name string) (path string, release func(), ok bool, err error)) {
	r.catalog = lookup
}

// fromCatalog resolves rel (relative to the base) through the catalog when
// it is a plain name the base folder lacks; ok false otherwise.
func (r *Resolver) fromCatalog(rt *root, rel string, statErr error) (string, bool, error) {
	if r.catalog == nil || rt != r.base || !errors.Is(statErr, fs.ErrNotExist) || strings.ContainsRune(rel, filepath.Separator) {
		return "", false, nil
	}
	p, release, ok, err := r.catalog(rel)
	if err != nil || !ok {
		return "", ok, err
	}
	r.mu.Lock()
	r.pins = append(r.pins, release)
	r.mu.Unlock()
	return p, true, nil
}

// New returns a Resolver whose relative paths resolve inside base (the VISO's
// folder) and whose absolute paths may point only inside mediaRoots.
//
// The caller decides the media roots; base is not implicitly one of them. The
// local CLI (build, inspect, mount) passes []string{base} when the user gave no
// --media-root, so absolute paths into the VISO's own folder keep working; the
// CSI driver passes only the operator's --media-root folders, because the
// staged volume folder's absolute path is an implementation detail the VISO's
// author must not depend on. Cleanup (pkg/viso.RemoveVISO) passes none.
//
// base and every media root must exist and be directories. Relative media roots
// are made absolute against the process's working directory.
func New(base string, mediaRoots []string) (*Resolver, error) {
	b, err := openRoot(base)
	if err != nil {
		return nil, fmt.Errorf("confine: base folder: %w", err)
	}
	r := &Resolver{base: b}
	for _, m := range mediaRoots {
		abs, err := filepath.Abs(m)
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("confine: media root %q: %w", m, err)
		}
		if abs == b.dir {
			// Share the handle: same folder, one descriptor.
			r.addMedia(b)
			continue
		}
		if r.hasMedia(abs) {
			continue
		}
		mr, err := openRoot(abs)
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("confine: media root: %w", err)
		}
		r.addMedia(mr)
	}
	return r, nil
}

func openRoot(dir string) (*root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", dir, err)
	}
	h, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", dir, err)
	}
	return &root{dir: abs, real: real, os: h}, nil
}

func (r *Resolver) hasMedia(dir string) bool {
	for _, m := range r.media {
		if m.dir == dir {
			return true
		}
	}
	return false
}

// addMedia inserts keeping the longest dir first.
func (r *Resolver) addMedia(m *root) {
	if r.hasMedia(m.dir) {
		return
	}
	i := 0
	for i < len(r.media) && len(r.media[i].dir) >= len(m.dir) {
		i++
	}
	r.media = append(r.media, nil)
	copy(r.media[i+1:], r.media[i:])
	r.media[i] = m
}

// Close releases the folder handles and catalog pins. Files already opened
// stay usable.
func (r *Resolver) Close() error {
	r.mu.Lock()
	for _, release := range r.pins {
		release()
	}
	r.pins = nil
	r.mu.Unlock()
	var errs []error
	closed := map[*os.Root]bool{}
	for _, rt := range append([]*root{r.base}, r.media...) {
		if rt == nil || closed[rt.os] {
			continue
		}
		closed[rt.os] = true
		if err := rt.os.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Base returns the absolute base folder.
func (r *Resolver) Base() string { return r.base.dir }

// MediaRoots returns the absolute media roots, most specific first.
func (r *Resolver) MediaRoots() []string {
	out := make([]string, len(r.media))
	for i, m := range r.media {
		out[i] = m.dir
	}
	return out
}

// Locate reports which folder path resolves in and the cleaned path relative
// to it, without touching the file system. It applies the lexical rules only
// (symlinks are judged when the path is used).
func (r *Resolver) Locate(path string) (rootDir string, rel string, err error) {
	rt, rel, err := r.locate("locate", path)
	if err != nil {
		return "", "", err
	}
	return rt.dir, rel, nil
}

func (r *Resolver) locate(op, path string) (*root, string, error) {
	if path == "" {
		return nil, "", &Error{Op: op, Path: path, Kind: ErrNotFound, Err: errors.New("empty path")}
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, "", &Error{Op: op, Path: path, Kind: ErrNotFound, Err: errors.New("path contains a NUL byte")}
	}
	if strings.Contains(path, "://") {
		// Never fetched: only the operator's catalog names media to fetch.
		return nil, "", &Error{Op: op, Path: path, Kind: ErrOutsideRoot,
			Err: errors.New("a URL is not a source; ask the operator to list the medium in the media catalog and name it by its catalog name")}
	}
	if !filepath.IsAbs(path) {
		rel := filepath.Clean(path)
		if escapes(rel) {
			return nil, "", &Error{Op: op, Path: path, Root: r.base.dir, Kind: ErrOutsideRoot}
		}
		return r.base, rel, nil
	}
	p := filepath.Clean(path)
	for _, m := range r.media {
		if rel, ok := within(m.dir, p); ok {
			return m, rel, nil
		}
		if m.real != m.dir {
			if rel, ok := within(m.real, p); ok {
				return m, rel, nil
			}
		}
	}
	return nil, "", &Error{Op: op, Path: path, Kind: ErrOutsideRoot, Err: r.mediaHint()}
}

// mediaHint says, for an absolute path that matched no media root, which
// roots there are.
func (r *Resolver) mediaHint() error {
	if len(r.media) == 0 {
		return errors.New("absolute paths are not allowed: no media roots")
	}
	return fmt.Errorf("absolute paths must lie under a media root (%s)", strings.Join(r.MediaRoots(), ", "))
}

// escapes reports whether a cleaned relative path climbs above its start.
func escapes(rel string) bool {
	return rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Within reports whether the cleaned absolute path p lies inside (or is) the
// cleaned absolute folder dir, by whole path components, and returns p relative
// to dir. "/vm" contains "/vm/x" but not "/vm-other/x". Both arguments must be
// absolute and already cleaned.
func Within(dir, p string) (rel string, ok bool) { return within(dir, p) }

func within(dir, p string) (string, bool) {
	if p == dir {
		return ".", true
	}
	prefix := dir
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return p[len(prefix):], true
}
