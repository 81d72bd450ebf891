package viso

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

func FuzzEnvelope(f *testing.F) {
	for _, tc := range probeCases() {
		f.Add([]byte(tc.in))
		f.Add([]byte(tc.in + "\n--volume-id='a b' \"c\\d\" e\\\nf"))
	}
	for _, m := range KnownMarkers {
		f.Add([]byte(m.Option + " " + testUUID + " /a=/b 'x y' \"z\\\"\""))
	}
	f.Add([]byte("\v" + Marker + " " + testUUID))
	f.Add([]byte(Marker + " " + testUUID + "\n\xff\x00\uFFFE"))

	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(testFile, data)
		if err != nil {
			if env != nil {
				t.Fatalf("non-nil envelope with error %v", err)
			}
			var ae *argv.Error
			if !errors.As(err, &ae) || ae.File != testFile || !strings.HasPrefix(err.Error(), testFile) {
				t.Fatalf("error %v is not an *argv.Error naming the file", err)
			}
			if !errors.Is(err, backend.ErrInvalidHeader) && !errors.Is(err, backend.ErrImageCorrupted) &&
				!errors.Is(err, backend.ErrInvalidSize) && !errors.Is(err, argv.ErrEncoding) {
				t.Fatalf("error %v wraps no known sentinel", err)
			}
			lines := strings.Count(string(data), "\n") + 1
			if ae.Line < 0 || ae.Line > lines {
				t.Fatalf("error line %d outside 1..%d", ae.Line, lines)
			}
			return
		}
		// Success: the UUID is the one written after the marker in the probe window.
		head := data[:min(len(data), ProbeSize)]
		if !strings.Contains(strings.ToLower(string(head)), env.UUID.String()) {
			t.Fatalf("UUID %v does not appear in the head %q", env.UUID, head)
		}
		if !strings.HasPrefix(env.Marker, Marker) {
			t.Fatalf("marker %q lacks the prefix", env.Marker)
		}
		if wantMS := strings.HasPrefix(env.Marker, Marker+"-ms"); wantMS != (env.Quoting == argv.MSCRT) {
			t.Fatalf("marker %q gave quoting %v", env.Marker, env.Quoting)
		}
		if len(env.Args) == 0 {
			t.Fatal("success without arguments")
		}
		first := env.Args[0].Text
		// The splitter skips only space, TAB, LF and CR; a \v or \f the probe skipped
		// stays in front of the marker (spec §1.7 quirk).
		lead := strings.TrimLeft(string(data), " \t\n\r")
		if lead[0] == '\v' || lead[0] == '\f' {
			if !strings.HasPrefix(first, lead[:1]) {
				t.Fatalf("first argument %q lost the leading %q", first, lead[:1])
			}
			return
		}
		if !strings.HasPrefix(first, Marker) {
			t.Fatalf("first argument %q does not start with the marker", first)
		}
	})
}
