package isoimage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Operations wrap them in *NameError (or with fmt.Errorf
// context); callers branch with errors.Is. The texts follow the status names the
// IPRT ISO maker reports (format spec §8.3, §8.5) in plain words.
var (
	// ErrAlreadyExists: the name is taken in that directory (VERR_ALREADY_EXISTS).
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotADirectory: a path component is a file, or a file path ends in '/' (VERR_NOT_A_DIRECTORY).
	ErrNotADirectory = errors.New("not a directory")
	// ErrInvalidName: the final component is "." or "..", or the path is empty (VERR_INVALID_NAME).
	ErrInvalidName = errors.New("invalid name")
	// ErrFileTooBig: a file of 4 GiB or more named under ISO level 1 or 2
	// (VERR_ISOMK_FILE_TOO_BIG_REQ_ISO_LEVEL_3).
	ErrFileTooBig = errors.New("file too big, requires ISO level 3")
	// ErrNotFound: no object at that path (VERR_NOT_FOUND).
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied: removing the root or the boot catalog (VERR_ACCESS_DENIED).
	ErrAccessDenied = errors.New("access denied")
	// ErrInvalidParameter: an out-of-range level or value (VERR_INVALID_PARAMETER).
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrNameConflict: no unique ISO 9660 name could be made (numeric infixes exhausted).
	ErrNameConflict = errors.New("no unique ISO 9660 name left")
	// ErrNameTooLong: a directory record would exceed 255 bytes (VERR_FILENAME_TOO_LONG).
	ErrNameTooLong = errors.New("name too long")
	// ErrNoData: nothing in the primary namespace (VERR_NO_DATA).
	ErrNoData = errors.New("no primary ISO 9660 tree")
	// ErrNoDefaultEntry: a boot catalog without a default entry (VERR_ISOMK_BOOT_CAT_NO_DEFAULT_ENTRY).
	ErrNoDefaultEntry = errors.New("boot catalog has no default entry")
	// ErrNoBootImage: a boot catalog entry without an image.
	ErrNoBootImage = errors.New("no image for boot catalog entry")
	// ErrBootImageMissing: a boot entry's image object was removed or is not a file.
	ErrBootImageMissing = errors.New("unable to locate boot image")
	// ErrTooManyBootEntries: more than 63 catalog entries (VERR_BUFFER_OVERFLOW).
	ErrTooManyBootEntries = errors.New("too many boot catalog entries")
	// ErrFinalized: the tree was already finalised; it cannot change any more.
	ErrFinalized = errors.New("tree already finalized")
	// ErrSourceShrank: a source returned fewer bytes than its recorded size.
	ErrSourceShrank = errors.New("source is shorter than its recorded size")
	// ErrImageTooLarge: the layout does not fit 32-bit sector numbers, or a
	// tree has more directories than 16-bit path table parent numbers allow.
	ErrImageTooLarge = errors.New("image too large")
)

// NameError reports a failed naming operation in the words of the ISO maker:
// "Error setting name '<path>' on '<source>': <cause>".
type NameError struct {
	Path   string // destination path as given
	Source string // what was being named (host path, "boot catalog", ...)
	Err    error  // one of the sentinels above, possibly wrapped
}

func (e *NameError) Error() string {
	return fmt.Sprintf("Error setting name '%s' on '%s': %v", e.Path, e.Source, e.Err)
}

func (e *NameError) Unwrap() error { return e.Err }

// PathError reports a failed operation on an existing path (remove, chmod, ...).
type PathError struct {
	Op   string // "remove", "chmod", "chown", "chgrp", "finalize"
	Path string
	Err  error
}

func (e *PathError) Error() string { return fmt.Sprintf("%s '%s': %v", e.Op, e.Path, e.Err) }

func (e *PathError) Unwrap() error { return e.Err }
