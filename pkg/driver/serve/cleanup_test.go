package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// abortT kills s's FUSE connection the way the kernel does when its server
// process dies: every later access to the mount fails.
func abortT(t *testing.T, s *Server) {
	t.Helper()
	infos, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	at := mountsAt(infos, s.Dir())
	if len(at) == 0 {
		t.Fatalf("no mount at %s", s.Dir())
	}
	ensureFusectl(t)
	conn := fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", at[len(at)-1].Dev())
	if err := os.WriteFile(conn, []byte("1"), 0); err != nil {
		t.Fatalf("abort FUSE connection: %v", err)
	}
	waitT(t, s)
}

// ensureFusectl mounts the FUSE control filesystem when it is not mounted
// (containers often lack it); it stays mounted, as on a normal host.
func ensureFusectl(t *testing.T) {
	t.Helper()
	const dir = "/sys/fs/fuse/connections"
	infos, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	if len(mountsAt(infos, dir)) > 0 {
		return
	}
	if err := syscall.Mount("fusectl", dir, "fusectl", 0, ""); err != nil {
		t.Fatalf("mount fusectl on %s: %v", dir, err)
	}
}

func TestAbortCleanupRemount(t *testing.T) {
	want := randomBytes(16<<20, 31)
	dir := t.TempDir()
	// Registered after TempDir, so it runs before its removal: whatever
	// failed, leave no mount or loop device behind.
	t.Cleanup(func() { _ = CleanupMountPoint(dir) })
	s, err := Mount(context.Background(), dir, bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := AttachLoop(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = DetachLoop(dev) })
	open, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	abortT(t, s)

	// What clients of a dead server see. (stat still answers from the
	// attribute cache, which the long timeouts keep: probes must open.)
	if f, err := os.Open(s.Path()); !errors.Is(err, syscall.ENOTCONN) || !IsCorruptedMount(err) {
		if err == nil {
			f.Close()
		}
		t.Errorf("open on the dead mount: %v, want ENOTCONN", err)
	}
	if _, err := open.ReadAt(make([]byte, 4096), 8<<20); err == nil || !IsCorruptedMount(err) {
		t.Errorf("read of a file open across the abort: %v, want a corrupted-mount error", err)
	}
	if _, err := Mount(context.Background(), dir, bytes.NewReader(want), Options{}); !errors.Is(err, ErrAlreadyMounted) {
		t.Errorf("Mount on the dead mount: %v, want ErrAlreadyMounted", err)
	}
	if n := mountCount(t, dir); n != 1 {
		t.Errorf("%d mounts at the dead dir, want 1", n)
	}
	open.Close()

	if err := CleanupMountPoint(dir); err != nil {
		t.Fatalf("CleanupMountPoint: %v", err)
	}
	if n := mountCount(t, dir); n != 0 {
		t.Errorf("%d mounts after cleanup", n)
	}
	if loops, err := findLoopsUnder(dir); err != nil || len(loops) != 0 {
		t.Errorf("loops after cleanup: %v, %v", loops, err)
	}
	if err := CleanupMountPoint(dir); err != nil {
		t.Errorf("second CleanupMountPoint: %v", err)
	}

	s2 := mountAt(t, dir, want)
	checkContent(t, s2.Path(), want)
	if n := mountCount(t, dir); n != 1 {
		t.Errorf("%d mounts after remount, want 1 (stacked on a dead one?)", n)
	}
	// Cleanup of a live mount stops its server too.
	if err := CleanupMountPoint(dir); err != nil {
		t.Fatalf("CleanupMountPoint of a live mount: %v", err)
	}
	waitT(t, s2)
	if n := mountCount(t, dir); n != 0 {
		t.Errorf("%d mounts after cleaning the live mount", n)
	}
}

func mountAt(t *testing.T, dir string, want []byte) *Server {
	t.Helper()
	s, err := Mount(context.Background(), dir, bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	return s
}

func TestCleanupMountPointNothingThere(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		if err := CleanupMountPoint(dir); err != nil {
			t.Errorf("CleanupMountPoint(%s): %v", dir, err)
		}
	}
}

func TestCleanupLeavesOtherFilesystems(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	err := CleanupMountPoint(dir)
	if err == nil || !strings.Contains(err.Error(), "not FUSE") {
		t.Errorf("CleanupMountPoint over tmpfs: %v, want a not-FUSE error", err)
	}
	if n := mountCount(t, dir); n != 1 {
		t.Errorf("tmpfs was unmounted (%d mounts left)", n)
	}
}

func TestIsCorruptedMount(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOTCONN, true},
		{&fs.PathError{Op: "stat", Path: "/x", Err: syscall.ENOTCONN}, true},
		{fmt.Errorf("read: %w", syscall.ECONNABORTED), true},
		{syscall.EIO, true},
		{syscall.ESTALE, true},
		{syscall.ENOENT, false},
		{os.ErrNotExist, false},
		{errors.New("transport endpoint is not connected"), false},
	}
	for _, tc := range cases {
		if got := IsCorruptedMount(tc.err); got != tc.want {
			t.Errorf("IsCorruptedMount(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
