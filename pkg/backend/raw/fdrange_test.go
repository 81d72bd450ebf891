package raw

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

func TestFdRange(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, 0, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close(false)
	raw := img.(*Image)
	size := len(f.isoData)
	tests := []struct {
		name   string
		off    int64
		n      int
		wantOK bool
	}{
		{"whole image", 0, size, true},
		{"first block", 0, OpticalBlockSize, true},
		{"last byte", int64(size - 1), 1, true},
		{"crossing the end", int64(size - 1), 2, false},
		{"at the end", int64(size), 1, false},
		{"empty", 0, 0, false},
		{"negative offset", -1, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hf, off, release, ok := raw.FdRange(tc.off, tc.n)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			defer release()
			if off != tc.off {
				t.Fatalf("file offset %d, want %d", off, tc.off)
			}
			got := make([]byte, tc.n)
			if _, err := hf.ReadAt(got, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f.isoData[tc.off:tc.off+int64(tc.n)]) {
				t.Fatal("lent bytes differ")
			}
		})
	}
}

// A shrunk file is not lent (ReadAt reports it), and Close waits for a lent
// descriptor to be released before closing it.
func TestFdRangeShrunkAndClose(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, 0, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := img.(*Image)
	if err := os.Truncate(f.iso, 4096); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := raw.FdRange(0, 8192); ok {
		t.Fatal("range past the shrunk end lent")
	}
	hf, off, release, ok := raw.FdRange(0, 4096)
	if !ok {
		t.Fatal("range inside the file refused")
	}
	closed := make(chan error, 1)
	go func() { closed <- img.Close(false) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a descriptor was lent", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := hf.ReadAt(make([]byte, 16), off); err != nil {
		t.Fatalf("lent file closed under its borrower: %v", err)
	}
	release()
	release() // idempotent
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := raw.FdRange(0, 16); ok {
		t.Fatal("closed image lent a file")
	}
}
