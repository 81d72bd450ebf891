package backend

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
)

// ErrDuplicateBackend is returned by Register for a second backend of the same name.
var ErrDuplicateBackend = errors.New("backend already registered")

// Registry finds the backend for a file. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	backends []Backend
}

// NewRegistry returns a registry holding bs, in that order (see Register).
func NewRegistry(bs ...Backend) (*Registry, error) {
	r := &Registry{}
	for _, b := range bs {
		if err := r.Register(b); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds b. Backends are probed in registration order; names are
// compared case-insensitively and must be unique.
func (r *Registry) Register(b Backend) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, have := range r.backends {
		if strings.EqualFold(have.Name(), b.Name()) {
			return fmt.Errorf("register %q: %w", b.Name(), ErrDuplicateBackend)
		}
	}
	r.backends = append(r.backends, b)
	return nil
}

// Backends returns the registered backends in probe order.
func (r *Registry) Backends() []Backend {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Backend(nil), r.backends...)
}

// Lookup returns the backend named name (case-insensitive), or nil.
func (r *Registry) Lookup(name string) Backend {
	for _, b := range r.Backends() {
		if strings.EqualFold(b.Name(), name) {
			return b
		}
	}
	return nil
}

// Probe finds the backend for path as VirtualBox's format detection does:
//
//  1. By content: each backend probes in registration order; the first that
//     recognises the file wins. Recognising includes a probe that fails with
//     ErrImageCorrupted or ErrInvalidSize: the format is right and the producer
//     erred, so the caller gets that backend, its device type and that error
//     rather than a misleading "unknown format".
//  2. By file extension (case-insensitive), among backends whose extension
//     maps to a device type the caller accepts; first registered wins.
//
// Otherwise the error wraps ErrInvalidHeader, together with the first probe
// error that was not a plain "not my format" (a missing or unreadable file),
// so errors.Is(err, fs.ErrNotExist) still works.
func (r *Registry) Probe(ctx context.Context, path string, want DeviceType) (Backend, DeviceType, error) {
	backends := r.Backends()
	var other error
	for _, b := range backends {
		if err := ctx.Err(); err != nil {
			return nil, DeviceUnknown, fmt.Errorf("probe %q: %w", path, err)
		}
		t, err := b.Probe(ctx, path, want)
		switch {
		case err == nil:
			return b, t, nil
		case errors.Is(err, ErrImageCorrupted), errors.Is(err, ErrInvalidSize):
			return b, t, fmt.Errorf("probe %q as %s: %w", path, b.Name(), err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return nil, DeviceUnknown, fmt.Errorf("probe %q as %s: %w", path, b.Name(), err)
		case !errors.Is(err, ErrInvalidHeader) && other == nil:
			other = fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if ext != "" {
		for _, b := range backends {
			for _, e := range b.Extensions() {
				if strings.EqualFold(e.Ext, ext) && e.Type.Accepts(want) {
					return b, e.Type, nil
				}
			}
		}
	}
	if other != nil {
		return nil, DeviceUnknown, fmt.Errorf("probe %q: no backend recognises the file (%w): %w", path, other, ErrInvalidHeader)
	}
	return nil, DeviceUnknown, fmt.Errorf("probe %q: no backend recognises the file: %w", path, ErrInvalidHeader)
}

// Open probes path and opens it with the backend found. A probe that
// recognised a corrupted file fails here with its error.
func (r *Registry) Open(ctx context.Context, path string, flags OpenFlags, want DeviceType, cfg Config) (Image, error) {
	b, t, err := r.Probe(ctx, path, want)
	if err != nil {
		return nil, err
	}
	if want == DeviceUnknown {
		want = t
	}
	img, err := b.Open(ctx, path, flags, want, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %q as %s: %w", path, b.Name(), err)
	}
	return img, nil
}
