package serve

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// randomBytes returns n deterministic pseudo-random bytes for seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 1})
	_, _ = r.Read(b)
	return b
}

// extent is one range of a fileImage: bytes from a host file, or from memory
// when file is nil.
type extent struct {
	off, n  int64
	file    *os.File
	fileOff int64
	mem     []byte
}

// fileImage is an image assembled from extents, like a synthesised ISO:
// metadata in memory, member data in host files. It implements FdRanger and
// counts grants and releases so tests can check the server balances them.
type fileImage struct {
	size     int64
	extents  []extent
	grants   atomic.Int64
	releases atomic.Int64
}

func (im *fileImage) Size() int64 { return im.size }

func (im *fileImage) ReadAt(p []byte, off int64) (int, error) {
	if off >= im.size {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > im.size-off {
		want = int(im.size - off)
	}
	done := 0
	for _, e := range im.extents {
		for done < want {
			pos := off + int64(done)
			if pos < e.off || pos >= e.off+e.n {
				break
			}
			k := int(min(int64(want-done), e.off+e.n-pos))
			if e.file != nil {
				if _, err := e.file.ReadAt(p[done:done+k], e.fileOff+pos-e.off); err != nil {
					return done, err
				}
			} else {
				copy(p[done:done+k], e.mem[pos-e.off:])
			}
			done += k
		}
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

func (im *fileImage) FdRange(off int64, n int) (*os.File, int64, func(), bool) {
	for _, e := range im.extents {
		if e.file != nil && off >= e.off && off+int64(n) <= e.off+e.n {
			im.grants.Add(1)
			return e.file, e.fileOff + off - e.off, func() { im.releases.Add(1) }, true
		}
	}
	return nil, 0, nil, false
}

// newFileImage builds an image of memory and file extents alternating, with
// the file extents in one host file under dir at an offset that is not the
// image offset. It returns the image and its expected bytes.
func newFileImage(t testing.TB, dir string, sizes []int64, seed uint64) (*fileImage, []byte) {
	t.Helper()
	var total int64
	for _, s := range sizes {
		total += s
	}
	want := randomBytes(int(total), seed)
	hostPath := filepath.Join(dir, "host.bin")
	const shift = 12345 // file offsets differ from image offsets
	host := make([]byte, shift+int(total))
	copy(host[shift:], want)
	if err := os.WriteFile(hostPath, host, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(hostPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	im := &fileImage{size: total}
	var off int64
	for i, s := range sizes {
		e := extent{off: off, n: s}
		if i%2 == 0 {
			e.mem = want[off : off+s]
		} else {
			e.file, e.fileOff = f, shift+off
		}
		im.extents = append(im.extents, e)
		off += s
	}
	return im, want
}

// mountT mounts img in a fresh directory and unmounts it at cleanup.
func mountT(t testing.TB, img Image, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s, err := Mount(context.Background(), dir, img, opts)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() { stopT(t, s) })
	return s
}

// stopT unmounts s and waits for its server to end.
func stopT(t testing.TB, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Unmount(ctx); err != nil {
		t.Errorf("Unmount %s: %v", s.Dir(), err)
	}
	waitT(t, s)
}

// waitT fails the test when the server does not stop within 10 s.
func waitT(t testing.TB, s *Server) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("server at %s still running 10 s after unmount", s.Dir())
	}
}

// mountCount is how many mounts /proc/self/mountinfo lists at dir.
func mountCount(t testing.TB, dir string) int {
	t.Helper()
	infos, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	return len(mountsAt(infos, dir))
}

// checkContent reads path whole and compares it with want.
func checkContent(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: content differs from the image (got %d bytes, want %d; first difference at %d)",
			path, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
