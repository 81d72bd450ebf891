// Package backendtest holds conformance checks every backend.Image here must
// pass: the ReadAt end-of-image rules, region coverage, the read-only contract
// and open-flag validation. Backend tests call them on their own images.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

// readCase is one ReadAt probe and its expected outcome.
type readCase struct {
	off   int64
	n     int
	wantN int
	eof   bool // io.EOF expected (else nil)
}

// readCases derives the reads to try for an image of size bytes: both ends,
// block boundaries, reads crossing the end, at the end and beyond.
func readCases(size int64, blocks []int64) []readCase {
	var cs []readCase
	add := func(off int64, n int) {
		if off < 0 {
			return
		}
		c := readCase{off: off, n: n}
		switch {
		case off > size, off == size && n > 0:
			c.wantN, c.eof = 0, true
		case int64(n) > size-off:
			c.wantN, c.eof = int(size-off), true
		default:
			c.wantN = n
		}
		cs = append(cs, c)
	}
	for _, n := range []int{0, 1, 7, 512, 2048, 4096 + 3} {
		add(0, n)
		add(size/2, n)
		add(size-1, n)
		add(size, n)
		add(size+1, n)
		add(size+1<<20, n)
		for _, bs := range blocks {
			add(bs-1, n)
			add(bs, n)
			add(bs+1, n)
			add(size-bs, n)
			add(size-bs+1, n)
		}
	}
	add(0, int(size))
	add(0, int(size)+1)
	add(1, int(size))
	return cs
}

// TestImage checks img against its expected content want. img must be fully
// opened (not info mode) and is left open with its flags unchanged.
func TestImage(t testing.TB, img backend.Image, want []byte) {
	t.Helper()
	size := int64(len(want))
	if got := img.Size(); got != size {
		t.Fatalf("Size() = %d, want %d", got, size)
	}
	blocks := checkRegions(t, img, size)
	checkReads(t, img, want, blocks)
	checkConcurrentReads(t, img, want)
	checkReadOnly(t, img)
	if img.Location() == "" {
		t.Errorf("Location() is empty")
	}
	if img.Dump() == "" {
		t.Errorf("Dump() is empty")
	}
}

// checkRegions verifies the regions cover [0, size) contiguously in raw form,
// and returns their block sizes for boundary reads.
func checkRegions(t testing.TB, img backend.Image, size int64) []int64 {
	t.Helper()
	regions := img.Regions()
	if len(regions) == 0 {
		t.Fatalf("Regions() is empty")
	}
	var next int64
	var blocks []int64
	for i, r := range regions {
		if r.Offset != next {
			t.Errorf("region %d starts at %d, want %d (contiguous)", i, r.Offset, next)
		}
		if r.BlockSize <= 0 || r.DataBlockSize <= 0 || r.DataBlockSize > r.BlockSize {
			t.Errorf("region %d block sizes %d/%d invalid", i, r.BlockSize, r.DataBlockSize)
		}
		if r.Length < 0 {
			t.Errorf("region %d length %d negative", i, r.Length)
		}
		if r.DataForm != backend.DataFormRaw || r.MetadataForm != backend.MetadataFormNone {
			t.Errorf("region %d forms %q/%q, want %q/%q", i, r.DataForm, r.MetadataForm,
				backend.DataFormRaw, backend.MetadataFormNone)
		}
		blocks = append(blocks, r.BlockSize)
		next = r.Offset + r.Length
	}
	if next != size {
		t.Errorf("regions end at %d, image size %d", next, size)
	}
	return blocks
}

func checkReads(t testing.TB, img backend.Image, want []byte, blocks []int64) {
	t.Helper()
	size := int64(len(want))
	for _, c := range readCases(size, blocks) {
		name := fmt.Sprintf("ReadAt(len %d, off %d)", c.n, c.off)
		buf := make([]byte, c.n)
		n, err := img.ReadAt(buf, c.off)
		if n != c.wantN {
			t.Errorf("%s: n = %d, want %d (err %v)", name, n, c.wantN, err)
			continue
		}
		switch {
		case c.eof && err != io.EOF:
			t.Errorf("%s: err = %v, want io.EOF", name, err)
		case !c.eof && err != nil:
			// io.ReaderAt allows io.EOF with a full read that ends exactly at the
			// end; the VD rules do not (the read is inside the image).
			t.Errorf("%s: err = %v, want nil", name, err)
		}
		if n > 0 && !bytes.Equal(buf[:n], want[c.off:c.off+int64(n)]) {
			t.Errorf("%s: content differs", name)
		}
	}
	if n, err := img.ReadAt(make([]byte, 1), -1); err == nil || err == io.EOF || n != 0 {
		t.Errorf("ReadAt at -1 = %d, %v; want an error other than io.EOF", n, err)
	}
}

// checkConcurrentReads reads random ranges from several goroutines at once.
func checkConcurrentReads(t testing.TB, img backend.Image, want []byte) {
	t.Helper()
	size := int64(len(want))
	if size == 0 {
		return
	}
	const workers, reads = 4, 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 0x5eed))
			for range reads {
				off := rng.Int64N(size)
				n := 1 + rng.IntN(3*4096)
				buf := make([]byte, n)
				got, err := img.ReadAt(buf, off)
				end := min(off+int64(n), size)
				if int64(got) != end-off || (err != nil && err != io.EOF) {
					errs <- fmt.Errorf("concurrent ReadAt(len %d, off %d) = %d, %v", n, off, got, err)
					return
				}
				if !bytes.Equal(buf[:got], want[off:end]) {
					errs <- fmt.Errorf("concurrent ReadAt(len %d, off %d): content differs", n, off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// checkReadOnly verifies writes are refused and open flags validated; the
// flags are restored afterwards.
func checkReadOnly(t testing.TB, img backend.Image) {
	t.Helper()
	if n, err := img.Write(0, []byte{1}); !errors.Is(err, backend.ErrReadOnly) || n != 0 {
		t.Errorf("Write = %d, %v; want 0, ErrReadOnly", n, err)
	}
	if err := img.SetGeometry(backend.Geometry{}, backend.Geometry{}); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("SetGeometry = %v; want ErrReadOnly", err)
	}
	if err := img.Flush(); err != nil {
		t.Errorf("Flush = %v; want nil for a read-only image", err)
	}
	flags := img.OpenFlags()
	if flags&backend.OpenReadOnly == 0 {
		t.Errorf("OpenFlags() = %s; READONLY must be set", flags)
	}
	if flags&backend.OpenInfo != 0 {
		t.Errorf("OpenFlags() = %s; INFO set on a fully opened image", flags)
	}
	if err := backend.CheckOpenFlags(flags); err != nil {
		t.Errorf("OpenFlags() = %s has unknown bits", flags)
	}
	ctx := context.Background()
	if err := img.SetOpenFlags(ctx, flags|1<<31); !errors.Is(err, backend.ErrInvalidFlags) {
		t.Errorf("SetOpenFlags(unknown bit) = %v; want ErrInvalidFlags", err)
	}
	if got := img.OpenFlags(); got != flags {
		t.Errorf("a refused SetOpenFlags changed the flags from %s to %s", flags, got)
	}
	if err := img.SetOpenFlags(ctx, backend.OpenShareable); err != nil {
		t.Errorf("SetOpenFlags(SHAREABLE) = %v", err)
	} else if got := img.OpenFlags(); got != backend.OpenShareable|backend.OpenReadOnly {
		t.Errorf("after SetOpenFlags(SHAREABLE): %s; want SHAREABLE|READONLY (READONLY forced)", got)
	}
	if err := img.SetOpenFlags(ctx, flags); err != nil {
		t.Errorf("restoring open flags %s: %v", flags, err)
	}
	// Still readable after the flag changes.
	if img.Size() > 0 {
		if _, err := img.ReadAt(make([]byte, 1), 0); err != nil {
			t.Errorf("ReadAt after SetOpenFlags: %v", err)
		}
	}
}

// TestInfoImage checks an image opened with backend.OpenInfo: reads fail with
// ErrNotOpened and the flags say INFO and READONLY.
func TestInfoImage(t testing.TB, img backend.Image) {
	t.Helper()
	if _, err := img.ReadAt(make([]byte, 1), 0); !errors.Is(err, backend.ErrNotOpened) {
		t.Errorf("info-mode ReadAt = %v; want ErrNotOpened", err)
	}
	if f := img.OpenFlags(); f&backend.OpenInfo == 0 || f&backend.OpenReadOnly == 0 {
		t.Errorf("info-mode OpenFlags() = %s; want INFO and READONLY", f)
	}
	if _, err := img.Write(0, []byte{1}); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("info-mode Write = %v; want ErrReadOnly", err)
	}
}

// TestClosed closes img (without delete) and checks that a second Close is
// harmless and reads fail with ErrNotOpened.
func TestClosed(t testing.TB, img backend.Image) {
	t.Helper()
	if err := img.Close(false); err != nil {
		t.Fatalf("Close(false) = %v", err)
	}
	if err := img.Close(false); err != nil {
		t.Errorf("second Close(false) = %v; want nil", err)
	}
	if _, err := img.ReadAt(make([]byte, 1), 0); !errors.Is(err, backend.ErrNotOpened) {
		t.Errorf("ReadAt after Close = %v; want ErrNotOpened", err)
	}
}
