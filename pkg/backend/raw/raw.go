// Package raw is the backend for plain image files (.iso, .img) served
// byte-for-byte and read-only, such as a Windows installer ISO published
// untouched next to a small answer-file VISO.
//
// Decisions where VirtualBox's RAW backend differs or the spec is silent:
//
//   - Everything is read-only: OpenReadOnly is forced on, Write, SetGeometry
//     and every metadata setter fail with backend.ErrReadOnly or
//     backend.ErrNotSupported.
//   - Close(delete=true) never deletes: the file usually lives on an
//     operator's media root. The handle is released and the call fails with
//     backend.ErrReadOnly.
//   - Info mode (OpenInfo) stats the file, so Size is known, but keeps no handle:
//     reads fail with backend.ErrNotOpened, as they do for a VISO. Leaving info
//     mode with SetOpenFlags opens the file then.
//   - Only regular files are served; devices, FIFOs and sockets are refused.
package raw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

// Name is the backend name (VirtualBox calls its raw backend "RAW").
const Name = "RAW"

// Block sizes of the single region.
const (
	OpticalBlockSize = 2048
	DiskBlockSize    = 512
)

// Volume recognition: the standard identifier of the first volume descriptor,
// at byte 1 of sector 16 (2048-byte sectors). ISO 9660 writes "CD001"; a disc
// with UDF only (some Windows media) starts its volume recognition sequence
// there with "BEA01", and UDF descriptors proper are "NSR02"/"NSR03".
const (
	recognitionOffset = 16*OpticalBlockSize + 1
	identifierLen     = 5
)

var opticalIdentifiers = [][]byte{[]byte("CD001"), []byte("BEA01"), []byte("NSR02"), []byte("NSR03")}

// ErrNotRegular is returned (wrapped) when the path is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Backend serves plain image files. The zero value opens files with os.OpenFile.
type Backend struct {
	// OpenFile, when set, opens the file (read-only) instead of os.OpenFile.
	// The CSI driver plugs its confinement resolver in here so that a path from
	// a volume attribute can only reach the operator's media roots.
	OpenFile func(path string) (*os.File, error)
}

var _ backend.Backend = (*Backend)(nil)

// New returns a backend opening files with open (nil: os.OpenFile).
func New(open func(path string) (*os.File, error)) *Backend {
	return &Backend{OpenFile: open}
}

func (b *Backend) Name() string { return Name }

func (b *Backend) Capabilities() backend.Capabilities { return backend.CapFileBased }

// Extensions: .iso is an optical disc; .img is taken as a raw hard disk image
// (VirtualBox maps it to a floppy, which nothing here serves). Content wins over
// the extension: an .img holding ISO 9660 probes as an optical disc.
func (b *Backend) Extensions() []backend.Extension {
	return []backend.Extension{
		{Ext: "iso", Type: backend.DeviceOpticalDisc},
		{Ext: "img", Type: backend.DeviceHardDisk},
	}
}

func (b *Backend) ConfigKeys() []backend.ConfigKey { return nil }

func (b *Backend) open(path string) (*os.File, error) {
	var (
		f   *os.File
		err error
	)
	if b.OpenFile != nil {
		f, err = b.OpenFile(path)
	} else {
		// O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
	}
	return f, nil
}

// Probe recognises an ISO 9660 or UDF volume (optical disc). Any other content
// is backend.ErrInvalidHeader: a raw image has no header, so the registry's
// extension fallback is how an .img is matched.
func (b *Backend) Probe(ctx context.Context, path string, want backend.DeviceType) (backend.DeviceType, error) {
	if err := ctx.Err(); err != nil {
		return backend.DeviceUnknown, err
	}
	f, err := b.open(path)
	if err != nil {
		return backend.DeviceUnknown, fmt.Errorf("raw probe: %w", err)
	}
	defer f.Close()
	ok, err := hasVolumeDescriptor(f)
	if err != nil {
		return backend.DeviceUnknown, fmt.Errorf("raw probe %s: %w", path, err)
	}
	if !ok {
		return backend.DeviceUnknown, fmt.Errorf("raw probe %s: no ISO 9660 or UDF volume descriptor: %w", path, backend.ErrInvalidHeader)
	}
	if !backend.DeviceOpticalDisc.Accepts(want) {
		return backend.DeviceUnknown, fmt.Errorf("raw probe %s: optical disc image, %s wanted: %w", path, want, backend.ErrInvalidHeader)
	}
	return backend.DeviceOpticalDisc, nil
}

func hasVolumeDescriptor(r io.ReaderAt) (bool, error) {
	var id [identifierLen]byte
	n, err := r.ReadAt(id[:], recognitionOffset)
	if n < len(id) {
		if err == nil || errors.Is(err, io.EOF) {
			return false, nil // too short to be an ISO
		}
		return false, err
	}
	for _, want := range opticalIdentifiers {
		if bytes.Equal(id[:], want) {
			return true, nil
		}
	}
	return false, nil
}

// deviceType decides the type of an opened file: the caller's wish if any,
// else its content, else its extension, else a hard disk.
func (b *Backend) deviceType(path string, f io.ReaderAt, want backend.DeviceType) backend.DeviceType {
	if want != backend.DeviceUnknown {
		return want
	}
	if ok, _ := hasVolumeDescriptor(f); ok {
		return backend.DeviceOpticalDisc
	}
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	for _, e := range b.Extensions() {
		if e.Ext == ext {
			return e.Type
		}
	}
	return backend.DeviceHardDisk
}

// Open opens path read-only. Any device type may be asked for: the bytes are
// served as they are, only the region's block size depends on the type.
func (b *Backend) Open(ctx context.Context, path string, flags backend.OpenFlags, want backend.DeviceType, _ backend.Config) (backend.Image, error) {
	if err := backend.CheckOpenFlags(flags); err != nil {
		return nil, fmt.Errorf("raw open %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := b.open(path)
	if err != nil {
		return nil, fmt.Errorf("raw open: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("raw open: %w", err)
	}
	img := &Image{
		b:            b,
		ReadOnlyFile: backend.ReadOnlyFile{Kind: "raw", Path: path},
		path:         path,
		size:         fi.Size(),
		typ:          b.deviceType(path, f, want),
		flags:        flags | backend.OpenReadOnly,
	}
	if flags&backend.OpenInfo != 0 {
		_ = f.Close()
	} else {
		img.f = f
	}
	return img, nil
}

// Image is an opened raw file.
type Image struct {
	backend.ReadOnlyFile // writes, geometry, comments, UUIDs: read-only / not supported
	b                    *Backend
	path                 string
	typ                  backend.DeviceType

	mu     sync.RWMutex
	f      *os.File // nil in info mode and after Close
	size   int64
	flags  backend.OpenFlags
	closed bool
}

var _ backend.Image = (*Image)(nil)

// DeviceType is the device type the image was opened as.
func (img *Image) DeviceType() backend.DeviceType { return img.typ }

func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.f == nil {
		return 0, fmt.Errorf("raw read %s: %w", img.path, backend.ErrNotOpened)
	}
	n, eof := backend.ClampRead(off, len(p), img.size)
	if n == 0 {
		return 0, eof
	}
	got, err := img.f.ReadAt(p[:n], off)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			// The file shrank after it was opened: the image promised more.
			err = io.ErrUnexpectedEOF
		}
		return got, fmt.Errorf("raw read %s at %d: %w", img.path, off+int64(got), err)
	}
	return n, eof
}

func (img *Image) Size() int64 {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return img.size
}

func (img *Image) Version() uint32 { return 1 }

func (img *Image) blockSize() int64 {
	if img.typ == backend.DeviceOpticalDisc {
		return OpticalBlockSize
	}
	return DiskBlockSize
}

func (img *Image) Regions() []backend.Region {
	bs := img.blockSize()
	return []backend.Region{{
		Offset: 0, BlockSize: bs, DataBlockSize: bs, Length: img.Size(),
		DataForm: backend.DataFormRaw, MetadataForm: backend.MetadataFormNone,
	}}
}

func (img *Image) OpenFlags() backend.OpenFlags {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return img.flags
}

// SetOpenFlags accepts only backend.KnownOpenFlags. Leaving info mode opens the
// file now (a failure leaves the flags unchanged). OpenReadOnly is always forced
// on and OpenInfo is cleared while the file is open.
func (img *Image) SetOpenFlags(ctx context.Context, flags backend.OpenFlags) error {
	if err := backend.CheckOpenFlags(flags); err != nil {
		return fmt.Errorf("raw set open flags %s: %w", img.path, err)
	}
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.closed {
		return fmt.Errorf("raw set open flags %s: %w", img.path, backend.ErrNotOpened)
	}
	flags, err := backend.ApplyOpenFlags(ctx, flags, img.f != nil, func() error {
		f, err := img.b.open(img.path)
		if err != nil {
			return fmt.Errorf("raw set open flags: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("raw set open flags: %w", err)
		}
		img.f, img.size = f, fi.Size()
		return nil
	})
	if err != nil {
		return err
	}
	img.flags = flags
	return nil
}

func (img *Image) Dump() string {
	img.mu.RLock()
	defer img.mu.RUnlock()
	return fmt.Sprintf("raw image %q: open_flags=%s size=%d type=%s", img.path, img.flags, img.size, img.typ)
}

// Close releases the file. With delete it refuses (backend.ErrReadOnly) after
// releasing: raw images are never deleted by this program.
func (img *Image) Close(del bool) error {
	img.mu.Lock()
	defer img.mu.Unlock()
	var err error
	if img.f != nil {
		if cerr := img.f.Close(); cerr != nil {
			err = fmt.Errorf("raw close %s: %w", img.path, cerr)
		}
		img.f = nil
	}
	img.closed = true
	if del {
		err = errors.Join(err, img.ReadOnlyErr("delete"))
	}
	return err
}
