package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBuildFromCatalog: `build --media-catalog --cache-dir` of a VISO that
// imports a catalog name writes the same bytes as the same VISO with the
// ISO beside it; a second build makes no HTTP request; a URL in a VISO is
// refused, saying why.
func TestBuildFromCatalog(t *testing.T) {
	// A base ISO: the image of a small VISO.
	basePath := writeVISO(t, "--rock-ridge /isolinux/isolinux.cfg=cfg /install/vmlinuz=kernel\n",
		map[string]string{"cfg": "default install\n", "kernel": strings.Repeat("k", 300000)})
	base := filepath.Join(t.TempDir(), "debian-12.iso")
	if code, _, stderr := runCLI("build", basePath, "-o", base); code != 0 {
		t.Fatalf("build base: %s", stderr)
	}
	iso, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.ServeContent(w, r, "debian-12.iso", time.Time{}, bytes.NewReader(iso))
	}))
	defer srv.Close()
	sum := sha256.Sum256(iso)
	cat := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(cat, []byte(fmt.Sprintf(`{"media": [{"name": "debian-12.iso", "url": %q, "sha256": %q, "size": %d}]}`,
		srv.URL+"/debian-12.iso", hex.EncodeToString(sum[:]), len(iso))), 0o644); err != nil {
		t.Fatal(err)
	}
	body := "--rock-ridge --import-iso=debian-12.iso\n/isolinux/isolinux.cfg=:must-remove: /isolinux/isolinux.cfg=Unattended-cfg /preseed.cfg=Unattended-preseed\n"
	files := map[string]string{"Unattended-cfg": "default auto\n", "Unattended-preseed": "d-i x string y\n"}
	remaster := writeVISO(t, body, files)
	cache := t.TempDir()
	out1 := filepath.Join(t.TempDir(), "out1.iso")
	if code, _, stderr := runCLI("build", remaster, "--media-catalog", cat, "--cache-dir", cache, "-o", out1); code != 0 {
		t.Fatalf("build from the catalog: exit %d: %s", code, stderr)
	}
	files["debian-12.iso"] = string(iso)
	local := writeVISO(t, body, files)
	out2 := filepath.Join(t.TempDir(), "out2.iso")
	if code, _, stderr := runCLI("build", local, "-o", out2); code != 0 {
		t.Fatalf("build with the ISO beside the VISO: %s", stderr)
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Fatalf("catalog build (%d bytes) differs from the local one (%d bytes)", len(a), len(b))
	}
	before := requests.Load()
	if code, _, stderr := runCLI("build", remaster, "--media-catalog", cat, "--cache-dir", cache, "-o", out1); code != 0 {
		t.Fatalf("second build: %s", stderr)
	}
	if n := requests.Load() - before; n != 0 {
		t.Errorf("second build made %d HTTP requests, want 0", n)
	}
	url := writeVISO(t, "--import-iso="+srv.URL+"/debian-12.iso\n", nil)
	code, _, stderr := runCLI("build", url, "--media-catalog", cat, "--cache-dir", cache, "-o", out1)
	if code != 1 || !strings.Contains(stderr, "a URL is not a source") || !strings.Contains(stderr, "test.viso:2") {
		t.Errorf("VISO with a URL: exit %d, %s", code, stderr)
	}
	// A catalog entry with the wrong digest fails the build and names both digests.
	badCat := filepath.Join(t.TempDir(), "bad.json")
	wrong := strings.Repeat("0", 64)
	os.WriteFile(badCat, []byte(fmt.Sprintf(`{"media": [{"name": "debian-12.iso", "url": %q, "sha256": %q}]}`, srv.URL+"/debian-12.iso", wrong)), 0o644)
	code, _, stderr = runCLI("build", remaster, "--media-catalog", badCat, "--cache-dir", t.TempDir(), "-o", out1)
	if code != 1 || !strings.Contains(stderr, wrong) || !strings.Contains(stderr, hex.EncodeToString(sum[:])) {
		t.Errorf("wrong digest: exit %d, %s", code, stderr)
	}
}
