package serve

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// blockdev runs util-linux blockdev as an independent oracle.
func blockdev(t *testing.T, flag, dev string) int64 {
	t.Helper()
	out, err := exec.Command("blockdev", flag, dev).CombinedOutput()
	if err != nil {
		t.Fatalf("blockdev %s %s: %v: %s", flag, dev, err, out)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("blockdev %s %s: %q", flag, dev, out)
	}
	return n
}

// TestLoopDevice: a loop device over the file reads back the image; while it
// is attached Unmount is refused and falls back to a lazy unmount, and the
// server ends when the loop is detached.
func TestLoopDevice(t *testing.T) {
	want := randomBytes(64<<20, 21)
	s, err := Mount(context.Background(), t.TempDir(), bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := AttachLoop(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DetachLoop(dev) })
	if got := blockdev(t, "--getsize64", dev); got != int64(len(want)) {
		t.Errorf("blockdev --getsize64 = %d, want %d", got, len(want))
	}
	if ro := blockdev(t, "--getro", dev); ro != 1 {
		t.Errorf("blockdev --getro = %d, want 1", ro)
	}
	checkContent(t, dev, want)
	// The kernel lets root open a read-only block device for
	// writing; the write itself must fail.
	if f, err := os.OpenFile(dev, os.O_WRONLY, 0); err == nil {
		if _, err := f.WriteAt(make([]byte, 4096), 0); err == nil {
			if serr := f.Sync(); serr == nil {
				t.Errorf("write to the read-only loop device succeeded")
			}
		}
		f.Close()
	}
	if loops, err := FindLoops(s.Path()); err != nil || len(loops) != 1 || loops[0] != dev {
		t.Errorf("FindLoops = %v, %v; want [%s]", loops, err, dev)
	}
	out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,RO,BACK-FILE", dev).CombinedOutput()
	if err != nil || !strings.Contains(string(out), s.Path()) {
		t.Errorf("losetup --list: %v: %s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Unmount(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("Unmount with a loop device attached: %v, want ErrBusy", err)
	}
	// Lazily detached: gone from the table, still serving the loop.
	if n := mountCount(t, s.Dir()); n != 0 {
		t.Errorf("%d mounts after lazy unmount", n)
	}
	buf := make([]byte, 1<<20)
	lf, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lf.ReadAt(buf, 5<<20); err != nil || !bytes.Equal(buf, want[5<<20:6<<20]) {
		t.Errorf("loop read after lazy unmount: %v", err)
	}
	lf.Close()
	if err := DetachLoop(dev); err != nil {
		t.Fatalf("DetachLoop: %v", err)
	}
	if err := DetachLoop(dev); err != nil {
		t.Errorf("second DetachLoop: %v", err)
	}
	// The lazy unmount left nothing for a second Unmount to do.
	if err := s.Unmount(context.Background()); err != nil {
		t.Errorf("Unmount after detach: %v", err)
	}
	waitT(t, s)
	if _, err := os.Stat(filepath.Join(sysBlock, filepath.Base(dev), "loop")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still bound after detach: %v", dev, err)
	}
	if loops, err := FindLoops(s.Path()); err != nil || len(loops) != 0 {
		t.Errorf("FindLoops after detach = %v, %v", loops, err)
	}
	if n := mountCount(t, s.Dir()); n != 0 {
		t.Errorf("%d mounts left", n)
	}
}

// TestUnmountAfterDetach: the clean order (detach, then unmount) needs no
// lazy unmount at all.
func TestUnmountAfterDetach(t *testing.T) {
	want := randomBytes(8<<20, 22)
	s, err := Mount(context.Background(), t.TempDir(), bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := AttachLoop(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, dev, want)
	if err := DetachLoop(dev); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Unmount(ctx); err != nil {
		t.Fatalf("Unmount after detach: %v", err)
	}
	waitT(t, s)
}

func TestLoopErrors(t *testing.T) {
	if _, err := AttachLoop(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("AttachLoop of a missing file: %v", err)
	}
	if err := DetachLoop("/dev/sda"); err == nil {
		t.Errorf("DetachLoop of a non-loop device succeeded")
	}
	if err := DetachLoop("/dev/loop999999"); err != nil {
		t.Errorf("DetachLoop of a missing device: %v", err)
	}
	if loops, err := FindLoops(filepath.Join(t.TempDir(), "nothing")); err != nil || len(loops) != 0 {
		t.Errorf("FindLoops of an unused file = %v, %v", loops, err)
	}
}
