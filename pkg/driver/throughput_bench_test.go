package driver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

// Sizes of the two member files of the benchmark VISO: together a little
// over 1 GiB, so a cold read is dominated by throughput.
const (
	benchBig1 = 768 << 20
	benchBig2 = 320<<20 + 12345 // not sector aligned: a zero tail follows
)

// BenchmarkPublishedThroughput compares `dd bs=1M` of a published disk.img
// with `dd bs=1M` of the source ISO in the same run: cold (page cache
// dropped before each of the two reads) and warm (both reads repeated at
// once). Cases: a ConfigMap VISO adding two large media files (source ISO:
// its `csi-viso build` output on the same disk), and a private plain ISO
// served by the raw backend (the same file; 0600, so it takes the FUSE path,
// not the kernel path). Metrics are MB/s and published/source ratios,
// averaged over the iterations.
//
//	go test -run '^$' -bench PublishedThroughput -benchtime 3x ./pkg/driver
func BenchmarkPublishedThroughput(b *testing.B) {
	bench := b.TempDir()
	e := newEnv(b, withMediaRoot(bench))
	writeRandomFile(b, filepath.Join(bench, "big1.bin"), benchBig1, 1)
	writeRandomFile(b, filepath.Join(bench, "big2.bin"), benchBig2, 2)
	v := "--iprt-iso-maker-file-marker-bourne-sh 0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\n--rock-ridge\n" +
		"/big1.bin=" + filepath.Join(bench, "big1.bin") + "\n/big2.bin=" + filepath.Join(bench, "big2.bin") + "\n"
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(context.Background(),
		configMap("bench", map[string]string{"bench.viso": v}), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// The source ISO: the same image built to a file next to the members.
	iso := filepath.Join(bench, "built.iso")
	buildVISOFile(b, v, bench, iso)
	if err := os.Chmod(iso, 0o600); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name   string
		params map[string]string
	}{
		{"viso-configmap", map[string]string{AttrConfigMap: "bench"}},
		{"raw-private-iso", map[string]string{AttrImage: iso}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := *e
			e.t = b
			pub := e.publishPVC("bench-"+bc.name, bc.params, false)
			size := fileSize(b, pub.Path)
			if size < 1<<30 || size != fileSize(b, iso) {
				b.Fatalf("published %d bytes, source %d: want the same image of at least 1 GiB", size, fileSize(b, iso))
			}
			var m throughput
			for b.Loop() {
				dropCaches(b)
				m.coldSrc = append(m.coldSrc, ddMBps(b, iso, size))
				dropCaches(b)
				m.coldPub = append(m.coldPub, ddMBps(b, pub.Path, size))
				m.warmSrc = append(m.warmSrc, ddMBps(b, iso, size))
				m.warmPub = append(m.warmPub, ddMBps(b, pub.Path, size))
			}
			m.report(b, bc.name)
			e.d.mu.Lock()
			lv := e.d.live[pub.ID]
			e.d.mu.Unlock()
			if lv != nil && lv.srv != nil {
				st := lv.srv.Stats()
				b.Logf("%s: %d MiB served, %.0f%% spliced from source files", bc.name, st.BytesRead>>20, 100*float64(st.BytesSpliced)/float64(max(st.BytesRead, 1)))
			}
		})
	}
}

// throughput holds MB/s per read kind, one entry per iteration.
type throughput struct{ coldSrc, coldPub, warmSrc, warmPub []float64 }

func (m *throughput) report(b *testing.B, name string) {
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	cs, cp, ws, wp := mean(m.coldSrc), mean(m.coldPub), mean(m.warmSrc), mean(m.warmPub)
	b.ReportMetric(cs, "cold-source-MB/s")
	b.ReportMetric(cp, "cold-published-MB/s")
	b.ReportMetric(cp/cs, "cold-ratio")
	b.ReportMetric(ws, "warm-source-MB/s")
	b.ReportMetric(wp, "warm-published-MB/s")
	b.ReportMetric(wp/ws, "warm-ratio")
	per := func(x []float64) string {
		s := make([]string, len(x))
		for i, v := range x {
			s[i] = fmt.Sprintf("%.0f", v)
		}
		return strings.Join(s, " ")
	}
	b.Logf("%s: cold %.0f%% (source %s, published %s MB/s); warm %.0f%% (source %s, published %s MB/s); targets 70%% cold, 65%% warm",
		name, 100*cp/cs, per(m.coldSrc), per(m.coldPub), 100*wp/ws, per(m.warmSrc), per(m.warmPub))
}

// buildVISOFile writes the image of the VISO text v (resolved in dir, with
// dir as media root) to out, as `csi-viso build` does.
func buildVISOFile(b *testing.B, v, dir, out string) {
	b.Helper()
	p := filepath.Join(b.TempDir(), "src.viso")
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		b.Fatal(err)
	}
	img, err := viso.NewBackend([]string{dir}).Open(context.Background(), p, backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close(false)
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := img.(*viso.Image).Built().WriteTo(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// writeRandomFile writes n pseudo-random bytes (incompressible, no two
// chunks alike) quickly.
func writeRandomFile(b *testing.B, path string, n int64, seed uint64) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 8<<20)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(chunk)
	for off := int64(0); off < n; off += int64(len(chunk)) {
		chunk[0], chunk[1], chunk[2] = byte(off>>23), byte(off>>31), byte(seed)
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n-off)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func fileSize(b *testing.B, p string) int64 {
	b.Helper()
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, err := f.Seek(0, 2)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func dropCaches(b *testing.B) {
	b.Helper()
	if out, err := exec.Command("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches").CombinedOutput(); err != nil {
		b.Fatalf("drop caches: %v: %s", err, out)
	}
}

// ddMBps reads path with `dd bs=1M` and returns MB/s (10^6 bytes).
func ddMBps(b *testing.B, path string, size int64) float64 {
	b.Helper()
	start := time.Now()
	if out, err := exec.Command("dd", "if="+path, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
		b.Fatalf("dd %s: %v: %s", path, err, out)
	}
	return float64(size) / time.Since(start).Seconds() / 1e6
}
