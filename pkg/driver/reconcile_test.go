package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
)

// abortServers kills the FUSE connections of every volume d serves, which
// is what the kernel does when the plugin process dies.
func abortServers(t *testing.T, d *Driver) {
	t.Helper()
	const ctl = "/sys/fs/fuse/connections"
	if _, err := os.Stat(filepath.Join(ctl, "version")); err != nil {
		entries, _ := os.ReadDir(ctl)
		if len(entries) == 0 {
			if err := syscall.Mount("fusectl", ctl, "fusectl", 0, ""); err != nil {
				t.Fatalf("mount fusectl: %v", err)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, lv := range d.live {
		var st unix.Stat_t
		if err := unix.Stat(lv.srv.Dir(), &st); err != nil {
			t.Fatalf("stat %s: %v", lv.srv.Dir(), err)
		}
		conn := fmt.Sprintf("%s/%d/abort", ctl, st.Dev)
		if err := os.WriteFile(conn, []byte("1"), 0); err != nil {
			t.Fatalf("abort FUSE connection of %s: %v", id, err)
		}
		lv.srv.Wait()
	}
}

func TestReconcileAfterCrash(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := buildExpected(t, testKeys(), "seed.viso")

	type pub struct {
		vol             *csi.Volume
		staging, target string
		cap             *csi.VolumeCapability
		read            string
	}
	var pubs []pub
	for _, c := range []struct {
		name string
		cap  *csi.VolumeCapability
	}{{"fs", fsCap()}, {"block", blockCap()}} {
		vol := e.createPVC("r-"+c.name, map[string]string{AttrConfigMap: "seed"}, c.cap)
		p := pub{vol: vol, cap: c.cap,
			staging: filepath.Join(e.dir, "kubelet", c.name, "globalmount"),
			target:  filepath.Join(e.dir, "kubelet", c.name, "pods", "x", "mount")}
		p.read = p.target
		if c.name == "fs" {
			p.read = filepath.Join(p.target, "disk.img")
		}
		if _, err := e.node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: p.staging, VolumeCapability: c.cap, VolumeContext: vol.VolumeContext}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: p.staging, TargetPath: p.target, VolumeCapability: c.cap, VolumeContext: vol.VolumeContext}); err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
	}
	ephTarget := filepath.Join(e.dir, "pods", "eph", "mount")
	if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "eph", TargetPath: ephTarget, VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "seed"})}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		assertSame(t, p.read, mustRead(t, p.read), want)
	}

	// A leftover of a crash mid-operation: a folder without a record.
	junk := filepath.Join(e.d.store.Dir(), "node", "0123456789abcdef0123456789abcdef", "src")
	if err := os.MkdirAll(junk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(junk, "Unattended-secret"), []byte("pw"), 0o400); err != nil {
		t.Fatal(err)
	}

	abortServers(t, e.d)
	if _, err := os.ReadFile(filepath.Join(ephTarget, "disk.img")); err == nil || !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("read after the server died: %v, want ENOTCONN", err)
	}

	d2, err := New(e.d.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.start(d2) // reconciles
	for _, p := range pubs {
		assertSame(t, "after restart: "+p.read, mustRead(t, p.read), want)
	}
	assertSame(t, "after restart: ephemeral", mustRead(t, filepath.Join(ephTarget, "disk.img")), want)
	if _, err := os.Stat(filepath.Dir(junk)); !os.IsNotExist(err) {
		t.Errorf("leftover state folder not removed: %v", err)
	}
	if m := mountsUnder(e.dir); len(m) != 5 {
		t.Errorf("mounts after reconcile: %v, want 5 (2 staging, 2 targets, 1 ephemeral): nothing stacked", m)
	}

	for _, p := range pubs {
		if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: p.vol.VolumeId, TargetPath: p.target}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: p.vol.VolumeId, StagingTargetPath: p.staging}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "eph", TargetPath: ephTarget}); err != nil {
		t.Fatal(err)
	}
	e.assertClean()
}

// TestUnpublishDeadMounts: after the FUSE servers died (no restart), every
// unpublish and unstage still succeeds and cleans up: dead binds, loop
// devices over a dead file and dead FUSE mounts all go.
func TestUnpublishDeadMounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	type pub struct {
		id, staging, target string
	}
	var pubs []pub
	for _, c := range []struct {
		name string
		cap  *csi.VolumeCapability
	}{{"fs", fsCap()}, {"block", blockCap()}} {
		vol := e.createPVC("dead-"+c.name, map[string]string{AttrConfigMap: "seed"}, c.cap)
		p := pub{id: vol.VolumeId, staging: filepath.Join(e.dir, "k", c.name, "globalmount"), target: filepath.Join(e.dir, "k", c.name, "pod", "mount")}
		if _, err := e.node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: p.id, StagingTargetPath: p.staging, VolumeCapability: c.cap, VolumeContext: vol.VolumeContext}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: p.id, StagingTargetPath: p.staging, TargetPath: p.target, VolumeCapability: c.cap, VolumeContext: vol.VolumeContext}); err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
	}
	eph := filepath.Join(e.dir, "pods", "dead", "mount")
	if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "dead-eph", TargetPath: eph, VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "seed"})}); err != nil {
		t.Fatal(err)
	}
	abortServers(t, e.d)
	if _, err := os.Open(filepath.Join(pubs[0].target, "disk.img")); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("open through a dead mount: %v, want ENOTCONN", err)
	}
	// Health reports the dead mounts as inaccessible.
	for _, p := range append(pubs, pub{id: "dead-eph", target: eph}) {
		h, err := e.node.NodeGetVolumeHealth(ctx, &csi.NodeGetVolumeHealthRequest{VolumeId: p.id})
		if err != nil {
			t.Fatalf("health of a dead mount: %v", err)
		}
		st := h.GetVolumeHealth().GetHealthStatuses()
		if len(st) != 1 || st[0].GetStatus() != csi.VolumeHealthErrorType_INACCESSIBLE || st[0].GetReason() != "ServerGone" || !strings.Contains(st[0].GetMessage(), "does not answer") {
			t.Errorf("%s: health %v, want INACCESSIBLE ServerGone", p.target, st)
		}
	}
	for _, p := range pubs {
		if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: p.id, TargetPath: p.target}); err != nil {
			t.Fatalf("unpublish of a dead mount: %v", err)
		}
		if _, err := e.node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: p.id, StagingTargetPath: p.staging}); err != nil {
			t.Fatalf("unstage of a dead mount: %v", err)
		}
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "dead-eph", TargetPath: eph}); err != nil {
		t.Fatalf("unpublish of a dead inline volume: %v", err)
	}
	e.assertClean()
}
