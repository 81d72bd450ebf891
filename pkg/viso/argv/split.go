package argv

import (
	"strings"
	"unicode/utf8"
)

// Split splits text into arguments with the rules of the given dialect.
// Any value other than MSCRT selects the Bourne dialect, as VirtualBox does.
func Split(text string, q Quoting) []Arg {
	if q == MSCRT {
		return SplitMSCRT(text)
	}
	return SplitBourne(text)
}

// isSeparator reports whether c ends an unquoted argument. IPRT's VISO splitter uses
// exactly space, TAB, LF and CR; \v and \f are ordinary argument characters.
func isSeparator(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// scanner walks the text one code point at a time and keeps the 1-based line number.
// Only LF counts as a line break, so a CR LF pair is one break and a lone CR is none.
type scanner struct {
	text string
	pos  int
	line int
}

func newScanner(text string) *scanner { return &scanner{text: text, line: 1} }

func (s *scanner) done() bool { return s.pos >= len(s.text) }

// peek returns the first byte of the next code point (0 at end of input). Every
// character with a meaning to the splitters is ASCII, so one byte is enough to classify.
func (s *scanner) peek() byte {
	if s.done() {
		return 0
	}
	return s.text[s.pos]
}

// next consumes one code point and returns its bytes exactly as written. An invalid
// UTF-8 byte is returned alone and unchanged, so no input byte is ever rewritten.
func (s *scanner) next() string {
	_, n := utf8.DecodeRuneInString(s.text[s.pos:])
	cp := s.text[s.pos : s.pos+n]
	s.pos += n
	if cp == "\n" {
		s.line++
	}
	return cp
}

// skipSeparators consumes a run of separators; they never produce empty arguments.
func (s *scanner) skipSeparators() {
	for !s.done() && isSeparator(s.text[s.pos]) {
		s.next()
	}
}

// SplitBourne splits text with IPRT's Bourne-shell dialect (spec §1.8).
//
// Outside quotes a backslash takes the next code point literally (a backslash-newline
// therefore puts an LF into the argument; it is not a line continuation) and a backslash
// at the end of the input is dropped. Single quotes keep everything literal. Inside
// double quotes a backslash before ", \, `, $ or LF yields that character, and before any
// other character X yields `"X` — IPRT's quirk, reproduced so that "C:\dir" reads as
// C:"dir exactly as VirtualBox reads it. An unterminated quote ends with the input.
//
// Any non-separator code point starts an argument, so two quotes standing alone give an empty
// argument, and so is a lone trailing backslash after a separator.
func SplitBourne(text string) []Arg {
	const (
		outside = iota
		inSingle
		inDouble
	)
	var args []Arg
	s := newScanner(text)
	for {
		s.skipSeparators()
		if s.done() {
			return args
		}
		line := s.line
		var b strings.Builder
		state := outside
	arg:
		for !s.done() {
			cp := s.next()
			switch state {
			case outside:
				switch {
				case isSeparator(cp[0]):
					break arg
				case cp == "'":
					state = inSingle
				case cp == `"`:
					state = inDouble
				case cp == `\`:
					if !s.done() {
						b.WriteString(s.next())
					}
				default:
					b.WriteString(cp)
				}
			case inSingle:
				if cp == "'" {
					state = outside
				} else {
					b.WriteString(cp)
				}
			case inDouble:
				switch cp {
				case `"`:
					state = outside
				case `\`:
					if s.done() {
						break
					}
					switch esc := s.next(); esc {
					case `"`, `\`, "`", "$", "\n":
						b.WriteString(esc)
					default:
						b.WriteByte('"')
						b.WriteString(esc)
					}
				default:
					b.WriteString(cp)
				}
			}
		}
		args = append(args, Arg{Text: b.String(), Line: line})
	}
}

// SplitMSCRT splits text with IPRT's MS C runtime dialect (spec §1.9).
//
// A run of n backslashes is literal unless a double quote follows it; then it yields n/2
// backslashes and, for odd n, a literal quote that is consumed. A double quote toggles
// the quoting state, except that "" inside quotes is one literal quote and quoting stays
// on. Single quotes have no meaning. An unterminated quote ends with the input.
func SplitMSCRT(text string) []Arg {
	var args []Arg
	s := newScanner(text)
	for {
		s.skipSeparators()
		if s.done() {
			return args
		}
		line := s.line
		var b strings.Builder
		quoted := false
	arg:
		for !s.done() {
			switch c := s.peek(); {
			case c == '\\':
				n := 0
				for s.peek() == '\\' {
					s.next()
					n++
				}
				if s.peek() != '"' {
					b.WriteString(strings.Repeat(`\`, n))
					continue
				}
				b.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					s.next()
					b.WriteByte('"')
				}
				// For even n the quote is handled by the next iteration.
			case c == '"':
				s.next()
				switch {
				case !quoted:
					quoted = true
				case s.peek() == '"':
					s.next()
					b.WriteByte('"')
				default:
					quoted = false
				}
			case isSeparator(c) && !quoted:
				break arg
			default:
				b.WriteString(s.next())
			}
		}
		args = append(args, Arg{Text: b.String(), Line: line})
	}
}
