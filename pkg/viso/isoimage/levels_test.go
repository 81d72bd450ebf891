package isoimage

import (
	"fmt"
	"strings"
	"testing"
)

// TestOracleLevels builds the same small tree under every ISO level, Rock Ridge
// level and Joliet on/off, checks the image with our checker (ISO names per
// level, PX/TF/NM for RR level 1 which xorriso ignores) and with xorriso, 7z and
// isoinfo.
func TestOracleLevels(t *testing.T) {
	files := []struct {
		path string
		iso  [4]string // expected ISO identifier per level (index 1-3)
	}{
		{"/a.txt", [4]string{1: "ATXT.TXT;1", 2: "A.TXT;1", 3: "A.TXT;1"}},
		{"/readme.txt", [4]string{1: "READMETX.TXT;1", 2: "README.TXT;1", 3: "README.TXT;1"}},
		{"/READ-ME.txt", [4]string{1: "READMET1.TXT;1", 2: "README1.TXT;1", 3: "README1.TXT;1"}},
		{"/longfilename.txt", [4]string{1: "LONGFILE.TXT;1", 2: "LONGFILENAME.TXT;1", 3: "LONGFILENAME.TXT;1"}},
		{"/sub dir/Mixed Case.tar.gz", [4]string{1: "MIXEDCAS.GZ;1", 2: "MIXEDCASETAR.GZ;1", 3: "MIXEDCASETAR.GZ;1"}},
		{"/.hidden", [4]string{1: "HIDDEN;1", 2: "HIDDEN;1", 3: "HIDDEN;1"}},
	}
	for _, level := range []int{1, 2, 3} {
		for _, rr := range []int{0, 1, 2} {
			for _, joliet := range []int{0, 3} {
				t.Run(fmt.Sprintf("iso%d-rr%d-joliet%d", level, rr, joliet), func(t *testing.T) {
					f := newFixture(t)
					must(t, f.tr.SetISOLevel(level))
					must(t, f.tr.SetRockRidgeLevel(rr))
					must(t, f.tr.SetJolietLevel(joliet))
					f.tr.SetPad(level != 2) // exercise --no-pad too
					for i, fl := range files {
						f.file(t, nm(fl.path, fl.path), []byte(strings.Repeat("x", i*1000)), 0o640+uint32(i%2))
					}
					img, err := f.tr.Finalize()
					if err != nil {
						t.Fatal(err)
					}
					ck := checkOwn(t, img)
					if ck.JolietLevel != joliet {
						t.Errorf("Joliet level %d, want %d", ck.JolietLevel, joliet)
					}
					if len(ck.Joliet) > 0 != (joliet > 0) {
						t.Errorf("Joliet tree present %v", len(ck.Joliet) > 0)
					}
					if ck.HasER != (rr == 2) || ck.HasSP != (rr > 0) {
						t.Errorf("ER %v SP %v at RR level %d", ck.HasER, ck.HasSP, rr)
					}
					for i, fl := range files {
						key := fl.path
						if rr == 0 { // no NM: the checker names entries by ISO identifier
							key = "/" + strings.TrimSuffix(fl.iso[level], ";1")
							if strings.HasPrefix(fl.path, "/sub dir/") {
								key = "/SUBDIR" + key
							}
						}
						e := ck.Primary[key]
						if e == nil {
							t.Errorf("%s (%s) not found; have %v", fl.path, key, ck.PrimaryOrder)
							continue
						}
						if e.ISOName != fl.iso[level] {
							t.Errorf("%s: ISO name %q, want %q", fl.path, e.ISOName, fl.iso[level])
						}
						if rr > 0 {
							if !e.HasPX || e.Mode != sIFREG|0o640+uint32(i%2) || e.NLink != 1 || len(e.TF) != 29 || e.TF[0] != 0x0F {
								t.Errorf("%s: PX/TF %+v", fl.path, e)
							}
							if (e.RRFlags >= 0) != (rr == 2) {
								t.Errorf("%s: RR entry flags %d at level %d", fl.path, e.RRFlags, rr)
							}
						} else if e.HasPX {
							t.Errorf("%s: PX at RR level 0", fl.path)
						}
					}
					wantBlocks := int64(img.Size() / sectorSize)
					if int64(ck.VolumeBlocks) != wantBlocks {
						t.Errorf("volume blocks %d", ck.VolumeBlocks)
					}
					iso := writeSparse(t, img)
					if joliet > 0 {
						if out := runTool(t, "7z", "t", iso); !strings.Contains(out, "Everything is Ok") {
							t.Errorf("7z t:\n%s", out)
						}
						exp := map[string]want{}
						for i, fl := range files {
							exp[fl.path] = want{size: int64(i * 1000), sha: "x"}
						}
						compareListing(t, "xorriso Joliet", lsdl(t, iso, true), dirsOf(exp), false)
					}
					if rr == 2 {
						exp := map[string]want{}
						for i, fl := range files {
							exp[fl.path] = want{size: int64(i * 1000), sha: "x", mode: lsMode(false, 0o640+uint32(i%2))}
						}
						compareListing(t, "xorriso RR", lsdl(t, iso, false), dirsOf(exp), true)
					}
					info := runTool(t, "isoinfo", "-d", "-i", iso)
					if !strings.Contains(info, fmt.Sprintf("Volume size is: %d", wantBlocks)) {
						t.Errorf("isoinfo -d:\n%s", info)
					}
					if rr > 0 != strings.Contains(info, "Rock Ridge signatures version 1 found") {
						t.Errorf("isoinfo Rock Ridge detection at level %d:\n%s", rr, info)
					}
				})
			}
		}
	}
}
