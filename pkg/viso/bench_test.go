package viso

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

// bigTree is a VISO folder with 100 000 small files in 100 directories, made
// once per test binary (creating it costs seconds; opening it is what we measure).
var bigTree struct {
	once sync.Once
	dir  string
	err  error
}

const benchFiles = 100_000

func bigTreeVISO(b *testing.B) string {
	bigTree.once.Do(func() {
		dir, err := os.MkdirTemp("", "csi-viso-bench-")
		if err != nil {
			bigTree.err = err
			return
		}
		bigTree.dir = dir
		for d := 0; d < 100; d++ {
			sub := filepath.Join(dir, "tree", fmt.Sprintf("dir%03d", d))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				bigTree.err = err
				return
			}
			for f := 0; f < benchFiles/100; f++ {
				if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file-%05d.txt", f)), []byte{'x'}, 0o644); err != nil {
					bigTree.err = err
					return
				}
			}
		}
		bigTree.err = os.WriteFile(filepath.Join(dir, "big.viso"),
			[]byte("--iprt-iso-maker-file-marker-bourne-sh "+backendUUID+"\n--rock-ridge\n/data=tree\n"), 0o644)
	})
	if bigTree.err != nil {
		b.Fatal(bigTree.err)
	}
	return filepath.Join(bigTree.dir, "big.viso")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigTree.dir != "" {
		os.RemoveAll(bigTree.dir)
	}
	os.Exit(code)
}

// BenchmarkOpen100kFiles opens (parses, stats every source, lays out) a VISO of
// 100 000 files through the VISO backend and reports the heap the open image
// retains per file. Targets (issue 4): < 1 s per open, <= 300 B/file.
func BenchmarkOpen100kFiles(b *testing.B) {
	p := bigTreeVISO(b)
	vb := NewBackend(nil)
	var retained float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		img, err := vb.Open(context.Background(), p, 0, backend.DeviceOpticalDisc, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		retained = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		if n := len(img.(*Image).Built().Files()); n != benchFiles {
			b.Fatalf("image has %d files, want %d", n, benchFiles)
		}
		img.Close(false)
		b.StartTimer()
	}
	b.ReportMetric(retained/benchFiles, "heapB/file")
}

// BenchmarkSequentialRead compares 1 MiB ReadAt through a VISO image with reading
// the same source files directly, in the same run; "ratio" is image/direct
// throughput (issue 4 target: >= 0.8).
func BenchmarkSequentialRead(b *testing.B) {
	dir := b.TempDir()
	const nfiles, fsize = 8, 32 << 20
	body := "--rock-ridge\n"
	buf := make([]byte, fsize)
	for i := 0; i < nfiles; i++ {
		for j := range buf {
			buf[j] = byte(i*31 + j)
		}
		name := fmt.Sprintf("f%d.bin", i)
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			b.Fatal(err)
		}
		body += fmt.Sprintf("/%s=%s\n", name, name)
	}
	p := filepath.Join(dir, "seq.viso")
	os.WriteFile(p, []byte("--iprt-iso-maker-file-marker-bourne-sh "+backendUUID+"\n"+body), 0o644)
	img, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceOpticalDisc, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close(false)

	chunk := make([]byte, 1<<20)
	readImage := func() int64 {
		var n int64
		for off := int64(0); ; off += int64(len(chunk)) {
			got, err := img.ReadAt(chunk, off)
			n += int64(got)
			if err == io.EOF {
				return n
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	readDirect := func() int64 {
		var n int64
		for i := 0; i < nfiles; i++ {
			f, err := os.Open(filepath.Join(dir, fmt.Sprintf("f%d.bin", i)))
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); ; off += int64(len(chunk)) {
				got, err := f.ReadAt(chunk, off)
				n += int64(got)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
		return n
	}
	readImage() // warm the page cache for both
	readDirect()
	var imgDur, dirDur time.Duration
	var imgBytes, dirBytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		imgBytes += readImage()
		t1 := time.Now()
		dirBytes += readDirect()
		dirDur += time.Since(t1)
		imgDur += t1.Sub(t0)
	}
	imgRate := float64(imgBytes) / imgDur.Seconds()
	dirRate := float64(dirBytes) / dirDur.Seconds()
	b.ReportMetric(imgRate/1e6, "image-MB/s")
	b.ReportMetric(dirRate/1e6, "direct-MB/s")
	b.ReportMetric(imgRate/dirRate, "ratio")
}
