package serve

import "fmt"

// Mode is how a volume's image reaches its readers.
type Mode string

const (
	// ModeAuto materialises where the state folder can share blocks with
	// the sources (reflink) and serves through FUSE otherwise.
	ModeAuto Mode = "auto"
	// ModeReflink always materialises; a volume that cannot be is an error.
	ModeReflink Mode = "reflink"
	// ModeFUSE always serves through FUSE (synthesised on read).
	ModeFUSE Mode = "fuse"
	// ModeKernel is what a world-readable plain ISO gets in every mode: a
	// read-only bind mount of the file itself (never asked for by name).
	ModeKernel Mode = "kernel"
)

// ParseMode accepts auto, reflink and fuse.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAuto, ModeReflink, ModeFUSE:
		return m, nil
	}
	return "", fmt.Errorf("unknown serve mode %q (want auto, reflink or fuse)", s)
}
