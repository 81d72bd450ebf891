package serve

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []mountInfo
		wantErr bool
	}{
		{
			name: "optional fields and escapes",
			in: "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:2 - ext3 /dev/root rw\n" +
				"40 36 0:52 / /var/lib/x/disk\\134dir rw,nosuid - fuse.csi-viso csi-viso ro,user_id=0\n",
			want: []mountInfo{
				{ID: 36, Major: 98, Minor: 0, MountPoint: "/mnt two", FSType: "ext3", Source: "/dev/root"},
				{ID: 40, Major: 0, Minor: 52, MountPoint: `/var/lib/x/disk\dir`, FSType: "fuse.csi-viso", Source: "csi-viso"},
			},
		},
		{name: "no optional fields", in: "1 0 0:1 / / rw - rootfs rootfs rw\n",
			want: []mountInfo{{ID: 1, Minor: 1, MountPoint: "/", FSType: "rootfs", Source: "rootfs"}}},
		{name: "empty", in: "", want: nil},
		{name: "no separator", in: "1 0 0:1 / / rw rootfs rootfs rw\n", wantErr: true},
		{name: "bad device", in: "1 0 01 / / rw - rootfs rootfs rw\n", wantErr: true},
		{name: "bad id", in: "x 0 0:1 / / rw - rootfs rootfs rw\n", wantErr: true},
		{name: "truncated after separator", in: "1 0 0:1 / / rw - rootfs\n", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountInfo(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:         "plain",
		`a\040b`:        "a b",
		`tab\011nl\012`: "tab\tnl\n",
		`back\134slash`: `back\slash`,
		`short\04`:      `short\04`,
		`not\999octal`:  `not\999octal`,
		`trailing\`:     `trailing\`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountsAtOrder(t *testing.T) {
	infos := []mountInfo{
		{ID: 1, MountPoint: "/a"}, {ID: 2, MountPoint: "/a/b"}, {ID: 3, MountPoint: "/a"}, {ID: 4, MountPoint: "/ab"},
	}
	got := mountsAt(infos, "/a")
	if len(got) != 2 || got[0].ID != 1 || got[1].ID != 3 {
		t.Errorf("mountsAt = %+v, want IDs 1 then 3", got)
	}
}

func TestCheckFileName(t *testing.T) {
	for name, ok := range map[string]bool{
		"disk.img": true, "a b.iso": true, ".hidden": true, "...": true,
		".": false, "..": false, "a/b": false, "/abs": false, "nul\x00": false, strings.Repeat("n", 256): false,
	} {
		if err := checkFileName(name); (err == nil) != ok {
			t.Errorf("checkFileName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
