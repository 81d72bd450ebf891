package isoread

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// manyReader synthesises, sector by sector, a medium whose root directory
// holds n empty files, so a million entries need no memory for the image.
type manyReader struct {
	n        int
	perSec   int
	dirSecs  int
	dirBytes uint32 // the root's recorded data length (may lie)
	size     int64
}

const manyRecLen = 42 // "F0000000;1"... identifiers of 8 characters: 33+8+1

func newManyReader(n int) *manyReader {
	m := &manyReader{n: n, perSec: SectorSize / manyRecLen}
	m.dirSecs = (n+2+m.perSec-1)/m.perSec + 1
	m.dirBytes = uint32(m.dirSecs * SectorSize)
	m.size = int64(rootLBA+m.dirSecs+1) * SectorSize
	return m
}

func (m *manyReader) sector(lba int) []byte {
	im := &image{b: make([]byte, SectorSize)}
	switch {
	case lba == 16:
		full := newImage(17)
		full.vd(16, 1, rootLBA, m.dirBytes)
		return full.sector(16)
	case lba == 17:
		full := newImage(18)
		full.terminator(17)
		return full.sector(17)
	case lba >= rootLBA && lba < rootLBA+m.dirSecs:
		first := (lba - rootLBA) * m.perSec
		off := 0
		for i := first; i < first+m.perSec && i < m.n+2; i++ {
			var r []byte
			switch i {
			case 0:
				r = dirRec("\x00", rootLBA, m.dirBytes, flagDir, nil)
			case 1:
				r = dirRec("\x01", rootLBA, m.dirBytes, flagDir, nil)
			default:
				r = dirRec(fmt.Sprintf("F%07d", i-2), rootLBA+uint32(m.dirSecs), 0, 0, nil)
			}
			copy(im.b[off:], r)
			off += len(r)
		}
	}
	return im.b
}

func (m *manyReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for len(p) > 0 {
		if off >= m.size {
			return n, fmt.Errorf("read past the end")
		}
		s := m.sector(int(off / SectorSize))
		c := copy(p, s[off%SectorSize:])
		p, off, n = p[c:], off+int64(c), n+c
	}
	return n, nil
}

// TestMillionEntries reads a crafted directory of a million records: the
// default bounds let it through in bounded time and memory, tighter ones stop
// it with ErrLimit, and a directory claiming more bytes than MaxDirBytes is
// refused before any of it is read.
func TestMillionEntries(t *testing.T) {
	const n = 1_000_000
	m := newManyReader(n)
	t.Run("default bounds", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		var tr *Tree
		err := withTimeout(t, 60*time.Second, func() error {
			v, err := Open(m, m.size, Options{})
			if err != nil {
				return err
			}
			tr, err = v.Primary()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tr.Entries != n || len(tr.Root.Children()) != n {
			t.Fatalf("%d entries, want %d", tr.Entries, n)
		}
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%d entries in %v, %d MiB directory, live heap %+d MiB (%d bytes/entry)",
			n, elapsed.Round(time.Millisecond), tr.DirBytes>>20, heap>>20, heap/n)
		runtime.KeepAlive(tr)
	})
	t.Run("MaxEntries", func(t *testing.T) {
		err := withTimeout(t, 60*time.Second, func() error {
			v, err := Open(m, m.size, Options{MaxEntries: 100_000})
			if err != nil {
				return err
			}
			_, err = v.Primary()
			return err
		})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("%v, want ErrLimit", err)
		}
	})
	t.Run("MaxDirBytes", func(t *testing.T) {
		err := withTimeout(t, 10*time.Second, func() error {
			v, err := Open(m, m.size, Options{MaxDirBytes: 1 << 20})
			if err != nil {
				return err
			}
			_, err = v.Primary()
			return err
		})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("%v, want ErrLimit", err)
		}
	})
}
