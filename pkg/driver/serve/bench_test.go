package serve

import (
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchSize is the backing file of BenchmarkFUSESequentialRead: large enough
// that a cold read is dominated by throughput, not start-up.
const benchSize = 1 << 30

// BenchmarkFUSESequentialRead compares `dd bs=1M` of a host file with `dd
// bs=1M` of the same bytes served through a mount (an image that is one
// host file, as a raw ISO is: FUSE passthrough by default; the other cases
// stand for a synthesised image), cold (page cache dropped before each read)
// and warm (both reads repeated at once). Metrics are GB/s and FUSE/host
// ratios.
//
//	go test -run '^$' -bench FUSESequentialRead -benchtime 1x ./pkg/driver/serve
func BenchmarkFUSESequentialRead(b *testing.B) {
	dir := b.TempDir()
	host := filepath.Join(dir, "host.iso")
	writeBenchFile(b, host)
	f, err := os.Open(host)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	img := &fileImage{size: benchSize, extents: []extent{{off: 0, n: benchSize, file: f}}}

	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"passthrough", Options{}},
		{"splice+keepcache", Options{DisablePassthrough: true}},
		{"copy+keepcache", Options{DisableSplice: true}},
		{"splice+directio", Options{DirectIO: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mnt := filepath.Join(dir, bc.name)
			if err := os.Mkdir(mnt, 0o755); err != nil {
				b.Fatal(err)
			}
			s, err := Mount(context.Background(), mnt, img, bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer stopT(b, s)
			var coldHost, coldFUSE, warmHost, warmFUSE float64
			for b.Loop() {
				dropCaches(b)
				coldHost += ddRate(b, host)
				dropCaches(b)
				coldFUSE += ddRate(b, s.Path())
				warmHost += ddRate(b, host)
				warmFUSE += ddRate(b, s.Path())
			}
			n := float64(b.N)
			b.ReportMetric(coldHost/n, "cold-host-GB/s")
			b.ReportMetric(coldFUSE/n, "cold-fuse-GB/s")
			b.ReportMetric(coldFUSE/coldHost, "cold-ratio")
			b.ReportMetric(warmHost/n, "warm-host-GB/s")
			b.ReportMetric(warmFUSE/n, "warm-fuse-GB/s")
			b.ReportMetric(warmFUSE/warmHost, "warm-ratio")
			st := s.Stats()
			b.Logf("%s: spliced %.0f%% of %d bytes read", bc.name, 100*float64(st.BytesSpliced)/float64(max(st.BytesRead, 1)), st.BytesRead)
		})
	}
}

func writeBenchFile(b testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := randomBytes(16<<20, 77)
	for off := 0; off < benchSize; off += len(chunk) {
		chunk[0], chunk[1] = byte(off>>24), byte(off>>32) // no two chunks alike
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func dropCaches(b testing.TB) {
	if out, err := exec.Command("sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches").CombinedOutput(); err != nil {
		b.Fatalf("drop caches: %v: %s", err, out)
	}
}

// ddRate reads path with dd bs=1M and returns GB/s.
func ddRate(b testing.TB, path string) float64 {
	start := time.Now()
	if out, err := exec.Command("dd", "if="+path, "of=/dev/null", "bs=1M").CombinedOutput(); err != nil {
		b.Fatalf("dd %s: %v: %s", path, err, out)
	}
	return float64(benchSize) / time.Since(start).Seconds() / 1e9
}
