package isomaker

import (
	"strings"
	"testing"
)

func TestFileSpecs(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"/a.txt=/src/a.txt", `{"op":"add","names":["/a.txt"],"source":"/src/a.txt"}`},
		{"isolinux/isolinux.cfg=x", `{"op":"add","names":["/isolinux/isolinux.cfg"],"source":"x"}`},
		{"user-data", `{"op":"add","names":["/user-data"],"source":"user-data"}`},
		{"sub/dir/file.txt", `{"op":"add","names":["/file.txt"],"source":"sub/dir/file.txt"}`},
		{"/srv/data///", `{"op":"add","names":["/data"],"source":"/srv/data///"}`},
		{"/", `{"op":"add","names":["/"],"source":"/"}`},
		{"/vboxadditions=/", `{"op":"add","names":["/vboxadditions"],"source":"/"}`},
		{"/=/", `{"op":"add","names":["/"],"source":"/"}`},
		{"=src", `{"op":"add","names":[""],"source":"src"}`},
		{"@x=y", `{"op":"add","names":["/@x"],"source":"y"}`},
		{"/dir/=src", `{"op":"add","names":["/dir/"],"source":"src"}`},
		{"/a/../b=src", `{"op":"add","names":["/a/../b"],"source":"src"}`},
		{"/x=:remove:", `{"op":"remove","names":["/x"]}`},
		{"x=:must-remove:", `{"op":"must-remove","names":["/x"]}`},
		{"/x=:REMOVE:", `{"op":"add","names":["/x"],"source":":REMOVE:"}`},
		{"/x=:remove:x", `{"op":"add","names":["/x"],"source":":remove:x"}`},
		{"'/My File.txt=/home/u/My File.txt'", `{"op":"add","names":["/My File.txt"],"source":"/home/u/My File.txt"}`},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			ops := optionOps(t, tc.spec)
			if len(ops) != 1 || ops[0] != tc.want {
				t.Errorf("ops %q, want %s", ops, tc.want)
			}
		})
	}
}

func TestFileSpecErrors(t *testing.T) {
	long := strings.Repeat("n", MaxNameLength)
	tests := []struct {
		spec     string
		sentinel error
		fragment string
	}{
		{"/a=/b=/c", ErrFileSpec, "too many names specified (max 1 + source): /a=/b=/c"},
		{"/x=", ErrFileSpec, "empty source file name: /x="},
		{"''", ErrFileSpec, "empty source file name: "},
		{"/" + long + "=src", ErrFileSpec, "name #0 (0-based) is too long"},
		{"/a=" + long, ErrFileSpec, "name #1 (0-based) is too long"},
		{"/a/.=src", ErrInvalidName, "error setting name '/a/.' on 'src'"},
		{"/..=src", ErrInvalidName, "'/..'"},
		{"a/.", ErrInvalidName, "'/.'"},
		{"..", ErrInvalidName, "'/..'"},
		{"/x=:iprtvfs:file(stdfile,/x.tar.gz)|gunzip()", ErrVFSChain, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.spec[:min(len(tc.spec), 40)], func(t *testing.T) {
			ae := wantError(t, "--pad\n"+tc.spec, nil, tc.sentinel, tc.fragment)
			if ae.Line != 2 || ae.Arg == "" && tc.spec != "''" {
				t.Errorf("blamed %d %q", ae.Line, ae.Arg)
			}
		})
	}
	// A name just under the limit is fine.
	if _, err := parseText("/"+long[:MaxNameLength-2]+"=src", nil); err != nil {
		t.Errorf("4095-byte name: %v", err)
	}
	// Removal of a dot path is left to the executor's lookup.
	if _, err := parseText("/a=b /a/..=:remove:", nil); err != nil {
		t.Errorf("remove dot path: %v", err)
	}
}

func TestLongSpecIsShortenedInMessage(t *testing.T) {
	spec := "/a=/b=" + strings.Repeat("é", 300)
	ae := wantError(t, spec, nil, ErrFileSpec, "…")
	if len(ae.Err.Error()) > 300 {
		t.Errorf("message not shortened: %d bytes", len(ae.Err.Error()))
	}
	if ae.Arg != spec {
		t.Errorf("Arg must stay complete")
	}
}

func TestChmodChownChgrp(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"--chmod 0644:/a", `{"op":"chmod","mode":"0644","path":"/a"}`},
		{"--chmod=755:/dir/x", `{"op":"chmod","mode":"0755","path":"/dir/x"}`},
		{"--chmod 07777:/a", `{"op":"chmod","mode":"7777","path":"/a"}`},
		{"--chmod a+x:/bin/run", `{"op":"chmod","addBits":"0111","path":"/bin/run"}`},
		{"--chmod a+r:/a", `{"op":"chmod","addBits":"0444","path":"/a"}`},
		{"--chmod a+rx:/a", `{"op":"chmod","addBits":"0555","path":"/a"}`},
		{"--chown 1000:/a", `{"op":"chown","id":1000,"path":"/a"}`},
		{"--chown 0x10:/a", `{"op":"chown","id":16,"path":"/a"}`},
		{"--chown 010:/a", `{"op":"chown","id":8,"path":"/a"}`},
		{"--chown 0:/a", `{"op":"chown","id":0,"path":"/a"}`},
		{"--chgrp 4294967295:/a", `{"op":"chgrp","id":4294967295,"path":"/a"}`},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			ops := optionOps(t, tc.text)
			if len(ops) != 1 || ops[0] != tc.want {
				t.Errorf("ops %q, want %s", ops, tc.want)
			}
		})
	}
	errs := []struct {
		text     string
		fragment string
	}{
		{"--chmod 9:/a", "Malformed --chmod, octal mode parse failed: 9:/a"},
		{"--chmod 99999999999:/a", "Malformed --chmod, octal mode parse failed"},
		{"--chmod 17777:/a", "Malformed --chmod, invalid mode mask: 017777, max 07777"},
		{"--chmod 0644/a", "Malformed --chmod, expected colon after mode: 0644/a"},
		{"--chmod 0648:/a", "Malformed --chmod, expected colon after mode"},
		{"--chmod a+x/a", "Malformed --chmod, expected colon after mode: a+x/a"},
		{"--chmod u+x/a", "complicated mode expressions"},
		{"--chmod u+x:/a", "Sorry, --chmod doesn't understand complicated mode expressions: u+x:/a"},
		{"--chmod a+rwx:/a", "complicated mode expressions"},
		{"--chmod :/a", "complicated mode expressions"},
		{"--chmod 0644:a", "Malformed --chmod, path must start with a slash: 0644:a"},
		{"--chmod a+x:", "Malformed --chmod, path must start with a slash"},
		{"--chown x:/a", "Malformed --chown, numeric ID parse failed: x:/a"},
		{"--chown 4294967296:/a", "Malformed --chown, numeric ID parse failed"},
		{"--chown 12/a", "Malformed --chown, expected colon after ID: 12/a"},
		{"--chown 12:a", "Malformed --chown, path must start with a slash: 12:a"},
		{"--chgrp :/a", "Malformed --chgrp, numeric ID parse failed"},
		{"--chgrp 0x:/a", "Malformed --chgrp, expected colon after ID"}, // C strtoul reads "0", then "x"
		{"--chgrp 5=/a", "Malformed --chgrp, expected colon after ID"},
	}
	for _, tc := range errs {
		t.Run(tc.text, func(t *testing.T) {
			ae := wantError(t, "x "+tc.text, nil, ErrAttrSpec, tc.fragment)
			if val := strings.SplitN(tc.text, " ", 2)[1]; ae.Arg != val {
				t.Errorf("blamed %q, want the value %q", ae.Arg, val)
			}
		})
	}
}

func TestPushStack(t *testing.T) {
	plan, err := parseText("--push-iso a.iso --push-iso-no-joliet=b.iso --push-iso-no-rock c.iso --push-iso-no-rock-no-joliet d.iso /x=/ --pop --pop --pop --pop --push-iso e.iso", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"op":"push-iso","path":"a.iso","variant":"all"}`,
		`{"op":"push-iso","path":"b.iso","variant":"no-joliet"}`,
		`{"op":"push-iso","path":"c.iso","variant":"no-rock"}`,
		`{"op":"push-iso","path":"d.iso","variant":"no-rock-no-joliet"}`,
		`{"op":"add","names":["/x"],"source":"/"}`,
		`{"op":"pop"}`, `{"op":"pop"}`, `{"op":"pop"}`, `{"op":"pop"}`,
		`{"op":"push-iso","path":"e.iso","variant":"all"}`,
	}
	if got := briefAll(t, plan.Operations); !equalStrings(got, want) {
		t.Errorf("ops:\n got %q\nwant %q", got, want)
	}

	ae := wantError(t, "x --push-iso a --push-iso b --push-iso c --push-iso d\n--push-iso-no-rock e", nil, ErrTooManyPushes,
		"Too many pushes --push-iso-no-rock e (previous: --push-iso a, --push-iso b, --push-iso c, --push-iso d)")
	if ae.Line != 2 || ae.Arg != "--push-iso-no-rock" {
		t.Errorf("blamed %d %q", ae.Line, ae.Arg)
	}
	wantError(t, "x --pop", nil, ErrPopWithoutPush, "--pop without --push-xxx")
	wantError(t, "--push-iso a x --pop --pop", nil, ErrPopWithoutPush)
	wantError(t, "x --push-iso ''", nil, ErrEmptyPath)
	wantError(t, "x --import-iso=", nil, ErrEmptyPath, "--import-iso")
	wantError(t, "x --push-iso :iprtvfs:file(stdfile,a.iso)", nil, ErrVFSChain)
}

func TestImportISO(t *testing.T) {
	ops := optionOps(t, "--import-iso a.iso --import-iso-skip-eltorito=b.iso")
	want := []string{`{"op":"import-iso","path":"a.iso"}`, `{"op":"import-iso","path":"b.iso","skipElTorito":true}`}
	if !equalStrings(ops, want) {
		t.Errorf("ops %q, want %q", ops, want)
	}
}

func TestEmptyImage(t *testing.T) {
	for _, text := range []string{
		"--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301",
		"--iprt-iso-maker-file-marker-bourne-sh x --volume-id=A --rock-ridge /a=:remove: /b=:must-remove: --push-iso a.iso --pop",
		"-b /boot.img --no-emulation-boot",
		"",
	} {
		ae := wantError(t, text, nil, ErrEmptyImage, "cowardly refuses to create empty ISO image")
		if ae.File != testVISO || ae.Line != 0 {
			t.Errorf("%q: error at %s:%d", text, ae.File, ae.Line)
		}
	}
	for _, text := range []string{"/a=b", "--import-iso a.iso", "--import-iso-skip-eltorito a.iso", "--eltorito-add-image /b.img=b.img"} {
		if _, err := parseText(text, nil); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}
