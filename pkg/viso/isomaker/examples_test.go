package isomaker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// The real-world VISO files of spec §7.1–7.5 and the rarer §2.13 forms.
func TestRealWorldVISOs(t *testing.T) {
	const aux = "/home/alice/VirtualBox VMs/Win11/Unattended-6e1f9a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	const deb = "/home/alice/VirtualBox VMs/deb12/Unattended-9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	const noble = "/home/alice/vms/noble/Unattended-2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
	forced := []string{
		`{"op":"file-mode","mode":"0444"}`, `{"op":"rock-ridge","level":2}`,
		`{"op":"dir-mode","mode":"0555"}`, `{"op":"rock-ridge","level":2}`,
	}
	unforced := []string{`{"op":"no-file-mode"}`, `{"op":"no-dir-mode"}`}
	gaOps := []string{
		`{"op":"push-iso","path":"/usr/share/virtualbox/VBoxGuestAdditions.iso","variant":"all"}`,
		`{"op":"add","names":["/vboxadditions"],"source":"/"}`,
		`{"op":"pop"}`,
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name    string
		quoting argv.Quoting
		text    string
		want    []string
		boot    string // JSON of Plan.ElTorito
	}{
		{
			name:    "7.1 Windows 11 auxiliary VISO (one line)",
			quoting: argv.Bourne,
			text: "--iprt-iso-maker-file-marker-bourne-sh 0c6b1d5e-8f7a-4a55-9c1e-2d3f4a5b6c7d --file-mode=0444 --dir-mode=0555 " +
				"'/autounattend.xml=" + aux + "-autounattend.xml' '/VBOXPOST.CMD=" + aux + "-VBOXPOST.CMD' " +
				"--push-iso=/usr/share/virtualbox/VBoxGuestAdditions.iso /vboxadditions=/ --pop",
			want: cat(forced, []string{
				`{"op":"add","names":["/autounattend.xml"],"source":"` + aux + `-autounattend.xml"}`,
				`{"op":"add","names":["/VBOXPOST.CMD"],"source":"` + aux + `-VBOXPOST.CMD"}`,
			}, gaOps),
			boot: "null",
		},
		{
			name:    "7.2 Debian 12 preseed remaster",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 5a0f7c1e-2b3d-4e6f-9a8b-7c6d5e4f3a2b
--file-mode=0444 --dir-mode=0555
--no-file-mode --no-dir-mode
--import-iso /srv/isos/debian-12.5.0-amd64-netinst.iso
--file-mode=0444 --dir-mode=0555
isolinux/isolinux.cfg=:must-remove:
'isolinux/isolinux.cfg=` + deb + `-isolinux-isolinux.cfg'
/isolinux/txt.cfg=:must-remove:
'/isolinux/txt.cfg=` + deb + `-isolinux-txt.cfg'
'/preseed.cfg=` + deb + `-preseed.cfg'
'/vboxpostinstall.sh=` + deb + `-vboxpostinstall.sh'
--push-iso=/usr/share/virtualbox/VBoxGuestAdditions.iso /vboxadditions=/ --pop`,
			want: cat(forced, unforced, []string{
				`{"op":"import-iso","path":"/srv/isos/debian-12.5.0-amd64-netinst.iso"}`,
			}, forced, []string{
				`{"op":"must-remove","names":["/isolinux/isolinux.cfg"]}`,
				`{"op":"add","names":["/isolinux/isolinux.cfg"],"source":"` + deb + `-isolinux-isolinux.cfg"}`,
				`{"op":"must-remove","names":["/isolinux/txt.cfg"]}`,
				`{"op":"add","names":["/isolinux/txt.cfg"],"source":"` + deb + `-isolinux-txt.cfg"}`,
				`{"op":"add","names":["/preseed.cfg"],"source":"` + deb + `-preseed.cfg"}`,
				`{"op":"add","names":["/vboxpostinstall.sh"],"source":"` + deb + `-vboxpostinstall.sh"}`,
			}, gaOps),
			boot: "null",
		},
		{
			name:    "7.3 Ubuntu 24.04 autoinstall remaster",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 7d4e2c1a-9b8f-4e3d-a2c1-6f5e4d3c2b1a
--file-mode=0444 --dir-mode=0555
/meta-data=/usr/lib/virtualbox/UnattendedTemplates/ubuntu_autoinstall_meta_data
--no-file-mode --no-dir-mode
--import-iso /srv/isos/ubuntu-24.04-live-server-amd64.iso
--file-mode=0444 --dir-mode=0555
/boot/grub/grub.cfg=:must-remove:
/boot/grub/grub.cfg=` + noble + `-grub.cfg
/user-data=` + noble + `-user-data
/vboxpostinstall.sh=` + noble + `-vboxpostinstall.sh
--push-iso=/usr/share/virtualbox/VBoxGuestAdditions.iso /vboxadditions=/ --pop`,
			want: cat(forced, []string{
				`{"op":"add","names":["/meta-data"],"source":"/usr/lib/virtualbox/UnattendedTemplates/ubuntu_autoinstall_meta_data"}`,
			}, unforced, []string{
				`{"op":"import-iso","path":"/srv/isos/ubuntu-24.04-live-server-amd64.iso"}`,
			}, forced, []string{
				`{"op":"must-remove","names":["/boot/grub/grub.cfg"]}`,
				`{"op":"add","names":["/boot/grub/grub.cfg"],"source":"` + noble + `-grub.cfg"}`,
				`{"op":"add","names":["/user-data"],"source":"` + noble + `-user-data"}`,
				`{"op":"add","names":["/vboxpostinstall.sh"],"source":"` + noble + `-vboxpostinstall.sh"}`,
			}, gaOps),
			boot: "null",
		},
		{
			name:    "7.4 hand-written cloud-init seed",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301
--volume-id=cidata
--rock-ridge
--joliet
/user-data=seed/user-data
/meta-data=seed/meta-data
/network-config=seed/network-config
`,
			want: []string{
				`{"op":"volume-string","field":"volume-id","value":"cidata"}`,
				`{"op":"rock-ridge","level":2}`,
				`{"op":"joliet","level":3}`,
				`{"op":"add","names":["/user-data"],"source":"seed/user-data"}`,
				`{"op":"add","names":["/meta-data"],"source":"seed/meta-data"}`,
				`{"op":"add","names":["/network-config"],"source":"seed/network-config"}`,
			},
			boot: "null",
		},
		{
			name:    "7.5 MS CRT bootable ISOLINUX image",
			quoting: argv.MSCRT,
			text: `--iprt-iso-maker-file-marker-ms 9b2f6c1d-0e4a-4b7c-8d3e-5f6a7b8c9d0e
--volume-id=LIVE2024
--push-iso "D:\ISOs\live-2024.iso"
/isolinux=/isolinux
/live=/live
--pop
/isolinux/boot.cat=:remove:
/isolinux/isolinux.cfg=:must-remove:
"/isolinux/isolinux.cfg=my isolinux.cfg"
--eltorito-boot /isolinux/isolinux.bin
--no-emulation-boot
--boot-load-size 4
--boot-info-table
--boot-catalog /isolinux/boot.cat
`,
			want: []string{
				`{"op":"volume-string","field":"volume-id","value":"LIVE2024"}`,
				`{"op":"push-iso","path":"D:\\ISOs\\live-2024.iso","variant":"all"}`,
				`{"op":"add","names":["/isolinux"],"source":"/isolinux"}`,
				`{"op":"add","names":["/live"],"source":"/live"}`,
				`{"op":"pop"}`,
				`{"op":"remove","names":["/isolinux/boot.cat"]}`,
				`{"op":"must-remove","names":["/isolinux/isolinux.cfg"]}`,
				`{"op":"add","names":["/isolinux/isolinux.cfg"],"source":"my isolinux.cfg"}`,
				`{"op":"eltorito-boot","path":"/isolinux/isolinux.bin","entry":1}`,
				`{"op":"boot-catalog","names":["/isolinux/boot.cat"]}`,
			},
			boot: `{"platformId":0,"default":{"entry":1,"slot":1,"bootable":true,"media":"no-emulation","loadSegment":1984,"sectorCount":4,"bootInfoTable":true,"imageOp":8}}`,
		},
		{
			name:    "2.13 OS/2 style import with its own boot floppy",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 11111111-2222-3333-4444-555555555555
--import-iso /srv/isos/os2.iso --name-setup-from-import
--eltorito-new-entry --eltorito-add-image /os2_boot.img=/vms/os2/Unattended-x-boot.img --eltorito-floppy-288`,
			want: []string{
				`{"op":"import-iso","path":"/srv/isos/os2.iso"}`,
				`{"op":"name-setup-from-import"}`,
				`{"op":"eltorito-add-image","names":["/os2_boot.img"],"source":"/vms/os2/Unattended-x-boot.img","entry":1}`,
			},
			boot: `{"platformId":0,"default":{"entry":1,"slot":1,"bootable":true,"media":"floppy-2.88","loadSegment":1984,"sectorCount":4,"bootInfoTable":false,"imageOp":2}}`,
		},
		{
			name:    "2.13 RHEL style boot options",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 11111111-2222-3333-4444-555555555555
--import-iso rhel.iso --eltorito-boot isolinux/isolinux.bin --no-emulation-boot --boot-info-table
--boot-load-seg=0x07c0 --boot-load-size=4 --boot-catalog=isolinux/boot.cat`,
			want: []string{
				`{"op":"import-iso","path":"rhel.iso"}`,
				`{"op":"eltorito-boot","path":"isolinux/isolinux.bin","entry":1}`,
				`{"op":"boot-catalog","names":["/isolinux/boot.cat"]}`,
			},
			boot: `{"platformId":0,"default":{"entry":1,"slot":1,"bootable":true,"media":"no-emulation","loadSegment":1984,"sectorCount":4,"bootInfoTable":true,"imageOp":1}}`,
		},
		{
			name:    "GUI VISO creator output",
			quoting: argv.Bourne,
			text: `--iprt-iso-maker-file-marker-bourne-sh 0d0c0b0a-0908-0706-0504-030201000000
--volume-id='My Disk'
/docs=/home/u/docs
'/My File.txt=/home/u/My File.txt'
/docs/old.txt=:remove:
--iso-level 2`,
			want: []string{
				`{"op":"volume-string","field":"volume-id","value":"My Disk"}`,
				`{"op":"add","names":["/docs"],"source":"/home/u/docs"}`,
				`{"op":"add","names":["/My File.txt"],"source":"/home/u/My File.txt"}`,
				`{"op":"remove","names":["/docs/old.txt"]}`,
				`{"op":"iso-level","level":2}`,
			},
			boot: "null",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Parse(argv.Split(tc.text, tc.quoting), Options{File: "x.viso"})
			if err != nil {
				t.Fatal(err)
			}
			if got := briefAll(t, plan.Operations); !equalStrings(got, tc.want) {
				t.Errorf("ops:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
			b, _ := json.Marshal(plan.ElTorito)
			if string(b) != tc.boot {
				t.Errorf("boot:\n got %s\nwant %s", b, tc.boot)
			}
		})
	}
}

// TestPlanJSONShape pins the exact JSON the CLI prints, location fields included.
func TestPlanJSONShape(t *testing.T) {
	text := "--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n" +
		"--chmod a+x:/run.sh --chown 0:/run.sh\n/run.sh=run.sh\n-b /run.sh"
	plan, err := Parse(argv.Split(text, argv.Bourne), Options{File: "s.viso"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(plan, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "operations": [
  {
   "op": "chmod",
   "line": 2,
   "arg": "--chmod",
   "addBits": "0111",
   "path": "/run.sh"
  },
  {
   "op": "chown",
   "line": 2,
   "arg": "--chown",
   "id": 0,
   "path": "/run.sh"
  },
  {
   "op": "add",
   "line": 3,
   "arg": "/run.sh=run.sh",
   "names": [
    "/run.sh"
   ],
   "source": "run.sh"
  },
  {
   "op": "eltorito-boot",
   "line": 4,
   "arg": "-b",
   "path": "/run.sh",
   "entry": 1
  }
 ],
 "elTorito": {
  "platformId": 0,
  "default": {
   "entry": 1,
   "slot": 1,
   "bootable": true,
   "media": "auto",
   "loadSegment": 1984,
   "sectorCount": 4,
   "bootInfoTable": false,
   "imageOp": 3
  }
 }
}`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant\n%s", b, want)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Operations[0].AddBits == nil || *back.Operations[0].AddBits != 0o111 || back.ElTorito.Default.ImageOp != 3 {
		t.Errorf("round trip lost data: %+v", back.Operations[0])
	}
}
