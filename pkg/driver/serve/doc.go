// Package serve publishes an image (an io.ReaderAt of fixed size) as a
// read-only regular file through FUSE, and optionally as a read-only loop
// device over that file.
//
// The mount is a single directory (mode 0555) holding one file (mode 0444,
// owner root, world-readable so a KubeVirt launcher running as UID 107 can
// open it). The bytes never change while the mount lives, which lets the
// kernel cache them (FOPEN_KEEP_CACHE) and keep attributes forever.
//
// The FUSE protocol is spoken by this package itself (proto.go, conn.go):
// the tree is fixed (root node 1, the file node 2, file handle 0) and the
// session negotiated at INIT is data (Session), so another process can take
// a live /dev/fuse descriptor over (Resume) after the plugin restarts and
// answer requests for nodes and handles the kernel got from the old one.
//
// Throughput choices follow the measurements in the design notes: 1 MiB
// FUSE requests, the mount's readahead raised to 4 MiB after mounting (the
// FUSE INIT reply can only lower it), and zero-copy splice for reads that fall
// inside one host file of the image (see FdRanger). An image that is one
// whole host file (a raw ISO) is registered as the connection's passthrough
// backing file instead, so the kernel reads that file directly.
//
// Measured on Linux 6.18 (dd bs=1M of a 1.1 GiB image against dd of its
// sources, BenchmarkPublishedThroughput in package driver): passthrough reaches
// ~96% cold and ~100% warm. A synthesised image reaches ~60-90% cold but only
// ~35-45% warm: the kernel's FUSE page cache holds 4 KiB folios (FUSE does not
// enable large folios), and copying cached data out of them costs about 2.5
// times what ext4's large folios cost. FOPEN_DIRECT_IO with splice measured no
// better warm (~25-55%) and loses caching for small readers, so it stays off.
//
// Cleanup order matters and is encoded here: loop devices over the file are
// detached before the FUSE mount is unmounted, because a bound loop device
// keeps the file open and the unmount then fails with EBUSY. A server that
// died (plugin crash, aborted connection) leaves a dead mount whose every
// access fails with ENOTCONN; CleanupMountPoint removes it so that a new
// mount does not stack on top of it.
package serve
