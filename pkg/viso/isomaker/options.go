package isomaker

import "strings"

// optID identifies what an option does; several spellings share one id.
type optID int

const (
	optMarker optID = iota + 1
	optImportISO
	optImportISOSkipElTorito
	optPushISO
	optPushISONoJoliet
	optPushISONoRock
	optPushISONoRockNoJoliet
	optPop
	optNameSetup
	optNameSetupFromImport
	optGraftPoints
	optISOLevel
	optLongNames
	optRockRidge
	optLimitedRockRidge
	optNoRockRidge
	optRock
	optRationalRock
	optJoliet
	optNoJoliet
	optJolietUCSLevel
	optRationalAttribs
	optStrictAttribs
	optFileMode
	optNoFileMode
	optDirMode
	optNoDirMode
	optNewDirMode
	optChmod
	optChown
	optChgrp
	optElToritoBoot
	optElToritoAddImage
	optElToritoNewEntry
	optElToritoPlatformID
	optNoBoot
	optFloppy12
	optFloppy144
	optFloppy288
	optHardDiskBoot
	optNoEmulationBoot
	optBootLoadSeg
	optBootLoadSize
	optBootInfoTable
	optBootCatalog
	optGenericBoot
	optVolumeString
	optPad
	optNoPad
	optOutput
	optIgnored // accepted without effect (output buffer and verification knobs)
	optHelp
	optVersion
	optUnsupported
)

// valueKind says whether an option takes a value and how GetOpt checks it
// before the option's handler sees it.
type valueKind int

const (
	valNone   valueKind = iota
	valString           // any text
	valU8               // RTGETOPT_REQ_UINT8
	valU16              // RTGETOPT_REQ_UINT16
	valU32              // RTGETOPT_REQ_UINT32
	valOctal            // RTGETOPT_REQ_UINT32 | RTGETOPT_FLAG_OCT
)

// optDef is one entry of the option table.
type optDef struct {
	id    optID
	names []string // long spellings with their dashes ("--pad", "-pad"); names[0] is used in messages
	short byte     // short option letter, 0 if none
	val   valueKind
	field VolumeField // for optVolumeString
}

func (d *optDef) takesValue() bool { return d.val != valNone }

// name is the spelling used in messages: the first long name, else "-x".
func (d *optDef) name() string {
	if len(d.names) > 0 {
		return d.names[0]
	}
	return "-" + string(d.short)
}

// both returns "--x" and "-x" for mkisofs options documented with both forms.
func both(name string) []string { return []string{"--" + name, "-" + name} }

// optionTable lists every option of §2 (7.0/7.1) plus --import-iso-skip-eltorito
// from Appendix A.
var optionTable = []optDef{
	{id: optMarker, names: []string{"--iprt-iso-maker-file-marker"}, val: valString},
	{id: optMarker, names: []string{"--iprt-iso-maker-file-marker-ms"}, val: valString},
	{id: optMarker, names: []string{"--iprt-iso-maker-file-marker-ms-crt"}, val: valString},
	{id: optMarker, names: []string{"--iprt-iso-maker-file-marker-bourne"}, val: valString},
	{id: optMarker, names: []string{"--iprt-iso-maker-file-marker-bourne-sh"}, val: valString},

	{id: optImportISO, names: []string{"--import-iso"}, val: valString},
	{id: optImportISOSkipElTorito, names: []string{"--import-iso-skip-eltorito"}, val: valString},
	{id: optPushISO, names: []string{"--push-iso"}, val: valString},
	{id: optPushISONoJoliet, names: []string{"--push-iso-no-joliet"}, val: valString},
	{id: optPushISONoRock, names: []string{"--push-iso-no-rock"}, val: valString},
	{id: optPushISONoRockNoJoliet, names: []string{"--push-iso-no-rock-no-joliet"}, val: valString},
	{id: optPop, names: []string{"--pop"}},

	{id: optNameSetup, names: []string{"--name-setup"}, val: valString},
	{id: optNameSetupFromImport, names: []string{"--name-setup-from-import"}},
	{id: optGraftPoints, names: both("graft-points")},

	{id: optISOLevel, names: []string{"--iso-level", "---iso-level"}, val: valU8},
	{id: optLongNames, names: []string{"--long-names"}, short: 'l'},
	{id: optRockRidge, names: []string{"--rock-ridge"}},
	{id: optLimitedRockRidge, names: []string{"--limited-rock-ridge"}},
	{id: optNoRockRidge, names: []string{"--no-rock-ridge"}},
	{id: optRock, names: both("rock"), short: 'R'},
	{id: optRationalRock, names: both("rational-rock"), short: 'r'},
	{id: optJoliet, names: []string{"--joliet"}, short: 'J'},
	{id: optNoJoliet, names: []string{"--no-joliet"}},
	{id: optJolietUCSLevel, names: []string{"--joliet-ucs-level", "--ucs-level", "-ucs-level"}, val: valU8},

	{id: optRationalAttribs, names: []string{"--rational-attribs"}},
	{id: optStrictAttribs, names: []string{"--strict-attribs"}},
	{id: optFileMode, names: both("file-mode"), val: valOctal},
	{id: optNoFileMode, names: []string{"--no-file-mode"}},
	{id: optDirMode, names: both("dir-mode"), val: valOctal},
	{id: optNoDirMode, names: []string{"--no-dir-mode"}},
	{id: optNewDirMode, names: both("new-dir-mode"), val: valOctal},
	{id: optChmod, names: []string{"--chmod"}, val: valString},
	{id: optChown, names: []string{"--chown"}, val: valString},
	{id: optChgrp, names: []string{"--chgrp"}, val: valString},

	{id: optElToritoBoot, names: both("eltorito-boot"), short: 'b', val: valString},
	{id: optElToritoAddImage, names: []string{"--eltorito-add-image"}, val: valString},
	{id: optElToritoNewEntry, names: []string{"--eltorito-new-entry", "--eltorito-alt-boot", "-eltorito-alt-boot"}},
	{id: optElToritoPlatformID, names: both("eltorito-platform-id"), val: valString},
	{id: optNoBoot, names: both("no-boot")},
	{id: optFloppy12, names: []string{"--eltorito-floppy-12"}},
	{id: optFloppy144, names: []string{"--eltorito-floppy-144"}},
	{id: optFloppy288, names: []string{"--eltorito-floppy-288"}},
	{id: optHardDiskBoot, names: both("hard-disk-boot")},
	{id: optNoEmulationBoot, names: both("no-emulation-boot")},
	{id: optBootLoadSeg, names: both("boot-load-seg"), val: valU16},
	{id: optBootLoadSize, names: both("boot-load-size"), val: valU16},
	{id: optBootInfoTable, names: both("boot-info-table")},
	{id: optBootCatalog, names: []string{"--boot-catalog"}, short: 'c', val: valString},
	{id: optGenericBoot, names: []string{"--generic-boot"}, short: 'G', val: valString},

	{id: optVolumeString, names: []string{"--volume-id", "--volid", "-volid"}, val: valString, field: FieldVolumeID},
	{id: optVolumeString, names: both("volset"), val: valString, field: FieldVolumeSetID},
	{id: optVolumeString, names: both("publisher"), short: 'P', val: valString, field: FieldPublisherID},
	{id: optVolumeString, names: []string{"--preparer"}, short: 'p', val: valString, field: FieldPreparerID},
	{id: optVolumeString, names: []string{"--application-id"}, short: 'A', val: valString, field: FieldApplicationID},
	{id: optVolumeString, names: both("sysid"), val: valString, field: FieldSystemID},
	{id: optVolumeString, names: both("copyright"), val: valString, field: FieldCopyrightFile},
	{id: optVolumeString, names: both("abstract"), val: valString, field: FieldAbstractFile},
	{id: optVolumeString, names: both("biblio"), val: valString, field: FieldBiblioFile},

	{id: optPad, names: both("pad")},
	{id: optNoPad, names: both("no-pad")},

	{id: optOutput, names: []string{"--output"}, short: 'o', val: valString},
	{id: optIgnored, names: []string{"--output-buffer-size"}, val: valU32},
	{id: optIgnored, names: []string{"--random-output-buffer-size"}},
	{id: optIgnored, names: []string{"--random-order-verification"}, val: valU32},

	{id: optHelp, names: []string{"--help", "-help"}, short: 'h'},
	{id: optHelp, names: nil, short: '?'},
	{id: optVersion, names: []string{"--version", "-version"}, short: 'V'},
}

// unsupportedValueless and unsupportedWithValue are the mkisofs compatibility
// options of §2.11 that are recognised (so a value is consumed) and then
// refused. Names without a leading dash get both "--x" and "-x"; names with
// dashes are taken as written.
var unsupportedValueless = []string{
	"allow-limited-size", "allow-leading-dots", "ldots", "allow-lowercase", "allow-multidot",
	"cache-inodes", "no-cache-inodes", "check-oldnames", "dvd-video", "gui",
	"hide-joliet-trans-tbl", "hide-rr-moved", "joliet-long", "max-iso9660-filenames",
	"nobak", "no-bak", "force-rr", "no-rr", "no-split-symlink-components", "no-split-symlink-fields",
	"print-size", "quiet", "relaxed-filenames", "split-output", "udf", "use-fileversion",
	"no-iso-translate",
	"hfs", "apple", "probe", "no-desktop", "mac-name", "part", "icon-position", "chrp-boot", "hfs-unlock",
	"--cap", "--netatalk", "--double", "--ethershare", "--ushare", "--exchange", "--sgi", "--xinet",
	"--macbin", "--single", "--dave", "--sfm", "--osx-double", "--osx-hfs",
}

var unsupportedWithValue = []string{
	"alpha-boot", "hppa-bootloader", "hppa-cmdline", "hppa-kernel-32", "hppa-kernel-64", "hppa-ramdisk",
	"mips-boot", "mipsel-boot", "check-session", "gid", "uid",
	"hide", "hide-list", "hidden", "hidden-list", "hide-joliet", "hide-joliet-list",
	"input-charset", "output-charset", "jcharset",
	"jigdo-jigdo", "jigdo-template", "jigdo-min-file-size", "jigdo-force-md5", "jigdo-exclude",
	"jigdo-map", "md5-list", "jigdo-template-compress",
	"log-file", "exclude-list", "path-list", "root", "old-root", "sort",
	"sparc-label", "sunx86-boot", "sunx86-label", "stream-media-size", "stream-file-name",
	"table-name", "volset-size", "volset-seqno",
	"map", "magic", "hfs-creator", "hfs-type", "boot-hfs-file", "auto", "cluster-size",
	"hide-hfs", "hide-hfs-list", "hfs-volid", "root-info", "prep-boot", "input-hfs-charset",
	"output-hfs-charset", "hfs-bless", "hfs-parms",
}

// Unsupported options that have a short letter.
var unsupportedShort = []optDef{
	{id: optUnsupported, names: both("sparc-boot"), short: 'B', val: valString},
	{id: optUnsupported, names: []string{"--cd-extra"}, short: 'C', val: valString},
	{id: optUnsupported, names: []string{"--dont-append-dot"}, short: 'd'},
	{id: optUnsupported, names: []string{"--deep-directories"}, short: 'D'},
	{id: optUnsupported, names: both("follow-symlinks"), short: 'f'},
	{id: optUnsupported, names: []string{"--leading-dot"}, short: 'L'},
	{id: optUnsupported, names: nil, short: 'm', val: valString},
	{id: optUnsupported, names: []string{"--exclude"}, short: 'x', val: valString},
	{id: optUnsupported, names: []string{"--merge", "-dev", "--dev"}, short: 'M', val: valString},
	{id: optUnsupported, names: []string{"--omit-version-numbers"}, short: 'N'},
	{id: optUnsupported, names: []string{"--trans-tbl"}, short: 'T'},
	{id: optUnsupported, names: []string{"--untranslated-filenames"}, short: 'U'},
	{id: optUnsupported, names: []string{"--transpared-compression"}, short: 'z'},
}

var (
	longOptions  map[string]*optDef
	shortOptions [128]*optDef
)

func init() {
	all := make([]optDef, 0, len(optionTable)+len(unsupportedShort)+len(unsupportedValueless)+len(unsupportedWithValue))
	all = append(all, optionTable...)
	all = append(all, unsupportedShort...)
	for _, n := range unsupportedValueless {
		all = append(all, optDef{id: optUnsupported, names: spell(n)})
	}
	for _, n := range unsupportedWithValue {
		all = append(all, optDef{id: optUnsupported, names: spell(n), val: valString})
	}
	longOptions = make(map[string]*optDef, 2*len(all))
	for i := range all {
		d := &all[i]
		for _, n := range d.names {
			if _, dup := longOptions[n]; dup {
				panic("isomaker: duplicate option spelling " + n)
			}
			longOptions[n] = d
		}
		if d.short != 0 {
			if shortOptions[d.short] != nil {
				panic("isomaker: duplicate short option -" + string(d.short))
			}
			shortOptions[d.short] = d
		}
	}
}

func spell(n string) []string {
	if strings.HasPrefix(n, "-") {
		return []string{n}
	}
	return both(n)
}

// isDash reports whether r may stand for '-' in an option (§2.1: copy-paste
// tolerance for Unicode hyphens and dashes).
func isDash(r rune) bool {
	switch r {
	case '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\uFE58', '\uFE63', '\uFF0D':
		return true
	}
	return false
}

// normaliseDashes replaces every Unicode dash of s by '-'; ascii reports
// whether s had none to replace.
func normaliseDashes(s string) (norm string, ascii bool) {
	ascii = true
	for _, r := range s {
		if r != '-' && isDash(r) {
			ascii = false
			break
		}
	}
	if ascii {
		return s, true
	}
	var b strings.Builder
	for _, r := range s {
		if isDash(r) {
			b.WriteByte('-')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String(), false
}
