package holder_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/serve/holder"
)

const imageSize = 192 << 20

// image is the same pseudo-random bytes in every process.
func image() []byte {
	b := make([]byte, imageSize)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// TestMain runs the serving child when asked to: "mount" mounts the image
// and hands its descriptor to the holder, "resume" takes it back and serves
// it. Either prints "ready" and serves until killed.
func TestMain(m *testing.M) {
	switch os.Getenv("HOLDER_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "mount":
		dir, sock := os.Args[len(os.Args)-2], os.Args[len(os.Args)-1]
		s, err := serve.Mount(context.Background(), dir, bytes.NewReader(image()), serve.Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		c := &holder.Client{Path: sock}
		if err := c.Put("vol", s.Fd(), s.Handover()); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	case "read":
		// A VM-like reader: streams the file in 1 MiB reads, a little
		// slowly, and prints the SHA-256 of what it read (or the error).
		f, err := os.Open(os.Args[len(os.Args)-1])
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
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
				os.Exit(1)
			}
			time.Sleep(3 * time.Millisecond)
		}
		fmt.Printf("%x\n", h.Sum(nil))
		os.Exit(0)
	case "resume":
		sock := os.Args[len(os.Args)-1]
		c := &holder.Client{Path: sock}
		held, err := c.Take()
		if err != nil || len(held) != 1 {
			fmt.Println("error: take:", err, len(held))
			os.Exit(1)
		}
		var h serve.Handover
		if err := json.Unmarshal(held["vol"].Meta, &h); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if _, err := serve.Resume(held["vol"].Fd, h, bytes.NewReader(image()), serve.Options{}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	select {}
}

// startReader starts the "read" child on path once it has the file open.
func startReader(t *testing.T, path string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd, out := start(t, "read", path)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out
}

func startChild(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd, _ := start(t, mode, args...)
	return cmd
}

func start(t *testing.T, mode string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), "HOLDER_TEST_CHILD="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Second, func() {
		// Say where a stuck child is before the test times out.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stack", cmd.Process.Pid))
		for _, p := range tasks {
			b, _ := os.ReadFile(p)
			t.Logf("%s child stuck: %s\n%s", mode, p, b)
		}
		_ = cmd.Process.Signal(syscall.SIGQUIT)
	})
	br := bufio.NewReader(out)
	line, err := br.ReadString('\n')
	timer.Stop()
	if err != nil || strings.TrimSpace(line) != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s child: %q %v", mode, line, err)
	}
	return cmd, br
}

// TestServerKilledMidStream: a reader streams the served file while the
// serving process is SIGKILLed and, a moment later, a new process takes the
// descriptor back from the holder. The reader sees a pause, never an error,
// and reads exactly the image's bytes. Then the mount is removed and the
// holder drops the descriptor by itself.
func TestServerKilledMidStream(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (FUSE mounts)")
	}
	work := t.TempDir()
	sock := filepath.Join(work, "holder.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- holder.Serve(ctx, sock) }()
	c := &holder.Client{Path: sock}
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping() != nil {
		if time.Now().After(deadline) {
			t.Fatal("holder did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := filepath.Join(work, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Unmount(dir, unix.MNT_DETACH) }()

	first := startChild(t, "mount", dir, sock)
	// The reader is a process of its own, as a VM is: a process holding a
	// file of the dead mount open could not even start the new server
	// (exec closes that file, and close waits for the FUSE FLUSH reply).
	reader, out := startReader(t, filepath.Join(dir, serve.DefaultFileName))
	time.Sleep(150 * time.Millisecond) // a part of the image is read
	if err := reader.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("reader finished before the server was killed (%v): the test proves nothing", err)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	time.Sleep(300 * time.Millisecond) // the plugin container restarting
	second := startChild(t, "resume", sock)
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	result := make(chan string, 1)
	go func() {
		line, _ := out.ReadString('\n')
		result <- strings.TrimSpace(line)
	}()
	want := sha256.Sum256(image())
	select {
	case line := <-result:
		if line != fmt.Sprintf("%x", want) {
			t.Fatalf("reader across the restart: %q, want the image's SHA-256", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("reader still blocked 60 s after the new server took over")
	}
	_ = reader.Wait()
	// New opens work too, and a fresh read of the whole file is right.
	again, err := os.ReadFile(filepath.Join(dir, serve.DefaultFileName))
	if err != nil || sha256.Sum256(again) != want {
		t.Fatalf("read after takeover: %v", err)
	}
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		held, err := c.Take()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range held {
			unix.Close(x.Fd)
		}
		if len(held) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("holder still holds the descriptor of an unmounted connection")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestProtocol: put replaces, delete forgets, bad requests are errors, and
// an absent holder is ErrUnavailable.
func TestProtocol(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "h.sock")
	c := &holder.Client{Path: sock}
	if err := c.Ping(); err == nil || !strings.Contains(err.Error(), holder.ErrUnavailable.Error()) {
		t.Fatalf("ping without holder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = holder.Serve(ctx, sock) }()
	for c.Ping() != nil {
		time.Sleep(10 * time.Millisecond)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for i, meta := range []string{"one", "two"} {
		if err := c.Put("a", int(w.Fd()), map[string]string{"m": meta}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := c.Put("b", int(r.Fd()), nil); err != nil {
		t.Fatal(err)
	}
	held, err := c.Take()
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || !strings.Contains(string(held["a"].Meta), "two") {
		t.Fatalf("held: %v", held)
	}
	// The returned descriptor is the same pipe.
	if _, err := unix.Write(held["a"].Fd, []byte("x")); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := r.Read(one); err != nil || one[0] != 'x' {
		t.Fatalf("read through the returned descriptor: %v %q", err, one)
	}
	for _, h := range held {
		unix.Close(h.Fd)
	}
	if err := c.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("missing"); err != nil {
		t.Fatal(err)
	}
	held, err = c.Take()
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held["b"].Fd == 0 {
		t.Fatalf("after delete: %v", held)
	}
	unix.Close(held["b"].Fd)
}
