package isomaker

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isoread"
)

// --import-iso (spec §5): the primary tree with verbatim ISO identifiers and
// Rock Ridge data, the Joliet tree matched to it by extent, volume strings, the
// system area and every El Torito entry. File data stays in the source ISO.

// Import errors.
var (
	// ErrImport wraps every failure of --import-iso after the source was
	// opened ("RTFsIsoMakerImport failed" in VirtualBox).
	ErrImport = errors.New("importing ISO failed")
	// ErrImportOpen: the ISO to import (or push) cannot be opened.
	ErrImportOpen = errors.New("cannot open ISO")
	// ErrBootImageRemoved: an imported El Torito entry's image was removed
	// and nothing was added again at its path.
	ErrBootImageRemoved = errors.New("imported boot image was removed")
)

// isoSource serves a file's bytes from an opened ISO (imported or pushed).
//
// BaseExtent is the in-place layout hook documented in package isoimage
// (imported.go): it reports the file's first sector in the base ISO, and ok
// only for files of the first --import-iso read straight from a host file,
// whose bytes are then exactly Size bytes from that sector on.
type isoSource struct {
	r    io.ReaderAt
	lba  uint32
	base bool
}

func (s *isoSource) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }

// BaseExtent reports where the bytes lie in the base ISO (see the type comment).
func (s *isoSource) BaseExtent() (lba uint32, ok bool) { return s.lba, s.base }

// openedISO is an ISO opened for --import-iso or --push-iso*.
type openedISO struct {
	label string // the path as written, for messages
	r     io.ReaderAt
	vol   *isoread.Volume
	view  *isoread.Tree // pushed ISOs: the tree file specs read from
	host  bool          // read straight from a host file (not from inside another ISO)
}

// openISO resolves an ISO path like a source (spec §2.3, §5.1): inside the
// top pushed ISO if one is active, else through the resolver. Host files stay
// open until the image is closed, because file data is read on demand.
func (x *executor) openISO(op *Operation, what string, opts isoread.Options) (*openedISO, error) {
	var r io.ReaderAt
	var size int64
	host := false
	if top := x.topISO(); top != nil {
		e, err := top.view.Lookup(op.Path)
		if err == nil && e.Kind != isoread.KindFile {
			err = fmt.Errorf("%s is a %s: %w", e.Path(), e.Kind, isoread.ErrNotFile)
		}
		if err != nil {
			return nil, fmt.Errorf("%w '%s' inside '%s' for %s: %w", ErrImportOpen, op.Path, top.label, what, err)
		}
		f, err := top.vol.Open(e)
		if err != nil {
			return nil, fmt.Errorf("%w '%s' inside '%s' for %s: %w", ErrImportOpen, op.Path, top.label, what, err)
		}
		r, size = f, f.Size()
	} else {
		f, err := x.opts.Resolver.Open(op.Path)
		if err != nil {
			return nil, fmt.Errorf("%w '%s' for %s: %w", ErrImportOpen, op.Path, what, err)
		}
		fi, err := f.Stat()
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("not a regular file: %w", fs.ErrInvalid)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w '%s' for %s: %w", ErrImportOpen, op.Path, what, err)
		}
		x.closers = append(x.closers, f)
		r, size, host = f, fi.Size(), true
	}
	vol, err := isoread.Open(r, size, opts)
	if err != nil {
		return nil, fmt.Errorf("'%s' is not a usable ISO 9660 medium: %w", op.Path, err)
	}
	return &openedISO{label: op.Path, r: r, vol: vol, host: host}, nil
}

// importer carries one --import-iso.
type importer struct {
	x      *executor
	op     *Operation
	iso    *openedISO
	base   bool // the first import from a host file: its sources report BaseExtent
	rrName bool // take Rock Ridge names (RR level > 0 at import time)

	ids     map[*isoread.Entry]isoimage.ID // primary entries added
	byLBA   map[uint32][]isoimage.ID       // non-empty files (and the catalog) by first sector
	moved   map[uint32]*isoread.Entry      // relocated (RR RE) directories by extent
	catalog *isoread.BootCatalog
}

// importISO carries out --import-iso / --import-iso-skip-eltorito.
func (x *executor) importISO(op *Operation) error {
	iso, err := x.openISO(op, "importing", isoread.Options{})
	if err != nil {
		if !errors.Is(err, ErrImportOpen) {
			err = fmt.Errorf("%w: %w", ErrImport, err)
		}
		return x.fail(op, err)
	}
	im := &importer{
		x: x, op: op, iso: iso,
		base:   iso.host && !x.haveBase,
		rrName: x.tree.RockRidgeLevel() > 0,
		ids:    map[*isoread.Entry]isoimage.ID{},
		byLBA:  map[uint32][]isoimage.ID{},
		moved:  map[uint32]*isoread.Entry{},
	}
	if err := im.run(); err != nil {
		return x.fail(op, fmt.Errorf("%w: '%s': %w", ErrImport, op.Path, err))
	}
	if im.base {
		// The first import from a host file is the base of the in-place
		// layout: its files keep their LBAs (isoimage.Tree.SetBase).
		if err := x.tree.SetBase(isoimage.Base{Size: iso.vol.Size(), Source: iso.r}); err != nil {
			return x.fail(op, fmt.Errorf("%w: '%s': %w", ErrImport, op.Path, err))
		}
		x.haveBase = true
	}
	return nil
}

func (im *importer) run() error {
	x, vol := im.x, im.iso.vol
	prim, err := vol.Primary()
	if err != nil {
		return err
	}
	if !im.op.SkipElTorito && vol.HasBootCatalog() {
		if im.catalog, err = vol.BootCatalog(); err != nil {
			return err
		}
	}
	_ = prim.Walk(func(_ string, e *isoread.Entry) error {
		if e.Kind == isoread.KindDir && e.Relocated {
			im.moved[e.LBA()] = e
		}
		return nil
	})
	if err := im.primary(prim.Root, "", 1); err != nil {
		return err
	}
	if x.joliet > 0 && vol.HasJoliet() {
		jt, err := vol.Joliet()
		if err != nil {
			return err
		}
		if err := im.jolietDir(jt.Root, "", isoimage.RootID, true, 1); err != nil {
			return err
		}
	}
	if prim.RRIP != "" {
		if err := x.tree.SetRockRidgeLevel(2); err != nil {
			return err
		}
	}
	if err := im.volumeStrings(); err != nil {
		return err
	}
	im.systemArea()
	if im.catalog != nil {
		return im.bootEntries()
	}
	return nil
}

func (im *importer) what(e *isoread.Entry) string { return im.iso.label + ":" + e.Path() }

// isoTimes maps the source's record time and RR TF times onto the image's:
// imported entries keep their own times, never the epoch.
func isoTimes(e *isoread.Entry) isoimage.Times {
	ts := e.Times()
	or := func(a, b time.Time) time.Time {
		if a.IsZero() {
			return b
		}
		return a
	}
	return isoimage.Times{Birth: or(ts.Creation, ts.Record), Modify: or(ts.Modify, ts.Record),
		Access: or(ts.Access, ts.Record), Change: or(ts.Attributes, ts.Record)}
}

// fileAttrsOfEntry and dirAttrsOfEntry apply the attribute style and the
// forced modes in force to an ISO entry's Rock Ridge (or default) attributes.
func (x *executor) fileAttrsOfEntry(e *isoread.Entry) isoimage.Attrs {
	return x.fileAttrsFrom(e.Mode&0o7777, e.UID, e.GID, isoTimes(e))
}

func (x *executor) dirAttrsOfEntry(e *isoread.Entry) isoimage.Attrs {
	return x.dirAttrsFrom(e.Mode&0o7777, e.UID, e.GID, isoTimes(e))
}

// specName is the name an imported primary entry gets: its Rock Ridge name
// while Rock Ridge is on (also written as its NM), else the ISO identifier.
// Lookups still find it by the identifier (isoimage falls back to it) and by
// its Joliet name.
func (im *importer) specName(e *isoread.Entry) string {
	if im.rrName && e.Name != "" {
		return e.Name
	}
	return e.Ident
}

// onlyRelocated reports a directory whose every child is a relocated
// directory reached through a CL placeholder elsewhere (mkisofs' rr_moved).
func (im *importer) onlyRelocated(e *isoread.Entry) bool {
	kids := e.Children()
	if len(kids) == 0 {
		return false
	}
	for _, c := range kids {
		if !(c.Kind == isoread.KindDir && c.Relocated) {
			return false
		}
	}
	return true
}

// primary adds the children of dir below dest (a primary spec path).
func (im *importer) primary(dir *isoread.Entry, dest string, depth int) error {
	x := im.x
	if depth > MaxAddDepth {
		return fmt.Errorf("dir at '%s' is too deep: %w", dir.Path(), ErrTooDeep)
	}
	for _, c := range dir.Children() {
		if c.Kind == isoread.KindFile && c.Ident == "TRANS.TBL" {
			continue // generated listings of the source; never copied (spec §5.2)
		}
		if c.Kind == isoread.KindDir && (c.Relocated || im.onlyRelocated(c)) {
			continue // shown at its CL placeholder instead
		}
		e := c
		if c.ChildLink != 0 {
			// A relocated deep directory: follow RR CL so the directory
			// appears where it belongs (VirtualBox keeps the placeholder).
			target, ok := im.moved[c.ChildLink]
			if !ok {
				return fmt.Errorf("'%s': Rock Ridge CL points at LBA %d, which holds no relocated directory: %w", c.Path(), c.ChildLink, isoread.ErrCorrupt)
			}
			e = target
		}
		name := im.specName(c)
		p := path.Join("/", dest, name)
		names := isoimage.Names{Primary: p, ISOName: c.Ident}
		var id isoimage.ID
		var err error
		switch e.Kind {
		case isoread.KindDir:
			id, err = x.tree.AddDir(names, x.dirAttrsOfEntry(e), im.what(c))
			if err == nil {
				im.ids[e] = id
				err = im.primary(e, p, depth+1)
			}
		case isoread.KindFile:
			if im.catalog != nil && im.catalog.File == e {
				// The visible boot catalog: the image's own catalog takes its place.
				if err = x.tree.NameBootCatalog(names); err == nil {
					var ok bool
					if id, ok = x.tree.CatalogID(); ok {
						im.byLBA[e.LBA()] = append(im.byLBA[e.LBA()], id)
					}
				}
				break
			}
			id, err = im.addFile(names, e)
		case isoread.KindSymlink:
			id, err = x.tree.AddSymlink(names, e.Target, x.fileAttrsOfEntry(e), im.what(c))
		case isoread.KindDevice, isoread.KindFIFO, isoread.KindSocket:
			id, err = im.addSpecial(names, e)
		default:
			err = fmt.Errorf("'%s': unknown entry kind %s: %w", c.Path(), e.Kind, isoread.ErrUnsupported)
		}
		if err != nil {
			return err
		}
		if e.Kind != isoread.KindDir {
			im.ids[e] = id
		}
	}
	return nil
}

func (im *importer) addFile(names isoimage.Names, e *isoread.Entry) (isoimage.ID, error) {
	x := im.x
	f, err := im.iso.vol.Open(e)
	if err != nil {
		return 0, err
	}
	src := &isoSource{r: f, lba: e.LBA(), base: im.base}
	id, err := x.tree.AddFile(names, src, f.Size(), x.fileAttrsOfEntry(e), im.what(e))
	if err != nil {
		return 0, err
	}
	if e.Size > 0 {
		im.byLBA[e.LBA()] = append(im.byLBA[e.LBA()], id)
	}
	return id, nil
}

func (im *importer) addSpecial(names isoimage.Names, e *isoread.Entry) (isoimage.ID, error) {
	var typ isoimage.SpecialType
	switch e.Mode & isoread.ModeTypeMask {
	case isoread.ModeChar:
		typ = isoimage.CharDevice
	case isoread.ModeBlock:
		typ = isoimage.BlockDevice
	case isoread.ModeFIFO:
		typ = isoimage.FIFO
	case isoread.ModeSocket:
		typ = isoimage.Socket
	default:
		return 0, fmt.Errorf("'%s': special file with mode %o: %w", e.Path(), e.Mode, isoread.ErrUnsupported)
	}
	// PN holds the two halves of a glibc-encoded dev_t (as isoimage writes it).
	dev := uint64(e.DevHigh)<<32 | uint64(e.DevLow)
	major := uint32(dev>>8&0xfff | dev>>32&^0xfff)
	minor := uint32(dev&0xff | dev>>12&^0xff)
	return im.x.tree.AddSpecial(names, typ, major, minor, im.x.fileAttrsOfEntry(e), im.what(e))
}

// jolietDir names the Joliet tree below jdir. Files are matched with primary
// objects by their first sector (each file is stored once), empty files and
// directories by name below the matching primary directory; what matches
// nothing becomes a Joliet-only object.
func (im *importer) jolietDir(jdir *isoread.Entry, dest string, primDir isoimage.ID, havePrim bool, depth int) error {
	x := im.x
	if depth > MaxAddDepth {
		return fmt.Errorf("joliet directory at '%s' is too deep: %w", jdir.Path(), ErrTooDeep)
	}
	for _, c := range jdir.Children() {
		if c.Kind == isoread.KindFile && c.Ident == "TRANS.TBL" {
			continue
		}
		jp := path.Join("/", dest, c.Name)
		match, matched := im.jolietMatch(c, primDir, havePrim)
		switch c.Kind {
		case isoread.KindDir:
			if matched {
				if err := x.tree.AddName(match, isoimage.Joliet, jp, ""); err != nil {
					return err
				}
			} else if _, err := x.tree.AddDir(isoimage.Names{Joliet: jp}, x.dirAttrsOfEntry(c), im.what(c)); err != nil {
				return err
			}
			if err := im.jolietDir(c, jp, match, matched, depth+1); err != nil {
				return err
			}
		case isoread.KindFile:
			if matched {
				if err := x.tree.AddName(match, isoimage.Joliet, jp, ""); err != nil {
					return err
				}
				continue
			}
			if _, err := im.addFile(isoimage.Names{Joliet: jp}, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// jolietMatch finds the primary object a Joliet entry stands for.
func (im *importer) jolietMatch(c *isoread.Entry, primDir isoimage.ID, havePrim bool) (isoimage.ID, bool) {
	t := im.x.tree
	free := func(id isoimage.ID) bool { return !t.HasName(id, isoimage.Joliet) }
	if c.Kind == isoread.KindFile && c.Size > 0 {
		cands := im.byLBA[c.LBA()]
		for _, id := range cands { // same directory first (hard links elsewhere)
			if p, ok := t.PrimaryParent(id); ok && havePrim && p == primDir && free(id) {
				return id, true
			}
		}
		for _, id := range cands {
			if free(id) {
				return id, true
			}
		}
		return 0, false
	}
	if !havePrim {
		return 0, false
	}
	id, ok := t.Lookup(isoimage.Primary, path.Join("/", t.Path(primDir), c.Name))
	if !ok || id == isoimage.RootID || !free(id) {
		return 0, false
	}
	if p, ok := t.PrimaryParent(id); !ok || p != primDir {
		return 0, false
	}
	if (c.Kind == isoread.KindDir) != t.IsDir(id) || (c.Kind == isoread.KindFile && !t.IsFile(id)) {
		return 0, false
	}
	return id, true
}

// volumeStrings copies the non-blank identifiers except the data preparer
// and the application id (spec §5.2); they overwrite earlier values.
func (im *importer) volumeStrings() error {
	set := func(ns isoimage.Namespaces, info *isoread.VolumeInfo) error {
		for _, f := range []struct {
			field isoimage.VolumeField
			value string
		}{
			{isoimage.SystemID, info.SystemID}, {isoimage.VolumeID, info.VolumeID},
			{isoimage.VolumeSetID, info.VolumeSetID}, {isoimage.PublisherID, info.PublisherID},
			{isoimage.CopyrightFileID, info.CopyrightFileID}, {isoimage.AbstractFileID, info.AbstractFileID},
			{isoimage.BibliographicFileID, info.BibliographicFileID},
		} {
			v := f.value
			if ns == isoimage.Primary {
				v = strings.ToValidUTF8(v, "")
			}
			if strings.TrimRight(v, " \x00") == "" {
				continue
			}
			if err := im.x.tree.SetVolumeString(ns, f.field, v); err != nil {
				return fmt.Errorf("volume string: %w", err)
			}
		}
		return nil
	}
	p := im.iso.vol.PrimaryInfo()
	if err := set(isoimage.Primary, &p); err != nil {
		return err
	}
	if j := im.iso.vol.JolietInfo(); j != nil && im.x.joliet > 0 {
		return set(isoimage.Joliet, j)
	}
	return nil
}

// systemArea copies sectors 0-15 unless all zero, without trailing zero sectors.
func (im *importer) systemArea() {
	sa := im.iso.vol.SystemArea()
	end := len(sa)
	for end > 0 && allZero(sa[max(0, end-isoread.SectorSize):end]) {
		end -= min(end, isoread.SectorSize)
	}
	if end == 0 {
		return
	}
	im.x.tree.SetSystemArea(append([]byte(nil), sa[:end]...))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
