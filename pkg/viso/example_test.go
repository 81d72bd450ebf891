package viso_test

import (
	"fmt"

	"github.com/csi-viso/csi-viso/pkg/viso"
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
