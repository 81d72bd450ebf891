package isomaker

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		"--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301 /a=b",
		"--name-setup iso+rr,joliet /a=/b=c =/j=x /i==y -JR -l --iso-level 0x2",
		"-b /a --eltorito-alt-boot --eltorito-platform-id=efi --eltorito-boot=/b --no-emulation-boot /a=a",
		"--push-iso a --push-iso b /x=/ --pop --pop --pop",
		"--chmod a+rx:/a --chown 0x10:/a --chgrp 017:/b /a=a @r",
		"\u2013\u2014iso\u2212level=2 \u2011Jq -- -x @r",
		"--import-iso a.iso --name-setup-from-import --eltorito-new-entry --eltorito-add-image /f=f --eltorito-floppy-288 -c /c",
		"--iprt-iso-maker-file-marker-ms x \"a b\" @r",
		"-pad -padx -volid 'a b' -V x",
	}
	for _, s := range seeds {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, ms bool) {
		q := argv.Bourne
		if ms {
			q = argv.MSCRT
		}
		opts := Options{
			File: "fuzz.viso",
			// Every response file has the fuzz text as content, which exercises
			// nesting up to the depth limit.
			ReadResponseFile: func(string) ([]byte, error) {
				if strings.Count(text, "@") > 6 { // keep each input fast: nesting multiplies work
					return nil, errors.New("too many includes for a fuzz input")
				}
				return []byte(text), nil
			},
		}
		plan, err := Parse(argv.Split(text, q), opts)
		if err != nil {
			if _, ok := err.(*argv.Error); !ok {
				t.Fatalf("error %T %v is not *argv.Error", err, err)
			}
			if plan != nil {
				t.Fatalf("plan and error both returned")
			}
			return
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if plan.ElTorito != nil {
			for _, s := range plan.ElTorito.Sections {
				for _, e := range s.Entries {
					if e.ImageOp < 0 || e.ImageOp >= len(plan.Operations) {
						t.Fatalf("entry %+v refers to a missing operation", e)
					}
				}
			}
			if d := plan.ElTorito.Default; d != nil && (d.ImageOp < 0 || d.ImageOp >= len(plan.Operations)) {
				t.Fatalf("default entry %+v refers to a missing operation", d)
			}
		}
	})
}
