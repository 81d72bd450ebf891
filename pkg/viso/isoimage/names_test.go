package isoimage

import (
	"fmt"
	"strings"
	"testing"
)

func TestMangleName(t *testing.T) {
	tests := []struct {
		spec  string
		level int
		dir   bool
		want  string
	}{
		// spec §4.6 level 1 examples, including the quirk of the whole-name base
		{"a.txt", 1, false, "ATXT.TXT;1"},
		{"readme.txt", 1, false, "READMETX.TXT;1"},
		{"longfilename.txt", 1, false, "LONGFILE.TXT;1"},
		{"README.", 1, false, "README.;1"},
		{"README.", 3, false, "README;1"},
		{"noext", 1, false, "NOEXT;1"},
		{"averyverylongname", 1, false, "AVERYVER;1"},
		{"LongDirectoryName", 1, true, "LONGDIRE"},
		{"LongDirectoryName.d", 2, true, "LONGDIRECTORYNAMED"},
		{"...", 3, false, "DOTS;1"},
		{".bashrc", 3, false, "BASHRC;1"},
		{"my file-name+x~.tar.gz", 3, false, "MYFILENAMEXTAR.GZ;1"},
		{"Ünïcödé.txt", 3, false, "NCD.TXT;1"},
		{"日本語", 3, true, "_"},
		{"日本語.txt", 3, false, ".TXT;1"},
		{"READ-ME.txt", 3, false, "README.TXT;1"},
		{"autounattend.xml", 3, false, "AUTOUNATTEND.XML;1"},
		// base + 1 + ext == 30: the last extension character is lost
		{strings.Repeat("b", 20) + "." + strings.Repeat("e", 9), 3, false, strings.Repeat("B", 20) + "." + strings.Repeat("E", 8) + ";1"},
		{strings.Repeat("b", 20) + "." + strings.Repeat("e", 8), 3, false, strings.Repeat("B", 20) + "." + strings.Repeat("E", 8) + ";1"},
		// too long: base cut to 29 - min(ext,4), extension to min(ext,4) - 1
		{strings.Repeat("b", 40) + ".html", 2, false, strings.Repeat("B", 25) + ".HTM;1"},
		{strings.Repeat("b", 40) + ".c", 3, false, strings.Repeat("B", 28) + ".C;1"},
		{strings.Repeat("b", 40), 3, false, strings.Repeat("B", 30) + ";1"},
		// long extension corner: clean bytes instead of IPRT's leftovers
		{"short." + strings.Repeat("e", 28), 3, false, "SHORT.EEE;1"},
		{strings.Repeat("d", 40), 3, true, strings.Repeat("D", 30)},
	}
	for _, tc := range tests {
		if got := mangleName(tc.spec, tc.level, tc.dir); got != tc.want {
			t.Errorf("mangleName(%q, %d, dir=%v) = %q, want %q", tc.spec, tc.level, tc.dir, got, tc.want)
		}
	}
}

func TestUniqueNameSequences(t *testing.T) {
	tests := []struct {
		first string
		level int
		dir   bool
		want  []string // successive names for colliding adds
	}{
		{"README.TXT;1", 3, false, []string{"README.TXT;1", "README1.TXT;1", "README2.TXT;1", "README3.TXT;1", "README4.TXT;1",
			"README5.TXT;1", "README6.TXT;1", "README7.TXT;1", "README8.TXT;1", "README9.TXT;1", "README10.TXT;1", "README11.TXT;1"}},
		{"LONGFILE.TXT;1", 1, false, []string{"LONGFILE.TXT;1", "LONGFIL1.TXT;1", "LONGFIL2.TXT;1", "LONGFIL3.TXT;1", "LONGFIL4.TXT;1",
			"LONGFIL5.TXT;1", "LONGFIL6.TXT;1", "LONGFIL7.TXT;1", "LONGFIL8.TXT;1", "LONGFIL9.TXT;1", "LONGFI10.TXT;1", "LONGFI11.TXT;1"}},
		{"LONGDIRN", 1, true, []string{"LONGDIRN", "LONGDIR1", "LONGDIR2"}},
		{"NOEXT;1", 3, false, []string{"NOEXT;1", "NOEXT1;1", "NOEXT2;1"}},
	}
	for _, tc := range tests {
		taken := map[string]bool{}
		for i, w := range tc.want {
			got := uniqueName(tc.first, tc.level, tc.dir, func(s string) bool { return taken[s] })
			if got != w {
				t.Errorf("%s: collision #%d gave %q, want %q", tc.first, i, got, w)
				break
			}
			taken[got] = true
		}
	}
	// Through the tree: level 3 collisions of README.TXT variants, level 1 of longfilename.
	tr := New(Config{Epoch: testEpoch})
	for i, n := range []string{"readme.txt", "READ-ME.txt", "read.me.txt", "ReadMe.Txt"} {
		id, err := tr.AddFile(Names{Primary: "/" + n}, memSource(nil), 0, Attrs{}, n)
		want := []string{"README.TXT;1", "README1.TXT;1", "README2.TXT;1", ""}[i]
		if i == 3 {
			if err == nil {
				t.Errorf("ReadMe.Txt: case-insensitive duplicate accepted")
			}
			continue
		}
		if err != nil || tr.iso(id) != want {
			t.Errorf("%s: %v %q, want %q", n, err, tr.iso(id), want)
		}
	}
	tr = New(Config{Epoch: testEpoch})
	must(t, tr.SetISOLevel(1))
	for i := range 12 {
		n := fmt.Sprintf("longfilename%c.txt", 'a'+i)
		id, err := tr.AddFile(Names{Primary: "/" + n}, memSource(nil), 0, Attrs{}, n)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"LONGFILE.TXT;1", "LONGFIL1.TXT;1"}[min(i, 1)]
		if i >= 10 {
			want = fmt.Sprintf("LONGFI%d.TXT;1", i)
		} else if i > 0 {
			want = fmt.Sprintf("LONGFIL%d.TXT;1", i)
		}
		if tr.iso(id) != want {
			t.Errorf("%s: %q, want %q", n, tr.iso(id), want)
		}
	}
}

func TestCompareNames(t *testing.T) {
	ordered := []string{"A;1", "A.B;1", "A0;1", "AB", "AB.C;1", "B"}
	for i := 0; i+1 < len(ordered); i++ {
		if compareNames(ordered[i], ordered[i+1]) >= 0 || compareNames(ordered[i+1], ordered[i]) <= 0 {
			t.Errorf("%q should sort before %q", ordered[i], ordered[i+1])
		}
	}
	if compareNames("X", "X") != 0 {
		t.Error("equal names must compare 0")
	}
}

func TestFoldKey(t *testing.T) {
	same := [][2]string{{"Docs", "DOCS"}, {"straße", "STRAßE"}, {"K", "\u212A"}, {"ſ", "S"}, {"Ünï", "üNÏ"}, {"abc", "abc"}}
	for _, p := range same {
		if foldKey(p[0]) != foldKey(p[1]) || !strings.EqualFold(p[0], p[1]) {
			t.Errorf("%q and %q should fold equal", p[0], p[1])
		}
	}
	if foldKey("a") == foldKey("b") {
		t.Error("different names fold equal")
	}
	s := "already-canonical"
	if k := foldKey(s); k != s {
		t.Errorf("canonical name changed: %q", k)
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in   string
		dir  bool
		want string
		err  error
	}{
		{"/a//b/./c", false, "a/b/c", nil},
		{"a/b/../c", false, "a/c", nil},
		{"/../../x", false, "x", nil},
		{"/a/.", false, "", ErrInvalidName},
		{"/a/..", true, "", ErrInvalidName},
		{"/a/b/", false, "", ErrNotADirectory},
		{"/a/b/", true, "a/b", nil},
		{"/", false, "", ErrNotADirectory},
		{"", false, "", ErrInvalidName},
	}
	for _, tc := range tests {
		got, err := splitPath(tc.in, tc.dir)
		if err != tc.err || strings.Join(got, "/") != tc.want {
			t.Errorf("splitPath(%q, %v) = %q, %v; want %q, %v", tc.in, tc.dir, got, err, tc.want, tc.err)
		}
	}
}

func TestUTF16(t *testing.T) {
	if n := utf16Len("a😀"); n != 3 {
		t.Errorf("utf16Len = %d", n)
	}
	if got := fmt.Sprintf("%x", appendUTF16BE(nil, "a😀")); got != "0061d83dde00" {
		t.Errorf("UTF-16BE = %s", got)
	}
}
