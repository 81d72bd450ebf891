// Package isoimage synthesises ISO 9660 images (primary namespace with Rock
// Ridge, Joliet, El Torito) on read.
//
// A Tree is the mutable namespace model that the ISO-maker executor drives one
// operation at a time (add a file, add or merge a directory, remove, chmod, set
// levels and volume strings, describe the boot catalog). Finalize computes a
// deterministic layout in O(number of objects) (plus sorting) and returns an
// Image: an io.ReaderAt whose bytes are produced when read. Volume descriptors,
// path tables, the boot catalog and the Rock Ridge spill area are small and kept
// in memory; directory sectors are rendered on demand from per-directory
// sector indexes; file data is read straight from each object's Source.
//
// Operations (what the executor calls, in argument order):
//
//   - levels and switches: SetISOLevel (affects names added afterwards and the
//     4 GiB check), SetRockRidgeLevel, SetJolietLevel (global, last value
//     wins), SetNewDirMode, SetPad, SetSystemArea / ReadSystemArea;
//   - content: AddFile, AddDir (new directory), MergeDir (top-level reuse of an
//     existing directory), AddSymlink and AddSpecial (imports; primary/Rock
//     Ridge only). Names carries one destination path per namespace, "" for
//     none; Names.ISOName carries an imported ISO 9660 identifier;
//   - Lookup (case-insensitive on spec names, per namespace), Remove (whole
//     object, all namespaces, subtree), Chmod / Chown / Chgrp;
//   - SetVolumeString per namespace (primary: raw bytes; Joliet: UTF-16BE);
//   - SetBootCatalog (validation entry, default entry, sections) and
//     NameBootCatalog (a visible catalog file);
//   - SetBase (in-place layout, inplace.go): the files whose Source
//     implements BaseExtenter (the first --import-iso gives them one) keep
//     their base LBA and are served straight from Base.Source; volume
//     descriptors stay at 16.., directories, path tables, catalog, added
//     files and the spill area go first fit into base sectors no kept extent
//     uses, else after the base; base sectors nothing uses read as zeros; an
//     isohybrid MBR/GPT in the system area is fixed up for the new size and
//     the backup GPT is generated at the end (hybrid.go);
//   - Finalize, once. The image shares the tree's object table; drop the tree
//     afterwards to release its lookup maps.
//
// Errors are sentinels (ErrAlreadyExists, ErrNotADirectory, ...) wrapped in
// *NameError / *PathError or fmt.Errorf context; test them with errors.Is.
//
// Determinism: no byte depends on the wall clock, host paths or host file
// times. The only time the package invents is Config.Epoch (volume descriptor
// dates, the default volume id, implicit directories, the root and the boot
// catalog); every object carries the times its creator passed.
//
// Deliberate divergences from the IPRT ISO maker of VirtualBox 7.0/7.1 (see the
// format specification, section 4): no TRANS.TBL files are generated; El Torito
// catalogs with several sections are written correctly (0x90 headers, 0x91 for
// the last one); multi-extent records carry correct both-endian fields; the
// `..` records get their own correct Rock Ridge data; the long-extension
// mangling corner case writes clean bytes instead of leftovers.
package isoimage
