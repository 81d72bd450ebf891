package backend

import (
	"fmt"

	"github.com/google/uuid"
)

// ReadOnlyFile answers the Image operations that every read-only, file-based
// image here answers the same way: writes and geometry changes are ErrReadOnly;
// discard, geometry, comments and the modification/parent UUIDs are
// ErrNotSupported; flush has nothing to do. Backends embed it (setting Kind and
// Path for messages) and implement the rest, overriding what they support.
type ReadOnlyFile struct {
	Kind string // the backend as named in messages, e.g. "raw", "VISO"
	Path string // the image's location
}

// ReadOnlyErr wraps ErrReadOnly for operation op.
func (r ReadOnlyFile) ReadOnlyErr(op string) error {
	return fmt.Errorf("%s %s %s: %w", r.Kind, op, r.Path, ErrReadOnly)
}

// NotSupportedErr wraps ErrNotSupported for operation op.
func (r ReadOnlyFile) NotSupportedErr(op string) error {
	return fmt.Errorf("%s %s %s: %w", r.Kind, op, r.Path, ErrNotSupported)
}

func (r ReadOnlyFile) Write(int64, []byte) (int, error) { return 0, r.ReadOnlyErr("write") }

// Flush has nothing to write back.
func (r ReadOnlyFile) Flush() error { return nil }

func (r ReadOnlyFile) Discard(int64, int64) error { return r.NotSupportedErr("discard") }

// Geometry: these images record none.
func (r ReadOnlyFile) Geometry() (Geometry, Geometry, error) {
	return Geometry{}, Geometry{}, r.NotSupportedErr("get geometry")
}

func (r ReadOnlyFile) SetGeometry(Geometry, Geometry) error { return r.ReadOnlyErr("set geometry") }
func (r ReadOnlyFile) ImageFlags() uint32                   { return 0 }
func (r ReadOnlyFile) Comment() (string, error)             { return "", r.NotSupportedErr("get comment") }
func (r ReadOnlyFile) SetComment(string) error              { return r.NotSupportedErr("set comment") }
func (r ReadOnlyFile) UUID() (uuid.UUID, error)             { return uuid.Nil, r.NotSupportedErr("get UUID") }
func (r ReadOnlyFile) SetUUID(uuid.UUID) error              { return r.NotSupportedErr("set UUID") }
func (r ReadOnlyFile) ModificationUUID() (uuid.UUID, error) {
	return uuid.Nil, r.NotSupportedErr("get modification UUID")
}
func (r ReadOnlyFile) SetModificationUUID(uuid.UUID) error {
	return r.NotSupportedErr("set modification UUID")
}
func (r ReadOnlyFile) ParentUUID() (uuid.UUID, error) {
	return uuid.Nil, r.NotSupportedErr("get parent UUID")
}
func (r ReadOnlyFile) SetParentUUID(uuid.UUID) error { return r.NotSupportedErr("set parent UUID") }
func (r ReadOnlyFile) ParentModificationUUID() (uuid.UUID, error) {
	return uuid.Nil, r.NotSupportedErr("get parent modification UUID")
}
func (r ReadOnlyFile) SetParentModificationUUID(uuid.UUID) error {
	return r.NotSupportedErr("set parent modification UUID")
}

// Location is the path the image was opened from.
func (r ReadOnlyFile) Location() string { return r.Path }
