package isomaker

import (
	"fmt"
	"strconv"
	"strings"
)

// parseUnsigned parses an integer option value the way IPRT GetOpt does for
// RTGETOPT_REQ_UINT8/16/32: decimal first (a single leading '+' allowed), and
// only if that fails, "0x"/"0X" followed by hex digits. There is no octal here,
// so "010" is ten. Empty text, trailing junk and values wider than bits fail.
func parseUnsigned(s string, bits int) (uint64, error) {
	dec := strings.TrimPrefix(s, "+")
	if isDigits(dec, 10) {
		v, err := strconv.ParseUint(dec, 10, bits)
		if err == nil {
			return v, nil
		}
		// Overflow: fall through to the hex attempt, which cannot match a
		// string of decimal digits, so the number is reported invalid.
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isDigits(s[2:], 16) {
		if v, err := strconv.ParseUint(s[2:], 16, bits); err == nil {
			return v, nil
		}
	}
	return 0, fmt.Errorf("invalid %d-bit number %q", bits, s)
}

// parseOctalMode parses a mode option value strictly in base 8 ("0444" and
// "444" are the same; "0x1ff", "8" and "+444" are rejected).
func parseOctalMode(s string) (Mode, error) {
	if !isDigits(s, 8) {
		return 0, fmt.Errorf("invalid octal mode %q", s)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid octal mode %q", s)
	}
	return Mode(v), nil
}

// leadingAutoBase parses the longest numeric prefix of s with C-style base
// detection ("0x" hex, leading "0" octal, else decimal), as IPRT's
// RTStrToUInt32Ex with base 0 does for --chown/--chgrp. It returns the value and
// the unparsed rest; ok is false when there is no digit or the value overflows
// 32 bits.
func leadingAutoBase(s string) (v uint32, rest string, ok bool) {
	base, body := 10, s
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isDigitIn(s[2], 16):
		base, body = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, body = 8, s[1:]
	}
	n := 0
	for n < len(body) && isDigitIn(body[n], base) {
		n++
	}
	if n == 0 {
		if base == 8 { // a lone "0"
			return 0, body, true
		}
		return 0, s, false
	}
	u, err := strconv.ParseUint(body[:n], base, 32)
	if err != nil {
		return 0, s, false
	}
	return uint32(u), body[n:], true
}

// leadingOctal parses the longest prefix of octal digits of s.
func leadingOctal(s string) (v uint64, rest string, ok bool) {
	n := 0
	for n < len(s) && isDigitIn(s[n], 8) {
		n++
	}
	if n == 0 {
		return 0, s, false
	}
	u, err := strconv.ParseUint(s[:n], 8, 32)
	if err != nil {
		return 0, s, false
	}
	return u, s[n:], true
}

func isDigits(s string, base int) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigitIn(s[i], base) {
			return false
		}
	}
	return true
}

func isDigitIn(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f':
		return base == 16
	case c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}
