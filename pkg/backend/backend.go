// Package backend is the Go form of VirtualBox's VD image backend interface: one
// Backend per image format (probe, open, static description) and one Image per
// opened file (reads, regions, flags, metadata, close with delete).
//
// Mapping from the C interface (see the VD backend spec):
//
//   - status codes become the sentinel errors of errors.go, wrapped with context;
//   - read becomes io.ReaderAt (the end-of-image rules are in Image's comment);
//   - callbacks a backend may leave empty (create, rename, compact, resize,
//     repair, metadata traversal, timestamps, parent file name) become optional
//     interfaces (optional.go) with helpers that answer ErrNotSupported when a
//     backend lacks them;
//   - region list release disappears (the garbage collector owns the slice).
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// DeviceType is the kind of virtual device an image is for.
type DeviceType int

const (
	// DeviceUnknown is "don't care" when passed as the wanted type, and "could
	// not tell" when returned.
	DeviceUnknown DeviceType = iota
	DeviceHardDisk
	DeviceOpticalDisc
	DeviceFloppy
)

// DeviceDontCare is the name VD callers use for DeviceUnknown as a wanted type.
const DeviceDontCare = DeviceUnknown

func (d DeviceType) String() string {
	switch d {
	case DeviceUnknown:
		return "unknown"
	case DeviceHardDisk:
		return "hard disk"
	case DeviceOpticalDisc:
		return "optical disc"
	case DeviceFloppy:
		return "floppy"
	default:
		return fmt.Sprintf("device type %d", int(d))
	}
}

// Accepts reports whether an image of type d satisfies a caller wanting want
// (DeviceUnknown accepts everything).
func (d DeviceType) Accepts(want DeviceType) bool {
	return want == DeviceUnknown || want == d
}

// OpenFlags are the VD open flags callers pass. The bit values are ours; only
// the names and meanings follow VirtualBox.
type OpenFlags uint32

const (
	// OpenReadOnly: no writes (every backend here forces it on).
	OpenReadOnly OpenFlags = 1 << iota
	// OpenInfo: open only to show information; no data is available.
	OpenInfo
	// OpenAsyncIO: the caller will use asynchronous I/O.
	OpenAsyncIO
	// OpenShareable: the image may be opened by several VMs at once.
	OpenShareable
	// OpenSequential: the caller reads sequentially (a hint).
	OpenSequential
	// OpenSkipConsistencyChecks: skip expensive consistency checks.
	OpenSkipConsistencyChecks

	// KnownOpenFlags is every flag a backend here accepts; others are
	// ErrInvalidFlags.
	KnownOpenFlags = OpenReadOnly | OpenInfo | OpenAsyncIO | OpenShareable | OpenSequential | OpenSkipConsistencyChecks
)

var openFlagNames = []struct {
	f    OpenFlags
	name string
}{
	{OpenReadOnly, "READONLY"},
	{OpenInfo, "INFO"},
	{OpenAsyncIO, "ASYNC_IO"},
	{OpenShareable, "SHAREABLE"},
	{OpenSequential, "SEQUENTIAL"},
	{OpenSkipConsistencyChecks, "SKIP_CONSISTENCY_CHECKS"},
}

// String renders the flags as VirtualBox names them, joined by '|' ("0" for
// none); unknown bits are shown in hex.
func (f OpenFlags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, n := range openFlagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
		}
	}
	if rest := f &^ KnownOpenFlags; rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(rest)))
	}
	return strings.Join(parts, "|")
}

// CheckOpenFlags returns an error wrapping ErrInvalidFlags if f has bits outside
// KnownOpenFlags.
func CheckOpenFlags(f OpenFlags) error {
	if rest := f &^ KnownOpenFlags; rest != 0 {
		return fmt.Errorf("open flags %s: unknown bits %#x: %w", f, uint32(rest), ErrInvalidFlags)
	}
	return nil
}

// Capabilities describe what a backend can do. Bit values are ours.
type Capabilities uint32

const (
	// CapFileBased: the image is one host file addressed by a path.
	CapFileBased Capabilities = 1 << iota
	// CapUUID: the format stores a UUID.
	CapUUID
	// CapCreateFixed, CapCreateDynamic: the backend can create images.
	CapCreateFixed
	CapCreateDynamic
	// CapDiff: the format supports differencing images.
	CapDiff
	// CapConfig: the backend reads configuration keys.
	CapConfig
	// CapDiscard: the backend implements discard.
	CapDiscard
)

// Extension is a file extension (without dot, lower case) a backend claims,
// with the device type a file of that name is taken to be.
type Extension struct {
	Ext  string
	Type DeviceType
}

// ConfigKey describes one configuration key a backend understands.
type ConfigKey struct {
	Name    string
	Default string // "" when none
	// Expert marks keys hidden from ordinary users (VD's "expert" flag).
	Expert bool
}

// Config holds the per-medium configuration values (VD's config interface).
// All values are strings; typed getters interpret them.
type Config map[string]string

// Bool reads key as VirtualBox's VD config bool query does: the value is parsed
// as an unsigned integer (decimal, or 0x-prefixed hex), non-zero is true; a
// missing key or a non-numeric value is false. A numeric value too large for 64
// bits is non-zero, hence true.
func (c Config) Bool(key string) bool {
	v, ok := c[key]
	if !ok {
		return false
	}
	v = strings.TrimSpace(v)
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		return errors.As(err, &ne) && ne.Err == strconv.ErrRange
	}
	return n != 0
}

// Region data and metadata forms.
const (
	DataFormRaw      = "raw"
	MetadataFormNone = "none"
)

// Region is one contiguous range of the image as seen by the guest. All
// offsets and lengths are in bytes.
type Region struct {
	Offset        int64
	BlockSize     int64  // guest-visible block size (2048 for optical discs)
	DataBlockSize int64  // bytes of data per block
	Length        int64  // bytes
	DataForm      string // DataFormRaw
	MetadataForm  string // MetadataFormNone
}

// Geometry is a cylinders/heads/sectors disk geometry.
type Geometry struct {
	Cylinders, Heads, Sectors uint32
}

// Backend is one image format.
type Backend interface {
	// Name is the format's name as VirtualBox knows it (e.g. "VBoxIsoMaker", "RAW").
	Name() string
	Capabilities() Capabilities
	// Extensions are the file extensions the backend claims.
	Extensions() []Extension
	// ConfigKeys are the configuration keys the backend reads.
	ConfigKeys() []ConfigKey
	// Probe tells whether the file at path is in this format. want is the
	// device type the caller asks for (DeviceUnknown: don't care). A file not in
	// the format is ErrInvalidHeader; a file recognised but broken returns the
	// device type together with ErrImageCorrupted or ErrInvalidSize.
	Probe(ctx context.Context, path string, want DeviceType) (DeviceType, error)
	// Open opens the image. flags outside KnownOpenFlags are ErrInvalidFlags;
	// with OpenInfo the image is opened for information only.
	Open(ctx context.Context, path string, flags OpenFlags, want DeviceType, cfg Config) (Image, error)
}

// Image is one opened image. Methods are safe for concurrent use unless noted;
// ReadAt in particular may be called from many goroutines.
type Image interface {
	// ReadAt follows io.ReaderAt with the VD end-of-image rules: a read at or
	// after the end returns 0, io.EOF, except a zero-length read exactly at the
	// end, which returns 0, nil; a read crossing the end returns the bytes up to
	// the end and io.EOF. An image opened with OpenInfo returns ErrNotOpened.
	io.ReaderAt
	// Size is the image size in bytes (VD's file size).
	Size() int64
	// Version is the format version of the image.
	Version() uint32
	// Regions lists the guest-visible regions covering the image.
	Regions() []Region

	// Write writes p at off and returns the bytes processed.
	Write(off int64, p []byte) (int, error)
	Flush() error
	Discard(off, n int64) error

	// Geometry returns the physical and logical CHS geometry.
	Geometry() (pchs, lchs Geometry, err error)
	SetGeometry(pchs, lchs Geometry) error

	// ImageFlags are format-specific image flags (0 when none).
	ImageFlags() uint32
	// OpenFlags returns the stored open flags.
	OpenFlags() OpenFlags
	// SetOpenFlags changes the open flags; leaving info mode may do the full
	// open now (a failure leaves the flags unchanged).
	SetOpenFlags(ctx context.Context, flags OpenFlags) error

	Comment() (string, error)
	SetComment(comment string) error
	UUID() (uuid.UUID, error)
	SetUUID(id uuid.UUID) error
	ModificationUUID() (uuid.UUID, error)
	SetModificationUUID(id uuid.UUID) error
	ParentUUID() (uuid.UUID, error)
	SetParentUUID(id uuid.UUID) error
	ParentModificationUUID() (uuid.UUID, error)
	SetParentModificationUUID(id uuid.UUID) error

	// Dump is a human-readable one-line description.
	Dump() string
	// Location is the path the image was opened from.
	Location() string

	// Close releases the image; with delete it also deletes the image's
	// storage as the backend defines it. Close is idempotent; reads after Close
	// fail with ErrNotOpened.
	Close(delete bool) error
}

// ApplyOpenFlags carries out the set-open-flags rules shared by the file-based
// backends (vd-backend.md §3) for an image that is not closed and flags already
// checked with CheckOpenFlags: leaving info mode while nothing is loaded calls
// load (a failure leaves the flags unchanged); OpenReadOnly is forced on and
// OpenInfo is cleared once the image is loaded. Callers hold their image's lock
// and store the returned flags.
func ApplyOpenFlags(ctx context.Context, flags OpenFlags, loaded bool, load func() error) (OpenFlags, error) {
	if !loaded && flags&OpenInfo == 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := load(); err != nil {
			return 0, err
		}
		loaded = true
	}
	flags |= OpenReadOnly
	if loaded {
		flags &^= OpenInfo
	}
	return flags, nil
}
