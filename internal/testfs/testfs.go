// Package testfs makes real file systems for tests: a sparse image file in
// the test's temporary folder, formatted (XFS with reflink=1, btrfs, ext4)
// and loop-mounted, unmounted again when the test ends. It needs root, loop
// devices and the mkfs tools (scripts/deps.sh installs them); without them
// the test fails and says why.
package testfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Kinds the package can make, with the mkfs command and its arguments.
var mkfs = map[string][]string{
	"xfs":   {"mkfs.xfs", "-q", "-f", "-m", "reflink=1"},
	"btrfs": {"mkfs.btrfs", "-q", "-f"},
	"ext4":  {"mkfs.ext4", "-q", "-F"},
}

// Mount makes a file system of the given kind and size (bytes, sparse) and
// returns the folder it is mounted at.
func Mount(t testing.TB, kind string, size int64) string {
	t.Helper()
	args, ok := mkfs[kind]
	if !ok {
		t.Fatalf("testfs: unknown file system %q", kind)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("testfs: mounting a %s image needs root", kind)
	}
	if _, err := exec.LookPath(args[0]); err != nil {
		t.Fatalf("testfs: %s not found (make deps installs it): %v", args[0], err)
	}
	base := t.TempDir()
	img := filepath.Join(base, kind+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(args[0], append(args[1:], img)...).CombinedOutput(); err != nil {
		t.Fatalf("testfs: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	dir := filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("testfs: mount %s image: %v\n%s", kind, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// A test that still holds a file open there: detach lazily.
			_ = exec.Command("umount", "-l", dir).Run()
			t.Logf("testfs: umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// Free returns the bytes free for the unprivileged user on the file system
// holding path, after a sync, so the blocks a test wrote are counted.
func Free(t testing.TB, path string) int64 {
	t.Helper()
	if out, err := exec.Command("sync", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("sync -f %s: %v\n%s", path, err, out)
	}
	out, err := exec.Command("stat", "-f", "-c", "%a %S", path).Output()
	if err != nil {
		t.Fatalf("stat -f %s: %v", path, err)
	}
	var avail, bsize int64
	if _, err := fmt.Sscan(string(out), &avail, &bsize); err != nil {
		t.Fatalf("stat -f %s: %q: %v", path, out, err)
	}
	return avail * bsize
}
