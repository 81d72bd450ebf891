package isomaker

import (
	"fmt"
	"strings"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

const (
	// vfsChainPrefix introduces an IPRT VFS chain, which we do not support.
	vfsChainPrefix = ":iprtvfs:"
	keywordRemove  = ":remove:"
	keywordMust    = ":must-remove:"
)

// fileSpec is a parsed file specification (§3.1).
type fileSpec struct {
	names  []string // one per name-setup position; "" = not in that position's namespaces
	source string   // the last piece: a source path or a removal keyword
}

// parseFileSpec splits spec at every '=' into names and a source for a name
// setup with the given number of positions.
func parseFileSpec(spec string, positions int) (fileSpec, error) {
	pieces := strings.Split(spec, "=")
	if len(pieces)-1 > positions {
		return fileSpec{}, fmt.Errorf("%w: too many names specified (max %d + source): %s", ErrFileSpec, positions, shorten(spec))
	}
	for i, piece := range pieces {
		if len(piece) >= MaxNameLength {
			return fileSpec{}, fmt.Errorf("%w: name #%d (0-based) is too long (%d bytes, max %d): %s",
				ErrFileSpec, i, len(piece), MaxNameLength-1, shorten(spec))
		}
	}
	src := pieces[len(pieces)-1]
	if src == "" {
		return fileSpec{}, fmt.Errorf("%w: empty source file name: %s", ErrFileSpec, shorten(spec))
	}
	if strings.HasPrefix(src, vfsChainPrefix) {
		return fileSpec{}, fmt.Errorf("%w (our decision; use a plain path): %s", ErrVFSChain, shorten(spec))
	}
	given := pieces[:len(pieces)-1]
	if len(given) == 0 {
		// A bare source lands in the root under its last path component; the
		// directory part of a relative source is not preserved.
		given = []string{"/" + lastComponent(src)}
	}
	return fileSpec{names: expandNames(given, positions), source: src}, nil
}

// expandNames gives non-empty names a leading slash and repeats the last name
// for positions not covered.
func expandNames(given []string, positions int) []string {
	names := make([]string, positions)
	for i := range names {
		n := given[min(i, len(given)-1)]
		if n != "" && !strings.HasPrefix(n, "/") {
			n = "/" + n
		}
		names[i] = n
	}
	return names
}

// lastComponent returns the final path component of p, ignoring trailing
// slashes ("" for "/").
func lastComponent(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// checkFinalComponent rejects a destination whose final component is "." or
// ".." (VERR_INVALID_NAME). A trailing slash leaves nothing to check here: the
// executor decides whether the destination may be a directory.
func checkFinalComponent(name, src string) error {
	if name == "" {
		return nil
	}
	if c := name[strings.LastIndexByte(name, '/')+1:]; c == "." || c == ".." {
		return fmt.Errorf("error setting name '%s' on '%s': %w (final component may not be %q)", name, src, ErrInvalidName, c)
	}
	return nil
}

// shorten keeps messages readable when a spec is huge (the argument itself is
// still in argv.Error.Arg).
func shorten(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// fileSpec handles a non-option argument: an add or a removal.
func (p *parser) fileSpec(src *source, a argv.Arg) error {
	fs, err := parseFileSpec(a.Text, p.positions)
	if err != nil {
		return p.fail(src, a, err)
	}
	switch fs.source {
	case keywordRemove:
		p.emit(src, a, Operation{Kind: OpRemove, Names: fs.names})
		return nil
	case keywordMust:
		p.emit(src, a, Operation{Kind: OpMustRemove, Names: fs.names})
		return nil
	}
	for _, n := range fs.names {
		if err := checkFinalComponent(n, fs.source); err != nil {
			return p.fail(src, a, err)
		}
	}
	p.emit(src, a, Operation{Kind: OpAdd, Names: fs.names, Source: fs.source})
	p.hasContent = true
	return nil
}

// parseAddImage parses the value of --eltorito-add-image: a file spec that must
// add something.
func parseAddImage(value string, positions int) (fileSpec, error) {
	fs, err := parseFileSpec(value, positions)
	if err != nil {
		return fs, err
	}
	if fs.source == keywordRemove || fs.source == keywordMust {
		return fs, fmt.Errorf("%w: --eltorito-add-image cannot remove: %s", ErrFileSpec, shorten(value))
	}
	for _, n := range fs.names {
		if err := checkFinalComponent(n, fs.source); err != nil {
			return fs, err
		}
	}
	return fs, nil
}

// parseCatalogNames parses the value of -c/--boot-catalog: names only, one per
// name-setup position, no source.
func parseCatalogNames(value string, positions int) ([]string, error) {
	pieces := strings.Split(value, "=")
	if len(pieces) > positions {
		return nil, fmt.Errorf("%w: too many names specified (max %d): %s", ErrFileSpec, positions, shorten(value))
	}
	empty := true
	for i, piece := range pieces {
		if len(piece) >= MaxNameLength {
			return nil, fmt.Errorf("%w: name #%d (0-based) is too long: %s", ErrFileSpec, i, shorten(value))
		}
		if piece != "" {
			empty = false
		}
	}
	if empty {
		return nil, fmt.Errorf("%w: --boot-catalog needs a path", ErrEmptyPath)
	}
	names := expandNames(pieces, positions)
	for _, n := range names {
		if err := checkFinalComponent(n, "boot catalog"); err != nil {
			return nil, err
		}
	}
	return names, nil
}
