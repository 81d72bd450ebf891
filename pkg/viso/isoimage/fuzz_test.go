package isoimage

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTree drives a tree with operations decoded from the input (names,
// levels, removals, boot entries) and requires: no panic, and every image that
// finalises passes our ISO checker with files of the expected sizes.
func FuzzTree(f *testing.F) {
	f.Add([]byte("\x01/a/b.txt\x00\x02/A/\x00\x03/a\x00\x04\x01\x05\x02/x\x00"))
	f.Add([]byte("\x01/日本語/😀.txt\x00\x06\x01\x01/.../..\x00\x07\x00"))
	f.Add([]byte("\x01/" + strings.Repeat("n", 300) + "\x00\x05\x00\x01/" + strings.Repeat("é", 120) + "\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := New(Config{Epoch: testEpoch})
		var files []ID
		next := func() string {
			i := 0
			for i < len(data) && data[i] != 0 {
				i++
			}
			s := string(data[:i])
			data = data[min(i+1, len(data)):]
			return s
		}
		for ops := 0; len(data) > 0 && ops < 64; ops++ {
			op := data[0]
			data = data[1:]
			switch op % 10 {
			case 1:
				p := next()
				size := int64(len(p) * 37)
				if id, err := tr.AddFile(Names{Primary: p, Joliet: p}, zeroSource{}, size, Attrs{Mode: 0o644}, "f"); err == nil {
					files = append(files, id)
				}
			case 2:
				tr.MergeDir(Names{Primary: next()}, Attrs{Mode: 0o755}, "d")
			case 3:
				tr.Remove(AllNamespaces, next())
			case 4, 5, 6:
				if len(data) > 0 {
					lvl := int(data[0] % 4)
					data = data[1:]
					switch op % 10 {
					case 4:
						tr.SetISOLevel(lvl)
					case 5:
						tr.SetRockRidgeLevel(lvl)
					case 6:
						tr.SetJolietLevel(lvl)
					}
				}
			case 7:
				if len(files) > 0 {
					tr.SetBootCatalog(BootCatalog{Default: &BootEntry{Image: files[0], BootInfoTable: true},
						Sections: []BootSection{{Platform: PlatformEFI, Entries: []BootEntry{{Image: files[len(files)-1]}}}}})
				}
			case 8:
				tr.AddSymlink(Names{Primary: next()}, next(), Attrs{}, "l")
			case 9:
				tr.Chmod(AllNamespaces, next(), 0o7777, true)
			default:
				tr.AddFile(Names{Joliet: next()}, zeroSource{}, 1, Attrs{}, "j")
			}
		}
		img, err := tr.Finalize()
		if err != nil {
			for _, known := range []error{ErrNameTooLong, ErrNoData, ErrBootImageMissing, ErrNoDefaultEntry} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Finalize: %v", err)
		}
		ck, err := checkISOOpts(img, img.Size(), false) // one path may name different objects per tree here
		if err != nil {
			t.Fatal(err)
		}
		for _, fi := range img.Files() {
			if e := ck.Primary[fi.Path]; tr.rrLevel > 0 && (e == nil || e.Size != fi.Size) {
				t.Fatalf("%q: checker %+v, Files() size %d", fi.Path, e, fi.Size)
			}
		}
	})
}
