package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csi-viso/csi-viso/pkg/viso/argv"
	"github.com/csi-viso/csi-viso/test/boot/boottest"
)

// bootKeys is a ConfigMap whose VISO boots the boot-test payload with
// isolinux (BIOS, no emulation, boot info table): the payload comes from a
// media root by absolute path, two data files are keys of the ConfigMap.
func bootKeys(p boottest.PayloadFiles) map[string]string {
	args := []string{"--iprt-iso-maker-file-marker-bourne-sh", "6c0e1f7a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
		"--rock-ridge", "--volume-id=CSIVISO_DRIVER"}
	tree := p.Tree()
	paths := make([]string, 0, len(tree))
	for k := range tree {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	for _, k := range paths {
		args = append(args, "/"+k+"="+tree[k])
	}
	args = append(args, "/data/hello.txt=hello.txt", "/data/blob.bin=blob.bin",
		"-b", "/"+boottest.ImageIsolinuxBin, "--no-emulation-boot", "--boot-load-size", "4", "--boot-info-table",
		"-c", "/"+boottest.ImageBootCatalog)
	blob := make([]byte, 700*1024+3)
	for i := range blob {
		blob[i] = byte('a' + (i*7+i>>11)%26) // printable: ConfigMap data is text
	}
	return map[string]string{"boot.viso": argv.JoinBourne(args), "hello.txt": "hello from a ConfigMap\n", "blob.bin": string(blob)}
}

type bootWant struct {
	size int64
	sum  string
}

// bootExpectations lists every file the guest must see with its bytes; the
// boot image is left out (its boot info table is patched in) but counted.
func bootExpectations(t *testing.T, p boottest.PayloadFiles, keys map[string]string) map[string]bootWant {
	t.Helper()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	want := map[string]bootWant{}
	for img, host := range p.Tree() {
		if img == boottest.ImageIsolinuxBin {
			continue
		}
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		want["/"+img] = bootWant{int64(len(b)), sum(b)}
	}
	for _, k := range []string{"hello.txt", "blob.bin"} {
		want["/data/"+k] = bootWant{int64(len(keys[k])), sum([]byte(keys[k]))}
	}
	return want
}

// TestQEMUBootsPublishedVolume boots a VISO-backed volume in BIOS mode as a
// CD-ROM through what a pod or KubeVirt VM gets: the published disk.img of a
// filesystem volume, and the loop device of a block volume; and the same
// image as a private plain ISO (FUSE passthrough under the loop device). The guest mounts
// the CD with the Linux isofs driver; its Rock Ridge and Joliet listings
// must hold exactly the VISO's files with their bytes.
func TestQEMUBootsPublishedVolume(t *testing.T) {
	p := boottest.Payload(t)
	e := newEnv(t, withMediaRoot(p.Dir))
	keys := bootKeys(p)
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(context.Background(), configMap("boot", keys), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := bootExpectations(t, p, keys)
	// The same image built to a private ISO in a media root: served raw
	// through FUSE passthrough (not the kernel path, which needs 0444).
	dir := t.TempDir()
	for k, c := range keys {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	buildVISOFile(t, keys["boot.viso"], dir, filepath.Join(e.media, "boot.iso"), p.Dir)
	if err := os.Chmod(filepath.Join(e.media, "boot.iso"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		block  bool
	}{
		{"viso-filesystem", map[string]string{AttrConfigMap: "boot"}, false},
		{"viso-block", map[string]string{AttrConfigMap: "boot"}, true},
		{"raw-private-block", map[string]string{AttrImage: "boot.iso"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			v := e.publishPVC("boot-"+tc.name, tc.params, tc.block)
			res := boottest.Boot(t, boottest.ModeBIOS, v.Path)
			checkBootListing(t, res, want)
		})
	}
	e.assertClean()
}

func checkBootListing(t *testing.T, res boottest.Result, want map[string]bootWant) {
	t.Helper()
	for _, view := range []string{boottest.ViewRockRidge, boottest.ViewJoliet} {
		v := res.View(view)
		if v == nil {
			t.Fatalf("view %s missing (guest errors: %v)", view, res.Errors)
		}
		for path, w := range want {
			e, ok := v.Lookup(path)
			if !ok {
				t.Errorf("%s: %s missing", view, path)
				continue
			}
			if e.Type != boottest.TypeFile || e.Size != w.size || e.SHA256 != w.sum {
				t.Errorf("%s: %s = %c %d %s, want a file of %d bytes %s", view, path, e.Type, e.Size, e.SHA256, w.size, w.sum)
			}
		}
		var files []string
		for _, e := range v.Entries {
			if e.Type == boottest.TypeFile {
				files = append(files, e.Path)
			}
		}
		// Plus the boot image and the visible boot catalog.
		if len(files) != len(want)+2 {
			t.Errorf("%s: %d files %v, want %d", view, len(files), files, len(want)+2)
		}
	}
	if e, ok := res.View(boottest.ViewRockRidge).Lookup("/" + boottest.ImageIsolinuxBin); !ok || e.Type != boottest.TypeFile {
		t.Errorf("boot image missing from the guest's listing: %v", fmt.Sprint(e))
	}
}
