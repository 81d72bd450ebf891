package isomaker

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isoread"
)

// --push-iso* / --pop (spec §2.3, §3.5): while an ISO is pushed, every file
// spec source (absolute or relative) names a path inside it. The parser bounds
// the nesting (MaxPushes) and pairs every --pop with a push.

// ErrSourceNotFound: a file spec source that does not exist inside the pushed ISO.
var ErrSourceNotFound = errors.New("source not found")

// maxLinkHops bounds how many symlinks a top-level source inside a pushed
// Rock Ridge view may go through (a loop fails instead of hanging).
const maxLinkHops = 8

// topISO is the pushed ISO file specs read from, or nil for the host.
func (x *executor) topISO() *openedISO {
	if len(x.stack) == 0 {
		return nil
	}
	return x.stack[len(x.stack)-1]
}

func (x *executor) pushISO(op *Operation) error {
	noJoliet := op.Variant == PushNoJoliet || op.Variant == PushNoRockNoJoliet
	noRock := op.Variant == PushNoRock || op.Variant == PushNoRockNoJoliet
	iso, err := x.openISO(op, "pushing", isoread.Options{NoJoliet: noJoliet, NoRockRidge: noRock})
	if errors.Is(err, ErrImportOpen) {
		return x.fail(op, err)
	}
	if err != nil {
		return x.fail(op, fmt.Errorf("failed to open '%s' as ISO FS: %w", op.Path, err))
	}
	if iso.view, err = iso.vol.PushView(noJoliet, noRock); err != nil {
		return x.fail(op, fmt.Errorf("failed to open '%s' as ISO FS: %w", op.Path, err))
	}
	x.stack = append(x.stack, iso)
	return nil
}

// pop returns to the previous source. The ISO stays open: the files copied
// out of it are read on demand for the image's lifetime.
func (x *executor) pop(op *Operation) error {
	if len(x.stack) == 0 {
		return x.fail(op, ErrPopWithoutPush)
	}
	x.stack = x.stack[:len(x.stack)-1]
	return nil
}

// lookupInISO resolves a source path inside a pushed ISO, following
// symlinks of the view at the top level as host sources are followed.
func lookupInISO(iso *openedISO, src string) (*isoread.Entry, error) {
	p := path.Clean("/" + src)
	for range maxLinkHops + 1 {
		e, err := iso.view.Lookup(p)
		if err != nil {
			return nil, fmt.Errorf("%w: RTVfsQueryPathInfo failed on %s (inside %s): %w", ErrSourceNotFound, src, iso.label, err)
		}
		if e.Kind != isoread.KindSymlink {
			return e, nil
		}
		if path.IsAbs(e.Target) {
			p = path.Clean(e.Target)
		} else {
			p = path.Join(path.Dir(e.Path()), e.Target)
		}
	}
	return nil, fmt.Errorf("%w: %s (inside %s): more than %d symbolic links", ErrSourceNotFound, src, iso.label, maxLinkHops)
}

// addFromISO is add for a source inside the top pushed ISO.
func (x *executor) addFromISO(op *Operation, names isoimage.Names, iso *openedISO) (isoimage.ID, error) {
	e, err := lookupInISO(iso, op.Source)
	if err != nil {
		return 0, x.fail(op, err)
	}
	what := iso.label + ":" + e.Path()
	switch e.Kind {
	case isoread.KindFile:
		id, err := x.addISOFile(names, iso, e, what)
		return id, x.wrap(op, err)
	case isoread.KindDir:
		id, _, err := x.tree.MergeDir(names, x.dirAttrsOfEntry(e), what)
		if err != nil {
			return 0, x.fail(op, err)
		}
		return id, x.addISOTree(op, names, iso, e, 1)
	default:
		return 0, x.fail(op, fmt.Errorf("adding special file '%s' failed: %w", what, ErrSpecialFile))
	}
}

func (x *executor) addISOFile(names isoimage.Names, iso *openedISO, e *isoread.Entry, what string) (isoimage.ID, error) {
	f, err := iso.vol.Open(e)
	if err != nil {
		return 0, fmt.Errorf("error opening '%s': %w", what, err)
	}
	return x.tree.AddFile(names, &isoSource{r: f, lba: e.LBA()}, f.Size(), x.fileAttrsOfEntry(e), what)
}

// addISOTree copies the children of an ISO directory below dest, recursively,
// with the rules of a host directory add (spec §3.6): names from the view,
// TRANS.TBL skipped, symlinks and special files abort.
func (x *executor) addISOTree(op *Operation, dest isoimage.Names, iso *openedISO, dir *isoread.Entry, depth int) error {
	if depth > MaxAddDepth {
		return x.fail(op, fmt.Errorf("%w (depth=%d): %s:%s", ErrTooDeep, MaxAddDepth, iso.label, dir.Path()))
	}
	for _, c := range dir.Children() {
		if c.Kind == isoread.KindFile && (c.Name == "" || strings.EqualFold(c.Name, "TRANS.TBL")) {
			continue
		}
		names := isoimage.Names{}
		if dest.Primary != "" {
			names.Primary = path.Join(dest.Primary, c.Name)
		}
		if dest.Joliet != "" {
			names.Joliet = path.Join(dest.Joliet, c.Name)
		}
		what := iso.label + ":" + c.Path()
		switch c.Kind {
		case isoread.KindFile:
			if _, err := x.addISOFile(names, iso, c, what); err != nil {
				return x.fail(op, err)
			}
		case isoread.KindDir:
			if _, err := x.tree.AddDir(names, x.dirAttrsOfEntry(c), what); err != nil {
				return x.fail(op, err)
			}
			if err := x.addISOTree(op, names, iso, c, depth+1); err != nil {
				return err
			}
		case isoread.KindSymlink:
			return x.fail(op, fmt.Errorf("adding symlink '%s' failed: %w", what, ErrSymlinkInTree))
		default:
			return x.fail(op, fmt.Errorf("adding special file '%s' failed: %w", what, ErrSpecialFile))
		}
	}
	return nil
}
