package isoread

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (callers branch with errors.Is) and adds context naming the structure and
// the LBA at fault.
var (
	// ErrNotISO9660: no ISO 9660 volume descriptor set at sector 16
	// (VERR_ISOMK_IMPORT_UNKNOWN_FORMAT, "Invalid volume descriptor header").
	ErrNotISO9660 = errors.New("not an ISO 9660 medium")
	// ErrUDFOnly: the medium carries UDF descriptors but no primary volume
	// descriptor; only ISO 9660/Joliet/Rock Ridge trees are read.
	ErrUDFOnly = errors.New("no primary volume descriptor: UDF is not supported")
	// ErrCorrupt: a structure is malformed (bad record lengths, fields out
	// of range, extents past the end of the medium, ...).
	ErrCorrupt = errors.New("corrupt ISO 9660 structure")
	// ErrLoop: a directory or continuation area is reached twice.
	ErrLoop = errors.New("loop in ISO 9660 structure")
	// ErrTooDeep: a directory lies deeper than the depth limit.
	ErrTooDeep = errors.New("directory too deep")
	// ErrLimit: a configured bound (entries, directory bytes, ...) was hit.
	ErrLimit = errors.New("limit exceeded")
	// ErrMultiExtent: a multi-extent file is not contiguous, not block
	// aligned or not terminated (VERR_ISOMK_IMPORT_NON_CONTIGUOUS_MULTI_EXTENT,
	// ..._MISALIGNED_MULTI_EXTENT).
	ErrMultiExtent = errors.New("bad multi-extent file")
	// ErrInvalidName: a name that cannot be a path component ("Invalid name at ...").
	ErrInvalidName = errors.New("invalid name")
	// ErrBootCatalog: the El Torito boot record or catalog is malformed.
	ErrBootCatalog = errors.New("invalid El Torito boot catalog")
	// ErrUnsupported: a valid but unsupported ISO 9660 feature
	// (several volumes in a set, interleaved files, block size other than 2048).
	ErrUnsupported = errors.New("unsupported ISO 9660 feature")
	// ErrNotFound: Lookup found no entry, or the medium has no such tree.
	ErrNotFound = errors.New("not found")
	// ErrNotFile: Open was given a directory, symlink or device.
	ErrNotFile = errors.New("not a regular file")
)
