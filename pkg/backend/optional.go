package backend

import (
	"context"
	"fmt"
	"time"
)

// Optional operations. In the C interface a backend may leave these callbacks
// empty, which callers treat as "not supported"; in Go a backend implements the
// interface or not, and the helper functions below answer ErrNotSupported for
// one that does not. None of the backends here implements any of them.

// Creator is a Backend that can create new images.
type Creator interface {
	Create(ctx context.Context, path string, size int64, t DeviceType, flags OpenFlags, cfg Config) (Image, error)
}

// Repairer is a Backend that can repair an image file in place.
type Repairer interface {
	Repair(ctx context.Context, path string) error
}

// Renamer is an Image that can move its storage to a new path.
type Renamer interface {
	Rename(newPath string) error
}

// Compacter is an Image that can reclaim unused space.
type Compacter interface {
	Compact(ctx context.Context) error
}

// Resizer is an Image that can change its size.
type Resizer interface {
	Resize(ctx context.Context, size int64) error
}

// MetadataTraverser is an Image that can walk its metadata blocks.
type MetadataTraverser interface {
	TraverseMetadata(ctx context.Context, visit func(off, n int64) error) error
}

// Timestamper is an Image that records timestamps and a parent file name
// (differencing formats).
type Timestamper interface {
	Timestamp() (time.Time, error)
	ParentTimestamp() (time.Time, error)
	SetParentTimestamp(t time.Time) error
	ParentFilename() (string, error)
	SetParentFilename(name string) error
}

func notSupported(op, who string) error {
	return fmt.Errorf("%s on %s: %w", op, who, ErrNotSupported)
}

// Create creates an image with b, or fails with ErrNotSupported.
func Create(ctx context.Context, b Backend, path string, size int64, t DeviceType, flags OpenFlags, cfg Config) (Image, error) {
	c, ok := b.(Creator)
	if !ok {
		return nil, notSupported("create", b.Name())
	}
	return c.Create(ctx, path, size, t, flags, cfg)
}

// Repair repairs path with b, or fails with ErrNotSupported.
func Repair(ctx context.Context, b Backend, path string) error {
	r, ok := b.(Repairer)
	if !ok {
		return notSupported("repair", b.Name())
	}
	return r.Repair(ctx, path)
}

// Rename moves img's storage, or fails with ErrNotSupported.
func Rename(img Image, newPath string) error {
	r, ok := img.(Renamer)
	if !ok {
		return notSupported("rename", img.Location())
	}
	return r.Rename(newPath)
}

// Compact compacts img, or fails with ErrNotSupported.
func Compact(ctx context.Context, img Image) error {
	c, ok := img.(Compacter)
	if !ok {
		return notSupported("compact", img.Location())
	}
	return c.Compact(ctx)
}

// Resize resizes img, or fails with ErrNotSupported.
func Resize(ctx context.Context, img Image, size int64) error {
	r, ok := img.(Resizer)
	if !ok {
		return notSupported("resize", img.Location())
	}
	return r.Resize(ctx, size)
}

// TraverseMetadata walks img's metadata, or fails with ErrNotSupported.
func TraverseMetadata(ctx context.Context, img Image, visit func(off, n int64) error) error {
	m, ok := img.(MetadataTraverser)
	if !ok {
		return notSupported("traverse metadata", img.Location())
	}
	return m.TraverseMetadata(ctx, visit)
}

// Timestamps returns img's Timestamper, or ErrNotSupported.
func Timestamps(img Image) (Timestamper, error) {
	ts, ok := img.(Timestamper)
	if !ok {
		return nil, notSupported("timestamps", img.Location())
	}
	return ts, nil
}
