package viso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/uuid"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
)

// Backend identity (spec §1.1, vd-backend.md §1).
const (
	// BackendName is the VD backend name VirtualBox gives the VISO format.
	BackendName = "VBoxIsoMaker"
	// ConfigUnattendedInstall is the one configuration key: a non-zero unsigned
	// integer makes close-with-delete apply the UnattendedInstall cleanup rule.
	ConfigUnattendedInstall = "UnattendedInstall"
	// SectorSize is the block size of the one region of a VISO image.
	SectorSize = 2048
)

// Backend is the VISO image backend: it opens a .viso file and serves the ISO
// image it describes, synthesised on read.
type Backend struct {
	// MediaRoots are the only folders absolute source paths may point into. Empty
	// means the VISO's own folder is the only root (the local CLI's default); the
	// CSI driver always passes its operator-configured roots.
	MediaRoots []string
	// Catalog, when set, resolves a plain source name the VISO's folder lacks
	// to the operator's media catalog (its verified cached copy); ok false
	// means the catalog has no such name. Pins are released when the image
	// closes.
	Catalog CatalogFunc
}

// CatalogFunc is the catalog hook of Backend (see media.Catalog.Hook).
type CatalogFunc func(ctx context.Context, name string) (path string, release func(), ok bool, err error)

var _ backend.Backend = (*Backend)(nil)

// NewBackend returns a VISO backend confined to mediaRoots (see Backend.MediaRoots).
func NewBackend(mediaRoots []string) *Backend {
	return &Backend{MediaRoots: append([]string(nil), mediaRoots...)}
}

func (b *Backend) Name() string { return BackendName }

// Capabilities: file based, and it reads a configuration key.
func (b *Backend) Capabilities() backend.Capabilities {
	return backend.CapFileBased | backend.CapConfig
}

func (b *Backend) Extensions() []backend.Extension {
	return []backend.Extension{{Ext: "viso", Type: backend.DeviceOpticalDisc}}
}

func (b *Backend) ConfigKeys() []backend.ConfigKey {
	return []backend.ConfigKey{{Name: ConfigUnattendedInstall, Expert: true}}
}

// Probe recognises a VISO by its first 1023 bytes and its size (spec §1.2): a
// recognised file with a bad UUID or over the size cap is still an optical disc,
// reported together with the error; anything else is ErrInvalidHeader.
func (b *Backend) Probe(ctx context.Context, path string, want backend.DeviceType) (backend.DeviceType, error) {
	if !backend.DeviceOpticalDisc.Accepts(want) {
		return backend.DeviceUnknown, fmt.Errorf("VISO probe %s: only optical discs: %w", path, backend.ErrInvalidHeader)
	}
	if err := ctx.Err(); err != nil {
		return backend.DeviceUnknown, err
	}
	_, err := probePath(path)
	switch {
	case err == nil:
		return backend.DeviceOpticalDisc, nil
	case errors.Is(err, backend.ErrImageCorrupted), errors.Is(err, backend.ErrInvalidSize):
		return backend.DeviceOpticalDisc, err
	case errors.Is(err, backend.ErrInvalidHeader):
		return backend.DeviceUnknown, err
	default:
		return backend.DeviceUnknown, fmt.Errorf("VISO probe %s: %v: %w", path, err, backend.ErrInvalidHeader)
	}
}

// probePath runs the envelope probe on the head of the file and checks its size.
func probePath(path string) (ProbeResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ProbeResult{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ProbeResult{}, err
	}
	if !fi.Mode().IsRegular() {
		return ProbeResult{}, fmt.Errorf("%s: not a regular file: %w", path, backend.ErrInvalidHeader)
	}
	head := make([]byte, ProbeSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return ProbeResult{}, err
	}
	res, err := probeFile(path, head[:n])
	if err != nil {
		return res, err
	}
	if fi.Size() > MaxFileSize {
		return res, sizeError(path, fmt.Sprintf("%d bytes", fi.Size()))
	}
	return res, nil
}

// Open opens the VISO at path. With OpenInfo only the probe runs (no image is
// built: size 0, reads fail with ErrNotOpened); otherwise the image is built
// now. The image is always read-only.
func (b *Backend) Open(ctx context.Context, path string, flags backend.OpenFlags, want backend.DeviceType, cfg backend.Config) (backend.Image, error) {
	if err := backend.CheckOpenFlags(flags); err != nil {
		return nil, fmt.Errorf("VISO open %s: %w", path, err)
	}
	if !backend.DeviceOpticalDisc.Accepts(want) {
		return nil, fmt.Errorf("VISO open %s as %s: %w", path, want, backend.ErrNotSupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := probePath(path)
	if err != nil {
		return nil, err
	}
	img := &Image{ReadOnlyFile: backend.ReadOnlyFile{Kind: "VISO", Path: path}, b: b, path: path, cfg: cfg, uuid: res.UUID, flags: flags | backend.OpenReadOnly}
	if flags&backend.OpenInfo == 0 {
		if err := img.build(ctx); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// Image is an opened VISO.
type Image struct {
	backend.ReadOnlyFile // writes, geometry, comments, other UUIDs: read-only / not supported
	b                    *Backend
	path                 string
	cfg                  backend.Config
	uuid                 uuid.UUID

	mu     sync.RWMutex
	flags  backend.OpenFlags
	res    *confine.Resolver
	doc    *Document
	built  *isomaker.Built
	closed bool
}

var _ backend.Image = (*Image)(nil)

// build parses the VISO and lays out its image. Called with mu held (or before
// the image is shared).
func (img *Image) build(ctx context.Context) error {
	res, err := NewResolver(img.path, img.b.MediaRoots)
	if err != nil {
		return err
	}
	if cat := img.b.Catalog; cat != nil {
		res.SetCatalog(func(name string) (string, func(), bool, error) { return cat(ctx, name) })
	}
	doc, err := ParseFile(img.path, res)
	if err != nil {
		res.Close()
		return err
	}
	built, err := doc.Build(res)
	if err != nil {
		res.Close()
		return err
	}
	img.res, img.doc, img.built = res, doc, built
	img.uuid = doc.Envelope.UUID
	return nil
}

// Built returns the laid-out image, or nil in info mode.
func (img *Image) Built() *isomaker.Built {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return img.built
}

// Document returns the parsed VISO, or nil in info mode.
func (img *Image) Document() *Document {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return img.doc
}

func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.built == nil {
		return 0, fmt.Errorf("VISO read %s: %w", img.path, backend.ErrNotOpened)
	}
	n, eof := backend.ClampRead(off, len(p), img.built.Size())
	if n == 0 {
		return 0, eof
	}
	got, err := img.built.ReadAt(p[:n], off)
	if err != nil && !(errors.Is(err, io.EOF) && got == n) {
		return got, fmt.Errorf("VISO read %s at %d: %w", img.path, off, err)
	}
	return n, eof
}

// Size is the image size; 0 until the image is built (info mode).
func (img *Image) Size() int64 {
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.built == nil {
		return 0
	}
	return img.built.Size()
}

func (img *Image) Version() uint32 { return 1 }

// Regions is the one region of 2048-byte blocks covering the image.
func (img *Image) Regions() []backend.Region {
	return []backend.Region{{
		BlockSize: SectorSize, DataBlockSize: SectorSize, Length: img.Size(),
		DataForm: backend.DataFormRaw, MetadataForm: backend.MetadataFormNone,
	}}
}

func (img *Image) OpenFlags() backend.OpenFlags {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return img.flags
}

// SetOpenFlags accepts only the known flags. Leaving info mode builds the image
// now (a failure leaves the flags unchanged); OpenReadOnly is always forced on
// and OpenInfo is cleared once an image exists.
func (img *Image) SetOpenFlags(ctx context.Context, flags backend.OpenFlags) error {
	if err := backend.CheckOpenFlags(flags); err != nil {
		return fmt.Errorf("VISO set open flags %s: %w", img.path, err)
	}
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.closed {
		return fmt.Errorf("VISO set open flags %s: %w", img.path, backend.ErrNotOpened)
	}
	flags, err := backend.ApplyOpenFlags(ctx, flags, img.built != nil, func() error { return img.build(ctx) })
	if err != nil {
		return err
	}
	img.flags = flags
	return nil
}

// UUID is the UUID written after the VISO's marker.
func (img *Image) UUID() (uuid.UUID, error) { return img.uuid, nil }

func (img *Image) Dump() string {
	return fmt.Sprintf("VISO %q: uuid=%s open_flags=%s size=%d", img.path, img.uuid, img.OpenFlags(), img.Size())
}

// Close releases the image. With del it deletes like VirtualBox's close with
// delete (spec §6): when the UnattendedInstall config value is a non-zero
// integer, first the Unattended-* files the VISO references inside its own
// folder (best effort: failures are logged warnings), then the VISO itself.
// If the VISO no longer parses, the scan is skipped and only the VISO goes.
func (img *Image) Close(del bool) error {
	img.mu.Lock()
	defer img.mu.Unlock()
	var errs []error
	if img.built != nil {
		errs = append(errs, img.built.Close())
		img.built = nil
	}
	if img.res != nil {
		errs = append(errs, img.res.Close())
		img.res = nil
	}
	img.closed = true
	if del {
		unattended := img.cfg.Bool(ConfigUnattendedInstall)
		var scan []argv.Arg
		if f, err := os.Open(img.path); err == nil {
			env, perr := ReadEnvelope(img.path, f)
			f.Close()
			if perr != nil {
				klog.InfoS("VISO no longer parses; deleting it without the unattended scan", "path", img.path, "err", perr)
				unattended = false
			} else {
				scan = env.Args
			}
		}
		removed, warnings, err := RemoveVISO(img.path, scan, unattended)
		for _, p := range removed {
			klog.InfoS("VISO: file deleted", "path", p)
		}
		for _, w := range warnings {
			klog.InfoS("VISO: unattended cleanup warning", "err", w)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
