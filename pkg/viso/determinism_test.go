package viso

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeterministicBytes: the same VISO and the same source bytes give the same
// image wherever and whenever it is built — different folders, different file
// mtimes and atimes, files written in a different order (so directory read order
// and inode numbers differ), different umask-independent host modes.
func TestDeterministicBytes(t *testing.T) {
	const body = "--rock-ridge\n/answers=answers\n/user-data=seed/user-data\n-b /boot/loader.bin --no-emulation-boot --boot-info-table\n/boot/loader.bin=loader.bin\n"
	files := []struct{ name, content string }{
		{"seed/user-data", "#cloud-config\n"},
		{"answers/a.cfg", "a=1\n"},
		{"answers/b.cfg", "b=2\n"},
		{"answers/deep/er/c.cfg", "c=3\n"},
		{"loader.bin", string(bytes.Repeat([]byte{0x90}, 4096))},
	}
	write := func(order []int, mtime time.Time) string {
		dir := t.TempDir()
		for _, i := range order {
			p := filepath.Join(dir, files[i].name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(files[i].content), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		v := filepath.Join(dir, "x.viso")
		if err := os.WriteFile(v, []byte("--iprt-iso-maker-file-marker-bourne-sh "+backendUUID+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(v, mtime, mtime)
		return v
	}
	a := buildBytes(t, write([]int{0, 1, 2, 3, 4}, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)))
	time.Sleep(1100 * time.Millisecond) // a second later: nothing may depend on the clock
	b := buildBytes(t, write([]int{4, 3, 2, 1, 0}, time.Now()))
	if !bytes.Equal(a, b) {
		for i := range a {
			if i >= len(b) || a[i] != b[i] {
				t.Fatalf("images differ (sizes %d/%d), first at byte %d (sector %d)", len(a), len(b), i, i/2048)
			}
		}
		t.Fatalf("images differ in size: %d vs %d", len(a), len(b))
	}
}
