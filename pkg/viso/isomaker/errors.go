package isomaker

import "errors"

// Sentinel errors. Every error returned by Parse is an *argv.Error whose Err
// chain contains exactly one of these, so callers (and tests) can branch with
// errors.Is without matching message texts. The comments give the IPRT status
// VirtualBox reports for the same situation.
var (
	// ErrUnknownOption: an argument starting with an ASCII dash that names no
	// option (VERR_GETOPT_UNKNOWN_OPTION).
	ErrUnknownOption = errors.New("unknown option")
	// ErrUnsupportedOption: a recognised mkisofs compatibility option that the
	// ISO maker does not implement (VirtualBox: "Unhandled option").
	ErrUnsupportedOption = errors.New("option not supported")
	// ErrMissingValue: a value-taking option is the last argument
	// (VERR_GETOPT_REQUIRED_ARGUMENT_MISSING).
	ErrMissingValue = errors.New("required argument missing")
	// ErrInvalidValue: a malformed number or octal mode
	// (VERR_GETOPT_INVALID_ARGUMENT_FORMAT).
	ErrInvalidValue = errors.New("invalid argument format")
	// ErrHelpVersion: --help / --version and their aliases, which a VISO cannot
	// use (VERR_NOT_FOUND).
	ErrHelpVersion = errors.New("help and version options are not available in a VISO")
	// ErrOutputNotAllowed: -o / --output.
	ErrOutputNotAllowed = errors.New("the --output option is not allowed")
	// ErrLevel: ISO level or Joliet UCS level out of range (VERR_INVALID_PARAMETER).
	ErrLevel = errors.New("invalid level")
	// ErrNameSetup: a bad --name-setup value, or --graft-points.
	ErrNameSetup = errors.New("invalid name setup")
	// ErrNameSetupEmpty: --name-setup-from-import before any content (VERR_DRIVE_IS_EMPTY).
	ErrNameSetupEmpty = errors.New("--name-setup-from-import used on an empty ISO")
	// ErrFileSpec: a malformed file specification (too many names, name too
	// long, empty source).
	ErrFileSpec = errors.New("invalid file specification")
	// ErrInvalidName: a destination whose final component is "." or ".." (VERR_INVALID_NAME).
	ErrInvalidName = errors.New("invalid name")
	// ErrVFSChain: an ":iprtvfs:" VFS chain path, which this implementation does not support.
	ErrVFSChain = errors.New("IPRT VFS chain specifications are not supported")
	// ErrEmptyPath: an option whose value must be a path was given an empty one.
	ErrEmptyPath = errors.New("empty path")
	// ErrTooManyPushes: more than MaxPushes nested --push-iso* (VERR_NOT_IMPLEMENTED).
	ErrTooManyPushes = errors.New("too many nested --push-iso options")
	// ErrPopWithoutPush: --pop with nothing pushed (VERR_NOT_FOUND).
	ErrPopWithoutPush = errors.New("--pop without --push-xxx")
	// ErrAttrSpec: a malformed --chmod / --chown / --chgrp value.
	ErrAttrSpec = errors.New("malformed attribute change")
	// ErrPlatformID: an unknown El Torito platform id.
	ErrPlatformID = errors.New("invalid or unknown platform ID")
	// ErrBootImageTwice: a second boot image for the same El Torito entry.
	ErrBootImageTwice = errors.New("boot image already given for current El Torito entry")
	// ErrTooManyBootEntries: the boot catalog would exceed MaxBootCatalogSlots
	// (VERR_BUFFER_OVERFLOW).
	ErrTooManyBootEntries = errors.New("too many boot catalog entries")
	// ErrBootEntryNoImage: a boot entry was started but never given an image.
	ErrBootEntryNoImage = errors.New("no image name given for boot catalog entry")
	// ErrBootNoDefaultEntry: a boot catalog was requested (-c or a platform id)
	// but no entry was ever created (VERR_ISOMK_BOOT_CAT_NO_DEFAULT_ENTRY).
	ErrBootNoDefaultEntry = errors.New("boot catalog has no default entry")
	// ErrEmptyImage: nothing was added (VERR_NO_DATA).
	ErrEmptyImage = errors.New("cowardly refuses to create empty ISO image")
	// ErrResponseFile: an @file could not be used (refused, unreadable, too
	// big, bad encoding, bad quoting, or nested too deeply).
	ErrResponseFile = errors.New("response file error")
)
