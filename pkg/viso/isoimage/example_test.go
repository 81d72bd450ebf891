package isoimage_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/csi-viso/csi-viso/pkg/viso/isoimage"
)

// The executor drives a Tree operation by operation, then finalises it once and
// serves the Image.
func Example() {
	tr := isoimage.New(isoimage.Config{Epoch: time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)})
	if err := tr.SetRockRidgeLevel(2); err != nil {
		panic(err)
	}
	answer := strings.NewReader("<unattend/>\n") // any ReaderAt works as a Source
	attrs := isoimage.Attrs{Mode: 0o444}
	if _, err := tr.AddFile(isoimage.Names{Primary: "/autounattend.xml", Joliet: "/autounattend.xml"},
		answer, answer.Size(), attrs, "Unattended-autounattend.xml"); err != nil {
		panic(err)
	}
	// Adding the same name again (any case) fails like the ISO maker does.
	_, err := tr.AddFile(isoimage.Names{Primary: "/AutoUnattend.XML"}, answer, answer.Size(), attrs, "again")
	fmt.Println(err)

	img, err := tr.Finalize()
	if err != nil {
		panic(err)
	}
	fmt.Println(img.VolumeID(), img.Size())
	for _, f := range img.Files() {
		fmt.Println(f.Path, f.Size)
	}
	n, err := img.WriteTo(io.Discard)
	fmt.Println(n, err)
	// 16 system area + PVD, SVD, terminator + root, L, M (primary) + root, L, M
	// (Joliet) + 1 data sector + 1 spill sector (Rock Ridge ER) + 150 padding = 177 sectors.

	// Output:
	// Error setting name '/AutoUnattend.XML' on 'again': already exists
	// 2024-05-01T10:20:30.000000000Z 362496
	// /autounattend.xml 12
	// 362496 <nil>
}
