package oracle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso"
)

// The spec's worked examples §7.1-§7.3 live in examples/spec-7.*/ with every path
// relative to the example's folder. Their ISOs (the Guest Additions, a Debian
// netinst, an Ubuntu live-server) are small stand-ins mastered here with xorriso
// into a copy of the folder, which is then the media root the image is built with.

// copyDir copies a flat example folder into a fresh temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// standIn masters an ISO named name in dir from files (path -> content, mode 0755
// when the path ends in .run or .sh) with the extra xorriso arguments.
func standIn(t *testing.T, dir, name string, files map[string]string, args ...string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "tree")
	for p, body := range files {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".run") || strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	mkisofs(t, filepath.Join(dir, name), append(append([]string{"-R", "-J"}, args...), src)...)
}

func guestAdditions(t *testing.T, dir string) {
	standIn(t, dir, "VBoxGuestAdditions.iso", map[string]string{
		"VBoxWindowsAdditions-amd64.exe": string(pattern(40000, 3)),
		"VBoxLinuxAdditions.run":         "#!/bin/sh\necho additions\n",
		"cert/vbox-sha256.cer":           "certificate\n",
		"AUTORUN.INF":                    "[autorun]\n",
		"TRANS.TBL":                      "F AUTORUN.INF;1 AUTORUN.INF\n",
	}, "-V", "VBox_GAs_7.1.0")
}

// bootTree is a minimal installer layout: a BIOS no-emulation loader with a boot
// info table and an EFI image in an -eltorito-alt-boot section.
func bootArgs(bios, efi string) []string {
	return []string{"-b", bios, "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", efi, "-no-emul-boot"}
}

// buildExample builds the example's VISO with the copy's folder as media root.
func buildExample(t *testing.T, dir string) (visoPath, iso string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.viso"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("want one .viso in %s, got %v %v", dir, matches, err)
	}
	return matches[0], buildISO(t, matches[0], dir)
}

func readExample(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSpecExamples(t *testing.T) {
	const u1 = "Unattended-6e1f9a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-"
	const u2 = "Unattended-9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a-"
	const u3 = "Unattended-2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f-"
	loader := string(pattern(4096, 5))
	tests := []struct {
		name    string
		folder  string
		isos    func(t *testing.T, dir string)
		files   map[string]string // image path -> expected content ("" = only present); from the example folder when prefixed "@"
		modes   map[string]os.FileMode
		absent  []string
		volume  string
		entries int
		kept    []string // files rm --unattended-install must keep (besides the ISOs)
	}{
		{
			name: "7.1 Windows 11 auxiliary disc", folder: "spec-7.1-windows11-aux", isos: guestAdditions,
			files: map[string]string{
				"/autounattend.xml": "@" + u1 + "autounattend.xml", "/VBOXPOST.CMD": "@" + u1 + "VBOXPOST.CMD",
				"/vboxadditions/VBoxLinuxAdditions.run": "#!/bin/sh\necho additions\n",
				"/vboxadditions/cert/vbox-sha256.cer":   "certificate\n",
			},
			modes:  map[string]os.FileMode{"/vboxadditions/VBoxLinuxAdditions.run": 0o444, "/vboxadditions": os.ModeDir | 0o555},
			absent: []string{"/vboxadditions/TRANS.TBL"},
		},
		{
			name: "7.2 Debian preseed remaster", folder: "spec-7.2-debian-preseed",
			isos: func(t *testing.T, dir string) {
				guestAdditions(t, dir)
				standIn(t, dir, "debian-12.5.0-amd64-netinst.iso", map[string]string{
					"isolinux/isolinux.bin": loader, "isolinux/isolinux.cfg": "default vesamenu.c32\n",
					"isolinux/txt.cfg": "label install\n", "isolinux/menu.cfg": "menu title Debian\n",
					"install.amd/vmlinuz": "kernel", "install.amd/initrd.gz": "initrd",
					"boot/grub/efi.img": string(pattern(8192, 9)), ".disk/info": "Debian GNU/Linux 12.5.0\n",
					"pool/main/b/base-files/base-files_12.4_amd64.deb": "deb",
				}, append([]string{"-V", "Debian 12.5.0 amd64 n", "-c", "isolinux/boot.cat"}, bootArgs("isolinux/isolinux.bin", "boot/grub/efi.img")...)...)
			},
			files: map[string]string{
				"/isolinux/isolinux.cfg": "@" + u2 + "isolinux-isolinux.cfg", "/isolinux/txt.cfg": "@" + u2 + "isolinux-txt.cfg",
				"/preseed.cfg": "@" + u2 + "preseed.cfg", "/vboxpostinstall.sh": "@" + u2 + "vboxpostinstall.sh",
				"/isolinux/menu.cfg": "menu title Debian\n", "/install.amd/vmlinuz": "kernel",
				"/pool/main/b/base-files/base-files_12.4_amd64.deb": "deb", "/vboxadditions/AUTORUN.INF": "[autorun]\n",
			},
			modes:   map[string]os.FileMode{"/preseed.cfg": 0o444, "/isolinux/isolinux.cfg": 0o444},
			volume:  "Debian 12.5.0 amd64 n",
			entries: 2,
		},
		{
			name: "7.3 Ubuntu autoinstall remaster", folder: "spec-7.3-ubuntu-autoinstall",
			isos: func(t *testing.T, dir string) {
				guestAdditions(t, dir)
				standIn(t, dir, "ubuntu-24.04-live-server-amd64.iso", map[string]string{
					"boot/grub/grub.cfg": "menuentry original {}\n", "boot/grub/i386-pc/eltorito.img": loader,
					"boot/grub/efi.img": string(pattern(8192, 13)), "casper/vmlinuz": "kernel", "casper/initrd": "initrd",
					"EFI/boot/bootx64.efi": "efi",
				}, append([]string{"-V", "Ubuntu-Server 24.04 LTS amd64"}, bootArgs("boot/grub/i386-pc/eltorito.img", "boot/grub/efi.img")...)...)
			},
			files: map[string]string{
				"/meta-data": "@ubuntu_autoinstall_meta_data", "/boot/grub/grub.cfg": "@" + u3 + "grub.cfg",
				"/user-data": "@" + u3 + "user-data", "/casper/vmlinuz": "kernel", "/EFI/boot/bootx64.efi": "efi",
			},
			modes:   map[string]os.FileMode{"/meta-data": 0o444, "/user-data": 0o444},
			volume:  "Ubuntu-Server 24.04 LTS amd64",
			entries: 2,
			kept:    []string{"ubuntu_autoinstall_meta_data"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, filepath.Join("..", "..", "examples", tc.folder))
			tc.isos(t, dir)
			v, iso := buildExample(t, dir)
			tree := extract(t, iso)
			for p, want := range tc.files {
				if strings.HasPrefix(want, "@") {
					want = readExample(t, dir, want[1:])
				}
				n, ok := tree[p]
				switch {
				case !ok:
					t.Errorf("%s missing from the image", p)
				case n.sum != sha([]byte(want)):
					t.Errorf("%s: content differs from what the VISO asked for", p)
				}
			}
			for p, m := range tc.modes {
				if n, ok := tree[p]; !ok || n.mode != m {
					t.Errorf("%s mode %v, want %v", p, tree[p].mode, m)
				}
			}
			for _, p := range tc.absent {
				if _, ok := tree[p]; ok {
					t.Errorf("%s should not be in the image", p)
				}
			}
			if tc.volume != "" {
				if rep := xorrisoReport(t, iso, "-pvd_info"); !strings.Contains(rep, "Volume Id    : "+tc.volume+"\n") {
					t.Errorf("volume id is not %q:\n%s", tc.volume, rep)
				}
			}
			if got := bootEntries(t, iso); len(got) != tc.entries {
				t.Errorf("El Torito entries %q, want %d", got, tc.entries)
			} else if tc.entries == 2 && (!strings.Contains(got[0], "BIOS") || !strings.Contains(got[1], "UEFI")) {
				t.Errorf("El Torito entries %q, want a BIOS default entry and a UEFI section entry", got)
			}

			// Deleting it like VirtualBox with UnattendedInstall=1: the VISO and its
			// Unattended-* answer files go; the ISOs and other files stay.
			doc, err := viso.ReadEnvelope(v, strings.NewReader(readExample(t, dir, filepath.Base(v))))
			if err != nil {
				t.Fatal(err)
			}
			if _, warns, err := viso.RemoveVISO(v, doc.Args, true); err != nil || len(warns) != 0 {
				t.Fatalf("RemoveVISO: %v %v", err, warns)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "Unattended-") {
					t.Errorf("%s survived the unattended cleanup", e.Name())
				}
			}
			for _, keep := range append(tc.kept, "VBoxGuestAdditions.iso") {
				if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
					t.Errorf("%s was deleted", keep)
				}
			}
		})
	}
}
