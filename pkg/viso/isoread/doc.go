// Package isoread is a read-only ISO 9660 reader for the ISO maker's
// --import-iso and --push-iso sources (format spec §5, §2.3).
//
// It parses the volume descriptors, the primary directory tree with Rock
// Ridge (SUSP, CE, NM, PX, TF, SL, PN, ER), the Joliet tree, the El Torito
// boot catalog with every section, and the path tables as a cross-check. For
// each file it records the extents it occupies in the source medium, so that
// a synthesised image can serve those bytes straight from the base ISO.
//
// The reader works through an io.ReaderAt and never loads the whole medium:
// directories are read one sector at a time, and every structure that a
// hostile medium could inflate (directory depth, directory bytes, entry
// count, continuation areas, name and symlink lengths) is bounded. A corrupt
// or hostile medium yields an error wrapping one of the exported sentinels,
// never a panic or a hang.
//
// UDF is not supported: a medium without a primary volume descriptor fails
// with ErrUDFOnly (UDF-only media) or ErrNotISO9660.
package isoread
