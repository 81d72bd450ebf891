package driver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// fsTypesAt lists the filesystem types mounted at path or below, from
// /proc/self/mountinfo.
func fsTypesAt(path string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 || (f[4] != path && !strings.HasPrefix(f[4], path+"/")) {
			continue
		}
		out = append(out, strings.Fields(post)[0])
	}
	return out
}

// TestPlainImagePaths: a world-readable ISO is served by the kernel (tmpfs +
// file bind, or a loop device over the ISO), a private one through FUSE with
// mode 0444; both read back byte-for-byte; kernel-served volumes survive a
// plugin restart untouched.
func TestPlainImagePaths(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := mustRead(t, filepath.Join(e.media, "plain.iso"))
	if err := os.WriteFile(filepath.Join(e.media, "private.iso"), want, 0o600); err != nil {
		t.Fatal(err)
	}

	type vol struct {
		name, id, staging, target, read string
		cap                             *csi.VolumeCapability
	}
	var vols []vol
	for _, tc := range []struct {
		name, image, fsType string
		ephemeral, block    bool
	}{
		{name: "ephemeral kernel", image: "plain.iso", fsType: "tmpfs", ephemeral: true},
		{name: "ephemeral fuse", image: "private.iso", fsType: "fuse.csi-viso", ephemeral: true},
		{name: "pvc kernel", image: "plain.iso", fsType: "tmpfs"},
		{name: "pvc block kernel", image: filepath.Join(e.media, "plain.iso"), fsType: "devtmpfs", block: true},
		{name: "pvc block fuse", image: "private.iso", fsType: "devtmpfs", block: true},
	} {
		slug := strings.ReplaceAll(tc.name, " ", "-") // mountinfo escapes spaces
		v := vol{name: tc.name, target: filepath.Join(e.dir, "t", slug), cap: fsCap()}
		if tc.block {
			v.cap = blockCap()
		}
		v.read = filepath.Join(v.target, "disk.img")
		if tc.block {
			v.read = v.target
		}
		if tc.ephemeral {
			v.id = "eph-" + tc.name
			if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: v.id, TargetPath: v.target, VolumeCapability: v.cap,
				VolumeContext: ephemeralCtx(map[string]string{AttrImage: tc.image})}); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		} else {
			cv := e.createPVC(slug, map[string]string{AttrImage: tc.image}, v.cap)
			v.id, v.staging = cv.VolumeId, filepath.Join(e.dir, "s", slug)
			if _, err := e.node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging, VolumeCapability: v.cap, VolumeContext: cv.VolumeContext}); err != nil {
				t.Fatalf("%s: stage: %v", tc.name, err)
			}
			if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging, TargetPath: v.target, VolumeCapability: v.cap, VolumeContext: cv.VolumeContext}); err != nil {
				t.Fatalf("%s: publish: %v", tc.name, err)
			}
		}
		if got := fsTypesAt(v.target); len(got) == 0 || got[0] != tc.fsType {
			t.Errorf("%s: mounts at target %v, want %s first", tc.name, got, tc.fsType)
		}
		assertSame(t, tc.name, mustRead(t, v.read), want)
		if !tc.block {
			fi, err := os.Stat(v.read)
			if err != nil || fi.Mode().Perm()&0o444 != 0o444 {
				t.Errorf("%s: %v %v, want world-readable", tc.name, fi, err)
			}
		}
		vols = append(vols, v)
	}

	// Restart without a crash of the kernel's side: kernel volumes are kept
	// as they are (FUSE ones are served again).
	d2, err := New(e.d.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.start(d2)
	for _, v := range vols {
		assertSame(t, "after restart: "+v.name, mustRead(t, v.read), want)
	}
	for _, v := range vols {
		if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: v.target}); err != nil {
			t.Fatalf("%s: unpublish: %v", v.name, err)
		}
		if v.staging != "" {
			if _, err := e.node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: v.id, StagingTargetPath: v.staging}); err != nil {
				t.Fatalf("%s: unstage: %v", v.name, err)
			}
		}
	}
	e.assertClean()
	for _, l := range loopsUnder(e.media) {
		t.Errorf("loop device over the media root left: %s", l)
	}
}
