package isoimage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// buildWide builds files files in dirs directories with short names.
func buildWide(tb testing.TB, files, perDir int) *Tree {
	tr := New(Config{Epoch: testEpoch})
	src := zeroSource{}
	for i := range files {
		p := fmt.Sprintf("/d%04d/f%05d.txt", i/perDir, i)
		if _, err := tr.AddFile(nm(p, p), src, int64(100+i%3000), Attrs{Mode: 0o444, Times: Times{Birth: testEpoch}}, "bench"); err != nil {
			tb.Fatal(err)
		}
	}
	return tr
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measureMemory returns the retained heap per file of a finalised 100 000-file
// image (tree dropped) and of tree + image together.
func measureMemory(tb testing.TB, files int) (imageOnly, withTree float64) {
	before := heapInUse()
	tr := buildWide(tb, files, 100)
	img, err := tr.Finalize()
	if err != nil {
		tb.Fatal(err)
	}
	both := heapInUse()
	runtime.KeepAlive(tr)
	tr = nil
	after := heapInUse()
	runtime.KeepAlive(img)
	return float64(after-before) / float64(files), float64(both-before) / float64(files)
}

// TestMemoryPerFile enforces the memory budget: at most 300 bytes of heap per
// file for a 100 000-file tree with short names, once finalised.
func TestMemoryPerFile(t *testing.T) {
	img, both := measureMemory(t, 100_000)
	t.Logf("retained heap: image %.0f B/file, tree+image %.0f B/file", img, both)
	if img > 300 {
		t.Errorf("image retains %.0f bytes per file, budget 300", img)
	}
}

// TestNodeSize guards the hot object record at one cache line: directory
// sector rendering is bound by loading these.
func TestNodeSize(t *testing.T) {
	if n := unsafe.Sizeof(node{}); n > 64 {
		t.Errorf("node is %d bytes, keep it at 64 or less", n)
	}
}

func BenchmarkFinalize100k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		tr := buildWide(b, 100_000, 100)
		b.StartTimer()
		if _, err := tr.Finalize(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/file")
}

func BenchmarkBuild100k(b *testing.B) {
	for b.Loop() {
		buildWide(b, 100_000, 100)
	}
}

func BenchmarkMemory100k(b *testing.B) {
	var img, both float64
	for b.Loop() {
		img, both = measureMemory(b, 100_000)
	}
	b.ReportMetric(img, "B/file-image")
	b.ReportMetric(both, "B/file-tree+image")
}

// metadataSectors lists every sector of directories, path tables and descriptors.
func metadataSectors(img *Image) []int64 {
	var out []int64
	for _, r := range img.regions {
		if r.kind == regData {
			continue
		}
		for s := r.start / sectorSize; s*sectorSize < r.end; s++ {
			out = append(out, s*sectorSize)
		}
	}
	return out
}

func BenchmarkReadMetadataRandom(b *testing.B) {
	tr := buildWide(b, 100_000, 100)
	img, err := tr.Finalize()
	if err != nil {
		b.Fatal(err)
	}
	secs := metadataSectors(img)
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int64, 1<<16)
	for i := range order {
		order[i] = secs[rng.IntN(len(secs))]
	}
	buf := make([]byte, sectorSize)
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := img.ReadAt(buf, order[i&(len(order)-1)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// CPU time per read as well: on a shared machine wall time also counts
	// the time other processes hold the cores.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/read")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	b.ReportMetric(float64(len(secs)), "metadata-sectors")
}

// seqFixture writes n host files of size bytes each and builds an image whose
// files read from *os.File sources.
func seqFixture(b *testing.B, n int, size int64) (*Image, []*os.File) {
	dir := b.TempDir()
	tr := New(Config{Epoch: testEpoch})
	var files []*os.File
	buf := make([]byte, size)
	for i := range n {
		for j := range buf {
			buf[j] = byte(i + j)
		}
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		files = append(files, f)
		name := fmt.Sprintf("/data/f%03d", i)
		if _, err := tr.AddFile(nm(name, name), f, size, Attrs{Mode: 0o444}, p); err != nil {
			b.Fatal(err)
		}
	}
	img, err := tr.Finalize()
	if err != nil {
		b.Fatal(err)
	}
	return img, files
}

// BenchmarkSequentialRead compares 1 MiB sequential reads of the image with
// reading the same host files directly (page cache warm in both cases).
func BenchmarkSequentialRead(b *testing.B) {
	const n, size = 32, 8 << 20
	img, files := seqFixture(b, n, size)
	buf := make([]byte, 1<<20)
	direct := func() {
		for _, f := range files {
			for off := int64(0); off < size; off += int64(len(buf)) {
				if _, err := f.ReadAt(buf, off); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	image := func() {
		for off := int64(0); off < img.Size(); off += int64(len(buf)) {
			if _, err := img.ReadAt(buf, off); err != nil && off+int64(len(buf)) < img.Size() {
				b.Fatal(err)
			}
		}
	}
	direct()
	image()
	var tDirect, tImage time.Duration
	for b.Loop() {
		s := time.Now()
		direct()
		tDirect += time.Since(s)
		s = time.Now()
		image()
		tImage += time.Since(s)
	}
	mb := float64(n*size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/tDirect.Seconds(), "MB/s-direct")
	b.ReportMetric(mb/tImage.Seconds(), "MB/s-image")
	b.ReportMetric(tDirect.Seconds()/tImage.Seconds(), "ratio")
}

// BenchmarkReadMetadataRandomParallel is the same with concurrent readers
// (a FUSE server serves reads in parallel).
func BenchmarkReadMetadataRandomParallel(b *testing.B) {
	tr := buildWide(b, 100_000, 100)
	img, err := tr.Finalize()
	if err != nil {
		b.Fatal(err)
	}
	secs := metadataSectors(img)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
		buf := make([]byte, sectorSize)
		for pb.Next() {
			if _, err := img.ReadAt(buf, secs[rng.IntN(len(secs))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
