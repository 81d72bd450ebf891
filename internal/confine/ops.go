package confine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// openFlags: read-only; O_NONBLOCK so that, should a FIFO be swapped in between
// the Stat and the open, the open returns at once instead of waiting for a
// writer; O_NOCTTY so a terminal device can never become our controlling tty.
// os.Root adds O_NOFOLLOW|O_CLOEXEC per component and follows symlinks itself,
// only inside the root. O_NONBLOCK has no effect on reads of regular files or
// directories, the only kinds we hand out.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// Open opens path read-only. Only regular files and directories are returned;
// a final symlink is followed if it stays inside its root.
//
// The type is checked twice: with a Stat before opening (so a device or FIFO is
// never opened at all: opening some devices has side effects) and with a Stat
// of the open handle (so an object swapped in after the first check is still
// refused).
func (r *Resolver) Open(path string) (*os.File, error) {
	return r.open("open", path)
}

func (r *Resolver) open(op, path string) (*os.File, error) {
	rt, rel, err := r.locate(op, path)
	if err != nil {
		return nil, err
	}
	fi, err := rt.os.Stat(rel)
	if err != nil {
		if p, ok, cerr := r.fromCatalog(rt, rel, err); ok || cerr != nil {
			if cerr != nil {
				return nil, &Error{Op: op, Path: path, Kind: ErrNotFound, Err: cerr}
			}
			return os.Open(p) // the cache's own verified file
		}
		return nil, r.wrap(op, path, rt, err)
	}
	if isSpecial(fi.Mode()) {
		return nil, specialErr(op, path, rt, fi.Mode())
	}
	f, err := rt.os.OpenFile(rel, openFlags, 0)
	if err != nil {
		return nil, r.wrap(op, path, rt, err)
	}
	fi, err = f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, r.wrap(op, path, rt, err)
	}
	if isSpecial(fi.Mode()) {
		_ = f.Close()
		return nil, specialErr(op, path, rt, fi.Mode())
	}
	return f, nil
}

func specialErr(op, path string, rt *root, m fs.FileMode) error {
	return &Error{Op: op, Path: path, Root: rootName(rt), Kind: ErrSpecialFile,
		Err: errors.New(typeName(m))}
}

// typeName names a file type for messages.
func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	default:
		return "irregular file"
	}
}

// Stat returns the file information of path, following a final symlink as long
// as it stays inside its root. Special files are reported, not refused: callers
// decide what to do with them (the ISO maker fails with its own message).
func (r *Resolver) Stat(path string) (fs.FileInfo, error) {
	rt, rel, err := r.locate("stat", path)
	if err != nil {
		return nil, err
	}
	fi, err := rt.os.Stat(rel)
	if err != nil {
		if p, ok, cerr := r.fromCatalog(rt, rel, err); ok || cerr != nil {
			if cerr != nil {
				return nil, &Error{Op: "stat", Path: path, Kind: ErrNotFound, Err: cerr}
			}
			return os.Stat(p)
		}
		return nil, r.wrap("stat", path, rt, err)
	}
	return fi, nil
}

// Lstat is Stat without following a final symlink (intermediate symlinks are
// still followed, inside the root only).
func (r *Resolver) Lstat(path string) (fs.FileInfo, error) {
	rt, rel, err := r.locate("lstat", path)
	if err != nil {
		return nil, err
	}
	fi, err := rt.os.Lstat(rel)
	if err != nil {
		if p, ok, cerr := r.fromCatalog(rt, rel, err); ok || cerr != nil {
			if cerr != nil {
				return nil, &Error{Op: "lstat", Path: path, Kind: ErrNotFound, Err: cerr}
			}
			return os.Stat(p)
		}
		return nil, r.wrap("lstat", path, rt, err)
	}
	return fi, nil
}

// ReadDir lists the directory path in the order the file system returns its
// entries (not sorted: the ISO maker's object order follows the read order).
// Entries are not filtered; the caller refuses symlinks and special files by
// entry type, and opens children through the Resolver again.
func (r *Resolver) ReadDir(path string) ([]fs.DirEntry, error) {
	f, err := r.open("readdir", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		rt, _, _ := r.locate("readdir", path)
		return nil, r.wrap("readdir", path, rt, err)
	}
	return ents, nil
}

// ReadFile returns the content of the regular file path, refusing (ErrTooLarge)
// a file larger than max bytes. The limit is enforced on the bytes read, not
// only the size reported by Stat, so a growing file cannot exceed it.
func (r *Resolver) ReadFile(path string, max int64) ([]byte, error) {
	f, err := r.open("readfile", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rt, _, _ := r.locate("readfile", path)
	fi, err := f.Stat()
	if err != nil {
		return nil, r.wrap("readfile", path, rt, err)
	}
	if fi.IsDir() {
		return nil, specialErr("readfile", path, rt, fi.Mode())
	}
	if max < 0 {
		max = 0
	}
	if fi.Size() > max {
		return nil, &Error{Op: "readfile", Path: path, Root: rootName(rt), Kind: ErrTooLarge,
			Err: fmt.Errorf("%d bytes, limit %d", fi.Size(), max)}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, r.wrap("readfile", path, rt, err)
	}
	if int64(len(data)) > max {
		return nil, &Error{Op: "readfile", Path: path, Root: rootName(rt), Kind: ErrTooLarge,
			Err: fmt.Errorf("more than %d bytes", max)}
	}
	return data, nil
}

// Remove deletes the regular file or symlink path. It never follows a final
// symlink: removing a symlink removes the link itself and leaves its target
// alone, wherever that points. Directories, devices, FIFOs and sockets are
// refused with ErrSpecialFile; paths leaving the root with ErrOutsideRoot
// (including through a symlinked directory in the middle of the path).
//
// The type check and the unlink are two steps; an object swapped in between is
// at worst an empty directory (os.Root's remove deletes those too) inside the
// same root, never anything outside it.
func (r *Resolver) Remove(path string) error {
	rt, rel, err := r.locate("remove", path)
	if err != nil {
		return err
	}
	if rel == "." {
		return &Error{Op: "remove", Path: path, Root: rt.dir, Kind: ErrSpecialFile, Err: errors.New("directory")}
	}
	fi, err := rt.os.Lstat(rel)
	if err != nil {
		return r.wrap("remove", path, rt, err)
	}
	if m := fi.Mode(); !m.IsRegular() && m&fs.ModeSymlink == 0 {
		return specialErr("remove", path, rt, m)
	}
	if err := rt.os.Remove(rel); err != nil {
		return r.wrap("remove", path, rt, err)
	}
	return nil
}
