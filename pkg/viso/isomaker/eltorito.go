package isomaker

import (
	"fmt"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// MaxBootCatalogSlots is the number of 32-byte catalog slots the parser keeps,
// the validation entry included (§2.7).
const MaxBootCatalogSlots = 64

// El Torito defaults for a new entry (§2.7, §4.10).
const (
	defaultLoadSegment = 0x07C0
	defaultSectorCount = 4
)

// Platform ids accepted by name (exact case).
var platformNames = map[string]uint8{"x86": 0, "PPC": 1, "Mac": 2, "efi": 0xEF}

func parsePlatformID(v string) (uint8, error) {
	if id, ok := platformNames[v]; ok {
		return id, nil
	}
	n, err := parseUnsigned(v, 8)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrPlatformID, v)
	}
	return uint8(n), nil
}

// where remembers an argument for errors reported after the last argument.
type where struct {
	src *source
	arg argv.Arg
}

// bootEntryState is a boot entry under construction.
type bootEntryState struct {
	BootEntry
	isDefault bool
	hasImage  bool
	created   where
}

// bootItem is one catalog slot after the validation entry: a section header or an entry.
type bootItem struct {
	header   bool
	platform uint8 // header only
	entry    *bootEntryState
}

// bootBuilder assembles the catalog the way IPRT's parser does: a list of
// slots (validation, default entry, then section headers and entries), with
// the "current entry" being the last entry in the list. Unlike 7.0/7.1 it lets
// a platform id given between --eltorito-new-entry and the entry's image put
// that entry into a section of that platform (see setPlatform).
type bootBuilder struct {
	requested bool  // some El Torito option was given
	platform  uint8 // validation entry platform
	items     []bootItem
	entries   int    // entries started so far
	firstUse  *where // first option that asked for a catalog, for "no default entry"
}

func (b *bootBuilder) note(w where) {
	b.requested = true
	if b.firstUse == nil {
		b.firstUse = &w
	}
}

func (b *bootBuilder) room(n int) error {
	if 1+len(b.items)+n > MaxBootCatalogSlots {
		return fmt.Errorf("%w (at most %d slots)", ErrTooManyBootEntries, MaxBootCatalogSlots)
	}
	return nil
}

// current returns the last entry, or nil.
func (b *bootBuilder) current() *bootEntryState {
	for i := len(b.items) - 1; i >= 0; i-- {
		if !b.items[i].header {
			return b.items[i].entry
		}
	}
	return nil
}

// slotOf returns the catalog slot number of e (validation entry = 0).
func (b *bootBuilder) slotOf(e *bootEntryState) int {
	for i, it := range b.items {
		if it.entry == e {
			return i + 1
		}
	}
	return 0
}

func (b *bootBuilder) makeEntry(w where, isDefault bool) *bootEntryState {
	b.entries++
	return &bootEntryState{
		BootEntry: BootEntry{
			Entry: b.entries, Bootable: true, Media: MediaAuto,
			LoadSegment: defaultLoadSegment, SectorCount: defaultSectorCount, ImageOp: -1,
		},
		isDefault: isDefault,
		created:   w,
	}
}

// entry returns the current entry, creating the default entry on first use.
func (b *bootBuilder) entry(w where) (*bootEntryState, error) {
	b.note(w)
	if e := b.current(); e != nil {
		return e, nil
	}
	return b.newEntry(w)
}

// newEntry starts a new entry (--eltorito-new-entry / --eltorito-alt-boot). The
// first entry is the default entry; an entry right after the default entry
// first gets a section header with the validation entry's platform.
func (b *bootBuilder) newEntry(w where) (*bootEntryState, error) {
	b.note(w)
	switch {
	case len(b.items) == 0:
		e := b.makeEntry(w, true)
		b.items = append(b.items, bootItem{entry: e})
		return e, nil
	case len(b.items) == 1 && !b.items[0].header:
		if err := b.room(2); err != nil {
			return nil, err
		}
		e := b.makeEntry(w, false)
		b.items = append(b.items, bootItem{header: true, platform: b.platform}, bootItem{entry: e})
		return e, nil
	default:
		if err := b.room(1); err != nil {
			return nil, err
		}
		e := b.makeEntry(w, false)
		b.items = append(b.items, bootItem{entry: e})
		return e, nil
	}
}

// setPlatform handles --eltorito-platform-id. Before any entry it sets the
// validation entry's platform. A platform id that follows a started section
// entry which has no image yet places that entry in a section of this platform
// (re-labelling its header when the entry is the first of its section, else
// opening a new section just before it). Otherwise the last section header is
// re-labelled, or a new section header is appended for entries to come.
func (b *bootBuilder) setPlatform(w where, id uint8) error {
	b.note(w)
	n := len(b.items)
	if n == 0 {
		b.platform = id
		return nil
	}
	last := &b.items[n-1]
	if last.header {
		last.platform = id
		return nil
	}
	if e := last.entry; !e.isDefault && !e.hasImage {
		if prev := &b.items[n-2]; prev.header {
			prev.platform = id
			return nil
		}
		if err := b.room(1); err != nil {
			return err
		}
		b.items = append(b.items[:n-1], bootItem{header: true, platform: id}, bootItem{entry: e})
		return nil
	}
	if err := b.room(1); err != nil {
		return err
	}
	b.items = append(b.items, bootItem{header: true, platform: id})
	return nil
}

// setImage binds the image-naming operation opIndex to e.
func (b *bootBuilder) setImage(e *bootEntryState, opIndex int) error {
	if e.hasImage {
		return fmt.Errorf("%w (%d)", ErrBootImageTwice, b.slotOf(e))
	}
	e.hasImage = true
	e.ImageOp = opIndex
	return nil
}

// finishBoot validates the catalog after the last argument and returns its
// description. A catalog without entries is accepted only when an
// --import-iso (keeping El Torito) may supply the default entry.
func (p *parser) finishBoot() (*BootCatalog, error) {
	b := &p.boot
	if !b.requested {
		return nil, nil
	}
	cat := &BootCatalog{Platform: b.platform}
	if len(b.items) == 0 {
		if p.hasImport {
			return cat, nil
		}
		w := b.firstUse
		return nil, p.fail(w.src, w.arg, fmt.Errorf("%w: give a boot image with -b/--eltorito-boot or --eltorito-add-image (VirtualBox: VERR_ISOMK_BOOT_CAT_NO_DEFAULT_ENTRY)", ErrBootNoDefaultEntry))
	}
	for i, it := range b.items {
		if it.header {
			cat.Sections = append(cat.Sections, BootSection{Platform: it.platform, Entries: []BootEntry{}})
			continue
		}
		e := it.entry
		if !e.hasImage {
			return nil, p.fail(e.created.src, e.created.arg, fmt.Errorf("%w #%d", ErrBootEntryNoImage, i+1))
		}
		out := e.BootEntry
		out.Slot = i + 1
		if e.isDefault {
			cat.Default = &out
			continue
		}
		s := &cat.Sections[len(cat.Sections)-1]
		s.Entries = append(s.Entries, out)
	}
	return cat, nil
}
