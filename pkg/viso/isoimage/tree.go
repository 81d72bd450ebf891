package isoimage

import (
	"fmt"
	"io"
	"time"
)

// Source supplies a file's bytes. The executor decides how (lazily opened host
// files, ranges of an imported ISO, memory); it must be safe for concurrent
// ReadAt calls because Image.ReadAt is.
type Source interface {
	ReadAt(p []byte, off int64) (int, error)
}

// ID identifies an object of a Tree. IDs stay valid after Finalize.
type ID uint32

// RootID is the root directory, shared by all namespaces.
const RootID ID = 0

// Namespaces is a set of namespaces.
type Namespaces uint8

const (
	// Primary is the ISO 9660 namespace (with Rock Ridge data when enabled).
	Primary Namespaces = 1 << iota
	// Joliet is the Joliet (UTF-16) namespace.
	Joliet
	// AllNamespaces is every supported namespace.
	AllNamespaces = Primary | Joliet
)

// Names gives an object's destination path per namespace; "" leaves the object
// out of that namespace. The executor resolves --name-setup positions.
type Names struct {
	Primary string
	Joliet  string
	// ISOName, when set, is an imported ISO 9660 identifier used instead of
	// mangling the primary spec name (spec §4.6 step 6): any ";version" is
	// dropped, the rest kept verbatim but cut to 30 characters, and files get
	// ";1". The numeric-infix uniqueness rule still applies.
	ISOName string
}

// Times are an object's timestamps. Zero values mean "the epoch".
type Times struct {
	Birth, Modify, Access, Change time.Time
}

// Attrs are an object's POSIX attributes (only visible through Rock Ridge).
type Attrs struct {
	Mode     uint32 // permission and special bits (07777); type bits are implied by the object kind
	UID, GID uint32
	Times    Times
}

// MaxExtentSize is the largest extent of a multi-extent file (spec §4.6).
const MaxExtentSize = 0xFFFFF800

// fourGiB is the size from which a file needs ISO level 3.
const fourGiB = 1 << 32

type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindSymlink
	kindSpecial // device, FIFO or socket (only imported ISOs carry these)
	kindCatalog
)

const (
	flagPrimary uint8 = 1 << iota // has a name in the primary namespace
	flagJoliet                    // has a name in the Joliet namespace
	flagRemoved                   // removed from the image
	flagUsed                      // set during finalisation: appears in a written tree
)

// isoTime is the 7-byte ECMA-119 recording time (also Rock Ridge TF short form).
type isoTime [7]byte

// node is one object. It is kept small (see the memory benchmark): names are
// arena references, times an index into a deduplicated table, sources in a
// side table, and per-namespace parents are IDs. Rendering a directory sector
// touches only these hot fields.
type node struct {
	size     int64
	nameRef  strRef // primary spec name (also the Rock Ridge NM name)
	isoRef   strRef // mangled ISO 9660 identifier
	jnameRef strRef // Joliet spec name
	tix      uint32 // index into store.times
	mode     uint32
	uid      uint32
	gid      uint32
	lba      uint32 // data LBA (files) after finalisation
	aux      uint32 // directories: index into Tree.dirs; symlinks: index into Tree.links
	kind     kind
	flags    uint8
}

// dirInfo holds a directory's children per namespace (in insertion order; removed
// entries are filtered at finalisation) and its layout results.
type dirInfo struct {
	prim, jol []ID
}

type dirKey struct {
	parent ID
	name   string
}

// Config is the fixed part of a tree's configuration.
type Config struct {
	// Epoch is the image creation time: volume descriptor dates, the default
	// volume id, and the times of implicit directories, the root and the catalog.
	Epoch time.Time
	// SystemID and ApplicationID are the defaults for the volume descriptor
	// strings when the executor does not set them (both namespaces).
	SystemID, ApplicationID string
}

// Tree is the mutable namespace model. It is not safe for concurrent use.
type Tree struct {
	store
	cfg        Config
	epoch      isoTime
	dirs       []dirInfo
	links      []string
	specials   []special
	timeIdx    map[[4]isoTime]uint32
	primIdx    map[dirKey]ID // folded primary spec names
	isoIdx     map[dirKey]ID // ISO 9660 identifiers (already upper case)
	jolIdx     map[dirKey]ID // folded Joliet spec names
	isoLevel   int
	rrLevel    int
	jolLevel   int
	newDirMode uint32
	pad        bool
	sysArea    []byte
	vol        [2]volStrings
	boot       *BootCatalog
	catalog    ID    // 0 = none (the root can never be the catalog)
	base       *Base // in-place layout hook (inplace.go): nil lays everything out sequentially
	finalized  bool
}

// New returns an empty tree with the ISO maker's defaults: ISO level 3, Rock
// Ridge level 1, Joliet level 3, new-dir mode 0555, padding on.
func New(cfg Config) *Tree {
	t := &Tree{
		store:      store{str: &arena{}},
		timeIdx:    make(map[[4]isoTime]uint32),
		cfg:        cfg,
		epoch:      encodeTime(cfg.Epoch),
		primIdx:    make(map[dirKey]ID),
		isoIdx:     make(map[dirKey]ID),
		jolIdx:     make(map[dirKey]ID),
		isoLevel:   3,
		rrLevel:    1,
		jolLevel:   3,
		newDirMode: 0o555,
		pad:        true,
	}
	t.dirs = append(t.dirs, dirInfo{})
	t.timeIndex(Times{}) // index 0: the epoch, used by the root and implicit objects
	t.nodes = append(t.nodes, node{kind: kindDir, mode: 0o555, flags: flagPrimary | flagJoliet})
	t.srcs = append(t.srcs, nil)
	t.parents = append(t.parents, [2]ID{})
	return t
}

// encodeTime converts to the 7-byte form in UTC; years outside 1900-2155 clamp.
func encodeTime(tm time.Time) isoTime {
	if tm.IsZero() {
		tm = time.Unix(0, 0)
	}
	u := tm.UTC()
	y := u.Year() - 1900
	switch {
	case y < 0:
		return isoTime{0, 1, 1, 0, 0, 0, 0}
	case y > 255:
		return isoTime{255, 12, 31, 23, 59, 59, 0}
	}
	return isoTime{byte(y), byte(u.Month()), byte(u.Day()), byte(u.Hour()), byte(u.Minute()), byte(u.Second()), 0}
}

// timeIndex returns the index of the encoded times in the shared table.
func (t *Tree) timeIndex(ts Times) uint32 {
	k := t.encodeTimes(ts)
	if i, ok := t.timeIdx[k]; ok {
		return i
	}
	i := uint32(len(t.times))
	t.times = append(t.times, k)
	t.timeIdx[k] = i
	return i
}

func (t *Tree) encodeTimes(ts Times) [4]isoTime {
	enc := func(tm time.Time) isoTime {
		if tm.IsZero() {
			return t.epoch
		}
		return encodeTime(tm)
	}
	return [4]isoTime{enc(ts.Birth), enc(ts.Modify), enc(ts.Access), enc(ts.Change)}
}

// SetISOLevel sets the ISO 9660 interchange level (1-3) for names added from
// now on and for the 4 GiB check.
func (t *Tree) SetISOLevel(level int) error {
	if level < 1 || level > 3 {
		return fmt.Errorf("failed to set ISO level to %d: %w", level, ErrInvalidParameter)
	}
	t.isoLevel = level
	return nil
}

// ISOLevel returns the current ISO level.
func (t *Tree) ISOLevel() int { return t.isoLevel }

// SetRockRidgeLevel sets the Rock Ridge level (0 none, 1 limited, 2 full) for the whole image.
func (t *Tree) SetRockRidgeLevel(level int) error {
	if level < 0 || level > 2 {
		return fmt.Errorf("failed to set Rock Ridge level to %d: %w", level, ErrInvalidParameter)
	}
	t.rrLevel = level
	return nil
}

// SetJolietLevel sets the Joliet UCS-2 level (0 disables the Joliet tree, 1-3
// choose the SVD escape sequence) for the whole image.
func (t *Tree) SetJolietLevel(level int) error {
	if level < 0 || level > 3 {
		return fmt.Errorf("failed to set joliet UCS level to %d: %w", level, ErrInvalidParameter)
	}
	t.jolLevel = level
	return nil
}

// SetNewDirMode sets the permission bits of directories created implicitly.
func (t *Tree) SetNewDirMode(mode uint32) { t.newDirMode = mode & 0o7777 }

// SetPad turns the 150-sector trailing padding on or off.
func (t *Tree) SetPad(on bool) { t.pad = on }

// SetSystemArea loads the 32 KiB system area (sectors 0-15). Shorter input is
// zero-filled, longer input cut; nil resets to zeros.
func (t *Tree) SetSystemArea(b []byte) {
	if b == nil {
		t.sysArea = nil
		return
	}
	t.sysArea = make([]byte, systemAreaSize)
	copy(t.sysArea, b)
}

// ReadSystemArea loads the system area from the first 32 KiB of r (-G).
func (t *Tree) ReadSystemArea(r io.ReaderAt) error {
	buf := make([]byte, systemAreaSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("error reading 32KB from generic boot image: %w", err)
	}
	t.SetSystemArea(buf[:n])
	return nil
}
