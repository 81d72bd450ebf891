package sanity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestPluginKilledWhileReading publishes a FUSE-served inline volume with the
// real binary, SIGKILLs the plugin while a reader holds the file open halfway
// through, and restarts it. It records what the reader sees and checks that
// the restarted plugin (reconcile) serves the same bytes again at the same
// path, and that unpublishing then leaves nothing behind.
func TestPluginKilledWhileReading(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (FUSE)")
	}
	work := t.TempDir()
	bin := buildBinary(t, work)
	media := filepath.Join(work, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	// A private ISO of 64 MiB goes through FUSE (a world-readable one would
	// take the kernel path, which does not depend on the plugin at all).
	src := filepath.Join(work, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "r.viso"), []byte("--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n/big.bin=big.bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(media, "r.iso")
	if out, err := exec.Command(bin, "build", filepath.Join(src, "r.viso"), "-o", iso).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if err := os.Chmod(iso, 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(work, "csi.sock")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "driver", "--endpoint", "unix://"+sock, "--node-id", "n", "--mode", "node",
			"--state-dir", filepath.Join(work, "state"), "--media-root", media, "--kubelet-registration=false")
		cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
		log, err := os.OpenFile(filepath.Join(work, "driver.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := waitForSocket(sock, cmd); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	proc := start()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	node := csi.NewNodeClient(conn)
	ctx := context.Background()
	target := filepath.Join(work, "pod", "mount")
	vctx := map[string]string{"image": "r.iso", "csi.storage.k8s.io/ephemeral": "true", "csi.storage.k8s.io/pod.namespace": "default"}
	capa := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY}}
	if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "r", TargetPath: target, VolumeCapability: capa, VolumeContext: vctx}); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(target, "disk.img")
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	half := make([]byte, len(want)/2)
	if _, err := io.ReadFull(f, half); err != nil {
		t.Fatal(err)
	}

	// The plugin dies (OOM kill, node drain, crash).
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	// A raw ISO is opened in FUSE passthrough mode where the kernel has it
	// (Linux 6.9+, root): the open descriptor reads the host file directly
	// and the stream goes on to the end with the right bytes. Without
	// passthrough, already-read pages stay in the page cache
	// (FOPEN_KEEP_CACHE) and reading on into pages never read fails.
	rest, err := io.ReadAll(f)
	t.Logf("reader after SIGKILL, continuing its stream: %d more bytes, %v", len(rest), err)
	switch {
	case err == nil:
		if !bytes.Equal(rest, want[len(half):]) {
			t.Errorf("continuing read after the plugin died returned %d wrong bytes", len(rest))
		}
	case !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED):
		t.Errorf("continuing read after the plugin died: %v, want ENOTCONN or ECONNABORTED (or, with passthrough, the rest of the image)", err)
	}
	cerr := f.Close()
	t.Logf("close of that descriptor: %v", cerr)
	// stat may still answer from the kernel's attribute cache (the image
	// is immutable, so attributes are cached for long); open must ask the
	// dead server.
	_, serr := os.Stat(disk)
	t.Logf("stat of disk.img while the plugin is down: %v", serr)
	g, err := os.Open(disk)
	t.Logf("new open of disk.img while the plugin is down: %v", err)
	if err == nil {
		g.Close()
		t.Errorf("opening disk.img succeeded while the plugin was down")
	} else if !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("open while down: %v, want ENOTCONN", err)
	}

	// Restart: reconcile removes the dead mount and serves the image again
	// at the same target.
	proc = start()
	defer func() { _ = proc.Process.Signal(os.Interrupt); _ = proc.Wait() }()
	got, err := os.ReadFile(disk)
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("after restart: %d bytes differing from the ISO", len(got))
	}
	if n := strings.Count(mountinfo(t), target); n != 1 {
		t.Errorf("%d mounts at the target after restart, want 1 (nothing stacked on the dead one)", n)
	}
	if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "r", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	assertNoMounts(t, work)
	if ents, err := os.ReadDir(filepath.Join(work, "state", "node")); err != nil || len(ents) != 0 {
		t.Errorf("node state left: %v %v", ents, err)
	}
}

func mountinfo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
