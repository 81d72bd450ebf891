package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrBadSpec reports an image description that cannot be packed (bad path, duplicate entry).
var ErrBadSpec = errors.New("bad image spec")

// File is one host file copied into the image.
type File struct {
	Host  string // path on the build host
	Image string // absolute path inside the image
}

// Spec describes a single-layer image made of host files.
type Spec struct {
	Files      []File
	Symlinks   map[string]string // image path -> link target
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Arch       string // GOARCH-style, e.g. amd64
}

// epoch is the timestamp of every layer entry and of the config: the same inputs always give
// the same image digest, so a re-import after an unchanged build is a no-op for containerd.
var epoch = time.Unix(0, 0).UTC()

// baseDirs exist in every image: runc mounts /proc, /sys and /dev over them, and tools and
// Go's os.TempDir expect /tmp.
var baseDirs = map[string]int64{"/dev": 0o755, "/etc": 0o755, "/proc": 0o555, "/sys": 0o555, "/tmp": 0o1777}

// baseFiles give the image a root and a nobody user, so `id`, runAsUser and libraries
// that look up the current user work.
var baseFiles = map[string]string{
	"/etc/passwd": "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"/etc/group":  "root:x:0:\nnogroup:x:65534:\n",
}

// entry is one layer member before it is written, so members can be sorted and checked.
type entry struct {
	hdr  tar.Header
	data []byte
}

// Layer returns the uncompressed tar stream of s's single layer: parent directories first,
// then files and links, each path once, in lexical order.
func Layer(s Spec) ([]byte, error) {
	entries := map[string]*entry{}
	add := func(e *entry) error {
		name := e.hdr.Name
		if !path.IsAbs(name) || path.Clean(name) != name || name == "/" {
			return fmt.Errorf("%w: image path %q must be absolute and clean", ErrBadSpec, name)
		}
		if old, ok := entries[name]; ok {
			if old.hdr.Typeflag == tar.TypeDir && e.hdr.Typeflag == tar.TypeDir {
				return nil
			}
			return fmt.Errorf("%w: %s added twice", ErrBadSpec, name)
		}
		for d := path.Dir(name); d != "/"; d = path.Dir(d) {
			if p, ok := entries[d]; ok && p.hdr.Typeflag != tar.TypeDir {
				return fmt.Errorf("%w: %s is inside %s, which is not a directory", ErrBadSpec, name, d)
			}
		}
		entries[name] = e
		return nil
	}
	addDirs := func(p string) error {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if err := add(dirEntry(d, 0o755)); err != nil {
				return err
			}
		}
		return nil
	}
	for d, mode := range baseDirs {
		if err := add(dirEntry(d, mode)); err != nil {
			return nil, err
		}
	}
	for p, content := range baseFiles {
		e := &entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(content))}, data: []byte(content)}
		if err := add(e); err != nil {
			return nil, err
		}
	}
	for _, f := range s.Files {
		st, err := os.Stat(f.Host)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", f.Host, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadSpec, f.Host)
		}
		data, err := os.ReadFile(f.Host)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Host, err)
		}
		if err := addDirs(f.Image); err != nil {
			return nil, err
		}
		// Replace an /etc/passwd-like base file when the caller brings its own.
		if _, ok := baseFiles[f.Image]; ok {
			delete(entries, f.Image)
		}
		e := &entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: f.Image, Mode: int64(st.Mode().Perm()), Size: int64(len(data))}, data: data}
		if err := add(e); err != nil {
			return nil, err
		}
	}
	for link, target := range s.Symlinks {
		if err := addDirs(link); err != nil {
			return nil, err
		}
		if err := add(&entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: link, Linkname: target, Mode: 0o777}}); err != nil {
			return nil, err
		}
	}

	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names) // a parent sorts before its children
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		h := e.hdr
		h.Name = strings.TrimPrefix(n, "/")
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		h.ModTime, h.Format = epoch, tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("tar data %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}

func dirEntry(p string, mode int64) *entry {
	return &entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode}}
}

// Build returns the OCI image (OCI media types, linux/s.Arch) holding s's layer and config.
func Build(s Spec) (v1.Image, error) {
	data, err := Layer(s)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer),
		// Most of a layer is a static binary that gzip barely shrinks: favour speed.
		tarball.WithCompressionLevel(gzip.BestSpeed),
	)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	// containerd's import drops images whose platform does not match the host ("image might
	// be filtered out"), so OS and architecture must be set; a pause image needs an
	// Entrypoint or Cmd or the sandbox cannot start.
	cf.OS, cf.Architecture = "linux", s.Arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.Env, WorkingDir: s.WorkingDir}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}
