package sanity

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMountCommand runs `csi-viso mount`, reads DIR/disk.img while it
// serves, compares it with `csi-viso build` of the same VISO, interrupts it
// and checks the mount is gone.
func TestMountCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("csi-viso mount needs root (FUSE)")
	}
	work := t.TempDir()
	bin := buildBinary(t, work)
	want := filepath.Join(work, "want.iso")
	makeISO(t, bin, work, want)
	dir := filepath.Join(work, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Flags after the positional arguments, as the CLI contract allows.
	cmd := exec.Command(bin, "mount", filepath.Join(work, "src", "small.viso"), dir, "--media-root", filepath.Join(work, "src"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "serving "+filepath.Join(dir, "disk.img")) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("first line %q; stderr:\n%s", lines.Text(), stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	wantBytes, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantBytes) {
		t.Errorf("disk.img (%d bytes) differs from csi-viso build (%d bytes)", len(got), len(wantBytes))
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() {
		for lines.Scan() {
		}
		waitErr <- cmd.Wait()
	}()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("csi-viso mount exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("csi-viso mount did not stop on SIGINT")
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("%s still mounted after SIGINT", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "disk.img")); !os.IsNotExist(err) {
		t.Errorf("disk.img still visible: %v", err)
	}
}
