package driver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reg "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

func TestKubeletRegistration(t *testing.T) {
	e := newEnv(t)
	kubelet := filepath.Join(e.dir, "kubelet")
	endpoint := DefaultKubeletEndpoint(kubelet, DriverName)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.d.ServeRegistration(ctx, kubelet, endpoint) }()
	sock := RegistrationSocket(kubelet, DriverName)
	if want := filepath.Join(kubelet, "plugins_registry", "viso.csi.io-reg.sock"); sock != want {
		t.Fatalf("socket %s, want %s", sock, want)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := reg.NewRegistrationClient(conn)
	var info *reg.PluginInfo
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if info, err = c.GetInfo(ctx, &reg.InfoRequest{}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != reg.CSIPlugin || info.Name != DriverName || info.Endpoint != endpoint || len(info.SupportedVersions) != 1 || info.SupportedVersions[0] != "1.0.0" {
		t.Errorf("GetInfo = %+v", info)
	}
	if _, err := c.NotifyRegistrationStatus(ctx, &reg.RegistrationStatus{PluginRegistered: true}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeRegistration: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("registration socket left after stop: %v", err)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.d.HealthHandler())
	defer srv.Close()
	get := func() (int, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	old := fuseDevice
	fuseDevice = "/nonexistent/fuse"
	defer func() { fuseDevice = old }()
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "FUSE not available") {
		t.Errorf("without FUSE: %d %q", code, body)
	}
}

// TestRunRemovesRegistrationSocketOnStop: when Run returns after its context
// ends (SIGTERM), the registration socket is already gone, so the kubelet
// deregisters the plugin even though the process exits right after. Run used
// to return without waiting for the registration server, and the e2e test saw
// the socket (and the driver in CSINode) left after helm uninstall.
func TestRunRemovesRegistrationSocketOnStop(t *testing.T) {
	dir := t.TempDir()
	kubelet := filepath.Join(dir, "kubelet")
	media := filepath.Join(dir, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := RegistrationSocket(kubelet, DriverName)
	for i := range 10 { // the old race lost only sometimes
		d, err := New(Options{
			Version: "test", NodeID: "node-1", Mode: ModeNode,
			StateDir: filepath.Join(dir, "state"), MediaRoots: []string{media},
			KubeletRegistration: true, KubeletDir: kubelet,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, "unix://"+filepath.Join(dir, "csi.sock")) }()
		deadline := time.Now().Add(10 * time.Second)
		for _, err := os.Stat(sock); err != nil; _, err = os.Stat(sock) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: registration socket never appeared: %v", i, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("round %d: Run: %v", i, err)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Fatalf("round %d: registration socket still there when Run returned: %v", i, err)
		}
	}
}
