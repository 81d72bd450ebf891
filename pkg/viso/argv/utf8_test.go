package argv

import (
	"errors"
	"testing"
)

func TestValidateUTF8(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		wantErr string // full message; "" means valid
		line    int
		offset  int
	}{
		{"empty", "", "", 0, 0},
		{"ascii", "--a b\n", "", 0, 0},
		{"multibyte", "é€\U0001F600", "", 0, 0},
		{"BOM later is fine", "a\uFEFF", "", 0, 0},
		{"U+FFFD itself is fine", "\uFFFD", "", 0, 0},
		{"NUL", "ab\ncd\x00", "invalid file encoding: NUL byte at line 2, byte offset 5", 2, 5},
		{"stray continuation", "a\n\nb\x80", "invalid file encoding: invalid UTF-8 at line 3, byte offset 4", 3, 4},
		{"truncated", "a\xe2\x82", "invalid file encoding: invalid UTF-8 at line 1, byte offset 1", 1, 1},
		{"overlong slash", "\xc0\xaf", "invalid file encoding: invalid UTF-8 at line 1, byte offset 0", 1, 0},
		{"overlong 3-byte", "\xe0\x80\xaf", "invalid file encoding: invalid UTF-8 at line 1, byte offset 0", 1, 0},
		{"surrogate", "x\xed\xa0\x80", "invalid file encoding: UTF-16 surrogate code point (invalid UTF-8) at line 1, byte offset 1", 1, 1},
		{"above U+10FFFF", "\xf4\x90\x80\x80", "invalid file encoding: invalid UTF-8 at line 1, byte offset 0", 1, 0},
		{"legacy 5-byte form refused", "\xf8\x88\x80\x80\x80", "invalid file encoding: invalid UTF-8 at line 1, byte offset 0", 1, 0},
		{"legacy 6-byte form refused", "\xfc\x84\x80\x80\x80\x80", "invalid file encoding: invalid UTF-8 at line 1, byte offset 0", 1, 0},
		{"U+FFFE", "\r\n\uFFFE", "invalid file encoding: code point U+FFFE at line 2, byte offset 2", 2, 2},
		{"U+FFFF", "\uFFFF", "invalid file encoding: code point U+FFFF at line 1, byte offset 0", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateUTF8([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateUTF8(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateUTF8(%q) = nil, want %q", tc.in, tc.wantErr)
			}
			if !errors.Is(err, ErrEncoding) {
				t.Errorf("error %v does not wrap ErrEncoding", err)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("message %q, want %q", err.Error(), tc.wantErr)
			}
			var ee *EncodingError
			if !errors.As(err, &ee) || ee.Line != tc.line || ee.Offset != tc.offset {
				t.Errorf("got %#v, want line %d offset %d", ee, tc.line, tc.offset)
			}
		})
	}
}
