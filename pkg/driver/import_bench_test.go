package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-viso/csi-viso/pkg/viso"
)

// writeBaseISO synthesises a base installer ISO of about size bytes into path:
// 2 000 small files plus one big file making up the rest. Zero MiBs are skipped,
// so a 4 GiB base costs a few MiB of disk.
func writeBaseISO(b testing.TB, path string, size int64) {
	b.Helper()
	src := b.TempDir()
	body := "--iprt-iso-maker-file-marker-bourne-sh 11111111-2222-4333-8444-555555555555\n--rock-ridge\n--volume-id=BASE\n"
	for i := 0; i < 2000; i++ {
		name := fmt.Sprintf("pool/d%02d/pkg-%04d.deb", i%40, i)
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	big, err := os.Create(filepath.Join(src, "big.squashfs"))
	if err != nil {
		b.Fatal(err)
	}
	big.Truncate(size)
	big.Close()
	body += "/pool=pool\n/live/big.squashfs=big.squashfs\n/isolinux/isolinux.cfg=isolinux.cfg\n"
	os.WriteFile(filepath.Join(src, "isolinux.cfg"), []byte("default old\n"), 0o644)
	v := filepath.Join(src, "base.viso")
	os.WriteFile(v, []byte(body), 0o644)

	res, err := viso.NewResolver(v, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Close()
	doc, err := viso.ParseFile(v, res)
	if err != nil {
		b.Fatal(err)
	}
	img, err := doc.Build(res)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	buf, zero := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); off < img.Size(); off += int64(len(buf)) {
		n, err := img.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := out.Truncate(img.Size()); err != nil {
		b.Fatal(err)
	}
}

// remasterKeys is a ConfigMap whose VISO imports base the way VirtualBox's
// unattended installer remasters a Linux ISO: a replaced boot menu and an
// added answer file.
func remasterKeys(base string) map[string]string {
	return map[string]string{
		"remaster.viso": "--iprt-iso-maker-file-marker-bourne-sh 5a0f7c1e-2b3d-4e6f-9a8b-7c6d5e4f3a2b\n" +
			"--import-iso " + base + "\n--file-mode=0444\n" +
			"isolinux/isolinux.cfg=:must-remove:\nisolinux/isolinux.cfg=Unattended-x-isolinux.cfg\n" +
			"/preseed.cfg=Unattended-x-preseed.cfg\n",
		"Unattended-x-isolinux.cfg": "default unattended\n",
		"Unattended-x-preseed.cfg":  "d-i debian-installer/locale string en_US.UTF-8\n",
	}
}

// BenchmarkNodePublishImport measures NodePublishVolume of an inline volume whose
// VISO (from a ConfigMap) imports a base ISO from a media root, replaces a file
// and adds one — the unattended-installer shape. Issue target: < 0.5 s and
// independent of the base size (4 GiB vs 40 MiB, same 2 000 files).
func BenchmarkNodePublishImport(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int64
	}{{"base-40MiB", 40 << 20}, {"base-4GiB", 4 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			base := filepath.Join(e.media, "base.iso")
			writeBaseISO(b, base, bc.size)
			keys := remasterKeys(base)
			ctx := context.Background()
			if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("remaster", keys), metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := fmt.Sprintf("import-%d", i)
				target := filepath.Join(e.dir, "pods", id, "mount")
				if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: id, TargetPath: target,
					VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "remaster"})}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if i == 0 {
					fi, err := os.Stat(filepath.Join(target, "disk.img"))
					if err != nil || fi.Size() < bc.size {
						b.Fatalf("published image: %v, size %d < base %d", err, fi.Size(), bc.size)
					}
				}
				if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: id, TargetPath: target}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
