package hostfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestFdRangeBounds(t *testing.T) {
	dir, data := writeFiles(t, 1)
	p := NewPool(&dirOpener{dir: dir}, 2)
	defer p.Close()
	size := len(data[0])
	f := p.File("f0", int64(size))
	tests := []struct {
		name   string
		off    int64
		n      int
		wantOK bool
	}{
		{"start", 0, 10, true},
		{"whole", 0, size, true},
		{"last byte", int64(size - 1), 1, true},
		{"crossing end", int64(size - 5), 10, false},
		{"at end", int64(size), 1, false},
		{"empty", 0, 0, false},
		{"negative offset", -1, 4, false},
		{"negative length", 0, -4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hf, fileOff, release, ok := f.FdRange(tc.off, tc.n)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				if hf != nil || release != nil {
					t.Fatal("refused range returned a file or a release")
				}
				return
			}
			defer release()
			if fileOff != tc.off {
				t.Fatalf("fileOff = %d, want %d", fileOff, tc.off)
			}
			buf := make([]byte, tc.n)
			if _, err := hf.ReadAt(buf, fileOff); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, data[0][tc.off:tc.off+int64(tc.n)]) {
				t.Fatal("lent file has other bytes")
			}
		})
	}
}

// A file that shrank is not lent: the copy path must report ErrChanged
// rather than a splice returning short data.
func TestFdRangeShrunkFile(t *testing.T) {
	dir, data := writeFiles(t, 1)
	p := NewPool(&dirOpener{dir: dir}, 2)
	defer p.Close()
	f := p.File("f0", int64(len(data[0])))
	if err := os.Truncate(filepath.Join(dir, "f0"), 10); err != nil {
		t.Fatal(err)
	}
	_, _, release, ok := f.FdRange(0, 10)
	if !ok {
		t.Fatal("range inside the remaining bytes refused")
	}
	release()
	if _, _, _, ok := f.FdRange(0, 11); ok {
		t.Fatal("range past the new end lent")
	}
	if _, _, _, ok := p.File("missing", 10).FdRange(0, 5); ok {
		t.Fatal("missing file lent")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.open {
		if h.refs != 0 {
			t.Fatalf("%s still referenced %d times after refusals", h.path, h.refs)
		}
	}
}

// TestFdRangeSurvivesEviction lends a file, evicts it by reading others
// through a pool of one, and checks the lent descriptor still reads until
// release, which then closes it; release is idempotent.
func TestFdRangeSurvivesEviction(t *testing.T) {
	dir, data := writeFiles(t, 3)
	p := NewPool(&dirOpener{dir: dir}, 1)
	defer p.Close()
	f0 := p.File("f0", int64(len(data[0])))
	hf, off, release, ok := f0.FdRange(0, 8)
	if !ok {
		t.Fatal("not lent")
	}
	for i := 1; i < 3; i++ {
		if _, err := p.File(fmt.Sprintf("f%d", i), int64(len(data[i]))).ReadAt(make([]byte, 8), 0); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8)
	if _, err := hf.ReadAt(buf, off); err != nil {
		t.Fatalf("lent file closed by eviction: %v", err)
	}
	if !bytes.Equal(buf, data[0][:8]) {
		t.Fatal("wrong bytes")
	}
	release()
	release()
	if _, err := hf.ReadAt(buf, off); err == nil {
		t.Fatal("evicted file still open after release")
	}
}

func TestFdRangeConcurrent(t *testing.T) {
	const files = 10
	dir, data := writeFiles(t, files)
	p := NewPool(&dirOpener{dir: dir}, 2)
	srcs := make([]*File, files)
	for i := range srcs {
		srcs[i] = p.File(fmt.Sprintf("f%d", i), int64(len(data[i])))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 32)
			for k := range 300 {
				i := (g*3 + k*7) % files
				off := int64(k % 40)
				hf, fo, release, ok := srcs[i].FdRange(off, len(buf))
				if !ok {
					errc <- fmt.Errorf("file %d not lent", i)
					return
				}
				_, err := hf.ReadAt(buf, fo)
				release()
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(buf, data[i][off:off+int64(len(buf))]) {
					errc <- fmt.Errorf("file %d off %d: wrong bytes", i, off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(p.open) != 0 {
		t.Fatalf("%d files left open", len(p.open))
	}
}
