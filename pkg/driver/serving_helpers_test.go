package driver

import (
	"context"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// publishedVolume is a PVC-style volume staged and published by the test
// driver: Path is the published disk.img (filesystem mode) or the block
// device node (block mode).
type publishedVolume struct {
	ID     string
	Target string
	Path   string
}

// publishPVC creates, stages and publishes a volume the way kubelet would
// for a claim in testNS and registers its unpublish/unstage as cleanup.
func (e *env) publishPVC(name string, params map[string]string, block bool) publishedVolume {
	t := e.t
	t.Helper()
	c := fsCap()
	if block {
		c = blockCap()
	}
	vol := e.createPVC(name, params, c)
	ctx := context.Background()
	staging := filepath.Join(e.dir, "kubelet", name, "globalmount")
	target := filepath.Join(e.dir, "kubelet", name, "pods", "p1", "mount")
	if _, err := e.node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging,
		VolumeCapability: c, VolumeContext: vol.VolumeContext}); err != nil {
		t.Fatalf("NodeStageVolume: %v", err)
	}
	if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging,
		TargetPath: target, VolumeCapability: c, VolumeContext: vol.VolumeContext, Readonly: true}); err != nil {
		t.Fatalf("NodePublishVolume: %v", err)
	}
	t.Cleanup(func() {
		if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: vol.VolumeId, TargetPath: target}); err != nil {
			t.Errorf("NodeUnpublishVolume: %v", err)
		}
		if _, err := e.node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging}); err != nil {
			t.Errorf("NodeUnstageVolume: %v", err)
		}
	})
	p := target
	if !block {
		p = filepath.Join(target, "disk.img")
	}
	return publishedVolume{ID: vol.VolumeId, Target: target, Path: p}
}

// withMediaRoot adds a media root (payload or benchmark files).
func withMediaRoot(dir string) envOpt {
	return func(o *Options) { o.MediaRoots = append(o.MediaRoots, dir) }
}
