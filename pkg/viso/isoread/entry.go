package isoread

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Kind classifies an entry.
type Kind uint8

const (
	KindFile Kind = iota
	KindDir
	KindSymlink
	KindDevice // block or character device (RR PN)
	KindFIFO
	KindSocket
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	case KindDevice:
		return "device"
	case KindFIFO:
		return "fifo"
	case KindSocket:
		return "socket"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// POSIX file type bits as Rock Ridge PX records them.
const (
	ModeTypeMask = 0o170000
	ModeSocket   = 0o140000
	ModeSymlink  = 0o120000
	ModeRegular  = 0o100000
	ModeBlock    = 0o060000
	ModeDir      = 0o040000
	ModeChar     = 0o020000
	ModeFIFO     = 0o010000
)

// Extent is a run of bytes in the source medium: Length bytes from sector LBA.
type Extent struct {
	LBA    uint32
	Length uint64
}

// Times are an entry's timestamps, all UTC; zero when not recorded.
type Times struct {
	Record     time.Time // directory record recording time
	Creation   time.Time // RR TF
	Modify     time.Time // RR TF
	Access     time.Time // RR TF
	Attributes time.Time // RR TF attribute change
}

// Entry is one file, directory, symlink or device of a tree.
type Entry struct {
	// Name is the view's name: the RR NM name if present, else the ISO
	// identifier (primary views), or the Joliet name.
	Name string
	// Ident is the ISO 9660 identifier (primary) or the decoded Joliet
	// identifier, with a file's ";N" version removed; a trailing "." before
	// the ";" is kept (spec §5.2). Empty for the root.
	Ident string
	Kind  Kind
	// Mode is the POSIX mode including the type bits: RR PX when present
	// (type bits made to agree with Kind for files and directories), else
	// 0555 for directories and 0444 for files.
	Mode   uint32
	UID    uint32
	GID    uint32
	Nlink  uint32
	Serial uint32 // RR PX file serial number (44-byte form), else 0
	// times holds Times compactly (Unix nanoseconds, noTime when absent):
	// time.Time costs 24 bytes and trees may hold millions of entries.
	times [5]int64
	// Size is the file size (sum of its extents), the directory's byte size,
	// or 0 for symlinks and devices.
	Size uint64
	// Extents lists where the data lies in the source, one per directory
	// record (several for multi-extent files; contiguous and block aligned).
	Extents []Extent
	// Target is the RR SL symlink target.
	Target string
	// DevHigh and DevLow are the RR PN device number halves as recorded.
	DevHigh, DevLow uint32
	// Hidden is the record's existence flag.
	Hidden bool
	// RockRidge reports that the record carried Rock Ridge entries.
	RockRidge bool
	// ChildLink is the RR CL target of a relocated-directory placeholder
	// (0 if none). Relocation is not followed (spec §5.2): the placeholder is
	// an empty file and the relocated directory stays under rr_moved.
	ChildLink uint32
	// Relocated marks a directory carrying RR RE.
	Relocated bool

	Parent   *Entry
	children []*Entry
}

// IsDir reports whether e is a directory.
func (e *Entry) IsDir() bool { return e.Kind == KindDir }

// Children returns a directory's entries in directory order (nil for others).
// The slice is shared; callers must not modify it.
func (e *Entry) Children() []*Entry { return e.children }

const noTime = math.MinInt64

func packTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func unpackTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Times returns the entry's timestamps.
func (e *Entry) Times() Times {
	return Times{Record: unpackTime(e.times[0]), Creation: unpackTime(e.times[1]), Modify: unpackTime(e.times[2]),
		Access: unpackTime(e.times[3]), Attributes: unpackTime(e.times[4])}
}

func (e *Entry) setTimes(t Times) {
	e.times = [5]int64{packTime(t.Record), packTime(t.Creation), packTime(t.Modify), packTime(t.Access), packTime(t.Attributes)}
}

// ModTime is the RR modification time when present, else the record time.
func (e *Entry) ModTime() time.Time {
	if e.times[2] != noTime {
		return unpackTime(e.times[2])
	}
	return unpackTime(e.times[0])
}

// LBA is the first sector of the entry's data (0 without extents).
func (e *Entry) LBA() uint32 {
	if len(e.Extents) == 0 {
		return 0
	}
	return e.Extents[0].LBA
}

// Path returns the entry's absolute path in its tree ("/" for the root).
func (e *Entry) Path() string {
	if e.Parent == nil {
		return "/"
	}
	var parts []string
	for p := e; p.Parent != nil; p = p.Parent {
		parts = append(parts, p.Name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// Child returns the child whose Name, or failing that Ident, matches name
// case-insensitively (the ISO maker matches spec names that way, §5.4).
func (e *Entry) Child(name string) *Entry {
	for _, c := range e.children {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	for _, c := range e.children {
		if strings.EqualFold(c.Ident, name) {
			return c
		}
	}
	return nil
}
