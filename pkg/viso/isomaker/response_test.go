package isomaker

import (
	"errors"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

func TestResponseFiles(t *testing.T) {
	files := map[string]string{
		"/etc/viso/opts.rsp": "--rock-ridge\n\n'/a b=/src/a b'\n@/etc/viso/more.rsp",
		"/etc/viso/more.rsp": "/c=c",
		"/etc/viso/ms.rsp":   "--iprt-iso-maker-file-marker-ms x \"/My File=C:\\dir\\f\" it's",
	}
	plan, err := parseText("--pad\n@/etc/viso/opts.rsp /z=z\n@/etc/viso/ms.rsp", files)
	if err != nil {
		t.Fatal(err)
	}
	type loc struct {
		file string
		line int
		arg  string
	}
	want := []struct {
		op string
		at loc
	}{
		{`{"op":"pad","enabled":true}`, loc{"", 1, "--pad"}},
		{`{"op":"rock-ridge","level":2}`, loc{"/etc/viso/opts.rsp", 1, "--rock-ridge"}},
		{`{"op":"add","names":["/a b"],"source":"/src/a b"}`, loc{"/etc/viso/opts.rsp", 3, "/a b=/src/a b"}},
		{`{"op":"add","names":["/c"],"source":"c"}`, loc{"/etc/viso/more.rsp", 1, "/c=c"}},
		{`{"op":"add","names":["/z"],"source":"z"}`, loc{"", 2, "/z=z"}},
		// MS CRT quoting because the marker text occurs: backslashes literal, ' ordinary.
		{`{"op":"add","names":["/My File"],"source":"C:\\dir\\f"}`, loc{"/etc/viso/ms.rsp", 1, `/My File=C:\dir\f`}},
		{`{"op":"add","names":["/it's"],"source":"it's"}`, loc{"/etc/viso/ms.rsp", 1, "it's"}},
	}
	if len(plan.Operations) != len(want) {
		t.Fatalf("got %d ops %q", len(plan.Operations), briefAll(t, plan.Operations))
	}
	for i, w := range want {
		op := plan.Operations[i]
		if got := brief(t, op); got != w.op {
			t.Errorf("op %d = %s, want %s", i, got, w.op)
		}
		if (loc{op.File, op.Line, op.Arg}) != w.at {
			t.Errorf("op %d at %q:%d %q, want %+v", i, op.File, op.Line, op.Arg, w.at)
		}
	}
	// Operation.Error resolves the file.
	if e := plan.Operations[0].Error(testVISO, errors.New("boom")); e.File != testVISO || e.Line != 1 {
		t.Errorf("Error() = %+v", e)
	}
	if e := plan.Operations[3].Error(testVISO, errors.New("boom")); e.File != "/etc/viso/more.rsp" {
		t.Errorf("Error() = %+v", e)
	}
}

func TestResponseFileErrors(t *testing.T) {
	files := map[string]string{
		"bad.rsp":   "/ok=ok\n  --no-such-option",
		"opt.rsp":   "/ok=ok --iso-level",
		"big.rsp":   strings.Repeat("a", MaxResponseFileSize),
		"utf8.rsp":  "/a=\xff",
		"nul.rsp":   "/a=a\x00",
		"d1.rsp":    "@d2.rsp",
		"d2.rsp":    "@d3.rsp",
		"d3.rsp":    "/deep=deep",
		"loop.rsp":  "x @loop.rsp",
		"d3bad.rsp": "@d4.rsp",
		"d2bad.rsp": "@d3bad.rsp",
		"d1bad.rsp": "@d2bad.rsp",
		"d4.rsp":    "/x=x",
	}
	tests := []struct {
		name      string
		text      string
		sentinel  error
		fragments []string
		file      string
		line      int
		arg       string
	}{
		{"error inside names the file, its line and the include", "x\n@bad.rsp", ErrUnknownOption,
			[]string{"bad.rsp:2:", `'--no-such-option'`, `included by "@bad.rsp" at test.viso:2`}, "bad.rsp", 2, "--no-such-option"},
		{"value not taken from the including file", "@opt.rsp 3", ErrMissingValue,
			[]string{"--iso-level: required argument missing"}, "opt.rsp", 1, "--iso-level"},
		{"too big", "x @big.rsp", ErrResponseFile,
			[]string{"big.rsp: file is too big: 2097152 bytes, max 2MB"}, testVISO, 1, "@big.rsp"},
		{"invalid encoding", "x @utf8.rsp", ErrResponseFile, []string{"utf8.rsp: invalid encoding"}, testVISO, 1, "@utf8.rsp"},
		{"NUL byte", "x @nul.rsp", argv.ErrEncoding, []string{"nul.rsp: invalid encoding"}, testVISO, 1, "@nul.rsp"},
		{"missing", "x @none.rsp", ErrResponseFile, []string{"none.rsp: no such file"}, testVISO, 1, "@none.rsp"},
		{"empty name", "x @", ErrResponseFile, []string{"empty response file name"}, testVISO, 1, "@"},
		{"self include hits the nesting limit", "@loop.rsp", ErrResponseFile,
			[]string{"Too many nested argument files!", `included by "@loop.rsp" at loop.rsp:1, by "@loop.rsp" at loop.rsp:1, by "@loop.rsp" at test.viso:1`},
			"loop.rsp", 1, "@loop.rsp"},
		{"depth four refused", "@d1bad.rsp", ErrResponseFile, []string{"Too many nested argument files!"}, "d3bad.rsp", 1, "@d4.rsp"},
		{"vfs chain", "x @:iprtvfs:file(stdfile,/x)", ErrVFSChain, nil, testVISO, 1, "@:iprtvfs:file(stdfile,/x)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantError(t, tc.text, files, tc.sentinel, tc.fragments...)
			if ae.File != tc.file || ae.Line != tc.line || ae.Arg != tc.arg {
				t.Errorf("error at %s:%d %q, want %s:%d %q", ae.File, ae.Line, ae.Arg, tc.file, tc.line, tc.arg)
			}
		})
	}
	// Depth three is allowed.
	if _, err := parseText("@d1.rsp", files); err != nil {
		t.Errorf("three levels: %v", err)
	}
	// No reader: refused with a clear message.
	wantError(t, "x @opts.rsp", nil, ErrResponseFile, "response files are not allowed")
}

func TestResponseFileDoubleDashIsLocal(t *testing.T) {
	// "--" inside a response file ends option parsing for that file only.
	files := map[string]string{"a.rsp": "-- -J"}
	plan, err := parseText("@a.rsp -J", files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"op":"add","names":["/-J"],"source":"-J"}`, `{"op":"joliet","level":3}`}
	if got := briefAll(t, plan.Operations); !equalStrings(got, want) {
		t.Errorf("ops %q, want %q", got, want)
	}
	// After "--" in the VISO, @file is still a response file (it is not an option).
	plan, err = parseText("-- @a.rsp", files)
	if err != nil || len(plan.Operations) != 1 {
		t.Fatalf("%v %+v", err, plan)
	}
}

func TestResponseFileAmplificationIsBounded(t *testing.T) {
	// Each level includes the next 64 times; 64^3 reads of a 1 MiB file would
	// be 256 GiB of text. The total cap stops it early.
	inc := strings.Repeat("@b.rsp ", 64)
	files := map[string]string{
		"a.rsp": inc,
		"b.rsp": strings.Repeat("@c.rsp ", 64),
		"c.rsp": "/x=x " + strings.Repeat(" ", 1<<20),
	}
	wantError(t, "@a.rsp", files, ErrResponseFile, "exceed")
}
