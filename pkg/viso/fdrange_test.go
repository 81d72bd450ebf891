package viso

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

// TestFdRange: the bytes of a member file are lent from the member itself;
// metadata is not; Close waits for a lent descriptor; a closed image lends
// nothing.
func TestFdRange(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB, sector aligned
	p := visoFolder(t, "--rock-ridge /big.bin=big.bin /small.txt=small.txt\n", map[string]string{
		"big.bin": big, "small.txt": "small",
	})
	want := buildBytes(t, p)
	opened, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := opened.(*Image)
	at := int64(bytes.Index(want, []byte(big)))
	if at <= 0 || at%SectorSize != 0 {
		t.Fatalf("member data not found at a sector start (%d)", at)
	}
	if _, _, _, ok := img.FdRange(16*SectorSize, SectorSize); ok {
		t.Error("volume descriptor lent")
	}
	f, off, release, ok := img.FdRange(at+100, 4000)
	if !ok {
		t.Fatal("member file bytes not lent")
	}
	got := make([]byte, 4000)
	if _, err := f.ReadAt(got, off); err != nil || off != 100 || !bytes.Equal(got, want[at+100:at+4100]) {
		t.Fatalf("lent %s at %d: %v, bytes equal %v", f.Name(), off, err, bytes.Equal(got, want[at+100:at+4100]))
	}
	closed := make(chan error, 1)
	go func() { closed <- img.Close(false) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a descriptor was lent", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := img.FdRange(at, 10); ok {
		t.Error("closed image lent a file")
	}
}
