package serve

import (
	"encoding/binary"
	"time"
)

// The part of the FUSE kernel protocol (linux/fuse.h, 7.x) a read-only file
// system of one file needs. We speak it ourselves rather than through a
// library because a served connection must be resumable by another process:
// after a plugin restart the new server takes over a /dev/fuse descriptor
// whose INIT was answered long ago, with node IDs and file handles the
// kernel already holds. Keeping both fixed (root 1, file 2, handle 0) makes
// that trivial.

const (
	opLookup      = 1
	opForget      = 2
	opGetattr     = 3
	opSetattr     = 4
	opOpen        = 14
	opRead        = 15
	opStatfs      = 17
	opRelease     = 18
	opFlush       = 25
	opInit        = 26
	opOpendir     = 27
	opReaddir     = 28
	opReleasedir  = 29
	opInterrupt   = 36
	opDestroy     = 38
	opBatchForget = 42
)

const (
	inHeaderSize  = 40
	outHeaderSize = 16
	attrSize      = 88
	entryOutSize  = 40 + attrSize
	attrOutSize   = 16 + attrSize
	openOutSize   = 16
	statfsOutSize = 80
	initOutSize   = 64

	rootID = 1 // FUSE_ROOT_ID
	fileID = 2

	// Our protocol level: 7.31 gives max_pages; later features are flags.
	protoMajor = 7
	protoMinor = 31

	// INIT flags (flags | flags2<<32).
	initAsyncRead    = 1 << 0
	initAtomicOTrunc = 1 << 3
	initBigWrites    = 1 << 5
	initSpliceWrite  = 1 << 7
	initSpliceRead   = 1 << 9
	initAsyncDIO     = 1 << 15
	initParallelDirs = 1 << 18
	initMaxPages     = 1 << 22
	initExt          = 1 << 30
	initPassthrough  = 1 << 37
	initHasResend    = 1 << 39

	fopenDirectIO    = 1 << 0
	fopenKeepCache   = 1 << 1
	fopenCacheDir    = 1 << 3
	fopenPassthrough = 1 << 7

	notifyResend = 7 // FUSE_NOTIFY_RESEND (kernel 6.9+)

	// FUSE_DEV_IOC_BACKING_OPEN / _CLOSE: _IOW(229, 1, struct fuse_backing_map) / _IOW(229, 2, uint32).
	iocBackingOpen  = 0x4010e501
	iocBackingClose = 0x4004e502
)

var le = binary.LittleEndian

// inHeader is fuse_in_header.
type inHeader struct {
	len    uint32
	opcode uint32
	unique uint64
	nodeID uint64
	uid    uint32
	gid    uint32
	pid    uint32
	extlen uint16
}

func parseInHeader(b []byte) inHeader {
	return inHeader{
		len: le.Uint32(b[0:]), opcode: le.Uint32(b[4:]), unique: le.Uint64(b[8:]),
		nodeID: le.Uint64(b[16:]), uid: le.Uint32(b[24:]), gid: le.Uint32(b[28:]),
		pid: le.Uint32(b[32:]), extlen: le.Uint16(b[36:]),
	}
}

func putOutHeader(b []byte, total int, errno int32, unique uint64) {
	le.PutUint32(b[0:], uint32(total))
	le.PutUint32(b[4:], uint32(errno))
	le.PutUint64(b[8:], unique)
}

// attr is the part of fuse_attr we fill.
type attr struct {
	ino, size, blocks uint64
	mode, nlink       uint32
	blksize           uint32
	mtime             time.Time
}

func putAttr(b []byte, a attr) {
	clear(b[:attrSize])
	sec, nsec := uint64(a.mtime.Unix()), uint32(a.mtime.Nanosecond())
	le.PutUint64(b[0:], a.ino)
	le.PutUint64(b[8:], a.size)
	le.PutUint64(b[16:], a.blocks)
	le.PutUint64(b[24:], sec) // atime
	le.PutUint64(b[32:], sec) // mtime
	le.PutUint64(b[40:], sec) // ctime
	le.PutUint32(b[48:], nsec)
	le.PutUint32(b[52:], nsec)
	le.PutUint32(b[56:], nsec)
	le.PutUint32(b[60:], a.mode)
	le.PutUint32(b[64:], a.nlink)
	// uid, gid, rdev stay 0 (root-owned, world-readable)
	le.PutUint32(b[80:], a.blksize)
}

// putValid writes a timeout as the seconds + nanoseconds pair FUSE uses.
func putValid(b []byte, at8 int, at4 int, d time.Duration) {
	le.PutUint64(b[at8:], uint64(d/time.Second))
	le.PutUint32(b[at4:], uint32(d%time.Second))
}
