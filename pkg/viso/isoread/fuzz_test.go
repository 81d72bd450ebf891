package isoread

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzMedium is a medium whose 32 KiB system area reads as zeros and whose
// sectors from LBA 16 on are the fuzz input: the seeds stay small and the
// mutator spends its effort on the structures.
type fuzzMedium struct{ b []byte }

func (m fuzzMedium) size() int64 { return systemAreaSize + int64(len(m.b)) }

func (m fuzzMedium) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for len(p) > 0 && off < systemAreaSize {
		p[0] = 0
		p, off, n = p[1:], off+1, n+1
	}
	if len(p) == 0 {
		return n, nil
	}
	rel := off - systemAreaSize
	if rel >= int64(len(m.b)) {
		return n, io.EOF
	}
	c := copy(p, m.b[rel:])
	if c < len(p) {
		return n + c, io.EOF
	}
	return n + c, nil
}

func loadSeeds(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.iso.gz")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no seeds in testdata (run testdata/gen.sh): %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// exercise does what an import and a push do with a medium, with bounded
// effort, and checks invariants that must hold for any medium it accepts.
func exercise(t *testing.T, b []byte) {
	m := fuzzMedium{b}
	v, err := Open(m, m.size(), Options{MaxEntries: 20_000, MaxDirBytes: 8 << 20})
	if err != nil {
		return
	}
	for _, view := range []View{ViewRockRidge, ViewISO9660, ViewJoliet} {
		tr, err := v.Tree(view)
		if err != nil {
			continue
		}
		checked, read := 0, 0
		_ = tr.Walk(func(p string, e *Entry) error {
			if e.Kind == KindFile {
				for _, x := range e.Extents {
					if x.Length > 0 && int64(x.LBA)*SectorSize+int64(x.Length) > m.size() {
						t.Fatalf("%s: extent %+v past the end of %d bytes", p, x, m.size())
					}
				}
				if read < 64 {
					read++
					f, err := v.Open(e)
					if err != nil {
						t.Fatalf("%s: Open: %v", p, err)
					}
					buf := make([]byte, min(e.Size, 4096))
					if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
						t.Fatalf("%s: ReadAt: %v", p, err)
					}
				}
			}
			if checked < 100 {
				checked++
				if _, err := tr.Lookup(p); err != nil {
					t.Fatalf("Lookup(%q) of a walked path: %v", p, err)
				}
			}
			return nil
		})
	}
	_, _ = v.BootCatalog()
	_ = v.CheckPathTables()
}

func FuzzOpen(f *testing.F) {
	for _, b := range loadSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { exercise(t, b) })
}

// TestSeeds checks that the fuzz seeds are what gen.sh claims, so the fuzzer
// starts from media that reach every parser.
func TestSeeds(t *testing.T) {
	seeds := loadSeeds(t)
	for name, b := range seeds {
		t.Run(name, func(t *testing.T) {
			m := fuzzMedium{b}
			v, err := Open(m, m.size(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			prim, err := v.Primary()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckPathTables(); err != nil {
				t.Errorf("path tables: %v", err)
			}
			hello, err := prim.Lookup("/docs/hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			fr, err := v.Open(hello)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(fr.Reader())
			if string(got) != "hello\n" {
				t.Errorf("hello.txt = %q", got)
			}
			cat, err := v.BootCatalog()
			if err != nil {
				t.Fatal(err)
			}
			switch name {
			case "plain.iso.gz":
				if prim.RockRidge || v.HasJoliet() {
					t.Error("plain seed has RR or Joliet")
				}
			case "rrjoliet.iso.gz", "boot.iso.gz":
				link, err := prim.Lookup("/docs/sub/link")
				if err != nil || link.Target != "../docs/hello.txt" || hello.Mode&0o777 != 0o640 {
					t.Errorf("RR data: %v %+v", err, link)
				}
				if _, err := v.Joliet(); err != nil {
					t.Error(err)
				}
			}
			if (name == "boot.iso.gz") != (cat != nil) {
				t.Fatalf("catalog %v", cat)
			}
			if cat != nil && (len(cat.Entries()) != 2 || cat.Default.BootInfo == nil || !cat.Default.BootInfo.ChecksumMatches) {
				t.Errorf("boot seed catalog: %+v", cat)
			}
			exercise(t, b)
		})
	}
	if !bytes.Equal(seeds["plain.iso.gz"][:6], []byte("\x01CD001")) {
		t.Error("plain seed does not start at the PVD")
	}
}
