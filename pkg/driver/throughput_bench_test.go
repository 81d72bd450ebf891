package driver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
// with `dd bs=1M` of the source files of its bytes in the same run: cold
// (page cache dropped before each of the two reads) and warm (both reads
// repeated at once). Cases:
//   - viso-members: a ConfigMap VISO adding two large media files; the
//     source is those two files (dd of each, timed together);
//   - viso-import: a ConfigMap VISO importing a 1.1 GiB ISO (--import-iso,
//     in-place layout) and adding a key; the source is that ISO;
//   - raw-private-iso: the same ISO as an image volume; 0600, so it is
//     served through FUSE (passthrough), not by the kernel path.
//
// Metrics are medians over the rounds of MB/s, and the published/source
// ratios of those medians.
//
//	go test -run '^$' -bench PublishedThroughput -benchtime 1x ./pkg/driver
func BenchmarkPublishedThroughput(b *testing.B) {
	bench := b.TempDir()
	e := newEnv(b, withMediaRoot(bench))
	big1, big2 := filepath.Join(bench, "big1.bin"), filepath.Join(bench, "big2.bin")
	writeRandomFile(b, big1, benchBig1, 1)
	writeRandomFile(b, big2, benchBig2, 2)
	const marker = "--iprt-iso-maker-file-marker-bourne-sh 0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\n"
	members := marker + "--rock-ridge\n/big1.bin=" + big1 + "\n/big2.bin=" + big2 + "\n"
	// The ISO of the members, on the same disk: imported, and served raw.
	iso := filepath.Join(bench, "built.iso")
	buildVISOFile(b, members, bench, iso)
	if err := os.Chmod(iso, 0o600); err != nil {
		b.Fatal(err)
	}
	for name, keys := range map[string]map[string]string{
		"members": {"members.viso": members},
		"import":  {"import.viso": marker + "--import-iso=" + iso + "\n/added.txt=added.txt\n", "added.txt": "added by the ConfigMap\n"},
	} {
		if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(context.Background(), configMap(name, keys), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	for _, bc := range []struct {
		name    string
		params  map[string]string
		sources []string
	}{
		{"viso-members", map[string]string{AttrConfigMap: "members"}, []string{big1, big2}},
		{"viso-import", map[string]string{AttrConfigMap: "import"}, []string{iso}},
		{"raw-private-iso", map[string]string{AttrImage: iso}, []string{iso}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := *e
			e.t = b
			pub := e.publishPVC("bench-"+bc.name, bc.params, false)
			size := fileSize(b, pub.Path)
			if size < 1<<30 {
				b.Fatalf("published %d bytes, want at least 1 GiB", size)
			}
			var m throughput
			for b.Loop() {
				// Several rounds per iteration: `make bench` runs one
				// iteration, and single dd runs on a shared machine vary
				// by a factor of two.
				for range benchRounds {
					dropCaches(b)
					m.coldSrc = append(m.coldSrc, ddMBps(b, bc.sources...))
					dropCaches(b)
					m.coldPub = append(m.coldPub, ddMBps(b, pub.Path))
					m.warmSrc = append(m.warmSrc, ddMBps(b, bc.sources...))
					m.warmPub = append(m.warmPub, ddMBps(b, pub.Path))
				}
			}
			m.report(b, bc.name)
			e.d.mu.Lock()
			lv := e.d.live[pub.ID]
			e.d.mu.Unlock()
			if lv != nil && lv.srv != nil {
				st := lv.srv.Stats()
				b.Logf("%s: the server answered %d MiB of reads in %d rounds over a %d MiB image (0: all by FUSE passthrough), %.0f%% of them spliced from source files",
					bc.name, st.BytesRead>>20, len(m.coldPub), size>>20, 100*float64(st.BytesSpliced)/float64(max(st.BytesRead, 1)))
			}
		})
	}
}

// benchRounds is how many cold+warm rounds one iteration runs.
const benchRounds = 3

// throughput holds MB/s per read kind, one entry per round.
type throughput struct{ coldSrc, coldPub, warmSrc, warmPub []float64 }

// report gives the median of each kind (robust to a round disturbed by
// other work on the machine) and every round's numbers.
func (m *throughput) report(b *testing.B, name string) (cold, warm float64) {
	median := func(x []float64) float64 {
		s := slices.Clone(x)
		slices.Sort(s)
		if n := len(s); n%2 == 0 {
			return (s[n/2-1] + s[n/2]) / 2
		}
		return s[len(s)/2]
	}
	cs, cp, ws, wp := median(m.coldSrc), median(m.coldPub), median(m.warmSrc), median(m.warmPub)
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
	b.Logf("%s: cold %.0f%% (source %s, published %s MB/s); warm %.0f%% (source %s, published %s MB/s)",
		name, 100*cp/cs, per(m.coldSrc), per(m.coldPub), 100*wp/ws, per(m.warmSrc), per(m.warmPub))
	return cp / cs, wp / ws
}

// buildVISOFile writes the image of the VISO text v to out, as `csi-viso
// build` does. The VISO is resolved in dir (its relative sources live there)
// with dir and roots as media roots.
func buildVISOFile(b testing.TB, v, dir, out string, roots ...string) {
	b.Helper()
	p := filepath.Join(dir, "build-src.viso")
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(p)
	img, err := viso.NewBackend(append([]string{dir}, roots...)).Open(context.Background(), p, backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
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

// ddMBps reads each path with `dd bs=1M`, one after the other, and returns
// the MB/s (10^6 bytes) of them all.
func ddMBps(b *testing.B, paths ...string) float64 {
	b.Helper()
	var total int64
	start := time.Now()
	for _, p := range paths {
		if out, err := exec.Command("dd", "if="+p, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
			b.Fatalf("dd %s: %v: %s", p, err, out)
		}
		total += fileSize(b, p)
	}
	return float64(total) / time.Since(start).Seconds() / 1e6
}
