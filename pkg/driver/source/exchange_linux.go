package source

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchange atomically swaps the names a and b (both single components in the
// folder root is open on) with renameat2(RENAME_EXCHANGE). Neither name is
// followed if it is a symlink.
func exchange(root *os.Root, a, b string) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		rerr = unix.Renameat2(int(fd), a, int(fd), b, unix.RENAME_EXCHANGE)
	}); err != nil {
		return err
	}
	if rerr != nil {
		return &os.LinkError{Op: "renameat2 exchange", Old: a, New: b, Err: rerr}
	}
	return nil
}

// exchangeUnsupported reports whether exchange failed because the kernel or
// filesystem lacks RENAME_EXCHANGE.
func exchangeUnsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)
}
