package isomaker

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// Plan is the validated, ordered result of parsing an ISO-maker command line.
// The executor applies Operations strictly in order (most options only affect
// what follows them) and then builds the El Torito catalog from ElTorito.
type Plan struct {
	Operations []Operation `json:"operations"`
	// ElTorito is the boot catalog the command line describes, assembled after
	// the last argument as IPRT does; nil when no El Torito option was given.
	ElTorito *BootCatalog `json:"elTorito,omitempty"`
}

// OpKind names an operation; it is the "op" field of the JSON form.
type OpKind string

// Operation kinds. The comment lists the fields each kind sets.
const (
	OpISOLevel            OpKind = "iso-level"              // Level (1..3)
	OpRockRidge           OpKind = "rock-ridge"             // Level (0..2)
	OpJoliet              OpKind = "joliet"                 // Level (UCS level 0..3; 0 = Joliet off)
	OpAttributeStyle      OpKind = "attribute-style"        // Style
	OpFileMode            OpKind = "file-mode"              // Mode: force file permissions from now on
	OpNoFileMode          OpKind = "no-file-mode"           // stop forcing file permissions
	OpDirMode             OpKind = "dir-mode"               // Mode: force directory permissions from now on
	OpNoDirMode           OpKind = "no-dir-mode"            // stop forcing directory permissions
	OpNewDirMode          OpKind = "new-dir-mode"           // Mode of implicitly created directories
	OpNameSetup           OpKind = "name-setup"             // Positions
	OpNameSetupFromImport OpKind = "name-setup-from-import" // one position: every namespace with content
	OpAdd                 OpKind = "add"                    // Names, Source
	OpRemove              OpKind = "remove"                 // Names (silently nothing if absent)
	OpMustRemove          OpKind = "must-remove"            // Names (error if nothing removed)
	OpImportISO           OpKind = "import-iso"             // Path, SkipElTorito
	OpPushISO             OpKind = "push-iso"               // Path, Variant
	OpPop                 OpKind = "pop"                    // (none)
	OpChmod               OpKind = "chmod"                  // Path and exactly one of Mode (replace 07777 bits) or AddBits (OR in)
	OpChown               OpKind = "chown"                  // Path, ID
	OpChgrp               OpKind = "chgrp"                  // Path, ID
	OpVolumeString        OpKind = "volume-string"          // Field, Value ("" = reset to default)
	OpPad                 OpKind = "pad"                    // Enabled
	OpGenericBoot         OpKind = "generic-boot"           // Path (host file, first 32 KiB → system area)
	OpElToritoBoot        OpKind = "eltorito-boot"          // Entry, Path (image path inside the image)
	OpElToritoAddImage    OpKind = "eltorito-add-image"     // Entry, Names, Source (add like OpAdd, then bind)
	OpBootCatalog         OpKind = "boot-catalog"           // Names (make the catalog visible under these names)
)

// AttrStyle is the attribute style for objects created afterwards (§2.6).
type AttrStyle string

// Attribute styles.
const (
	StyleRational AttrStyle = "rational"
	StyleStrict   AttrStyle = "strict"
)

// PushVariant selects which trees of a pushed ISO are visible (§2.3).
type PushVariant string

// Push variants.
const (
	PushAll            PushVariant = "all"
	PushNoJoliet       PushVariant = "no-joliet"
	PushNoRock         PushVariant = "no-rock"
	PushNoRockNoJoliet PushVariant = "no-rock-no-joliet"
)

// VolumeField names a volume descriptor string (§2.8).
type VolumeField string

// Volume descriptor fields.
const (
	FieldVolumeID      VolumeField = "volume-id"
	FieldVolumeSetID   VolumeField = "volume-set-id"
	FieldPublisherID   VolumeField = "publisher-id"
	FieldPreparerID    VolumeField = "data-preparer-id"
	FieldApplicationID VolumeField = "application-id"
	FieldSystemID      VolumeField = "system-id"
	FieldCopyrightFile VolumeField = "copyright-file-id"
	FieldAbstractFile  VolumeField = "abstract-file-id"
	FieldBiblioFile    VolumeField = "bibliographic-file-id"
)

// Namespace is a major ISO maker namespace. Only the two that 7.0/7.1 support
// can appear in a Plan; udf and hfs are rejected by the parser.
type Namespace string

// Namespaces.
const (
	NSPrimary Namespace = "primary"
	NSJoliet  Namespace = "joliet"
)

// NamePosition is one position of a --name-setup: the namespaces a file spec's
// name at that position is entered into. Minor lists the Rock Ridge and
// TRANS.TBL words given for the position, normalised to "<major>-rock-ridge" /
// "<major>-trans-tbl"; 7.0/7.1 accept them without effect, and so do we.
type NamePosition struct {
	Namespaces []Namespace `json:"namespaces"`
	Minor      []string    `json:"minor,omitempty"`
}

// Mode is a set of Unix permission bits. Its JSON form is an octal string such
// as "0444" so that plans stay readable.
type Mode uint32

func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalJSON writes the mode as an octal string.
func (m Mode) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads the octal string written by MarshalJSON.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf("mode %q: %w", s, err)
	}
	*m = Mode(v)
	return nil
}

// Operation is one step of the plan. Kind says which of the other fields are
// meaningful (see the OpKind constants); the rest are zero and left out of the
// JSON form.
type Operation struct {
	Kind OpKind `json:"op"`
	// File is the response file the argument came from; "" means the VISO itself.
	File string `json:"file,omitempty"`
	// Line is the 1-based line of File (or of the VISO) the option or file
	// spec starts on; Arg is that argument as written.
	Line int    `json:"line"`
	Arg  string `json:"arg"`

	Level        *int           `json:"level,omitempty"`
	Style        AttrStyle      `json:"style,omitempty"`
	Mode         *Mode          `json:"mode,omitempty"`
	AddBits      *Mode          `json:"addBits,omitempty"`
	ID           *uint32        `json:"id,omitempty"`
	Path         string         `json:"path,omitempty"`
	Names        []string       `json:"names,omitempty"`
	Source       string         `json:"source,omitempty"`
	Positions    []NamePosition `json:"positions,omitempty"`
	Variant      PushVariant    `json:"variant,omitempty"`
	SkipElTorito bool           `json:"skipElTorito,omitempty"`
	Field        VolumeField    `json:"field,omitempty"`
	Value        *string        `json:"value,omitempty"`
	Enabled      *bool          `json:"enabled,omitempty"`
	Entry        int            `json:"entry,omitempty"`
}

// Error ties err to the argument this operation came from, for errors the
// executor finds while applying it. visoFile is the name used for the VISO
// itself (Options.File); operations from a response file name that file.
func (o *Operation) Error(visoFile string, err error) *argv.Error {
	file := o.File
	if file == "" {
		file = visoFile
	}
	return &argv.Error{File: file, Line: o.Line, Arg: o.Arg, Err: err}
}

// MediaType is the emulation type of a boot entry.
type MediaType string

// Media types. MediaAuto is decided by the executor from the image size: exactly
// 1 228 800 bytes → 1.2 MB floppy, ≤ 1 474 560 → 1.44 MB, ≤ 2 949 120 → 2.88 MB,
// larger → hard disk (§2.7).
const (
	MediaAuto        MediaType = "auto"
	MediaNoEmulation MediaType = "no-emulation"
	MediaFloppy12    MediaType = "floppy-1.2"
	MediaFloppy144   MediaType = "floppy-1.44"
	MediaFloppy288   MediaType = "floppy-2.88"
	MediaHardDisk    MediaType = "hard-disk"
)

// BootCatalog is the El Torito catalog described by the command line.
//
// Default is nil only when the catalog was merely requested (-c or a platform
// id) and an --import-iso is present that may supply the default entry; the
// executor must then fail with "no default entry" if the import brings none.
type BootCatalog struct {
	// Platform is the platform id of the validation entry (and of the default entry).
	Platform uint8         `json:"platformId"`
	Default  *BootEntry    `json:"default,omitempty"`
	Sections []BootSection `json:"sections,omitempty"`
}

// BootSection is a section header and its entries, in catalog order. A section
// may be empty when a platform id was given after the last entry's image.
type BootSection struct {
	Platform uint8       `json:"platformId"`
	Entries  []BootEntry `json:"entries"`
}

// BootEntry is the default entry or a section entry.
type BootEntry struct {
	// Entry numbers boot entries in the order they were started (1 = default);
	// the eltorito-boot and eltorito-add-image operations refer to it.
	Entry int `json:"entry"`
	// Slot is the entry's 32-byte slot in the catalog (0 is the validation
	// entry, section headers take slots too); VirtualBox's "#N" in messages.
	Slot          int       `json:"slot"`
	Bootable      bool      `json:"bootable"`
	Media         MediaType `json:"media"`
	LoadSegment   uint16    `json:"loadSegment"`
	SectorCount   uint16    `json:"sectorCount"`
	BootInfoTable bool      `json:"bootInfoTable"`
	// ImageOp is the index in Plan.Operations of the eltorito-boot or
	// eltorito-add-image operation naming the boot image.
	ImageOp int `json:"imageOp"`
}
