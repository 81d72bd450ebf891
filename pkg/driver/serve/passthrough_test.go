package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPassthrough: an image that is exactly one host file is read by the
// kernel from that file (the server sees no reads); any other shape, or the
// option off, is served by the server.
func TestPassthrough(t *testing.T) {
	const size = 6<<20 + 4096
	want := randomBytes(size, 31)
	dir := t.TempDir()
	host := filepath.Join(dir, "whole.iso")
	if err := os.WriteFile(host, want, 0o600); err != nil {
		t.Fatal(err)
	}
	longer := filepath.Join(dir, "longer.iso")
	if err := os.WriteFile(longer, append(append([]byte(nil), want...), "tail"...), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	whole, long := open(host), open(longer)
	cases := []struct {
		name            string
		img             *fileImage
		opts            Options
		wantPassthrough bool
	}{
		{"whole file", &fileImage{size: size, extents: []extent{{n: size, file: whole}}}, Options{}, true},
		{"disabled", &fileImage{size: size, extents: []extent{{n: size, file: whole}}}, Options{DisablePassthrough: true}, false},
		{"direct io", &fileImage{size: size, extents: []extent{{n: size, file: whole}}}, Options{DirectIO: true}, false},
		{"splice off", &fileImage{size: size, extents: []extent{{n: size, file: whole}}}, Options{DisableSplice: true}, false},
		{"host file longer than the image", &fileImage{size: size, extents: []extent{{n: size, file: long}}}, Options{}, false},
		{"file at an offset", &fileImage{size: size - 4096, extents: []extent{{n: size - 4096, file: whole, fileOff: 4096}}}, Options{}, false},
		{"memory then file", &fileImage{size: size, extents: []extent{{n: 4096, mem: want[:4096]}, {off: 4096, n: size - 4096, file: whole, fileOff: 4096}}}, Options{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mountT(t, tc.img, tc.opts)
			exp := want
			if tc.name == "file at an offset" {
				exp = want[4096:]
			}
			for range 2 { // a second open reuses the registered backing file
				checkContent(t, s.Path(), exp)
			}
			f, err := os.Open(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5000)
			if _, err := f.ReadAt(buf, 3<<20+7); err != nil || !bytes.Equal(buf, exp[3<<20+7:3<<20+7+5000]) {
				t.Errorf("pread: %v or wrong bytes", err)
			}
			f.Close()
			served := s.Stats().BytesRead
			if tc.wantPassthrough && served != 0 {
				t.Errorf("server read %d bytes; want none (passthrough)", served)
			}
			if !tc.wantPassthrough && served == 0 {
				t.Error("server read nothing; passthrough used where it must not be")
			}
			if g, r := tc.img.grants.Load(), tc.img.releases.Load(); g != r {
				t.Errorf("%d FdRange grants but %d releases", g, r)
			}
		})
	}
}
