package isomaker

import (
	"fmt"
	"strings"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// option applies one recognised option. optArg is the argument naming the
// option (for the operation's Line/Arg); valArg holds its value (optArg itself
// when the value was inline) and is blamed for malformed values.
func (p *parser) option(src *source, optArg, valArg argv.Arg, m match) error {
	d, v := m.def, m.value
	bad := func(err error) error { return p.fail(src, valArg, err) }
	emit := func(op Operation) int { return p.emit(src, optArg, op) }

	// GetOpt validates numeric values before the option's handler runs.
	var num uint64
	switch d.val {
	case valU8, valU16, valU32:
		bits := map[valueKind]int{valU8: 8, valU16: 16, valU32: 32}[d.val]
		n, err := parseUnsigned(v, bits)
		if err != nil {
			return bad(fmt.Errorf("%s: %w: %w", d.name(), ErrInvalidValue, err))
		}
		num = n
	case valOctal:
		n, err := parseOctalMode(v)
		if err != nil {
			return bad(fmt.Errorf("%s: %w: %w", d.name(), ErrInvalidValue, err))
		}
		num = uint64(n)
	}
	mode := Mode(num) & 0o7777 // forced modes only ever set permission bits

	switch d.id {
	case optMarker, optIgnored:
		// The marker's UUID was handled by the envelope; output buffer knobs
		// only matter when writing an image file.
	case optHelp:
		return p.fail(src, optArg, fmt.Errorf("%w: %s would print usage text; a VISO cannot use it", ErrHelpVersion, optArg.Text))
	case optVersion:
		hint := ""
		if !strings.HasSuffix(optArg.Text, "version") {
			hint = " (in a VISO -V means --version, not the volume label: use --volume-id=LABEL)"
		}
		return p.fail(src, optArg, fmt.Errorf("%w: %s asks for the version; a VISO cannot use it%s", ErrHelpVersion, optArg.Text, hint))
	case optOutput:
		return p.fail(src, optArg, ErrOutputNotAllowed)
	case optUnsupported:
		return p.fail(src, optArg, fmt.Errorf("%s: %w (mkisofs compatibility option the IPRT ISO maker does not implement)", d.name(), ErrUnsupportedOption))

	case optImportISO, optImportISOSkipElTorito:
		if err := checkPath(d, v); err != nil {
			return bad(err)
		}
		skip := d.id == optImportISOSkipElTorito
		emit(Operation{Kind: OpImportISO, Path: v, SkipElTorito: skip})
		p.hasContent = true
		p.hasImport = p.hasImport || !skip
	case optPushISO, optPushISONoJoliet, optPushISONoRock, optPushISONoRockNoJoliet:
		if err := checkPath(d, v); err != nil {
			return bad(err)
		}
		if len(p.pushes) >= MaxPushes {
			return p.fail(src, optArg, fmt.Errorf("%w: Too many pushes %s %s (previous: %s)", ErrTooManyPushes, d.name(), v, strings.Join(p.pushes, ", ")))
		}
		variant := map[optID]PushVariant{optPushISO: PushAll, optPushISONoJoliet: PushNoJoliet,
			optPushISONoRock: PushNoRock, optPushISONoRockNoJoliet: PushNoRockNoJoliet}[d.id]
		p.pushes = append(p.pushes, d.name()+" "+v)
		emit(Operation{Kind: OpPushISO, Path: v, Variant: variant})
	case optPop:
		if len(p.pushes) == 0 {
			return p.fail(src, optArg, ErrPopWithoutPush)
		}
		p.pushes = p.pushes[:len(p.pushes)-1]
		emit(Operation{Kind: OpPop})

	case optNameSetup:
		positions, err := parseNameSetup(v)
		if err != nil {
			return bad(fmt.Errorf("%s: %w", d.name(), err))
		}
		p.positions = len(positions)
		emit(Operation{Kind: OpNameSetup, Positions: positions})
	case optNameSetupFromImport:
		// Only the executor knows which namespaces have content; with nothing
		// added at all the ISO is certainly empty.
		if !p.hasContent {
			return p.fail(src, optArg, ErrNameSetupEmpty)
		}
		p.positions = 1
		emit(Operation{Kind: OpNameSetupFromImport})
	case optGraftPoints:
		return p.fail(src, optArg, fmt.Errorf("%s: %w: it means --name-setup iso+joliet+udf+hfs, and UDF support is currently not implemented", d.name(), ErrNameSetup))

	case optISOLevel:
		if num < 1 || num > 3 {
			return bad(fmt.Errorf("%w: Failed to set ISO level to %d (valid: 1-3)", ErrLevel, num))
		}
		p.isoLevel = int(num)
		emit(Operation{Kind: OpISOLevel, Level: intPtr(p.isoLevel)})
	case optLongNames:
		if p.isoLevel >= 2 {
			p.isoLevel = 2
		}
		emit(Operation{Kind: OpISOLevel, Level: intPtr(p.isoLevel)})
	case optRockRidge:
		emit(Operation{Kind: OpRockRidge, Level: intPtr(2)})
	case optLimitedRockRidge:
		emit(Operation{Kind: OpRockRidge, Level: intPtr(1)})
	case optNoRockRidge:
		emit(Operation{Kind: OpRockRidge, Level: intPtr(0)})
	case optRock, optRationalRock:
		style := StyleStrict
		if d.id == optRationalRock {
			style = StyleRational
		}
		emit(Operation{Kind: OpRockRidge, Level: intPtr(2)})
		emit(Operation{Kind: OpAttributeStyle, Style: style})
	case optJoliet:
		emit(Operation{Kind: OpJoliet, Level: intPtr(3)})
	case optNoJoliet:
		emit(Operation{Kind: OpJoliet, Level: intPtr(0)})
	case optJolietUCSLevel:
		if num > 3 {
			return bad(fmt.Errorf("%w: Failed to set joliet UCS level to %d (valid: 0-3)", ErrLevel, num))
		}
		emit(Operation{Kind: OpJoliet, Level: intPtr(int(num))})

	case optRationalAttribs:
		emit(Operation{Kind: OpAttributeStyle, Style: StyleRational})
	case optStrictAttribs:
		emit(Operation{Kind: OpAttributeStyle, Style: StyleStrict})
	case optFileMode, optDirMode:
		kind := OpFileMode
		if d.id == optDirMode {
			kind = OpDirMode
		}
		emit(Operation{Kind: kind, Mode: &mode})
		// Forcing modes also switches Rock Ridge to level 2 (§2.6); say so in
		// the plan so the executor needs no knowledge of the side effect.
		emit(Operation{Kind: OpRockRidge, Level: intPtr(2)})
	case optNoFileMode:
		emit(Operation{Kind: OpNoFileMode})
	case optNoDirMode:
		emit(Operation{Kind: OpNoDirMode})
	case optNewDirMode:
		emit(Operation{Kind: OpNewDirMode, Mode: &mode})
	case optChmod:
		spec, err := parseChmod(v)
		if err != nil {
			return bad(err)
		}
		emit(Operation{Kind: OpChmod, Mode: spec.mode, AddBits: spec.addBits, Path: spec.path})
	case optChown, optChgrp:
		id, path, err := parseOwner(d.name(), v)
		if err != nil {
			return bad(err)
		}
		kind := OpChown
		if d.id == optChgrp {
			kind = OpChgrp
		}
		emit(Operation{Kind: kind, ID: &id, Path: path})

	case optVolumeString:
		value := v
		emit(Operation{Kind: OpVolumeString, Field: d.field, Value: &value})
	case optPad, optNoPad:
		enabled := d.id == optPad
		emit(Operation{Kind: OpPad, Enabled: &enabled})
	case optGenericBoot:
		if err := checkPath(d, v); err != nil {
			return bad(err)
		}
		emit(Operation{Kind: OpGenericBoot, Path: v})

	default:
		return p.bootOption(src, optArg, valArg, d, v, num)
	}
	return nil
}

// bootOption applies the El Torito options.
func (p *parser) bootOption(src *source, optArg, valArg argv.Arg, d *optDef, v string, num uint64) error {
	w := where{src: src, arg: optArg}
	fail := func(err error) error { return p.fail(src, optArg, err) }

	switch d.id {
	case optElToritoNewEntry:
		if _, err := p.boot.newEntry(w); err != nil {
			return fail(err)
		}
		return nil
	case optElToritoPlatformID:
		id, err := parsePlatformID(v)
		if err != nil {
			return p.fail(src, valArg, err)
		}
		if err := p.boot.setPlatform(w, id); err != nil {
			return fail(err)
		}
		return nil
	case optBootCatalog:
		names, err := parseCatalogNames(v, p.positions)
		if err != nil {
			return p.fail(src, valArg, err)
		}
		p.boot.note(w)
		p.emit(src, optArg, Operation{Kind: OpBootCatalog, Names: names})
		return nil
	}

	e, err := p.boot.entry(w)
	if err != nil {
		return fail(err)
	}
	switch d.id {
	case optElToritoBoot:
		if v == "" {
			return p.fail(src, valArg, fmt.Errorf("%s: %w", d.name(), ErrEmptyPath))
		}
		if e.hasImage {
			return fail(p.boot.setImage(e, -1))
		}
		idx := p.emit(src, optArg, Operation{Kind: OpElToritoBoot, Entry: e.Entry, Path: v})
		return p.boot.setImage(e, idx)
	case optElToritoAddImage:
		fs, err := parseAddImage(v, p.positions)
		if err != nil {
			return p.fail(src, valArg, fmt.Errorf("%s: %w", d.name(), err))
		}
		if e.hasImage {
			return fail(p.boot.setImage(e, -1))
		}
		idx := p.emit(src, optArg, Operation{Kind: OpElToritoAddImage, Entry: e.Entry, Names: fs.names, Source: fs.source})
		p.hasContent = true
		return p.boot.setImage(e, idx)
	case optNoBoot:
		e.Bootable = false
	case optFloppy12:
		e.Media = MediaFloppy12
	case optFloppy144:
		e.Media = MediaFloppy144
	case optFloppy288:
		e.Media = MediaFloppy288
	case optHardDiskBoot:
		e.Media = MediaHardDisk
	case optNoEmulationBoot:
		e.Media = MediaNoEmulation
	case optBootLoadSeg:
		e.LoadSegment = uint16(num)
	case optBootLoadSize:
		e.SectorCount = uint16(num)
	case optBootInfoTable:
		e.BootInfoTable = true
	default:
		return fail(fmt.Errorf("%w: internal error: option %s has no handler", ErrUnknownOption, d.name()))
	}
	return nil
}

// checkPath rejects empty and VFS chain paths for options naming a file.
func checkPath(d *optDef, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: %w", d.name(), ErrEmptyPath)
	case strings.HasPrefix(v, vfsChainPrefix):
		return fmt.Errorf("%s: %w: %s", d.name(), ErrVFSChain, v)
	}
	return nil
}

func intPtr(v int) *int { return &v }

// finish runs the checks that need the whole command line.
func (p *parser) finish() error {
	if !p.hasContent {
		return &argv.Error{File: p.opts.File, Err: ErrEmptyImage}
	}
	cat, err := p.finishBoot()
	if err != nil {
		return err
	}
	p.plan.ElTorito = cat
	return nil
}
