package sanity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
)

// failRecorder is the GinkgoTestingT of a child run.
type failRecorder struct{ failed atomic.Bool }

func (f *failRecorder) Fail() { f.failed.Store(true) }

// runChild runs one csi-sanity suite against the driver binary; it returns
// the process exit code.
func runChild(kind, bin, work string) int {
	if err := child(kind, bin, work); err != nil {
		fmt.Fprintf(os.Stderr, "sanity %s: %v\n", kind, err)
		return 1
	}
	return 0
}

func child(kind, bin, work string) error {
	media := filepath.Join(work, "media")
	if err := os.MkdirAll(media, 0o755); err != nil {
		return err
	}
	src := filepath.Join(work, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for n, c := range sanityFiles {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			return err
		}
	}
	if out, err := exec.Command(bin, "build", filepath.Join(src, "small.viso"), "-o", filepath.Join(media, "small.iso")).CombinedOutput(); err != nil {
		return fmt.Errorf("csi-viso build: %v\n%s", err, out)
	}
	args := []string{"driver", "--node-id", "sanity-node", "--mode", "all", "--state-dir", filepath.Join(work, "state"),
		"--media-root", media, "--v", "3", "--kubelet-registration=false"}
	params := "image: small.iso\nfileName: disk.img\n"
	accessType := "mount"
	switch kind {
	case "image":
	case "image-block":
		// A private ISO: served through FUSE with a loop device over the
		// FUSE file (the world-readable one of "image" takes the kernel path).
		accessType = "block"
		if err := os.Chmod(filepath.Join(media, "small.iso"), 0o600); err != nil {
			return err
		}
	case "configmap":
		api := httptest.NewServer(configMapAPI("sanity", "viso", sanityFiles))
		defer api.Close()
		kubeconfig := filepath.Join(work, "kubeconfig")
		if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(kubeconfigTemplate, api.URL)), 0o600); err != nil {
			return err
		}
		args = append(args, "--kubeconfig", kubeconfig)
		params = "configMap: viso\nkey: small.viso\ncsi.storage.k8s.io/pvc/namespace: sanity\n"
	default:
		return fmt.Errorf("unknown case %q", kind)
	}
	paramsFile := filepath.Join(work, "params.yaml")
	if err := os.WriteFile(paramsFile, []byte(params), 0o644); err != nil {
		return err
	}
	sock := filepath.Join(work, "csi.sock")
	health, err := freeAddress()
	if err != nil {
		return err
	}
	args = append(args, "--endpoint", "unix://"+sock, "--health-address", health)
	logFile, err := os.Create(filepath.Join(work, "driver.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proc := exec.CommandContext(ctx, bin, args...)
	proc.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=") // never reach a real cluster
	proc.Stdout, proc.Stderr = logFile, logFile
	proc.Cancel = func() error { return proc.Process.Signal(os.Interrupt) }
	if err := proc.Start(); err != nil {
		return err
	}
	defer func() { cancel(); _ = proc.Wait() }()
	if err := waitForSocket(sock, proc); err != nil {
		return err
	}
	if err := checkHealth(health); err != nil {
		return err
	}

	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + sock
	cfg.TargetPath = filepath.Join(work, "target")
	cfg.StagingPath = filepath.Join(work, "staging")
	cfg.TestVolumeParametersFile = paramsFile
	cfg.TestVolumeAccessType = accessType
	cfg.TestVolumeSize = 1 << 20
	cfg.IdempotentCount = 2
	rec := &failRecorder{}
	sanity.Test(rec, cfg)
	if rec.failed.Load() {
		b, _ := os.ReadFile(logFile.Name())
		return fmt.Errorf("csi-sanity failed; driver log:\n%s", tail(string(b), 200))
	}
	// Every volume sanity created is gone from the node: no state left.
	left, err := os.ReadDir(filepath.Join(work, "state", "node"))
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("node state left after the suite: %d entries", len(left))
	}
	return nil
}

const kubeconfigTemplate = `apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: %s
contexts:
- name: standin
  context:
    cluster: standin
    user: standin
current-context: standin
users:
- name: standin
  user:
    token: sanity
`

// configMapAPI is a minimal stand-in for the Kubernetes API: it answers GET
// for one ConfigMap and NotFound for every other object. It is all the node
// needs to stage a VISO (the controller needs nothing for a ConfigMap named
// in the parameters).
func configMapAPI(namespace, name string, data map[string]string) http.Handler {
	cm := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": namespace, "uid": "6f1b7c4e-sanity", "resourceVersion": "1"},
		"data":     data,
	}
	path := fmt.Sprintf("/api/v1/namespaces/%s/configmaps/%s", namespace, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == path:
			_ = json.NewEncoder(w).Encode(cm)
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
				"message": fmt.Sprintf("%s not found", parts[len(parts)-1]),
			})
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
			_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "MethodNotAllowed", "code": 405})
		}
	})
}
