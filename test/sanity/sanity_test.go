// Package sanity runs csi-sanity (kubernetes-csi/csi-test) against the real
// csi-viso binary over a Unix socket, and checks the mount subcommand.
//
// Ginkgo runs its suite once per process, so each sanity run (plain ISO in
// filesystem mode, plain ISO in block mode, a VISO from a ConfigMap served by
// a stand-in API server) is a child process: this test binary re-executed
// with CSI_VISO_SANITY_CASE set, which TestMain recognises.
package sanity

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Environment of a child run.
const (
	envCase = "CSI_VISO_SANITY_CASE"
	envBin  = "CSI_VISO_SANITY_BIN"
	envWork = "CSI_VISO_SANITY_WORK"
)

func TestMain(m *testing.M) {
	if p := os.Getenv(envRead); p != "" {
		os.Exit(runReader(p))
	}
	if c := os.Getenv(envCase); c != "" {
		flag.Parse() // ginkgo reads its flags (-ginkgo.v) from the command line
		os.Exit(runChild(c, os.Getenv(envBin), os.Getenv(envWork)))
	}
	os.Exit(m.Run())
}

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

// sanityFiles are the VISO and side file used for the plain ISO (built with
// `csi-viso build`) and served from the stand-in API's ConfigMap.
var sanityFiles = map[string]string{
	"small.viso": "--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n--volume-id=SANITY\n--rock-ridge\n/hello.txt=hello.txt\n",
	"hello.txt":  strings.Repeat("hello csi-sanity\n", 1000),
}

// makeISO builds a small ISO with the binary's own build command; the VISO
// stays in dir/src.
func makeISO(t *testing.T, bin, dir, out string) {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range sanityFiles {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "build", filepath.Join(src, "small.viso"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("csi-viso build: %v\n%s", err, out)
	}
}

// summaryRE picks ginkgo's totals, failures and the reason line under each
// skipped spec ("  [SKIPPED] ListVolumes not supported"); the "[SKIPPED] in
// [BeforeEach] - file:line" location lines are left out.
var summaryRE = regexp.MustCompile(`Ran \d+ of \d+ Specs|\d+ Passed \| \d+ Failed \| \d+ Pending \| \d+ Skipped|\[SKIPPED\] [A-Z].*|\[FAIL\].*`)

// TestSanity runs csi-sanity three times against the real binary.
func TestSanity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("csi-sanity against the real driver needs root (FUSE, loop devices and bind mounts)")
	}
	work := t.TempDir()
	bin := buildBinary(t, work)
	for _, c := range []string{"image", "image-block", "configmap"} {
		t.Run(c, func(t *testing.T) {
			dir := filepath.Join(work, c)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$", "-ginkgo.v")
			cmd.Env = append(os.Environ(), envCase+"="+c, envBin+"="+bin, envWork+"="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out.String(), "")
			skips := map[string]int{}
			sc := bufio.NewScanner(strings.NewReader(plain))
			for sc.Scan() {
				m := summaryRE.FindString(sc.Text())
				switch {
				case strings.HasPrefix(m, "[SKIPPED] "):
					skips[strings.TrimPrefix(m, "[SKIPPED] ")]++
				case m != "":
					t.Log(m)
				}
			}
			reasons := make([]string, 0, len(skips))
			for r := range skips {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			for _, r := range reasons {
				t.Logf("skipped %d: %s", skips[r], r)
			}
			if err != nil {
				t.Fatalf("sanity run %s failed: %v\n%s", c, err, tail(plain, 300))
			}
			if !strings.Contains(plain, "0 Failed") {
				t.Fatalf("no sanity summary in the output:\n%s", tail(plain, 100))
			}
		})
	}
	// After every run nothing may be left: no mount, no loop device.
	assertNoMounts(t, work)
}

func waitForSocket(sock string, proc *exec.Cmd) error {
	// The socket accepts connections before the driver has reconciled its node
	// state (re-served staged volumes); the Identity Probe says when it is ready.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if probeReady(sock) {
			return nil
		}
		if proc.ProcessState != nil {
			return fmt.Errorf("driver exited early: %v", proc.ProcessState)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("driver on %s did not become ready", sock)
}

// probeReady asks the driver's Identity service whether it is ready.
func probeReady(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	c.Close()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := csi.NewIdentityClient(conn).Probe(ctx, &csi.ProbeRequest{})
	return err == nil && resp.GetReady().GetValue()
}

// freeAddress returns a loopback address with a port free right now.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// checkHealth expects /healthz to answer 200 "ok" (the driver is ready).
func checkHealth(addr string) error {
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
			return fmt.Errorf("/healthz: %d %q", resp.StatusCode, body)
		}
		return nil
	}
	return fmt.Errorf("/healthz never answered: %v", last)
}

func assertNoMounts(t *testing.T, work string) {
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
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
