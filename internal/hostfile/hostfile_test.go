package hostfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// dirOpener opens paths relative to a directory and counts opens.
type dirOpener struct {
	dir   string
	opens atomic.Int64
}

func (d *dirOpener) Open(path string) (*os.File, error) {
	d.opens.Add(1)
	return os.Open(filepath.Join(d.dir, path))
}

func writeFiles(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	var data [][]byte
	for i := 0; i < n; i++ {
		b := bytes.Repeat([]byte(fmt.Sprintf("file%03d|", i)), 100+i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	return dir, data
}

func TestReadAtContract(t *testing.T) {
	dir, data := writeFiles(t, 1)
	p := NewPool(&dirOpener{dir: dir}, 2)
	defer p.Close()
	f := p.File("f0", int64(len(data[0])))
	size := len(data[0])
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantEOF bool
	}{
		{"start", 0, 10, 10, false},
		{"whole", 0, size, size, false},
		{"crossing end", int64(size - 5), 10, 5, true},
		{"at end", int64(size), 10, 0, true},
		{"past end", int64(size + 100), 10, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.n)
			n, err := f.ReadAt(buf, tc.off)
			if n != tc.wantN {
				t.Fatalf("n = %d, want %d", n, tc.wantN)
			}
			if gotEOF := errors.Is(err, io.EOF); gotEOF != tc.wantEOF || (!tc.wantEOF && err != nil) {
				t.Fatalf("err = %v, want EOF %v", err, tc.wantEOF)
			}
			if n > 0 && !bytes.Equal(buf[:n], data[0][tc.off:tc.off+int64(n)]) {
				t.Fatal("content differs")
			}
		})
	}
}

func TestShrunkFileIsAnError(t *testing.T) {
	dir, data := writeFiles(t, 1)
	p := NewPool(&dirOpener{dir: dir}, 2)
	defer p.Close()
	f := p.File("f0", int64(len(data[0])))
	if err := os.Truncate(filepath.Join(dir, "f0"), 10); err != nil {
		t.Fatal(err)
	}
	_, err := f.ReadAt(make([]byte, 100), 0)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
}

func TestMissingFileError(t *testing.T) {
	p := NewPool(&dirOpener{dir: t.TempDir()}, 2)
	_, err := p.File("nope", 10).ReadAt(make([]byte, 4), 0)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

// TestBoundedAndConcurrent reads many files from many goroutines through a pool
// of 3 descriptors: contents must be right and the pool must never hold more.
func TestBoundedAndConcurrent(t *testing.T) {
	const files = 20
	dir, data := writeFiles(t, files)
	op := &dirOpener{dir: dir}
	p := NewPool(op, 3)
	srcs := make([]*File, files)
	for i := range srcs {
		srcs[i] = p.File(fmt.Sprintf("f%d", i), int64(len(data[i])))
	}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 500; k++ {
				i := (g*7 + k*13) % files
				off := int64(k % 50)
				buf := make([]byte, 64)
				n, err := srcs[i].ReadAt(buf, off)
				if err != nil && !errors.Is(err, io.EOF) {
					errc <- err
					return
				}
				if !bytes.Equal(buf[:n], data[i][off:off+int64(n)]) {
					errc <- fmt.Errorf("file %d off %d: wrong bytes", i, off)
					return
				}
				p.mu.Lock()
				if len(p.open) > 3 {
					p.mu.Unlock()
					errc <- fmt.Errorf("%d files open, bound is 3", len(p.open))
					return
				}
				p.mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if op.opens.Load() < files {
		t.Fatalf("only %d opens for %d files", op.opens.Load(), files)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
