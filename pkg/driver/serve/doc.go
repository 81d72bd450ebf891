// Package serve publishes an image (an io.ReaderAt of fixed size) as a
// read-only regular file through FUSE, and optionally as a read-only loop
// device over that file.
//
// The mount is a single directory (mode 0555) holding one file (mode 0444,
// owner root, world-readable so a KubeVirt launcher running as UID 107 can
// open it). The bytes never change while the mount lives, which lets the
// kernel cache them (FOPEN_KEEP_CACHE) and keep attributes forever.
//
// Throughput choices follow the measurements in the design notes: 1 MiB
// FUSE requests, the mount's readahead raised to 4 MiB after mounting (the
// FUSE INIT reply can only lower it), and zero-copy splice for reads that fall
// inside one host file of the image (see FdRanger).
//
// Cleanup order matters and is encoded here: loop devices over the file are
// detached before the FUSE mount is unmounted, because a bound loop device
// keeps the file open and the unmount then fails with EBUSY. A server that
// died (plugin crash, aborted connection) leaves a dead mount whose every
// access fails with ENOTCONN; CleanupMountPoint removes it so that a new
// mount does not stack on top of it.
package serve
