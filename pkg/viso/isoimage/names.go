package isoimage

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldKey returns a canonical form of s such that foldKey(a) == foldKey(b)
// exactly when strings.EqualFold(a, b): every rune is replaced by a fixed member
// of its simple case-folding orbit (the smallest one, or the lower-case letter
// for ASCII). Names that are already canonical (the common all-lower-case ASCII
// case) are returned unchanged, without allocating.
func foldKey(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return foldSlow(s, i)
		}
	}
	return s
}

func foldSlow(s string, from int) string {
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:from])
	changed := false
	for _, r := range s[from:] {
		c := foldRune(r)
		if c != r {
			changed = true
		}
		b.WriteRune(c)
	}
	if !changed {
		return s
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lowest {
			lowest = f
		}
	}
	if 'A' <= lowest && lowest <= 'Z' {
		lowest += 'a' - 'A'
	}
	return lowest
}

// splitPath turns a destination path into its components per spec §3.2:
// repeated slashes collapse, "." is ignored, ".." goes up (never above the
// root). A final "." or ".." is ErrInvalidName; a trailing slash when the
// caller names a file (wantDir false) is ErrNotADirectory.
func splitPath(p string, wantDir bool) ([]string, error) {
	trimmed := strings.TrimRight(p, "/")
	if !wantDir && trimmed != p {
		return nil, ErrNotADirectory
	}
	last := trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		last = trimmed[i+1:]
	}
	if last == "." || last == ".." {
		return nil, ErrInvalidName
	}
	var out []string
	for part := range strings.SplitSeq(trimmed, "/") {
		switch part {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, part)
		}
	}
	if len(out) == 0 && !wantDir {
		return nil, ErrInvalidName
	}
	return out, nil
}

// filterPart is the character filter of spec §4.6 step 2: keep ASCII letters
// (upper-cased), digits and '_', drop everything else, and stop once the limit
// is reached (checked after appending, so a limit of 0 still lets one through).
func filterPart(dst []byte, s string, limit int) []byte {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		default:
			continue // non-ASCII bytes are never kept, so byte-wise is rune-wise here
		}
		dst = append(dst, c)
		n++
		if n >= limit {
			break
		}
	}
	return dst
}

// mangleName makes the ISO 9660 identifier of a spec name for the given level
// (spec §4.6 steps 1-4), without uniqueness handling. Files get ";1".
func mangleName(spec string, level int, isDir bool) string {
	name := strings.TrimLeft(spec, ".")
	if name == "" {
		name = "DOTS"
	}
	long := 30
	if level == 1 {
		long = 8
	}
	var b []byte
	dot := strings.LastIndexByte(name, '.')
	switch {
	case isDir || dot < 0:
		b = filterPart(b, name, long)
	case level == 1:
		// Quirk kept from 7.0/7.1: the base filters the whole name, so
		// extension characters fill a short base ("a.txt" -> "ATXT.TXT").
		b = filterPart(b, name, 8)
		b = append(b, '.')
		b = filterPart(b, name[dot+1:], 3)
	default:
		ext := len(filterPart(nil, name[dot+1:], 28))
		base := len(filterPart(nil, name[:dot], 28))
		switch {
		case ext == 0:
			b = filterPart(b, name, 30)
		case base+1+ext <= 30:
			b = filterPart(b, name[:dot], 28)
			b = append(b, '.')
			b = filterPart(b, name[dot+1:], 28-base)
		default:
			keep := min(ext, 4)
			b = filterPart(b, name[:dot], 28)
			b = b[:min(len(b), 29-keep)]
			// 7.0/7.1 may leave bytes of an earlier extension copy between a
			// short base and the dot; we write the clean name instead.
			b = append(b, '.')
			b = filterPart(b, name[dot+1:], keep-1)
		}
	}
	if len(b) == 0 || (b[0] == '.' && len(b) == 1) {
		// Everything was filtered away (e.g. a purely non-ASCII name); the spec
		// is silent, an empty identifier is invalid, so use "_".
		b = append(b[:0], '_')
		if !isDir && dot >= 0 && level == 1 {
			b = append(b, '.')
		}
	}
	if !isDir {
		b = append(b, ';', '1')
	}
	return string(b)
}

// importedName is the ISO identifier of an imported object (spec §4.6 step 6).
func importedName(id string, isDir bool) string {
	if i := strings.IndexByte(id, ';'); i >= 0 {
		id = id[:i]
	}
	id = id[:min(len(id), 30)]
	if id == "" {
		id = "_"
	}
	if !isDir {
		id += ";1"
	}
	return id
}

// uniqueName applies the numeric-infix rule of spec §4.6 step 5 until taken
// reports a free name. It returns "" when 32768 attempts are exhausted.
func uniqueName(name string, level int, isDir bool, taken func(string) bool) string {
	if !taken(name) {
		return name
	}
	end := len(name)
	if !isDir {
		end -= 2 // ";1"
	}
	dot := strings.IndexByte(name[:end], '.')
	if dot < 0 {
		dot = end
	}
	base, tail := name[:dot], name[dot:]
	limit := 30
	if level == 1 {
		limit = 8
	}
	digits := 0
	buf := make([]byte, 0, len(name)+8)
	for n := 1; n <= 32768; n++ {
		d := strconv.Itoa(n)
		if len(d) > digits {
			digits = len(d)
			if len(base) < limit-len(tail) {
				base += "0" // position is overwritten by the digits below
			}
		}
		keep := max(len(base)-len(d), 0)
		buf = append(buf[:0], base[:keep]...)
		buf = append(buf, d...)
		buf = append(buf, tail...)
		if cand := string(buf); !taken(cand) {
			return cand
		}
	}
	return ""
}

// nameWeight orders bytes per spec §4.5: ';' before everything, then '.',
// then plain unsigned byte order.
func nameWeight(c byte) int {
	switch c {
	case ';':
		return 0
	case '.':
		return 1
	}
	return int(c) + 2
}

// compareNames is the directory sort order of spec §4.5.
func compareNames(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return nameWeight(a[i]) - nameWeight(b[i])
		}
	}
	return len(a) - len(b)
}

// utf16Len counts the UTF-16 code units of s (surrogate pairs count two).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// appendUTF16BE appends s as UTF-16BE (non-BMP runes as surrogate pairs).
func appendUTF16BE(dst []byte, s string) []byte {
	// Fast path for ASCII (most names): two bytes per byte, no rune decoding.
	i := 0
	if cap(dst)-len(dst) >= 2*len(s) {
		start := len(dst)
		dst = dst[:start+2*len(s)]
		w := dst[start:]
		for ; i < len(s) && s[i] < utf8.RuneSelf; i++ {
			w[2*i], w[2*i+1] = 0, s[i]
		}
		dst = dst[:start+2*i]
		if i == len(s) {
			return dst
		}
	}
	for _, r := range s[i:] {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		dst = append(dst, byte(r>>8), byte(r))
	}
	return dst
}
