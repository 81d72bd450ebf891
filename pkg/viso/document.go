package viso

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
)

// Document is a VISO taken apart up to its plan: the envelope and the parsed
// ISO-maker operations. Nothing of the image has been opened yet.
type Document struct {
	Path     string // the VISO path as given
	Dir      string // its folder: relative sources resolve here
	Envelope *Envelope
	Plan     *isomaker.Plan
}

// NewResolver returns the confinement resolver for a VISO at path: relative paths
// resolve inside the VISO's folder, absolute ones only under mediaRoots. Local
// tools pass the user's --media-root list; with none, the VISO's folder is the
// only root (an absolute path inside it is fine, any other is refused).
func NewResolver(path string, mediaRoots []string) (*confine.Resolver, error) {
	dir := filepath.Dir(path)
	roots := mediaRoots
	if len(roots) == 0 {
		roots = []string{dir}
	}
	r, err := confine.New(dir, roots)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseFile reads and parses the VISO at path. Response files (@file) are read
// through res, so they are confined like every other source; relative ones
// resolve against the VISO's folder (VirtualBox uses its process working
// directory, which means nothing for a VISO staged by a CSI driver).
//
// When the envelope parses but the plan does not, the returned Document carries
// the envelope (Plan nil) together with the error, so callers can still show it.
func ParseFile(path string, res *confine.Resolver) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &argv.Error{File: path, Err: fmt.Errorf("reading file failed: %w", err)}
	}
	env, err := ReadEnvelope(path, f)
	f.Close()
	if err != nil {
		return nil, err
	}
	doc := &Document{Path: path, Dir: filepath.Dir(path), Envelope: env}
	doc.Plan, err = isomaker.Parse(env.Args, isomaker.Options{
		File: path,
		ReadResponseFile: func(p string) ([]byte, error) {
			return res.ReadFile(p, isomaker.MaxResponseFileSize)
		},
	})
	return doc, err
}

// Build lays out the image the document's plan describes, reading sources
// through res (which must stay open while the image is read).
func (d *Document) Build(res *confine.Resolver) (*isomaker.Built, error) {
	if d.Plan == nil {
		return nil, fmt.Errorf("%s: no plan to build", d.Path)
	}
	return isomaker.Build(d.Plan, isomaker.BuildOptions{File: d.Path, Resolver: res})
}
