package sanity

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// envRead makes the test binary a VM-like reader of the file it names: it
// streams it in 1 MiB reads, a little slowly, then prints its SHA-256 (or
// "error: ..."). It is a process of its own, as a VM is: a process holding a
// file of a paused FUSE mount open could not start the new plugin (exec
// closes the file, and close waits for the server's FLUSH reply).
const envRead = "CSI_VISO_SANITY_READ"

func runReader(path string) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		time.Sleep(4 * time.Millisecond)
	}
	fmt.Printf("%x\n", h.Sum(nil))
	return 0
}

type reader struct {
	cmd  *exec.Cmd
	line chan string
}

func startReader(t *testing.T, path string) *reader {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRead+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	if l, err := br.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
		t.Fatalf("reader of %s: %q %v", path, l, err)
	}
	r := &reader{cmd: cmd, line: make(chan string, 1)}
	go func() {
		l, _ := br.ReadString('\n')
		r.line <- strings.TrimSpace(l)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return r
}

// TestPluginKilledWhileReading: with the FUSE holder running beside the
// plugin (as the chart runs it), VM-like readers stream a synthesised VISO
// image through an inline filesystem volume and through a staged block
// volume (loop device over the FUSE file) while the plugin is SIGKILLed and
// started again. Every reader finishes with the image's SHA-256 and no I/O
// error: the restart is a pause. Unpublishing then leaves nothing behind,
// in the holder neither.
func TestPluginKilledWhileReading(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (FUSE, loop devices)")
	}
	work := t.TempDir()
	bin := buildBinary(t, work)
	media := filepath.Join(work, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	// 256 MiB of data in the media root; the VISO in the ConfigMap adds it,
	// so the image is synthesised (metadata from memory, data spliced).
	big := make([]byte, 256<<20)
	_, _ = rand.NewChaCha8([32]byte{9}).Read(big)
	if err := os.WriteFile(filepath.Join(media, "big.bin"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"r.viso":                 "--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n--rock-ridge /big.bin=" + filepath.Join(media, "big.bin") + " /answers.txt=Unattended-answers.txt\n",
		"Unattended-answers.txt": "password=secret\n",
	}
	local := filepath.Join(work, "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(local, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(work, "want.iso")
	if out, err := exec.Command(bin, "build", filepath.Join(local, "r.viso"), "--media-root", media, "-o", iso).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	wantISO, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%x", sha256.Sum256(wantISO))

	api := httptest.NewServer(configMapAPI("ns", "viso", files))
	defer api.Close()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(kubeconfigTemplate, api.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(work, "driver.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	holderSock := filepath.Join(work, "holder.sock")
	holder := exec.Command(bin, "fuse-holder", "--socket", holderSock)
	holder.Stdout, holder.Stderr = logf, logf
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Signal(os.Interrupt); _ = holder.Wait() }()

	sock := filepath.Join(work, "csi.sock")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "driver", "--endpoint", "unix://"+sock, "--node-id", "n", "--mode", "node",
			"--state-dir", filepath.Join(work, "state"), "--media-root", media, "--kubelet-registration=false",
			"--kubeconfig", kubeconfig, "--serve-mode", "fuse", "--fuse-holder", holderSock)
		cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=")
		cmd.Stdout, cmd.Stderr = logf, logf
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
	ro := &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_SINGLE_NODE_READER_ONLY}
	fsCap := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}}, AccessMode: ro}
	blockCap := &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}}, AccessMode: ro}

	inline := filepath.Join(work, "pod", "inline")
	if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "inline", TargetPath: inline, VolumeCapability: fsCap,
		VolumeContext: map[string]string{"configMap": "viso", "csi.storage.k8s.io/ephemeral": "true", "csi.storage.k8s.io/pod.namespace": "ns"}}); err != nil {
		t.Fatal(err)
	}
	staging, blockTarget := filepath.Join(work, "staging", "blk"), filepath.Join(work, "pod", "blk")
	pvc := map[string]string{"configMap": "viso", "csi.storage.k8s.io/pvc/namespace": "ns"}
	if _, err := node.NodeStageVolume(ctx, &csi.NodeStageVolumeRequest{VolumeId: "blk", StagingTargetPath: staging, VolumeCapability: blockCap, VolumeContext: pvc}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "blk", StagingTargetPath: staging, TargetPath: blockTarget,
		VolumeCapability: blockCap, VolumeContext: pvc}); err != nil {
		t.Fatal(err)
	}

	readers := map[string]*reader{
		"filesystem": startReader(t, filepath.Join(inline, "disk.img")),
		"block":      startReader(t, blockTarget),
	}
	time.Sleep(200 * time.Millisecond) // the readers are partway through
	for kind, r := range readers {
		if err := r.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("%s reader finished before the plugin was killed: the test proves nothing", kind)
		}
	}
	// The plugin dies (OOM kill, crash, upgrade of its container).
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	time.Sleep(time.Second) // the kubelet restarting the container
	proc = start()
	defer func() { _ = proc.Process.Signal(os.Interrupt); _ = proc.Wait() }()
	for kind, r := range readers {
		select {
		case got := <-r.line:
			if got != want {
				t.Errorf("%s reader across the restart: %q, want the image's SHA-256 %s", kind, got, want)
			}
		case <-time.After(2 * time.Minute):
			t.Errorf("%s reader still blocked 2 minutes after the restart", kind)
		}
	}
	if b, _ := os.ReadFile(logf.Name()); !strings.Contains(string(b), "resumed FUSE volume") {
		t.Errorf("the restarted plugin did not resume from the holder; log:\n%s", tail(string(b), 40))
	}

	if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "inline", TargetPath: inline}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "blk", TargetPath: blockTarget}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: "blk", StagingTargetPath: staging}); err != nil {
		t.Fatal(err)
	}
	assertNoMounts(t, work)
	if ents, err := os.ReadDir(filepath.Join(work, "state", "node")); err != nil || len(ents) != 0 {
		t.Errorf("node state left: %v %v", ents, err)
	}
}
