package isomaker

import (
	"strings"
	"testing"
)

func TestOptionSyntax(t *testing.T) {
	lvl2 := `{"op":"iso-level","level":2}`
	boot := func(p string) []string { return []string{`{"op":"eltorito-boot","path":"` + p + `","entry":1}`} }
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"long space", "--iso-level 2", []string{lvl2}},
		{"long equals", "--iso-level=2", []string{lvl2}},
		{"long colon", "--iso-level:2", []string{lvl2}},
		{"triple dash alias", "---iso-level 2", []string{lvl2}},
		{"unicode hyphen inside name", "--iso\u2010level 2", []string{lvl2}},
		{"unicode dashes everywhere", "\u2013\u2014iso\u2212level=2", []string{lvl2}},
		{"fullwidth and small dashes", "\uFF0D\uFE63iso\uFE58level:2", []string{lvl2}},
		{"value-less exact", "--rock-ridge", []string{`{"op":"rock-ridge","level":2}`}},
		{"short value-less", "-l", []string{lvl2}},
		{"short cluster", "-JR", []string{`{"op":"joliet","level":3}`, `{"op":"rock-ridge","level":2}`, `{"op":"attribute-style","style":"strict"}`}},
		{"short cluster unicode dash", "\u2011Jr", []string{`{"op":"joliet","level":3}`, `{"op":"rock-ridge","level":2}`, `{"op":"attribute-style","style":"rational"}`}},
		{"short attached value", "-b/x", boot("/x")},
		{"short separate value", "-b /x", boot("/x")},
		{"short equals value", "-b=/x", boot("/x")},
		{"short colon value", "-b:/x", boot("/x")},
		{"cluster ending in value option", "-Jb/x", append([]string{`{"op":"joliet","level":3}`}, boot("/x")...)},
		{"single-dash long before short", "-pad", []string{`{"op":"pad","enabled":true}`}},
		{"short value option after failed long", "-padx", []string{`{"op":"volume-string","field":"data-preparer-id","value":"adx"}`}},
		{"single-dash long with value", "-volid LABEL", []string{`{"op":"volume-string","field":"volume-id","value":"LABEL"}`}},
		{"value may start with dash", "--volume-id -J", []string{`{"op":"volume-string","field":"volume-id","value":"-J"}`}},
		{"value may start with at", "--volume-id @x", []string{`{"op":"volume-string","field":"volume-id","value":"@x"}`}},
		{"value keeps unicode dash", "--volume-id=a\u2013b", []string{"{\"op\":\"volume-string\",\"field\":\"volume-id\",\"value\":\"a\u2013b\"}"}},
		{"empty inline value resets", "--volume-id=", []string{`{"op":"volume-string","field":"volume-id","value":""}`}},
		{"unicode dash non-option is a file spec", "\u2014qux", []string{"{\"op\":\"add\",\"names\":[\"/\u2014qux\"],\"source\":\"\u2014qux\"}"}},
		{"unicode dash cluster matching short options", "\u2014fo x", nil},
		{"unicode dash bad cluster is a file spec", "\u2013Jq", []string{"{\"op\":\"add\",\"names\":[\"/\u2013Jq\"],\"source\":\"\u2013Jq\"}"}},
		{"double dash ends options", "-- -J --pop", []string{`{"op":"add","names":["/-J"],"source":"-J"}`, `{"op":"add","names":["/--pop"],"source":"--pop"}`}},
		{"markers anywhere", "--iprt-iso-maker-file-marker x --iprt-iso-maker-file-marker-ms=y --iprt-iso-maker-file-marker-ms-crt:z --iprt-iso-maker-file-marker-bourne u --iprt-iso-maker-file-marker-bourne-sh v", []string{}},
		{"ignored output knobs", "--output-buffer-size 1024 --random-output-buffer-size --random-order-verification=0x10", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				// A Unicode dash introduces short options too: "—fo x" is -f
				// (unsupported) with -o's value "x" never reached.
				wantError(t, tc.text, nil, ErrUnsupportedOption)
				return
			}
			got := optionOps(t, tc.text)
			if !equalStrings(got, tc.want) {
				t.Errorf("ops:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		sentinel  error
		fragments []string
		line      int
		arg       string
	}{
		{"value-less with value", "--rock-ridge=1 x", ErrUnknownOption, []string{"'--rock-ridge=1'"}, 1, "--rock-ridge=1"},
		{"lone dash", "x\n-", ErrUnknownOption, []string{"'-'"}, 2, "-"},
		{"unknown long", "--frobnicate x", ErrUnknownOption, []string{"'--frobnicate'"}, 1, "--frobnicate"},
		{"unknown short", "-q x", ErrUnknownOption, []string{"'-q'"}, 1, "-q"},
		{"bad cluster", "-Jq x", ErrUnknownOption, []string{"'-Jq'"}, 1, "-Jq"},
		{"single-dash iso-level", "-iso-level 2 x", ErrUnknownOption, []string{"'-iso-level'"}, 1, "-iso-level"},
		{"mkisofs no-emul-boot", "-no-emul-boot x", ErrUnknownOption, nil, 1, "-no-emul-boot"},
		{"marker typo", "--iprt-iso-maker-file-marker-ms-sh 1234 x", ErrUnknownOption, []string{"'--iprt-iso-maker-file-marker-ms-sh'"}, 1, "--iprt-iso-maker-file-marker-ms-sh"},
		{"marker suffix", "--iprt-iso-maker-file-markerX x", ErrUnknownOption, nil, 1, "--iprt-iso-maker-file-markerX"},
		{"missing value long", "x\n--iso-level", ErrMissingValue, []string{"--iso-level: required argument missing"}, 2, "--iso-level"},
		{"missing value short", "x -b", ErrMissingValue, []string{"--eltorito-boot: required argument missing"}, 1, "-b"},
		{"missing value alias", "x -volid", ErrMissingValue, []string{"--volume-id: required argument missing"}, 1, "-volid"},
		{"missing marker value", "x --iprt-iso-maker-file-marker", ErrMissingValue, nil, 1, "--iprt-iso-maker-file-marker"},
		{"help", "--help x", ErrHelpVersion, nil, 1, "--help"},
		{"help single dash", "-help x", ErrHelpVersion, nil, 1, "-help"},
		{"help short", "-h x", ErrHelpVersion, nil, 1, "-h"},
		{"help question", "-? x", ErrHelpVersion, nil, 1, "-?"},
		{"version", "--version x", ErrHelpVersion, nil, 1, "--version"},
		{"version single dash", "-version x", ErrHelpVersion, nil, 1, "-version"},
		{"-V is not a label", "x -V MYLABEL", ErrHelpVersion, []string{"--volume-id", "not the volume label"}, 1, "-V"},
		{"output", "-o out.iso x", ErrOutputNotAllowed, []string{"--output option is not allowed"}, 1, "-o"},
		{"output long", "--output=out.iso x", ErrOutputNotAllowed, nil, 1, "--output=out.iso"},
		{"output missing value", "x --output", ErrMissingValue, nil, 1, "--output"},
		{"graft points", "--graft-points x", ErrNameSetup, []string{"UDF support is currently not implemented"}, 1, "--graft-points"},
		{"graft points single dash", "-graft-points x", ErrNameSetup, nil, 1, "-graft-points"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae := wantError(t, tc.text, nil, tc.sentinel, tc.fragments...)
			if ae.File != testVISO || ae.Line != tc.line || ae.Arg != tc.arg {
				t.Errorf("error at %s:%d %q, want %s:%d %q", ae.File, ae.Line, ae.Arg, testVISO, tc.line, tc.arg)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		text string
		want string // brief of the first op, or "" for ErrInvalidValue
	}{
		{"--iso-level +2", `{"op":"iso-level","level":2}`},
		{"--iso-level 0x2", `{"op":"iso-level","level":2}`},
		{"--iso-level 0X3", `{"op":"iso-level","level":3}`},
		{"--iso-level 02", `{"op":"iso-level","level":2}`},
		{"--iso-level x", ""},
		{"--iso-level=", ""},
		{"--iso-level 256", ""},
		{"--iso-level 0x100", ""},
		{"--iso-level 2x", ""},
		{"--iso-level 0x", ""},
		{"--iso-level +0x2", ""},
		{"--iso-level -1", ""},
		{"--iso-level ' 2'", ""},
		{"--boot-load-seg 0x07c0 -b /b", `{"op":"eltorito-boot","path":"/b","entry":1}`},
		{"--boot-load-size 65535 -b /b", `{"op":"eltorito-boot","path":"/b","entry":1}`},
		{"--boot-load-size 65536", ""},
		{"--output-buffer-size 4294967295", "none"},
		{"--output-buffer-size 4294967296", ""},
		{"--file-mode 0444", `{"op":"file-mode","mode":"0444"}`},
		{"--file-mode 444", `{"op":"file-mode","mode":"0444"}`},
		{"--dir-mode=0755", `{"op":"dir-mode","mode":"0755"}`},
		{"--new-dir-mode 0555", `{"op":"new-dir-mode","mode":"0555"}`},
		{"--file-mode 0x1ff", ""},
		{"--file-mode 0448", ""},
		{"--file-mode +444", ""},
		{"--file-mode ''", ""},
		{"--file-mode 9", ""},
		{"--new-dir-mode 040000000000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if tc.want == "" {
				wantError(t, tc.text+" x", nil, ErrInvalidValue, "invalid")
				return
			}
			ops := optionOps(t, tc.text)
			if tc.want == "none" {
				if len(ops) != 0 {
					t.Errorf("ops %q, want none", ops)
				}
				return
			}
			if len(ops) == 0 || ops[0] != tc.want {
				t.Errorf("ops %q, want first %s", ops, tc.want)
			}
		})
	}
}

func TestNumberErrorNamesOptionAndBlamesValue(t *testing.T) {
	ae := wantError(t, "x\n--iso-level\nten", nil, ErrInvalidValue, `--iso-level`, `"ten"`)
	if ae.Line != 3 || ae.Arg != "ten" {
		t.Errorf("blamed %d %q, want the value on line 3", ae.Line, ae.Arg)
	}
}

func TestUnsupportedOptions(t *testing.T) {
	check := func(spelling string, valued bool) {
		t.Run(spelling, func(t *testing.T) {
			text := spelling + " x"
			if valued {
				// The value is consumed: "-- y" would otherwise end options.
				text = spelling + " -- y"
			}
			wantError(t, text, nil, ErrUnsupportedOption, "not supported")
			if valued {
				wantError(t, "x "+spelling, nil, ErrMissingValue, "required argument missing")
			}
		})
	}
	for _, n := range unsupportedValueless {
		for _, s := range spell(n) {
			check(s, false)
		}
	}
	for _, n := range unsupportedWithValue {
		for _, s := range spell(n) {
			check(s, true)
		}
	}
	for _, d := range unsupportedShort {
		check("-"+string(d.short), d.takesValue())
		for _, s := range d.names {
			check(s, d.takesValue())
		}
	}
	// The message names the option.
	wantError(t, "-hfs-volid X x", nil, ErrUnsupportedOption, "--hfs-volid")
	wantError(t, "-z x", nil, ErrUnsupportedOption, "--transpared-compression")
}

func TestLevels(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"--iso-level 1 -l", []string{`{"op":"iso-level","level":1}`, `{"op":"iso-level","level":1}`}},
		{"--iso-level 3 --long-names", []string{`{"op":"iso-level","level":3}`, `{"op":"iso-level","level":2}`}},
		{"--limited-rock-ridge --no-rock-ridge", []string{`{"op":"rock-ridge","level":1}`, `{"op":"rock-ridge","level":0}`}},
		{"--rock -rock -rational-rock", []string{`{"op":"rock-ridge","level":2}`, `{"op":"attribute-style","style":"strict"}`, `{"op":"rock-ridge","level":2}`, `{"op":"attribute-style","style":"strict"}`, `{"op":"rock-ridge","level":2}`, `{"op":"attribute-style","style":"rational"}`}},
		{"--joliet --no-joliet", []string{`{"op":"joliet","level":3}`, `{"op":"joliet","level":0}`}},
		{"--joliet-ucs-level 1 --ucs-level 0 -ucs-level=2", []string{`{"op":"joliet","level":1}`, `{"op":"joliet","level":0}`, `{"op":"joliet","level":2}`}},
		{"--rational-attribs --strict-attribs", []string{`{"op":"attribute-style","style":"rational"}`, `{"op":"attribute-style","style":"strict"}`}},
		{"-file-mode 0444 -dir-mode 0555", []string{`{"op":"file-mode","mode":"0444"}`, `{"op":"rock-ridge","level":2}`, `{"op":"dir-mode","mode":"0555"}`, `{"op":"rock-ridge","level":2}`}},
		{"--no-file-mode --no-dir-mode", []string{`{"op":"no-file-mode"}`, `{"op":"no-dir-mode"}`}},
		{"--pad --no-pad -no-pad", []string{`{"op":"pad","enabled":true}`, `{"op":"pad","enabled":false}`, `{"op":"pad","enabled":false}`}},
		{"-G /boot/mbr.bin --generic-boot=x", []string{`{"op":"generic-boot","path":"/boot/mbr.bin"}`, `{"op":"generic-boot","path":"x"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := optionOps(t, tc.text); !equalStrings(got, tc.want) {
				t.Errorf("ops:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	wantError(t, "--iso-level 0 x", nil, ErrLevel, "Failed to set ISO level to 0")
	wantError(t, "--iso-level 4 x", nil, ErrLevel, "Failed to set ISO level to 4")
	wantError(t, "--joliet-ucs-level 4 x", nil, ErrLevel, "Failed to set joliet UCS level to 4")
	wantError(t, "-G '' x", nil, ErrEmptyPath, "--generic-boot")
	wantError(t, "-G :iprtvfs:file(stdfile,/x) x", nil, ErrVFSChain)
}

func TestVolumeStrings(t *testing.T) {
	spellings := map[string]VolumeField{
		"--volume-id": FieldVolumeID, "--volid": FieldVolumeID, "-volid": FieldVolumeID,
		"--volset": FieldVolumeSetID, "-volset": FieldVolumeSetID,
		"-P": FieldPublisherID, "--publisher": FieldPublisherID, "-publisher": FieldPublisherID,
		"-p": FieldPreparerID, "--preparer": FieldPreparerID,
		"-A": FieldApplicationID, "--application-id": FieldApplicationID,
		"--sysid": FieldSystemID, "-sysid": FieldSystemID,
		"--copyright": FieldCopyrightFile, "-copyright": FieldCopyrightFile,
		"--abstract": FieldAbstractFile, "-abstract": FieldAbstractFile,
		"--biblio": FieldBiblioFile, "-biblio": FieldBiblioFile,
	}
	for s, field := range spellings {
		want := `{"op":"volume-string","field":"` + string(field) + `","value":"v a"}`
		if got := optionOps(t, s+" 'v a'"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: ops %q, want %s", s, got, want)
		}
	}
}

func TestUnicodeDashIntroducedHelpIsStillHelp(t *testing.T) {
	wantError(t, "\u2010h x", nil, ErrHelpVersion)
	wantError(t, "\u2010\u2010help x", nil, ErrHelpVersion)
}

func TestOptionTableSpellingsAreReachable(t *testing.T) {
	// Every long spelling must be matched by matchOption as itself.
	for name, d := range longOptions {
		ms, ok := matchOption(name)
		if !ok || len(ms) != 1 || ms[0].def != d || ms[0].inline {
			t.Errorf("%s: matchOption = %+v, %v", name, ms, ok)
		}
		if !strings.HasPrefix(name, "-") {
			t.Errorf("%s: long spelling without a dash", name)
		}
	}
}
