package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Sentinel errors callers branch on with errors.Is. Every error returned by a
// Resolver is an *Error that unwraps to one of these (when one applies) and to
// the underlying operating-system error.
var (
	// ErrOutsideRoot: the path (lexically, or through a symlink) leaves the folder
	// it must stay in, or an absolute path lies under no media root.
	ErrOutsideRoot = errors.New("path leaves the allowed folders")
	// ErrSpecialFile: the object is a device, FIFO, socket or other non-regular,
	// non-directory file, or the operation needs a regular file and got a directory.
	ErrSpecialFile = errors.New("refused file type")
	// ErrNotFound: the path does not exist (or a component of it is not a
	// directory). It also matches fs.ErrNotExist.
	ErrNotFound error = notFoundError{}
	// ErrTooLarge: ReadFile met a file larger than the caller's limit.
	ErrTooLarge = errors.New("file too large")
)

type notFoundError struct{}

func (notFoundError) Error() string { return "no such file or directory" }

// Is lets errors.Is(err, fs.ErrNotExist) hold for every ErrNotFound.
func (notFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// Error describes a refused or failed operation. Path is the path as the caller
// wrote it, Root the folder it was resolved in ("" when it matched none).
type Error struct {
	Op   string // "open", "stat", "lstat", "readdir", "readfile", "remove", "locate"
	Path string
	Root string
	Kind error // one of the sentinels above, or nil
	Err  error // the underlying cause, or nil
}

func (e *Error) Error() string {
	where := "no matching root"
	if e.Root != "" {
		where = "root " + e.Root
	}
	msg := fmt.Sprintf("%s %q (%s)", e.Op, e.Path, where)
	switch {
	case e.Kind != nil && e.Err != nil && e.Err.Error() != e.Kind.Error():
		return msg + ": " + e.Kind.Error() + ": " + e.Err.Error()
	case e.Kind != nil:
		return msg + ": " + e.Kind.Error()
	case e.Err != nil:
		return msg + ": " + e.Err.Error()
	default:
		return msg + ": failed"
	}
}

// Unwrap exposes both the sentinel and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// osPathEscapes is the text of the (unexported) error os.Root returns when a
// path or a symlink target would leave the root. It is matched by text because
// os does not export it; TestEscapeDetection fails if a Go release changes it.
const osPathEscapes = "path escapes from parent"

// classify maps an error from os.Root onto our sentinels.
func classify(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == osPathEscapes {
		return ErrOutsideRoot
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		// IPRT reports a non-directory in the middle of a path as "path not
		// found"; callers want one "does not exist" branch for both.
		return ErrNotFound
	}
	return nil
}

// wrap builds the *Error for a failed os.Root operation.
func (r *Resolver) wrap(op, path string, rt *root, err error) error {
	if err == nil {
		return nil
	}
	var our *Error
	if errors.As(err, &our) {
		return err
	}
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// The PathError repeats the relative path; keep only its errno/cause so the
		// message names the path once, as the caller wrote it.
		cause = pe.Err
	}
	if cause != nil && cause.Error() == osPathEscapes {
		// The sentinel already says it; the raw text adds nothing.
		cause = nil
	}
	return &Error{Op: op, Path: path, Root: rootName(rt), Kind: classify(err), Err: cause}
}

func rootName(rt *root) string {
	if rt == nil {
		return ""
	}
	return rt.dir
}

// isSpecial reports whether a mode is anything other than a regular file or a
// directory (symlinks count as special: callers that accept them follow first).
func isSpecial(m os.FileMode) bool {
	return !m.IsRegular() && !m.IsDir()
}
