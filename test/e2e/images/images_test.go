package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerMembers lists name -> (typeflag, linkname or content) of a tar stream.
func layerMembers(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	m := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			m[h.Name] = "dir"
		case tar.TypeSymlink:
			m[h.Name] = "link:" + h.Linkname
		default:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s: %v", h.Name, err)
			}
			m[h.Name] = "file:" + string(b)
		}
	}
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLayer(t *testing.T) {
	dir := t.TempDir()
	bin := writeFile(t, filepath.Join(dir, "tool"), "#!binary", 0o755)
	passwd := writeFile(t, filepath.Join(dir, "passwd"), "me:x:1:1::/:/x\n", 0o644)
	tests := []struct {
		name    string
		spec    Spec
		want    map[string]string // members that must be present with this value
		wantErr error
	}{
		{
			name: "binary in a nested folder gets its parents and the base files",
			spec: Spec{Files: []File{{Host: bin, Image: "/usr/local/bin/tool"}}},
			want: map[string]string{
				"usr/": "dir", "usr/local/": "dir", "usr/local/bin/": "dir", "tmp/": "dir", "proc/": "dir",
				"usr/local/bin/tool": "file:#!binary", "etc/group": "file:root:x:0:\nnogroup:x:65534:\n",
			},
		},
		{
			name: "symlinks and a caller's /etc/passwd replace nothing else",
			spec: Spec{Files: []File{{Host: bin, Image: "/bin/tool"}, {Host: passwd, Image: "/etc/passwd"}},
				Symlinks: map[string]string{"/bin/sh": "tool"}},
			want: map[string]string{"bin/sh": "link:tool", "etc/passwd": "file:me:x:1:1::/:/x\n"},
		},
		{name: "relative image path", spec: Spec{Files: []File{{Host: bin, Image: "tool"}}}, wantErr: ErrBadSpec},
		{name: "unclean image path", spec: Spec{Files: []File{{Host: bin, Image: "/a/../tool"}}}, wantErr: ErrBadSpec},
		{name: "same path twice", spec: Spec{Files: []File{{Host: bin, Image: "/x"}, {Host: bin, Image: "/x"}}}, wantErr: ErrBadSpec},
		{name: "file under a file", spec: Spec{Files: []File{{Host: bin, Image: "/x"}, {Host: bin, Image: "/x/y"}}}, wantErr: ErrBadSpec},
		{name: "link over a file", spec: Spec{Files: []File{{Host: bin, Image: "/x"}}, Symlinks: map[string]string{"/x": "y"}}, wantErr: ErrBadSpec},
		{name: "host file is a folder", spec: Spec{Files: []File{{Host: dir, Image: "/x"}}}, wantErr: ErrBadSpec},
		{name: "host file missing", spec: Spec{Files: []File{{Host: filepath.Join(dir, "nope"), Image: "/x"}}}, wantErr: os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Layer(tc.spec)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := layerMembers(t, bytes.NewReader(data))
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("member %s = %q, want %q", k, got[k], v)
				}
			}
			again, err := Layer(tc.spec)
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("layer is not deterministic (err %v)", err)
			}
		})
	}
}

// TestWriteOCI reads the archive back with go-containerregistry's layout reader and checks
// what containerd relies on: the name annotation, platform, entrypoint and the layer.
func TestWriteOCI(t *testing.T) {
	dir := t.TempDir()
	bin := writeFile(t, filepath.Join(dir, "csi-viso"), "payload", 0o755)
	out := filepath.Join(dir, "img.tar")
	var msg bytes.Buffer
	if err := run([]string{"-o", out, "-name", "csi-viso.local/csi-viso:e2e", "-bin", bin, "-cmd", "driver,--mode=node"}, &msg); err != nil {
		t.Fatalf("run: %v (%s)", err, msg.String())
	}
	lay := filepath.Join(dir, "layout")
	untar(t, out, lay)
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if got := desc.Annotations[annotationContainerdName]; got != "csi-viso.local/csi-viso:e2e" {
		t.Errorf("containerd name annotation = %q", got)
	}
	if desc.MediaType != types.OCIManifestSchema1 || desc.Platform == nil || desc.Platform.OS != "linux" {
		t.Errorf("descriptor = %+v", desc)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/csi-viso" {
		t.Errorf("entrypoint = %q, want /csi-viso", got)
	}
	if got := strings.Join(cf.Config.Cmd, " "); got != "driver --mode=node" {
		t.Errorf("cmd = %q", got)
	}
	checkLayerHas(t, img, "csi-viso", "file:payload")
}

func TestWriteDockerAndFlags(t *testing.T) {
	dir := t.TempDir()
	bin := writeFile(t, filepath.Join(dir, "pause"), "p", 0o755)
	out := filepath.Join(dir, "img.tar")
	if err := run([]string{"-o", out, "-name", "x.local/pause:1", "-bin", bin, "-path", "/sbin/pause", "-format", "docker", "-entrypoint="}, io.Discard); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("x.local/pause:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 0 {
		t.Errorf("-entrypoint= left entrypoint %q", cf.Config.Entrypoint)
	}
	checkLayerHas(t, img, "sbin/pause", "file:p")

	for _, args := range [][]string{
		{"-o", out, "-name", "x:1"},                                  // no -bin
		{"-o", out, "-name", "UPPER/x:1", "-bin", bin},               // bad reference
		{"-o", out, "-name", "x:1", "-bin", bin, "-format", "zip"},   // bad format
		{"-o", out, "-name", "x:1", "-bin", bin, "-file", "nothing"}, // bad -file
		{"-o", out, "-name", "x:1", "-bin", bin, "-busybox-applets"}, // not a busybox
		{"-o", filepath.Join(dir, "no", "such", "dir"), "-name", "x:1", "-bin", bin},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestBusyboxApplets(t *testing.T) {
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Fatalf("%s is needed (Debian busybox-static, installed by test/e2e/cluster/up.sh): %v", bb, err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "bb.tar")
	if err := run([]string{"-o", out, "-name", "x.local/bb:1", "-bin", bb, "-path", "/bin/busybox", "-busybox-applets", "-entrypoint=", "-cmd", "/bin/sh"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(dir, "layout")
	untar(t, out, lay)
	idx, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"bin/sh", "bin/sha256sum", "bin/cat"} {
		checkLayerHas(t, img, applet, "link:busybox")
	}
}

func checkLayerHas(t *testing.T, img v1.Image, member, want string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got := layerMembers(t, rc)[member]; got != want {
		t.Errorf("layer member %s = %q, want %q", member, got, want)
	}
}

func untar(t *testing.T, archive, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", archive, "-C", dst).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
}
