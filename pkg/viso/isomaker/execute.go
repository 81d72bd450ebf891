package isomaker

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/internal/hostfile"
	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
)

// Epoch is the one time csi-viso writes into every image it builds from host
// files: volume creation/modification dates, the default volume id, and the
// times of every directory and file taken from the host. Host file times and the
// wall clock would make two nodes (each with its own staged copy of a ConfigMap)
// produce different bytes for the same VISO; KubeVirt live migration and
// multi-attach need them identical. Imported ISO entries keep their own times.
var Epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Executor errors (in addition to the isoimage and confine sentinels they wrap).
var (
	// ErrSymlinkInTree: a symlink met while adding a directory recursively (VERR_NOT_IMPLEMENTED in 7.0/7.1).
	ErrSymlinkInTree = errors.New("symlinks inside an added directory are not supported")
	// ErrSpecialFile: a FIFO, socket or device met while adding a directory.
	ErrSpecialFile = errors.New("special files cannot be added")
	// ErrTooDeep: a recursive add deeper than MaxAddDepth.
	ErrTooDeep = errors.New("recursive directory add too deep")
	// ErrNothingRemoved: :must-remove: found nothing.
	ErrNothingRemoved = errors.New("nothing to remove")
	// ErrChangeTargetMissing: --chmod/--chown/--chgrp of a path that does not exist.
	ErrChangeTargetMissing = errors.New("path not found")
	// ErrBootImageNotFound: an -b / --eltorito-boot path that names no file at the end.
	ErrBootImageNotFound = errors.New("unable to locate boot image")
)

// MaxAddDepth is the deepest recursive directory add (spec §3.6).
const MaxAddDepth = 32

// maxSystemArea is the size of the ISO 9660 system area (sectors 0-15).
const maxSystemArea = 32 * 1024

// BuildOptions configures Build.
type BuildOptions struct {
	// File is the VISO name used in error messages.
	File string
	// Resolver confines every source path (relative: the VISO's folder;
	// absolute: media roots). Build does not close it; the image keeps using it.
	Resolver *confine.Resolver
	// Epoch overrides Epoch (tests); zero means Epoch.
	Epoch time.Time
	// MaxOpenFiles bounds the host files kept open while serving (0: default).
	MaxOpenFiles int
}

// Built is a synthesised image plus the host files it reads from.
type Built struct {
	*isoimage.Image
	files *hostfile.Pool
	isos  []io.Closer // imported and pushed ISOs, read on demand
}

// Close releases the host files the image holds open. The Resolver is the
// caller's to close.
func (b *Built) Close() error {
	err := b.files.Close()
	for _, c := range b.isos {
		err = errors.Join(err, c.Close())
	}
	return err
}

// Build executes plan against a fresh namespace tree and lays out the image.
// Every error is an *argv.Error naming the VISO (or response file), the line
// and the argument of the operation at fault.
func Build(plan *Plan, opts BuildOptions) (*Built, error) {
	if opts.Resolver == nil {
		return nil, errors.New("isomaker.Build: no resolver")
	}
	epoch := opts.Epoch
	if epoch.IsZero() {
		epoch = Epoch
	}
	pool := hostfile.NewPool(opts.Resolver, opts.MaxOpenFiles)
	x := &executor{
		opts:       opts,
		tree:       isoimage.New(isoimage.Config{Epoch: epoch, SystemID: "LINUX.AMD64", ApplicationID: "CSI-VISO"}),
		pool:       pool,
		epoch:      epoch,
		positions:  defaultPositions(),
		joliet:     3,
		style:      StyleRational,
		addedBoot:  map[int]isoimage.ID{},
		bootByPath: map[int]*Operation{},
	}
	img, err := x.run(plan)
	if err != nil {
		pool.Close()
		for _, c := range x.closers {
			c.Close()
		}
		return nil, err
	}
	return &Built{Image: img, files: pool, isos: x.closers}, nil
}

func defaultPositions() []NamePosition {
	return []NamePosition{{Namespaces: []Namespace{NSPrimary, NSJoliet}}}
}

type executor struct {
	opts  BuildOptions
	tree  *isoimage.Tree
	pool  *hostfile.Pool
	epoch time.Time

	positions []NamePosition
	joliet    int // current Joliet UCS level: names enter Joliet only while > 0
	style     AttrStyle
	fileMode  *Mode
	dirMode   *Mode

	addedBoot  map[int]isoimage.ID // boot entry number -> image added by --eltorito-add-image
	bootByPath map[int]*Operation  // boot entry number -> its -b operation

	stack    []*openedISO     // --push-iso* not yet popped; the top is the source of file specs
	closers  []io.Closer      // host files of imported and pushed ISOs, closed with the image
	haveBase bool             // the first host-file import (the in-place base) was done
	imported *importedCatalog // El Torito entries of the last import that had a catalog
}

func (x *executor) fail(op *Operation, err error) error { return op.Error(x.opts.File, err) }

func (x *executor) run(plan *Plan) (*isoimage.Image, error) {
	for i := range plan.Operations {
		op := &plan.Operations[i]
		if err := x.apply(op); err != nil {
			return nil, err
		}
	}
	if plan.ElTorito != nil || x.imported != nil {
		if err := x.bootCatalog(plan); err != nil {
			return nil, err
		}
	}
	img, err := x.tree.Finalize()
	if err != nil {
		return nil, &finalizeError{file: x.opts.File, err: err}
	}
	return img, nil
}

// finalizeError is a layout failure that belongs to no single argument.
type finalizeError struct {
	file string
	err  error
}

func (e *finalizeError) Error() string {
	return fmt.Sprintf("%s: laying out the image: %v", e.file, e.err)
}
func (e *finalizeError) Unwrap() error { return e.err }

func (x *executor) apply(op *Operation) error {
	switch op.Kind {
	case OpISOLevel:
		return x.wrap(op, x.tree.SetISOLevel(*op.Level))
	case OpRockRidge:
		return x.wrap(op, x.tree.SetRockRidgeLevel(*op.Level))
	case OpJoliet:
		x.joliet = *op.Level
		return x.wrap(op, x.tree.SetJolietLevel(*op.Level))
	case OpAttributeStyle:
		x.style = op.Style
	case OpFileMode:
		m := *op.Mode
		x.fileMode = &m
	case OpNoFileMode:
		x.fileMode = nil
	case OpDirMode:
		m := *op.Mode
		x.dirMode = &m
	case OpNoDirMode:
		x.dirMode = nil
	case OpNewDirMode:
		x.tree.SetNewDirMode(uint32(*op.Mode))
	case OpNameSetup:
		x.positions = op.Positions
	case OpNameSetupFromImport:
		// Without imports only host content exists, which always lands in the
		// primary namespace and (while enabled) Joliet: one position with both.
		x.positions = defaultPositions()
	case OpAdd:
		_, err := x.add(op)
		return err
	case OpRemove, OpMustRemove:
		return x.remove(op)
	case OpImportISO:
		return x.importISO(op)
	case OpPushISO:
		return x.pushISO(op)
	case OpPop:
		return x.pop(op)
	case OpChmod:
		mode, add := uint32(0), false
		if op.Mode != nil {
			mode = uint32(*op.Mode)
		} else {
			mode, add = uint32(*op.AddBits), true
		}
		return x.change(op, "--chmod", func(ns isoimage.Namespaces) error { return x.tree.Chmod(ns, op.Path, mode, add) })
	case OpChown:
		return x.change(op, "--chown", func(ns isoimage.Namespaces) error { return x.tree.Chown(ns, op.Path, *op.ID) })
	case OpChgrp:
		return x.change(op, "--chgrp", func(ns isoimage.Namespaces) error { return x.tree.Chgrp(ns, op.Path, *op.ID) })
	case OpVolumeString:
		return x.volumeString(op)
	case OpPad:
		x.tree.SetPad(*op.Enabled)
	case OpGenericBoot:
		return x.genericBoot(op)
	case OpElToritoBoot:
		x.bootByPath[op.Entry] = op
	case OpElToritoAddImage:
		id, err := x.add(op)
		if err != nil {
			return err
		}
		x.addedBoot[op.Entry] = id
	case OpBootCatalog:
		names := x.names(op.Names)
		if names.Primary == "" && names.Joliet == "" {
			return nil
		}
		return x.wrap(op, x.tree.NameBootCatalog(names))
	default:
		return x.fail(op, fmt.Errorf("unknown operation %q", op.Kind))
	}
	return nil
}

func (x *executor) wrap(op *Operation, err error) error {
	if err != nil {
		return x.fail(op, err)
	}
	return nil
}

// names maps the file-spec names of a plan operation (one per name-setup
// position) onto the namespaces of each position. Joliet names are only entered
// while Joliet is enabled (spec §2.5).
func (x *executor) names(specNames []string) isoimage.Names {
	var out isoimage.Names
	for i, pos := range x.positions {
		if i >= len(specNames) {
			break
		}
		for _, ns := range pos.Namespaces {
			switch ns {
			case NSPrimary:
				out.Primary = specNames[i]
			case NSJoliet:
				if x.joliet > 0 {
					out.Joliet = specNames[i]
				}
			}
		}
	}
	return out
}

// destNamespaces is the set of namespaces of the current name setup that are
// enabled now: the scope of --chmod/--chown/--chgrp and of volume strings.
func (x *executor) destNamespaces() isoimage.Namespaces {
	var ns isoimage.Namespaces
	for _, pos := range x.positions {
		for _, n := range pos.Namespaces {
			switch n {
			case NSPrimary:
				ns |= isoimage.Primary
			case NSJoliet:
				if x.joliet > 0 {
					ns |= isoimage.Joliet
				}
			}
		}
	}
	return ns
}

// fileAttrs applies the attribute style and forced mode to a host file's mode.
func (x *executor) fileAttrs(fi fs.FileInfo) isoimage.Attrs {
	perm := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	uid, gid := ownerOf(fi)
	return x.fileAttrsFrom(perm, uid, gid, x.times())
}

// fileAttrsFrom applies the attribute style and forced file mode to a
// source's permission bits (07777) and owner (host files and ISO entries).
func (x *executor) fileAttrsFrom(perm, uid, gid uint32, ts isoimage.Times) isoimage.Attrs {
	a := isoimage.Attrs{Times: ts}
	if x.style == StyleStrict {
		a.Mode = perm
		a.UID, a.GID = uid, gid
	} else {
		a.Mode = perm&^0o222 | 0o444
		if perm&0o111 != 0 {
			a.Mode |= 0o111
		}
	}
	if x.fileMode != nil {
		a.Mode = uint32(*x.fileMode) & 0o7777
	}
	return a
}

func (x *executor) dirAttrs(fi fs.FileInfo) isoimage.Attrs {
	perm := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	uid, gid := ownerOf(fi)
	return x.dirAttrsFrom(perm, uid, gid, x.times())
}

// dirAttrsFrom is fileAttrsFrom for directories: rational style clears the
// write, setuid, setgid and sticky bits and adds 0555.
func (x *executor) dirAttrsFrom(perm, uid, gid uint32, ts isoimage.Times) isoimage.Attrs {
	a := isoimage.Attrs{Times: ts}
	if x.style == StyleStrict {
		a.Mode = perm
		a.UID, a.GID = uid, gid
	} else {
		a.Mode = perm&0o777&^0o222 | 0o555
	}
	if x.dirMode != nil {
		a.Mode = uint32(*x.dirMode) & 0o7777
	}
	return a
}

func (x *executor) times() isoimage.Times {
	return isoimage.Times{Birth: x.epoch, Modify: x.epoch, Access: x.epoch, Change: x.epoch}
}

// add carries out a file spec (or --eltorito-add-image): stat the source through
// the resolver, then add a file or merge a directory and fill it recursively.
func (x *executor) add(op *Operation) (isoimage.ID, error) {
	names := x.names(op.Names)
	if names.Primary == "" && names.Joliet == "" {
		return 0, nil // every position empty or disabled: nothing to enter
	}
	if top := x.topISO(); top != nil {
		return x.addFromISO(op, names, top)
	}
	fi, err := x.opts.Resolver.Stat(op.Source)
	if err != nil {
		return 0, x.fail(op, fmt.Errorf("source %q: %w", op.Source, err))
	}
	switch {
	case fi.Mode().IsRegular():
		id, err := x.tree.AddFile(names, x.pool.File(op.Source, fi.Size()), fi.Size(), x.fileAttrs(fi), op.Source)
		return id, x.wrap(op, err)
	case fi.IsDir():
		id, _, err := x.tree.MergeDir(names, x.dirAttrs(fi), op.Source)
		if err != nil {
			return 0, x.fail(op, err)
		}
		return id, x.addTree(op, names, op.Source, 1)
	default:
		return 0, x.fail(op, fmt.Errorf("source %q: %w", op.Source, confine.ErrSpecialFile))
	}
}

// addTree adds the children of host directory src below the destination names,
// recursively. Children are added in byte order of their names, not in the
// directory's read order as VirtualBox does: read order differs between hosts
// and file systems, and it decides where file data lands in the image.
func (x *executor) addTree(op *Operation, dest isoimage.Names, src string, depth int) error {
	if depth > MaxAddDepth {
		return x.fail(op, fmt.Errorf("%w (depth=%d): %s", ErrTooDeep, MaxAddDepth, src))
	}
	entries, err := x.opts.Resolver.ReadDir(src)
	if err != nil {
		return x.fail(op, fmt.Errorf("reading directory %q: %w", src, err))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		if strings.EqualFold(name, "TRANS.TBL") {
			continue // VirtualBox skips these so its generated ones win; we keep skipping stale copies
		}
		child := path.Join(src, name)
		names := isoimage.Names{}
		if dest.Primary != "" {
			names.Primary = path.Join(dest.Primary, name)
		}
		if dest.Joliet != "" {
			names.Joliet = path.Join(dest.Joliet, name)
		}
		// The resolver reads directories through os.Root, whose entries already carry
		// an lstatat made relative to the directory handle: no second path walk.
		fi, err := e.Info()
		if err != nil {
			return x.fail(op, fmt.Errorf("source %q: %w", child, err))
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return x.fail(op, fmt.Errorf("adding symlink %q failed: %w", child, ErrSymlinkInTree))
		case fi.Mode().IsRegular():
			if _, err := x.tree.AddFile(names, x.pool.File(child, fi.Size()), fi.Size(), x.fileAttrs(fi), child); err != nil {
				return x.fail(op, err)
			}
		case fi.IsDir():
			if _, err := x.tree.AddDir(names, x.dirAttrs(fi), child); err != nil {
				return x.fail(op, err)
			}
			if err := x.addTree(op, names, child, depth+1); err != nil {
				return err
			}
		default:
			return x.fail(op, fmt.Errorf("adding special file %q failed: %w", child, ErrSpecialFile))
		}
	}
	return nil
}

// remove carries out :remove: / :must-remove: in the namespaces of each position
// that has a name.
func (x *executor) remove(op *Operation) error {
	total := 0
	for i, pos := range x.positions {
		if i >= len(op.Names) || op.Names[i] == "" {
			continue
		}
		var ns isoimage.Namespaces
		for _, n := range pos.Namespaces {
			if n == NSPrimary {
				ns |= isoimage.Primary
			} else if n == NSJoliet {
				ns |= isoimage.Joliet
			}
		}
		n, err := x.tree.Remove(ns, op.Names[i])
		total += n
		if err != nil {
			return x.fail(op, fmt.Errorf("failed to remove %q: %w", op.Arg, err))
		}
	}
	if op.Kind == OpMustRemove && total == 0 {
		return x.fail(op, fmt.Errorf("failed to locate %q for removal: %w", op.Arg, ErrNothingRemoved))
	}
	return nil
}

func (x *executor) change(op *Operation, what string, fn func(isoimage.Namespaces) error) error {
	err := fn(x.destNamespaces())
	if errors.Is(err, isoimage.ErrNotFound) {
		return x.fail(op, fmt.Errorf("could not find %s path %s: %w", what, op.Path, ErrChangeTargetMissing))
	}
	return x.wrap(op, err)
}

var volumeFields = map[VolumeField]isoimage.VolumeField{
	FieldVolumeID:      isoimage.VolumeID,
	FieldVolumeSetID:   isoimage.VolumeSetID,
	FieldPublisherID:   isoimage.PublisherID,
	FieldPreparerID:    isoimage.PreparerID,
	FieldApplicationID: isoimage.ApplicationID,
	FieldSystemID:      isoimage.SystemID,
	FieldCopyrightFile: isoimage.CopyrightFileID,
	FieldAbstractFile:  isoimage.AbstractFileID,
	FieldBiblioFile:    isoimage.BibliographicFileID,
}

func (x *executor) volumeString(op *Operation) error {
	f, ok := volumeFields[op.Field]
	if !ok {
		return x.fail(op, fmt.Errorf("unknown volume field %q", op.Field))
	}
	value := ""
	if op.Value != nil {
		value = *op.Value
	}
	return x.wrap(op, x.tree.SetVolumeString(x.destNamespaces(), f, value))
}

// genericBoot loads the first 32 KiB of a host file into the system area (-G).
func (x *executor) genericBoot(op *Operation) error {
	f, err := x.opts.Resolver.Open(op.Path)
	if err != nil {
		return x.fail(op, fmt.Errorf("generic boot image %q: %w", op.Path, err))
	}
	defer f.Close()
	buf := make([]byte, maxSystemArea)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return x.fail(op, fmt.Errorf("reading 32 KiB from generic boot image %q: %w", op.Path, err))
	}
	x.tree.SetSystemArea(buf[:n])
	return nil
}

var mediaTypes = map[MediaType]isoimage.Emulation{
	MediaAuto:        isoimage.EmulationAuto,
	MediaNoEmulation: isoimage.EmulationNone,
	MediaFloppy12:    isoimage.EmulationFloppy12,
	MediaFloppy144:   isoimage.EmulationFloppy144,
	MediaFloppy288:   isoimage.EmulationFloppy288,
	MediaHardDisk:    isoimage.EmulationHardDisk,
}

// bootCatalog turns the parsed catalog into the tree's. -b paths are looked up
// after the last argument, so an entry follows its path: a boot file removed and
// added again is booted in its new form.
func (x *executor) bootCatalog(plan *Plan) error {
	cat := plan.ElTorito
	var out isoimage.BootCatalog
	if x.imported != nil {
		imp, err := x.importedBootCatalog()
		if err != nil {
			return err
		}
		out = imp
	}
	if cat == nil {
		return x.setBootCatalog(out)
	}
	conv := func(e BootEntry) (isoimage.BootEntry, error) {
		op := &plan.Operations[e.ImageOp]
		var id isoimage.ID
		if added, ok := x.addedBoot[e.Entry]; ok {
			id = added
		} else {
			found, ok := x.tree.Lookup(isoimage.AllNamespaces, op.Path)
			if !ok || !x.tree.IsFile(found) {
				return isoimage.BootEntry{}, x.fail(op, fmt.Errorf("%w for boot catalog entry #%d: %s", ErrBootImageNotFound, e.Slot, op.Path))
			}
			id = found
		}
		return isoimage.BootEntry{
			Image:         id,
			NotBootable:   !e.Bootable,
			Emulation:     mediaTypes[e.Media],
			LoadSegment:   e.LoadSegment,
			SystemType:    1,
			SectorCount:   e.SectorCount,
			BootInfoTable: e.BootInfoTable,
		}, nil
	}
	// The command line's own catalog replaces the validation and default
	// entries of an imported one (spec §5.3); its sections follow the
	// imported sections. A catalog merely requested (-c, a platform id) keeps
	// the imported entries.
	if cat.Default != nil {
		d, err := conv(*cat.Default)
		if err != nil {
			return err
		}
		out.Platform, out.ID, out.Default = cat.Platform, [24]byte{}, &d
	} else if x.imported == nil {
		out.Platform = cat.Platform
	}
	for _, s := range cat.Sections {
		sec := isoimage.BootSection{Platform: s.Platform}
		for _, e := range s.Entries {
			be, err := conv(e)
			if err != nil {
				return err
			}
			sec.Entries = append(sec.Entries, be)
		}
		out.Sections = append(out.Sections, sec)
	}
	return x.setBootCatalog(out)
}

func (x *executor) setBootCatalog(c isoimage.BootCatalog) error {
	if err := x.tree.SetBootCatalog(c); err != nil {
		return &finalizeError{file: x.opts.File, err: err}
	}
	return nil
}
