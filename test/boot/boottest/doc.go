// Package boottest boots ISO images under QEMU (TCG) and returns what a real
// Linux kernel sees in them, for tests that must prove an image is right
// beyond what host tools check.
//
// The machinery lives next to this package: prepare.sh builds a cached boot
// payload (Debian kernel, busybox initramfs whose /init is init.sh, isolinux,
// a GRUB efiboot.img), boot-iso.sh runs QEMU in one of the Mode* ways. An
// image under test must carry the payload at the Image* paths (see
// PayloadFiles.Tree) with a BIOS El Torito entry for isolinux.bin (boot info
// table, load size 4) and/or a UEFI entry for efiboot.img. ModeDirect needs
// none of that: QEMU loads the kernel itself and the image is only read.
//
// The guest mounts the medium three times (ViewRockRidge, ViewJoliet,
// ViewPlain) and prints every node with its type, mode, ids, mtime, size,
// sha256 and hex-encoded path; ParseSerial turns the console log back into
// a Listing.
//
// Typical use:
//
//	p := boottest.Payload(t)        // once per process; fails t with the reason
//	iso := buildImage(t, p.Tree())  // the code under test
//	res := boottest.Boot(t, boottest.ModeBIOS, iso)
//	e, ok := res.View(boottest.ViewRockRidge).Lookup("/data/hello.txt")
package boottest
