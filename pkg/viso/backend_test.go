package viso

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/backend/backendtest"
	"github.com/csi-viso/csi-viso/pkg/backend/raw"
)

const backendUUID = "4a7d0e65-58f2-4f0b-8f0b-1a2b3c4d5e6f"

// visoFolder writes a VISO with body after the marker line plus side files.
func visoFolder(t *testing.T, body string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "disc.viso")
	if err := os.WriteFile(p, []byte("--iprt-iso-maker-file-marker-bourne-sh "+backendUUID+"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildBytes materialises the image of the VISO at p independently of the backend.
func buildBytes(t *testing.T, p string) []byte {
	t.Helper()
	res, err := NewResolver(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	doc, err := ParseFile(p, res)
	if err != nil {
		t.Fatal(err)
	}
	img, err := doc.Build(res)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBackendIdentity(t *testing.T) {
	b := NewBackend(nil)
	if b.Name() != "VBoxIsoMaker" {
		t.Errorf("name %q", b.Name())
	}
	if ext := b.Extensions(); len(ext) != 1 || ext[0].Ext != "viso" || ext[0].Type != backend.DeviceOpticalDisc {
		t.Errorf("extensions %+v", ext)
	}
	if keys := b.ConfigKeys(); len(keys) != 1 || keys[0].Name != "UnattendedInstall" {
		t.Errorf("config keys %+v", keys)
	}
	if b.Capabilities()&backend.CapFileBased == 0 {
		t.Error("not file based")
	}
}

func TestBackendProbe(t *testing.T) {
	good := visoFolder(t, "/a.txt=a.txt\n", map[string]string{"a.txt": "a"})
	dir := t.TempDir()
	badUUID := filepath.Join(dir, "bad.viso")
	os.WriteFile(badUUID, []byte("--iprt-iso-maker-file-marker 'nope'\n/a=b\n"), 0o644)
	notVISO := filepath.Join(dir, "readme.viso")
	os.WriteFile(notVISO, []byte("hello\n"), 0o644)
	huge := filepath.Join(dir, "huge.viso")
	f, _ := os.Create(huge)
	f.WriteString("--iprt-iso-maker-file-marker " + backendUUID + "\n")
	f.Truncate(MaxFileSize + 1)
	f.Close()

	b := NewBackend(nil)
	tests := []struct {
		name     string
		path     string
		want     backend.DeviceType
		wantType backend.DeviceType
		wantErr  error
	}{
		{"VISO, optical", good, backend.DeviceOpticalDisc, backend.DeviceOpticalDisc, nil},
		{"VISO, don't care", good, backend.DeviceUnknown, backend.DeviceOpticalDisc, nil},
		{"VISO asked as hard disk", good, backend.DeviceHardDisk, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"malformed UUID is a broken optical disc", badUUID, backend.DeviceUnknown, backend.DeviceOpticalDisc, backend.ErrImageCorrupted},
		{"over 32 MiB is a broken optical disc", huge, backend.DeviceUnknown, backend.DeviceOpticalDisc, backend.ErrInvalidSize},
		{"not a VISO", notVISO, backend.DeviceUnknown, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"missing file", filepath.Join(dir, "nope.viso"), backend.DeviceUnknown, backend.DeviceUnknown, backend.ErrInvalidHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ, err := b.Probe(context.Background(), tc.path, tc.want)
			if typ != tc.wantType {
				t.Errorf("type %v, want %v", typ, tc.wantType)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestBackendConformance(t *testing.T) {
	p := visoFolder(t, "--rock-ridge /a.txt=a.txt /dir=tree\n", map[string]string{
		"a.txt": strings.Repeat("abc", 5000), "tree/x": "x", "tree/sub/y": strings.Repeat("y", 70000),
	})
	want := buildBytes(t, p)
	img, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.TestImage(t, img, want)
	if id, err := img.UUID(); err != nil || id.String() != backendUUID {
		t.Errorf("UUID %v %v", id, err)
	}
	if r := img.Regions(); len(r) != 1 || r[0].BlockSize != 2048 || r[0].Length != int64(len(want)) {
		t.Errorf("regions %+v", r)
	}
	if _, err := img.Write(0, []byte{1}); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("write: %v", err)
	}
	if err := img.SetGeometry(backend.Geometry{}, backend.Geometry{}); !errors.Is(err, backend.ErrReadOnly) {
		t.Errorf("set geometry: %v", err)
	}
	if err := img.Close(false); err != nil {
		t.Fatal(err)
	}
	backendtest.TestClosed(t, img)
	if _, err := os.Stat(p); err != nil {
		t.Fatal("Close(false) touched the VISO")
	}
}

func TestBackendInfoMode(t *testing.T) {
	p := visoFolder(t, "/a.txt=a.txt\n", map[string]string{"a.txt": "hello"})
	img, err := NewBackend(nil).Open(context.Background(), p, backend.OpenInfo, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close(false)
	backendtest.TestInfoImage(t, img)
	if img.Size() != 0 {
		t.Fatalf("info-mode size %d, want 0", img.Size())
	}
	if _, err := img.ReadAt(make([]byte, 10), 0); !errors.Is(err, backend.ErrNotOpened) {
		t.Fatalf("info-mode read: %v", err)
	}
	if id, _ := img.UUID(); id.String() != backendUUID {
		t.Fatalf("info-mode UUID %v", id)
	}
	if err := img.SetOpenFlags(context.Background(), backend.OpenInfo|1<<30); !errors.Is(err, backend.ErrInvalidFlags) {
		t.Fatalf("unknown flag accepted: %v", err)
	}
	if err := img.SetOpenFlags(context.Background(), backend.OpenShareable); err != nil {
		t.Fatal(err)
	}
	if f := img.OpenFlags(); f&backend.OpenInfo != 0 || f&backend.OpenReadOnly == 0 || f&backend.OpenShareable == 0 {
		t.Fatalf("flags after leaving info mode: %s", f)
	}
	backendtest.TestImage(t, img, buildBytes(t, p))
}

// TestBackendInfoModeBuildFailure: leaving info mode with a VISO whose image cannot
// be built fails and leaves the flags as they were.
func TestBackendInfoModeBuildFailure(t *testing.T) {
	p := visoFolder(t, "/a.txt=missing.txt\n", nil)
	if _, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceOpticalDisc, nil); err == nil ||
		!strings.Contains(err.Error(), "disc.viso:2") {
		t.Fatalf("full open of a broken VISO: %v", err)
	}
	img, err := NewBackend(nil).Open(context.Background(), p, backend.OpenInfo, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatalf("info open must not build: %v", err)
	}
	defer img.Close(false)
	before := img.OpenFlags()
	if err := img.SetOpenFlags(context.Background(), 0); err == nil {
		t.Fatal("leaving info mode succeeded for a broken VISO")
	}
	if img.OpenFlags() != before {
		t.Fatalf("flags changed to %s", img.OpenFlags())
	}
}

func TestBackendOpenWrongType(t *testing.T) {
	p := visoFolder(t, "/a.txt=a.txt\n", map[string]string{"a.txt": "a"})
	if _, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceHardDisk, nil); !errors.Is(err, backend.ErrNotSupported) {
		t.Fatalf("open as hard disk: %v", err)
	}
}

func TestBackendCloseDelete(t *testing.T) {
	const body = "/a.txt=Unattended-1-a.txt /b.txt=keep.txt\n"
	files := map[string]string{"Unattended-1-a.txt": "a", "keep.txt": "b", "Unattended-1-other.txt": "o"}
	tests := []struct {
		name       string
		cfg        backend.Config
		answerGone bool
	}{
		{"UnattendedInstall=1", backend.Config{"UnattendedInstall": "1"}, true},
		{"UnattendedInstall=0x10", backend.Config{"UnattendedInstall": "0x10"}, true},
		{"UnattendedInstall=0", backend.Config{"UnattendedInstall": "0"}, false},
		{"non-numeric means false", backend.Config{"UnattendedInstall": "yes"}, false},
		{"missing key", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := visoFolder(t, body, files)
			dir := filepath.Dir(p)
			img, err := NewBackend(nil).Open(context.Background(), p, 0, backend.DeviceOpticalDisc, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := img.Close(true); err != nil {
				t.Fatal(err)
			}
			exists := func(n string) bool { _, err := os.Stat(filepath.Join(dir, n)); return err == nil }
			if exists("disc.viso") {
				t.Error("VISO not deleted")
			}
			if exists("Unattended-1-a.txt") == tc.answerGone {
				t.Errorf("referenced answer file exists=%v", exists("Unattended-1-a.txt"))
			}
			if !exists("keep.txt") || !exists("Unattended-1-other.txt") {
				t.Error("deleted a file that was not ours to delete")
			}
		})
	}
}

func TestRegistryPicksVISO(t *testing.T) {
	p := visoFolder(t, "/a.txt=a.txt\n", map[string]string{"a.txt": "a"})
	reg, err := backend.NewRegistry(NewBackend(nil), raw.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, typ, err := reg.Probe(context.Background(), p, backend.DeviceUnknown)
	if err != nil || b.Name() != BackendName || typ != backend.DeviceOpticalDisc {
		t.Fatalf("probe: %v %v %v", b, typ, err)
	}
	iso := filepath.Join(t.TempDir(), "x.iso")
	if err := os.WriteFile(iso, buildBytes(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _, err = reg.Probe(context.Background(), iso, backend.DeviceUnknown)
	if err != nil || b.Name() == BackendName {
		t.Fatalf("ISO probed as %v, %v", b, err)
	}
}
