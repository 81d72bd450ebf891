// Package chart tests the Helm chart in charts/csi-viso and the plain manifests in
// deploy/kubernetes: it renders the chart with the helm CLI built from its Go module
// (test/e2e/cluster/helmbuild), decodes the output into typed Kubernetes objects and checks
// what users rely on.
package chart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the csi-viso checkout: go test runs in the package folder, test/chart.
const repoRoot = "../.."

var chartDir = filepath.Join(repoRoot, "charts", "csi-viso")

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBin returns the helm CLI: $HELM when set, else the binary test/e2e/cluster/build.sh
// caches under ${CSI_VISO_CACHE:-~/.cache/csi-viso}/helm-vVER/bin/helm, building it there
// (with the same stamp build.sh writes, so neither rebuilds what the other built) when it
// is missing. A cold build takes a few minutes; later ones reuse the Go build cache.
func helmBin(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, helmErr = locateHelm() })
	if helmErr != nil {
		t.Fatalf("helm CLI: %v", helmErr)
	}
	return helmPath
}

func locateHelm() (string, error) {
	if p := os.Getenv("HELM"); p != "" {
		return p, nil
	}
	mod := filepath.Join(repoRoot, "test", "e2e", "cluster", "helmbuild")
	gomod, err := os.ReadFile(filepath.Join(mod, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("helm's build module: %w", err)
	}
	m := regexp.MustCompile(`(?m)^require helm\.sh/helm/v3 v(\S+)$`).FindSubmatch(gomod)
	if m == nil {
		return "", errors.New("test/e2e/cluster/helmbuild/go.mod does not require helm.sh/helm/v3")
	}
	ver := string(m[1])
	cache := os.Getenv("CSI_VISO_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no CSI_VISO_CACHE and no home folder: %w", err)
		}
		cache = filepath.Join(home, ".cache", "csi-viso")
	}
	bin := filepath.Join(cache, "helm-v"+ver, "bin", "helm")
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	// The same flags and stamp as test/e2e/cluster/build.sh.
	ldflags := "-s -w -X helm.sh/helm/v3/internal/version.version=v" + ver +
		" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("helm cache folder: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin+".tmp", "helm.sh/helm/v3/cmd/helm")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build helm v%s in %s: %w\n%s", ver, mod, err, out)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		return "", fmt.Errorf("install helm: %w", err)
	}
	if stamp, err := buildStamp(mod, ldflags); err == nil {
		_ = os.WriteFile(filepath.Join(filepath.Dir(bin), ".stamp"), []byte(stamp+"\n"), 0o644)
	}
	return bin, nil
}

// buildStamp reproduces build.sh's stamp: sha256 of `go version`, go.mod, go.sum and the
// ldflags line, first 16 hex digits.
func buildStamp(mod, ldflags string) (string, error) {
	gv, err := exec.Command("go", "version").Output()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(gv)
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	h.Write([]byte(ldflags + "\n"))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// helm runs the helm CLI and returns stdout; a failure returns stderr in the error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	// Keep helm away from the user's repositories and plugins.
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// render runs `helm template csi-viso charts/csi-viso -n csi-viso` with the values files
// and --set pairs given, and decodes the result.
func render(t *testing.T, valuesFiles []string, sets ...string) *Objects {
	t.Helper()
	out, err := renderRaw(t, valuesFiles, sets...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll([]byte(out))
	if err != nil {
		t.Fatalf("decode rendered chart: %v", err)
	}
	return objs
}

func renderRaw(t *testing.T, valuesFiles []string, sets ...string) (string, error) {
	t.Helper()
	args := []string{"template", "csi-viso", chartDir, "--namespace", "csi-viso"}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return helm(t, args...)
}
