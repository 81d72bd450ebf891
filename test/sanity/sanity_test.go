// Package sanity runs csi-sanity (kubernetes-csi/csi-test) against the real
// csi-viso binary over a Unix socket, with volumes created from a plain ISO
// under a --media-root (the image attribute: no cluster needed).
package sanity

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// buildBinary compiles cmd/csi-viso into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "csi-viso")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=sanity", "-o", bin, "./cmd/csi-viso")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// makeISO builds a small ISO with the binary's own build command.
func makeISO(t *testing.T, bin, dir, out string) {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"small.viso": "--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n--volume-id=SANITY\n--rock-ridge\n/hello.txt=hello.txt\n",
		"hello.txt":  strings.Repeat("hello csi-sanity\n", 1000),
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "build", filepath.Join(src, "small.viso"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("csi-viso build: %v\n%s", err, out)
	}
}

func waitForSocket(t *testing.T, sock string, proc *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		if proc.ProcessState != nil {
			t.Fatalf("driver exited early: %v", proc.ProcessState)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("driver socket %s did not come up", sock)
}

func TestSanityImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("csi-sanity against the real driver needs root (FUSE and bind mounts)")
	}
	work := t.TempDir()
	bin := buildBinary(t, work)
	media := filepath.Join(work, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	makeISO(t, bin, work, filepath.Join(media, "small.iso"))

	params := filepath.Join(work, "params.yaml")
	if err := os.WriteFile(params, []byte("image: small.iso\nfileName: disk.img\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(work, "csi.sock")
	stateDir := filepath.Join(work, "state")
	logFile, err := os.Create(filepath.Join(work, "driver.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	health := freeAddress(t)
	ctx, cancel := context.WithCancel(context.Background())
	proc := exec.CommandContext(ctx, bin, "driver", "--endpoint", "unix://"+sock, "--node-id", "sanity-node",
		"--mode", "all", "--state-dir", stateDir, "--media-root", media, "--v", "3",
		"--kubelet-registration=false", "--health-address", health)
	proc.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=") // never reach a cluster
	proc.Stdout, proc.Stderr = logFile, logFile
	proc.Cancel = func() error { return proc.Process.Signal(os.Interrupt) }
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = proc.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("driver log:\n%s", tail(string(b), 200))
			}
		}
	}()
	waitForSocket(t, sock, proc)
	checkHealth(t, health)

	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + sock
	cfg.TargetPath = filepath.Join(work, "target")
	cfg.StagingPath = filepath.Join(work, "staging")
	cfg.TestVolumeParametersFile = params
	cfg.TestVolumeSize = 1 << 20
	cfg.IdempotentCount = 2
	sanity.Test(t, cfg)

	// After the whole suite nothing may be left: no mount, no loop device,
	// no node state.
	assertClean(t, work, stateDir)
}

func assertClean(t *testing.T, work, stateDir string) {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, work) {
			t.Errorf("mount left behind: %s", l)
		}
	}
	loops, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range loops {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), work) {
			t.Errorf("loop device left behind: %s -> %s", f, b)
		}
	}
	ents, err := os.ReadDir(filepath.Join(stateDir, "node"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("node state left behind: %s", e.Name())
	}
}

// freeAddress returns a loopback address with a port free right now.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// checkHealth expects /healthz to answer 200 "ok" (the driver is ready).
func checkHealth(t *testing.T, addr string) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
			t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
		}
		return
	}
	t.Fatalf("/healthz never answered: %v", last)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return fmt.Sprint(strings.Join(l, "\n"))
}
