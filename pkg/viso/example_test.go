package viso_test

import (
	"fmt"

	"github.com/csi-viso/csi-viso/pkg/viso"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/pkg/viso/isomaker"
)

func ExampleParseEnvelope() {
	text := `--iprt-iso-maker-file-marker-bourne-sh 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f
--volume-id=DATA
'/My File.txt=/srv/my file.txt'
/boot.cfg=/srv/boot.cfg
`
	env, err := viso.ParseEnvelope("data.viso", []byte(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("uuid:", env.UUID)
	fmt.Println("quoting:", env.Quoting)
	for _, a := range env.Args {
		fmt.Printf("line %d: %s\n", a.Line, a.Text)
	}
	// Output:
	// uuid: 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f
	// quoting: bourne-sh
	// line 1: --iprt-iso-maker-file-marker-bourne-sh
	// line 1: 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f
	// line 2: --volume-id=DATA
	// line 3: /My File.txt=/srv/my file.txt
	// line 4: /boot.cfg=/srv/boot.cfg
}

// Example_plan walks the whole format layer: envelope → argv → plan. No source
// file is opened; the plan is what the ISO maker will execute.
func Example_plan() {
	text := "--iprt-iso-maker-file-marker-bourne-sh 4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f\n" +
		"--rock-ridge --volume-id=cidata\n" +
		"/user-data=seed/user-data\n" +
		"/old.cfg=:remove:\n"
	env, err := viso.ParseEnvelope("seed.viso", []byte(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := isomaker.Parse(env.Args, isomaker.Options{File: "seed.viso"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, op := range plan.Operations {
		fmt.Printf("line %d: %s %q\n", op.Line, op.Kind, op.Arg)
	}
	_, err = isomaker.Parse(append(env.Args, argv.Arg{Text: "--iso-level=4", Line: 5}), isomaker.Options{File: "seed.viso"})
	fmt.Println(err)
	// Output:
	// line 2: rock-ridge "--rock-ridge"
	// line 2: volume-string "--volume-id=cidata"
	// line 3: add "/user-data=seed/user-data"
	// line 4: remove "/old.cfg=:remove:"
	// seed.viso:5: argument "--iso-level=4": invalid level: Failed to set ISO level to 4 (valid: 1-3)
}
