package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// BenchmarkNodePublish measures NodePublishVolume of an inline volume up to
// a servable disk.img (and its NodeUnpublishVolume, reported apart): a VISO
// staged from a ConfigMap (fetch, stage, parse, lay out, FUSE mount), a
// private plain ISO (FUSE mount) and a world-readable one (kernel path).
func BenchmarkNodePublish(b *testing.B) {
	for _, bc := range []struct {
		name  string
		attrs map[string]string
		chmod bool
	}{
		{"configmap-viso", map[string]string{AttrConfigMap: "seed"}, false},
		{"image-fuse", map[string]string{AttrImage: "plain.iso"}, true},
		{"image-kernel", map[string]string{AttrImage: "plain.iso"}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			if bc.chmod {
				if err := chmod(filepath.Join(e.media, "plain.iso"), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			var unpublish float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := fmt.Sprintf("bench-%d", i)
				target := filepath.Join(e.dir, "pods", id, "mount")
				if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target,
					VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(bc.attrs)}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				start := nowSeconds()
				if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
					b.Fatal(err)
				}
				unpublish += nowSeconds() - start
				b.StartTimer()
			}
			b.ReportMetric(unpublish/float64(b.N)*1e3, "ms-unpublish/op")
		})
	}
}

func chmod(path string, mode uint32) error { return os.Chmod(path, os.FileMode(mode)) }

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }
