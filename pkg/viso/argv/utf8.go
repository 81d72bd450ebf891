package argv

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrEncoding is wrapped by every error ValidateUTF8 returns (VirtualBox reports these
// cases as "VISO: Invalid file encoding").
var ErrEncoding = errors.New("invalid file encoding")

// EncodingError locates the first offending byte of a text that failed ValidateUTF8.
type EncodingError struct {
	What   string // e.g. "invalid UTF-8", "NUL byte", "code point U+FFFE"
	Offset int    // 0-based byte offset of the offending sequence
	Line   int    // 1-based line of Offset (LF counts as a line break)
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("%v: %s at line %d, byte offset %d", ErrEncoding, e.What, e.Line, e.Offset)
}

func (e *EncodingError) Unwrap() error { return ErrEncoding }

// ValidateUTF8 applies our encoding rule for VISO and response-file text. It refuses:
//   - NUL bytes (IPRT sees the text as a C string, so a NUL would silently end it);
//   - invalid UTF-8 under Go's strict rules: overlong forms, truncated sequences, stray
//     continuation bytes, UTF-16 surrogates and code points above U+10FFFF;
//   - the non-characters U+FFFE and U+FFFF, which IPRT rejects as byte-order indicators.
//
// IPRT additionally accepts the legacy 5- and 6-byte forms (code points up to
// 0x7FFFFFFF). We deliberately do not: no real text uses them and they are not UTF-8.
//
// The returned error is an *EncodingError wrapping ErrEncoding.
func ValidateUTF8(data []byte) error {
	line := 1
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			switch c {
			case 0:
				return &EncodingError{What: "NUL byte", Offset: i, Line: line}
			case '\n':
				line++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			what := "invalid UTF-8"
			if isSurrogate(data[i:]) {
				what = "UTF-16 surrogate code point (invalid UTF-8)"
			}
			return &EncodingError{What: what, Offset: i, Line: line}
		case r == 0xFFFE || r == 0xFFFF:
			return &EncodingError{What: fmt.Sprintf("code point U+%04X", r), Offset: i, Line: line}
		}
		i += n
	}
	return nil
}

// isSurrogate reports whether p starts with the 3-byte encoding of U+D800..U+DFFF,
// which Go's decoder refuses like any other invalid sequence; naming it helps users.
func isSurrogate(p []byte) bool {
	return len(p) >= 3 && p[0] == 0xED && p[1] >= 0xA0 && p[1] <= 0xBF && p[2] >= 0x80 && p[2] <= 0xBF
}
