package isoread

import (
	"bytes"
	"testing"
	"time"
)

func slEntry(flags byte, comps ...[]byte) []byte {
	return susp("SL", append([]byte{flags}, cat(comps...)...)...)
}

func comp(flags byte, text string) []byte { return append([]byte{flags, byte(len(text))}, text...) }

func tfEntry(flags byte, stamps ...[]byte) []byte {
	return susp("TF", append([]byte{flags}, cat(stamps...)...)...)
}

func pnEntry(hi, lo uint32) []byte {
	d := make([]byte, 16)
	both32(d, hi)
	both32(d[8:], lo)
	return susp("PN", d...)
}

func erEntry(id string) []byte {
	return susp("ER", append([]byte{byte(len(id)), 0, 0, 1}, id...)...)
}

// TestRockRidgeEntries checks each Rock Ridge entry form on crafted records.
func TestRockRidgeEntries(t *testing.T) {
	short := []byte{124, 5, 6, 7, 8, 9, 4} // 2024-05-06 07:08:09 at GMT+1
	long := []byte("2023111213141599\x00")
	cases := []struct {
		name  string
		su    []byte
		check func(t *testing.T, e *Entry)
	}{
		{"NM with CONTINUE", cat(nmEntry(1, "long-"), nmEntry(0, "name.txt")), func(t *testing.T, e *Entry) {
			if e.Name != "long-name.txt" || e.Ident != "F" {
				t.Errorf("name %q ident %q", e.Name, e.Ident)
			}
		}},
		{"PX 36 bytes", pxEntry(ModeRegular|0o640, 1, 1000, 100, false), func(t *testing.T, e *Entry) {
			if e.Mode != ModeRegular|0o640 || e.UID != 1000 || e.GID != 100 || e.Nlink != 1 || e.Serial != 0 {
				t.Errorf("%+v", e)
			}
		}},
		{"PX 44 bytes", pxEntry(ModeRegular|0o755, 3, 1, 2, true), func(t *testing.T, e *Entry) {
			if e.Mode != ModeRegular|0o755 || e.Nlink != 3 || e.Serial != 77 {
				t.Errorf("%+v", e)
			}
		}},
		{"TF short modify+access", tfEntry(tfModify|tfAccess, short, short), func(t *testing.T, e *Entry) {
			want := time.Date(2024, 5, 6, 6, 8, 9, 0, time.UTC)
			if !e.Times().Modify.Equal(want) || !e.Times().Access.Equal(want) || !e.Times().Creation.IsZero() || !e.ModTime().Equal(want) {
				t.Errorf("%+v", e.Times())
			}
		}},
		{"TF long all four", tfEntry(tfLongForm|0x0F, long, long, long, long), func(t *testing.T, e *Entry) {
			want := time.Date(2023, 11, 12, 13, 14, 15, 990_000_000, time.UTC)
			for i, got := range []time.Time{e.Times().Creation, e.Times().Modify, e.Times().Access, e.Times().Attributes} {
				if !got.Equal(want) {
					t.Errorf("stamp %d = %v, want %v", i, got, want)
				}
			}
		}},
		{"TF backup and expiration skipped", tfEntry(0x10|0x20|tfModify, short, short, short), func(t *testing.T, e *Entry) {
			if e.Times().Modify.IsZero() {
				t.Error("modify not read")
			}
		}},
		{"SL relative", cat(pxEntry(ModeSymlink|0o777, 1, 0, 0, true), slEntry(0, comp(slParent, ""), comp(0, "dir"), comp(0, "file"))), func(t *testing.T, e *Entry) {
			if e.Kind != KindSymlink || e.Target != "../dir/file" || e.Size != 0 {
				t.Errorf("kind %s target %q size %d", e.Kind, e.Target, e.Size)
			}
		}},
		{"SL root, current, continue across entries, trailing slash", cat(
			slEntry(slContinue, comp(slRoot, ""), comp(slCurrent, ""), comp(slContinue, "ab")),
			slEntry(0, comp(0, "cd"), comp(0, ""))), func(t *testing.T, e *Entry) {
			if e.Target != "/./abcd/" {
				t.Errorf("target %q", e.Target)
			}
		}},
		{"SL without PX", slEntry(0, comp(slRoot, "")), func(t *testing.T, e *Entry) {
			if e.Kind != KindSymlink || e.Target != "/" || e.Mode&ModeTypeMask != ModeSymlink {
				t.Errorf("kind %s target %q mode %o", e.Kind, e.Target, e.Mode)
			}
		}},
		{"PN device", cat(pxEntry(ModeBlock|0o660, 1, 0, 6, true), pnEntry(8, 1)), func(t *testing.T, e *Entry) {
			if e.Kind != KindDevice || e.DevHigh != 8 || e.DevLow != 1 {
				t.Errorf("kind %s dev %d/%d", e.Kind, e.DevHigh, e.DevLow)
			}
		}},
		{"FIFO", pxEntry(ModeFIFO|0o600, 1, 0, 0, true), func(t *testing.T, e *Entry) {
			if e.Kind != KindFIFO {
				t.Errorf("kind %s", e.Kind)
			}
		}},
		{"PX directory mode on a file record", pxEntry(ModeDir|0o700, 2, 0, 0, true), func(t *testing.T, e *Entry) {
			if e.Kind != KindFile || e.Mode != ModeRegular|0o700 {
				t.Errorf("kind %s mode %o", e.Kind, e.Mode)
			}
		}},
		{"unknown entries and ST", cat(susp("ZF", 1, 2, 3, 4), susp("ST"), nmEntry(0, "ignored")), func(t *testing.T, e *Entry) {
			if e.Name != "F" {
				t.Errorf("name %q, want the ISO name (NM after ST)", e.Name)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im := basic(40, cat(spEntry(), erEntry("RRIP_1991A")), dirRec("F;1", 30, 5, 0, tc.su))
			v, err := Open(bytes.NewReader(im.b), int64(len(im.b)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			tr, err := v.Primary()
			if err != nil {
				t.Fatal(err)
			}
			if !tr.RockRidge || tr.RRIP != "RRIP_1991A" {
				t.Fatalf("RockRidge %v RRIP %q", tr.RockRidge, tr.RRIP)
			}
			kids := tr.Root.Children()
			if len(kids) != 1 {
				t.Fatalf("%d children", len(kids))
			}
			tc.check(t, kids[0])
		})
	}
}

// TestSUSPContinuationAndSkip: ER reached through the root's CE, the SP skip
// length honoured on other records, and NM split across a CE.
func TestSUSPContinuationAndSkip(t *testing.T) {
	sp := susp("SP", 0xBE, 0xEF, 4)
	skipped := []byte{'X', 'X', 'X', 'X'} // not a SUSP entry: must be skipped
	im := basic(40, cat(sp, ceEntry(30, 100, 32)),
		dirRec("F;1", 31, 5, 0, cat(skipped, nmEntry(1, "first-"), ceEntry(30, 200, 12))))
	copy(im.sector(30)[100:], erEntry("IEEE_1282"))
	copy(im.sector(30)[200:], nmEntry(0, "part"))
	v, err := Open(bytes.NewReader(im.b), int64(len(im.b)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := v.Primary()
	if err != nil {
		t.Fatal(err)
	}
	if tr.RRIP != "IEEE_1282" {
		t.Errorf("RRIP %q", tr.RRIP)
	}
	e, err := tr.Lookup("/FIRST-PART")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "first-part" {
		t.Errorf("name %q", e.Name)
	}
	plain, err := v.Tree(ViewISO9660)
	if err != nil {
		t.Fatal(err)
	}
	if n := plain.Root.Children()[0].Name; n != "F" {
		t.Errorf("ISO 9660 view name %q", n)
	}
}

// TestNames covers ";N" stripping, the kept trailing dot, Joliet decoding and
// case-insensitive lookup by Name or Ident.
func TestNames(t *testing.T) {
	cases := []struct{ ident, want string }{
		{"README.TXT;1", "README.TXT"},
		{"VMLINUZ.;1", "VMLINUZ."},
		{"A;12345", "A"},
		{"A;123456", "A;123456"},
		{"NOVERSION", "NOVERSION"},
		{"X;", "X;"},
		{"X;1A", "X;1A"},
	}
	for _, c := range cases {
		if got := stripVersion(c.ident); got != c.want {
			t.Errorf("stripVersion(%q) = %q, want %q", c.ident, got, c.want)
		}
	}
	im := basic(40, nil)
	jName := "Ünïcödé 日本語 😀.txt;1"
	im.vd(17, 2, 25, 0)
	im.terminator(18)
	jsize := im.dir(25, dirRec("\x00", 25, 0, flagDir, nil), dirRec("\x01", 25, 0, flagDir, nil), dirRec(ucs2(jName), 26, 3, 0, nil))
	copy(im.sector(25), dirRec("\x00", 25, jsize, flagDir, nil))
	both32(im.sector(17)[156+10:], jsize)
	v, err := Open(bytes.NewReader(im.b), int64(len(im.b)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := v.Joliet()
	if err != nil {
		t.Fatal(err)
	}
	e, err := j.Lookup("/ünÏcödé 日本語 😀.TXT")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "Ünïcödé 日本語 😀.txt" {
		t.Errorf("Joliet name %q", e.Name)
	}
	if v2, _ := Open(bytes.NewReader(im.b), int64(len(im.b)), Options{NoJoliet: true}); v2.HasJoliet() {
		t.Error("NoJoliet still reads the Joliet descriptor")
	}
}
