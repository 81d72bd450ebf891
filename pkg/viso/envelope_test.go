package viso

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

const (
	testUUID  = "4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f"
	bourneSh  = Marker + "-bourne-sh"
	testFile  = "dir/test.viso"
	nilUUIDv  = "00000000-0000-0000-0000-000000000000"
	upperUUID = "4A7D0E65-58F2-4F0B-8F0B-1A2B3C4D5E6F"
)

var wantID = uuid.MustParse(testUUID)

type probeCase struct {
	name    string
	in      string
	marker  string       // expected marker token on success
	quoting argv.Quoting // expected quoting on success
	id      uuid.UUID    // expected UUID on success
	err     error        // expected sentinel; nil means success
	msg     string       // substring the error message must contain
	line    int          // expected line of the error (ParseEnvelope), 0 = none
}

func probeCases() []probeCase {
	pad := func(n int) string { return strings.Repeat(" ", n) }
	// A header whose UUID ends exactly at byte 1023 (the last byte of the window).
	fitLen := ProbeSize - len(Marker+" "+testUUID)
	return []probeCase{
		// The valid first lines of spec §1.3.
		{name: "spec line 1: bourne-sh space", in: bourneSh + " " + testUUID, marker: bourneSh, id: wantID},
		{name: "spec line 2: bourne-sh equals", in: bourneSh + "=" + testUUID, marker: bourneSh, id: wantID},
		{name: "spec line 3: colon braces upper case", in: Marker + ":{" + upperUUID + "}", marker: Marker, id: wantID},
		{name: "spec line 4: ms on next line", in: "   " + Marker + "-ms\n        " + testUUID, marker: Marker + "-ms", quoting: argv.MSCRT, id: wantID},
		// UUID forms.
		{name: "plain", in: Marker + " " + testUUID + "\n", marker: Marker, id: wantID},
		{name: "braces", in: Marker + " {" + testUUID + "}", marker: Marker, id: wantID},
		{name: "upper case", in: Marker + " " + upperUUID, marker: Marker, id: wantID},
		{name: "mixed case", in: Marker + " 4A7d0E65-58f2-4F0B-8f0b-1A2b3C4d5E6f", marker: Marker, id: wantID},
		{name: "after tabs and spaces", in: Marker + " \t  " + testUUID, marker: Marker, id: wantID},
		{name: "after colon", in: Marker + ":" + testUUID, marker: Marker, id: wantID},
		{name: "after equals", in: Marker + "=" + testUUID, marker: Marker, id: wantID},
		{name: "after newline", in: Marker + "\n" + testUUID, marker: Marker, id: wantID},
		{name: "after CRLF and blank lines", in: Marker + "\r\n\r\n\v\f" + testUUID, marker: Marker, id: wantID},
		{name: "nil UUID", in: Marker + " " + nilUUIDv, marker: Marker, id: uuid.Nil},
		{name: "leading C whitespace", in: " \t\n\v\f\r" + Marker + " " + testUUID, marker: Marker, id: wantID},
		{name: "leading whitespace up to the window", in: pad(fitLen) + Marker + " " + testUUID + " more", marker: Marker, id: wantID},
		{name: "data beyond the window ignored", in: Marker + " " + testUUID + "\n" + strings.Repeat("\x00\xff", 1000), marker: Marker, id: wantID},
		{name: "UUID ended by NUL", in: Marker + " " + testUUID + "\x00junk", marker: Marker, id: wantID},
		// Marker token ends.
		{name: "marker token ends at colon", in: Marker + "-x:" + testUUID, marker: Marker + "-x", id: wantID},
		{name: "marker token ends at vertical tab", in: Marker + "\v" + testUUID, marker: Marker, id: wantID},
		{name: "marker token keeps quotes", in: Marker + "'x' " + testUUID, marker: Marker + "'x'", id: wantID},
		// Not a VISO.
		{name: "empty file", in: "", err: backend.ErrInvalidHeader, msg: "no " + Marker, line: 0},
		{name: "only whitespace", in: "\n\n  ", err: backend.ErrInvalidHeader, msg: "not a VISO file", line: 0},
		{name: "BOM", in: "\xef\xbb\xbf" + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "byte order mark", line: 1},
		{name: "leading NUL", in: "\x00" + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "NUL byte comes before", line: 1},
		{name: "NUL on second line", in: " \n\x00" + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "NUL byte comes before", line: 2},
		{name: "marker quoted", in: "'" + Marker + "' " + testUUID, err: backend.ErrInvalidHeader, msg: "must not be quoted", line: 1},
		{name: "marker double quoted", in: `"` + Marker + `" ` + testUUID, err: backend.ErrInvalidHeader, msg: "must not be quoted", line: 1},
		{name: "other text first", in: "\n--volume-id=x\n" + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "does not start with", line: 2},
		{name: "truncated marker", in: "--iprt-iso-maker-file", err: backend.ErrInvalidHeader, msg: "not a VISO file", line: 1},
		{name: "upper-case marker", in: strings.ToUpper(Marker) + " " + testUUID, err: backend.ErrInvalidHeader, msg: "not a VISO file", line: 1},
		{name: "marker cut by the window", in: pad(ProbeSize-10) + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "must lie within the first 1023 bytes", line: 1},
		{name: "marker beyond the window", in: pad(ProbeSize) + Marker + " " + testUUID, err: backend.ErrInvalidHeader, msg: "no " + Marker + " within the first 1023 bytes", line: 0},
		// Marker present, UUID broken.
		{name: "missing UUID at end", in: Marker, err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 1},
		{name: "missing UUID after blank lines", in: Marker + "\n\n  \n", err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 4},
		{name: "equals then space", in: Marker + "= " + testUUID, err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 1},
		{name: "colon then newline", in: Marker + ":\n" + testUUID, err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 1},
		{name: "NUL after marker", in: Marker + "\x00" + testUUID, err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 1},
		{name: "single-quoted UUID", in: Marker + " '" + testUUID + "'", err: backend.ErrImageCorrupted, msg: "malformed UUID ''" + testUUID + "''", line: 1},
		{name: "double-quoted UUID", in: Marker + ` "` + testUUID + `"`, err: backend.ErrImageCorrupted, msg: `malformed UUID '"` + testUUID + `"'`, line: 1},
		{name: "urn prefix", in: Marker + " urn:uuid:" + testUUID, err: backend.ErrImageCorrupted, msg: "malformed UUID 'urn:uuid:", line: 1},
		{name: "missing dashes", in: Marker + " " + strings.ReplaceAll(testUUID, "-", ""), err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "trailing junk", in: Marker + " " + testUUID + "x", err: backend.ErrImageCorrupted, msg: "malformed UUID '" + testUUID + "x'", line: 1},
		{name: "trailing comma", in: Marker + " " + testUUID + ",", err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "unbalanced brace", in: Marker + " {" + testUUID, err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "braces with urn inside", in: Marker + " {urn:uuid:" + testUUID + "}", err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "non-hex digit", in: Marker + " 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6g", err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "dash misplaced", in: Marker + " 4a7d0e6-558f2-4f0b-8f0b-1a2b3c4d5e6f", err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "too short", in: Marker + " 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6", err: backend.ErrImageCorrupted, msg: "malformed UUID", line: 1},
		{name: "UUID on third line malformed", in: Marker + "\n\nnope", err: backend.ErrImageCorrupted, msg: "malformed UUID 'nope'", line: 3},
		{name: "unprintable token quoted", in: Marker + " a\x01b", err: backend.ErrImageCorrupted, msg: `malformed UUID "a\x01b"`, line: 1},
		{name: "UUID cut by the window", in: pad(fitLen+1) + Marker + " " + testUUID, err: backend.ErrImageCorrupted, msg: "cut off", line: 1},
		{name: "UUID after window", in: Marker + pad(ProbeSize) + testUUID, err: backend.ErrImageCorrupted, msg: "empty or missing UUID", line: 1},
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range probeCases() {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Probe([]byte(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Probe(%q) error = %v, want %v", tc.in, err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("message %q does not contain %q", err.Error(), tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Probe(%q) = %v", tc.in, err)
			}
			want := ProbeResult{UUID: tc.id, Marker: tc.marker, Quoting: tc.quoting}
			if res != want {
				t.Fatalf("Probe(%q) = %+v, want %+v", tc.in, res, want)
			}
		})
	}
}

// TestParseEnvelopeProbeErrors checks that ParseEnvelope reports every probe-level case of
// spec §8.1 as an *argv.Error naming the file and line and wrapping the sentinel.
func TestParseEnvelopeProbeErrors(t *testing.T) {
	for _, tc := range probeCases() {
		if tc.err == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope(testFile, []byte(tc.in))
			assertFileError(t, err, tc.err, tc.line, tc.msg)
		})
	}
}

func assertFileError(t *testing.T, err, sentinel error, line int, msg string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want it to wrap %v", err, sentinel)
	}
	var ae *argv.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not an *argv.Error", err)
	}
	if ae.File != testFile || ae.Line != line {
		t.Errorf("File, Line = %q, %d; want %q, %d", ae.File, ae.Line, testFile, line)
	}
	prefix := testFile + ": "
	if line > 0 {
		prefix = fmt.Sprintf("%s:%d: ", testFile, line)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("message %q does not start with %q", err.Error(), prefix)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("message %q does not contain %q", err.Error(), msg)
	}
}

func TestMarkerQuoting(t *testing.T) {
	cases := []struct {
		marker  string
		quoting argv.Quoting
		known   bool
	}{
		{Marker, argv.Bourne, true},
		{Marker + "-bourne", argv.Bourne, true},
		{Marker + "-bourne-sh", argv.Bourne, true},
		{Marker + "-ms", argv.MSCRT, true},
		{Marker + "-ms-crt", argv.MSCRT, true},
		{Marker + "-ms-sh", argv.MSCRT, false},
		{Marker + "-foo", argv.Bourne, false},
		{Marker + "-msx", argv.MSCRT, false},
		{Marker + "-m", argv.Bourne, false},
	}
	for _, tc := range cases {
		t.Run(tc.marker, func(t *testing.T) {
			env, err := ParseEnvelope(testFile, []byte(tc.marker+" "+testUUID+` 'a b'`))
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if env.Marker != tc.marker || env.Quoting != tc.quoting || env.UUID != wantID {
				t.Fatalf("got marker %q quoting %v uuid %v; want %q %v %v", env.Marker, env.Quoting, env.UUID, tc.marker, tc.quoting, wantID)
			}
			// The dialect really was used: single quotes only mean something to Bourne.
			want := map[argv.Quoting][]string{argv.Bourne: {"a b"}, argv.MSCRT: {"'a", "b'"}}[tc.quoting]
			if got := texts(env.Args[2:]); !reflect.DeepEqual(got, want) {
				t.Fatalf("args after the UUID %q, want %q", got, want)
			}
			if got := IsMarkerOption(tc.marker); got != tc.known {
				t.Fatalf("IsMarkerOption(%q) = %v, want %v", tc.marker, got, tc.known)
			}
		})
	}
	for _, m := range KnownMarkers {
		res, err := Probe([]byte(m.Option + " " + testUUID))
		if err != nil || res.Quoting != m.Quoting {
			t.Errorf("KnownMarkers entry %q: Probe quoting %v, %v; table says %v", m.Option, res.Quoting, err, m.Quoting)
		}
	}
	if len(KnownMarkers) != 5 {
		t.Errorf("KnownMarkers has %d entries, want 5", len(KnownMarkers))
	}
}

func TestParseEnvelopeDialects(t *testing.T) {
	// The same body reads differently in each dialect.
	body := " 'a b' C:\\dir\\\"x\""
	cases := []struct {
		marker string
		want   []string
	}{
		{bourneSh, []string{bourneSh, testUUID, "a b", `C:dir"x`}},
		{Marker + "-ms", []string{Marker + "-ms", testUUID, "'a", "b'", `C:\dir"x`}},
	}
	for _, tc := range cases {
		t.Run(tc.marker, func(t *testing.T) {
			env, err := ParseEnvelope(testFile, []byte(tc.marker+" "+testUUID+body))
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(env.Args); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("args %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseEnvelopeArgs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []argv.Arg
	}{
		{
			name: "lines across LF",
			in:   bourneSh + " " + testUUID + "\n--volume-id=X\n\n/a=/b\n",
			want: []argv.Arg{{Text: bourneSh, Line: 1}, {Text: testUUID, Line: 1}, {Text: "--volume-id=X", Line: 2}, {Text: "/a=/b", Line: 4}},
		},
		{
			name: "lines across CRLF",
			in:   bourneSh + " " + testUUID + "\r\n--volume-id=X\r\n\r\n/a=/b\r\n",
			want: []argv.Arg{{Text: bourneSh, Line: 1}, {Text: testUUID, Line: 1}, {Text: "--volume-id=X", Line: 2}, {Text: "/a=/b", Line: 4}},
		},
		{
			name: "backslash newline inside an argument",
			in:   bourneSh + "=" + testUUID + "\n/a\\\nb=/c\n/d=/e",
			want: []argv.Arg{{Text: bourneSh + "=" + testUUID, Line: 1}, {Text: "/a\nb=/c", Line: 2}, {Text: "/d=/e", Line: 4}},
		},
		{
			name: "quoted multi-line argument",
			in:   bourneSh + "=" + testUUID + "\n'/x\n\ny=/z' next",
			want: []argv.Arg{{Text: bourneSh + "=" + testUUID, Line: 1}, {Text: "/x\n\ny=/z", Line: 2}, {Text: "next", Line: 4}},
		},
		{
			name: "leading blank lines",
			in:   "\n\n  " + Marker + "\n" + testUUID + " x",
			want: []argv.Arg{{Text: Marker, Line: 3}, {Text: testUUID, Line: 4}, {Text: "x", Line: 4}},
		},
		{
			// The probe skips \v but the splitter does not: argv[1] keeps it (spec §1.7).
			name: "leading vertical tab quirk",
			in:   "\v" + Marker + " " + testUUID,
			want: []argv.Arg{{Text: "\v" + Marker, Line: 1}, {Text: testUUID, Line: 1}},
		},
		{
			name: "leading form feed quirk after newline",
			in:   "\n\f" + Marker + " " + testUUID,
			want: []argv.Arg{{Text: "\f" + Marker, Line: 2}, {Text: testUUID, Line: 2}},
		},
		{
			name: "BOM later in the file is part of an argument",
			in:   Marker + " " + testUUID + " \uFEFF/a=/b",
			want: []argv.Arg{{Text: Marker, Line: 1}, {Text: testUUID, Line: 1}, {Text: "\uFEFF/a=/b", Line: 1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := ParseEnvelope(testFile, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(env.Args, tc.want) {
				t.Fatalf("args\n got %+v\nwant %+v", env.Args, tc.want)
			}
		})
	}
}

func TestParseEnvelopeEncoding(t *testing.T) {
	head := bourneSh + " " + testUUID + "\n"
	n := len(head)
	cases := []struct {
		name, in, msg string
		line          int
	}{
		{"NUL", head + "/a=/b\n/c\x00", fmt.Sprintf("NUL byte at line 3, byte offset %d", n+8), 3},
		{"invalid UTF-8", head + "\n\xff", fmt.Sprintf("invalid UTF-8 at line 3, byte offset %d", n+1), 3},
		{"overlong", head + "\xc0\xaf", fmt.Sprintf("invalid UTF-8 at line 2, byte offset %d", n), 2},
		{"truncated at end", head + "\xe2\x82", fmt.Sprintf("invalid UTF-8 at line 2, byte offset %d", n), 2},
		{"surrogate", head + "\xed\xb0\x80", "surrogate", 2},
		{"U+FFFE", head + "x\uFFFE", fmt.Sprintf("code point U+FFFE at line 2, byte offset %d", n+1), 2},
		{"U+FFFF", head + "\n\n\uFFFF", "code point U+FFFF at line 4", 4},
		{"legacy 5-byte form", head + "\xf8\x88\x80\x80\x80", "invalid UTF-8", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope(testFile, []byte(tc.in))
			assertFileError(t, err, argv.ErrEncoding, tc.line, tc.msg)
		})
	}
}

// spaceReader yields n bytes: a VISO header (if any) followed by spaces, without ever
// holding the whole content, and counts what was read.
type spaceReader struct {
	head []byte
	n    int64 // total bytes to produce
	read int64
}

func (r *spaceReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n-r.read {
		p = p[:r.n-r.read]
	}
	for i := range p {
		if off := r.read + int64(i); off < int64(len(r.head)) {
			p[i] = r.head[off]
		} else {
			p[i] = ' '
		}
	}
	r.read += int64(len(p))
	return len(p), nil
}

func TestSizeLimit(t *testing.T) {
	head := []byte(bourneSh + " " + testUUID + "\n/a=/b\n")
	// One buffer, one byte larger than the limit; the exact-limit case is a prefix of it.
	buf := bytes.Repeat([]byte{' '}, MaxFileSize+1)
	copy(buf, head)

	t.Run("exactly 32 MiB accepted", func(t *testing.T) {
		env, err := ParseEnvelope(testFile, buf[:MaxFileSize])
		if err != nil {
			t.Fatal(err)
		}
		if len(env.Args) != 3 || env.Args[2].Text != "/a=/b" {
			t.Fatalf("args %+v", env.Args)
		}
	})
	t.Run("32 MiB plus one refused", func(t *testing.T) {
		_, err := ParseEnvelope(testFile, buf)
		assertFileError(t, err, backend.ErrInvalidSize, 0, fmt.Sprintf("file size %d bytes exceeds the VISO limit of %d bytes", MaxFileSize+1, MaxFileSize))
	})
	t.Run("huge non-VISO is reported as not a VISO", func(t *testing.T) {
		_, err := ParseEnvelope(testFile, buf[len(head):])
		assertFileError(t, err, backend.ErrInvalidHeader, 0, "not a VISO file")
	})
	t.Run("ReadEnvelope exactly 32 MiB", func(t *testing.T) {
		r := &spaceReader{head: head, n: MaxFileSize}
		if _, err := ReadEnvelope(testFile, r); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ReadEnvelope stops after limit plus one", func(t *testing.T) {
		r := &spaceReader{head: head, n: 1 << 40}
		_, err := ReadEnvelope(testFile, r)
		assertFileError(t, err, backend.ErrInvalidSize, 0, fmt.Sprintf("more than %d bytes", MaxFileSize))
		if r.read > MaxFileSize+1 {
			t.Fatalf("read %d bytes, want at most %d", r.read, MaxFileSize+1)
		}
	})
	t.Run("ReadEnvelope names the real size of a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.viso")
		if err := os.WriteFile(path, buf, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, MaxFileSize+5000); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = ReadEnvelope(testFile, f)
		assertFileError(t, err, backend.ErrInvalidSize, 0, fmt.Sprintf("file size %d bytes", MaxFileSize+5000))
	})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadEnvelope(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		env, err := ReadEnvelope(testFile, strings.NewReader(bourneSh+" "+testUUID+" /a=/b"))
		if err != nil {
			t.Fatal(err)
		}
		if env.UUID != wantID || env.Marker != bourneSh || env.Quoting != argv.Bourne || len(env.Args) != 3 {
			t.Fatalf("got %+v", env)
		}
	})
	t.Run("read failure", func(t *testing.T) {
		_, err := ReadEnvelope(testFile, io.MultiReader(strings.NewReader(Marker), failingReader{}))
		var ae *argv.Error
		if !errors.As(err, &ae) || ae.File != testFile {
			t.Fatalf("error %v is not an *argv.Error for %s", err, testFile)
		}
		if want := testFile + ": reading file failed: disk on fire"; err.Error() != want {
			t.Fatalf("message %q, want %q", err.Error(), want)
		}
	})
}

func TestParseIPRTUUID(t *testing.T) {
	// uuid.Parse accepts these; IPRT does not, and neither do we.
	for _, s := range []string{
		"urn:uuid:" + testUUID,
		strings.ReplaceAll(testUUID, "-", ""),
		"{" + strings.ReplaceAll(testUUID, "-", "") + "}",
		"(" + testUUID + ")",
		"{" + testUUID + ")",
	} {
		if _, ok := parseIPRTUUID(s); ok {
			t.Errorf("parseIPRTUUID(%q) accepted", s)
		}
	}
	id, ok := parseIPRTUUID("{" + upperUUID + "}")
	if !ok || id != wantID {
		t.Errorf("braced upper case: %v %v", id, ok)
	}
}

func texts(args []argv.Arg) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.Text
	}
	return out
}

func TestProbeMessages(t *testing.T) {
	long := strings.Repeat("x", 100) + "é"
	cases := []struct{ name, in, want string }{
		{"malformed", Marker + "\n\nnope", "line 3: malformed UUID 'nope': image corrupted"},
		{"empty", Marker, "line 1: empty or missing UUID after " + Marker + ": image corrupted"},
		{"long token shortened", Marker + " " + long, "line 1: malformed UUID '" + long[:64] + "'...: image corrupted"},
		{"long unprintable token", Marker + " \x01" + long, `line 1: malformed UUID "\x01` + long[:63] + `"...: image corrupted`},
		{"multibyte at cut kept whole", Marker + " " + long[:63] + "éé", "line 1: malformed UUID '" + long[:63] + "'...: image corrupted"},
		{"not a VISO", "\n\nhello", "line 3: not a VISO file: the first non-blank text does not start with " + Marker + ": invalid image header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Probe([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Probe error %v, want %q", err, tc.want)
			}
		})
	}
}
