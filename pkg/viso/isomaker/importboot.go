package isomaker

import (
	"fmt"
	"io"

	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
	"github.com/csi-viso/csi-viso/pkg/viso/isoread"
)

// El Torito import (spec §5.3), done better than VirtualBox 7.0/7.1: every
// entry of every section is kept, including the UEFI entry of the final 0x91
// section that VirtualBox drops, and each entry follows its image's path, so a
// boot image removed and added again is booted in its new form.

// importedEntry is an imported default or section entry. Its image is either
// a tree file, found again by path when the catalog is assembled, or a hidden
// object (no directory entry pointed at it in the source).
type importedEntry struct {
	entry  isoimage.BootEntry // Image set for hidden images only
	path   string             // the image's path in the tree at import time
	slot   int                // the slot in the source catalog, for messages
	hidden bool
}

type importedSection struct {
	platform uint8
	id       [28]byte
	entries  []importedEntry
}

// importedCatalog is the catalog of the last --import-iso that had one.
type importedCatalog struct {
	op       *Operation
	platform uint8
	id       [24]byte
	def      importedEntry
	sections []importedSection
}

var importedMedia = map[uint8]isoimage.Emulation{
	isoread.MediaNoEmulation: isoimage.EmulationNone,
	isoread.MediaFloppy12:    isoimage.EmulationFloppy12,
	isoread.MediaFloppy144:   isoimage.EmulationFloppy144,
	isoread.MediaFloppy288:   isoimage.EmulationFloppy288,
	isoread.MediaHardDisk:    isoimage.EmulationHardDisk,
}

// bootEntries records the source's catalog. A later import with a catalog
// replaces it as a whole (the last import's boot setup wins, as a later -b
// replaces an earlier one).
func (im *importer) bootEntries() error {
	c := im.catalog
	if c.Default == nil {
		return fmt.Errorf("boot catalog at LBA %d has no default entry: %w", c.LBA, isoread.ErrBootCatalog)
	}
	out := &importedCatalog{op: im.op, platform: c.PlatformID, id: c.IDString}
	var err error
	if out.def, err = im.bootEntry(c.Default); err != nil {
		return err
	}
	for _, s := range c.Sections {
		sec := importedSection{platform: s.PlatformID, id: s.IDString}
		for _, e := range s.Entries {
			ie, err := im.bootEntry(e)
			if err != nil {
				return err
			}
			sec.entries = append(sec.entries, ie)
		}
		out.sections = append(out.sections, sec)
	}
	im.x.imported = out
	return nil
}

func (im *importer) bootEntry(e *isoread.BootEntry) (importedEntry, error) {
	media, ok := importedMedia[e.Emulation()]
	if !ok {
		return importedEntry{}, fmt.Errorf("boot catalog entry #%d: media type %#x: %w", e.Slot, e.MediaType, isoread.ErrBootCatalog)
	}
	be := isoimage.BootEntry{
		NotBootable:   !e.Bootable(),
		Emulation:     media,
		LoadSegment:   e.LoadSegment,
		SystemType:    e.SystemType,
		SectorCount:   e.SectorCount,
		BootInfoTable: e.BootInfo != nil, // the source had one: patch ours too
	}
	be.Selection[0] = e.SelectionType
	copy(be.Selection[1:], e.Selection)
	ie := importedEntry{entry: be, slot: e.Slot}
	if e.File != nil {
		if id, ok := im.ids[e.File]; ok && im.x.tree.IsFile(id) {
			ie.path = im.x.tree.Path(id)
			return ie, nil
		}
	}
	// No (usable) directory entry: serve the image's sectors as a hidden file.
	src := &isoSource{r: io.NewSectionReader(im.iso.r, int64(e.LBA)*isoread.SectorSize, e.ImageSize),
		lba: e.LBA, base: im.base}
	id, err := im.x.tree.AddHiddenFile(src, e.ImageSize, isoimage.Attrs{Mode: 0o444})
	if err != nil {
		return importedEntry{}, fmt.Errorf("boot catalog entry #%d: %w", e.Slot, err)
	}
	ie.entry.Image, ie.hidden = id, true
	return ie, nil
}

// resolve finds an imported entry's image at the end of the command line.
func (x *executor) resolveImported(c *importedCatalog, e importedEntry) (isoimage.BootEntry, error) {
	if e.hidden {
		return e.entry, nil
	}
	id, ok := x.tree.Lookup(isoimage.AllNamespaces, e.path)
	if !ok || !x.tree.IsFile(id) {
		return isoimage.BootEntry{}, x.fail(c.op, fmt.Errorf("%w: El Torito entry #%d imported from '%s' boots '%s', which was removed and not added again",
			ErrBootImageRemoved, e.slot, c.op.Path, e.path))
	}
	out := e.entry
	out.Image = id
	return out, nil
}

// importedBootCatalog is the imported part of the final catalog.
func (x *executor) importedBootCatalog() (isoimage.BootCatalog, error) {
	c := x.imported
	out := isoimage.BootCatalog{Platform: c.platform, ID: c.id}
	d, err := x.resolveImported(c, c.def)
	if err != nil {
		return out, err
	}
	out.Default = &d
	for _, s := range c.sections {
		sec := isoimage.BootSection{Platform: s.platform, ID: s.id}
		for _, e := range s.entries {
			be, err := x.resolveImported(c, e)
			if err != nil {
				return out, err
			}
			sec.Entries = append(sec.Entries, be)
		}
		out.Sections = append(out.Sections, sec)
	}
	return out, nil
}
