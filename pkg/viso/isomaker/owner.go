package isomaker

import (
	"io/fs"
	"syscall"
)

// ownerOf returns the uid and gid of a host file for the strict attribute style
// (0, 0 where the platform does not report them).
func ownerOf(fi fs.FileInfo) (uint32, uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}
