package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenFlagsString(t *testing.T) {
	tests := []struct {
		f    OpenFlags
		want string
	}{
		{0, "0"},
		{OpenReadOnly, "READONLY"},
		{OpenReadOnly | OpenInfo, "READONLY|INFO"},
		{KnownOpenFlags, "READONLY|INFO|ASYNC_IO|SHAREABLE|SEQUENTIAL|SKIP_CONSISTENCY_CHECKS"},
		{OpenReadOnly | 1<<20, "READONLY|0x100000"},
	}
	for _, tc := range tests {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%#x.String() = %q, want %q", uint32(tc.f), got, tc.want)
		}
	}
}

func TestCheckOpenFlags(t *testing.T) {
	tests := []struct {
		f    OpenFlags
		want error
	}{
		{0, nil},
		{KnownOpenFlags, nil},
		{OpenInfo | OpenSequential, nil},
		{1 << 6, ErrInvalidFlags},
		{OpenReadOnly | 1<<31, ErrInvalidFlags},
	}
	for _, tc := range tests {
		err := CheckOpenFlags(tc.f)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CheckOpenFlags(%s) = %v, want %v", tc.f, err, tc.want)
		}
	}
}

func TestConfigBool(t *testing.T) {
	c := Config{
		"one": "1", "zero": "0", "two": "2", "hex": "0x10", "hexzero": "0x0", "true": "true",
		"empty": "", "neg": "-1", "space": " 1 ", "huge": "99999999999999999999999", "mixed": "1a",
	}
	tests := []struct {
		key  string
		want bool
	}{
		{"one", true}, {"zero", false}, {"two", true}, {"hex", true}, {"hexzero", false},
		{"true", false}, {"empty", false}, {"neg", false}, {"space", true}, {"huge", true},
		{"mixed", false}, {"missing", false},
	}
	for _, tc := range tests {
		if got := c.Bool(tc.key); got != tc.want {
			t.Errorf("Bool(%q=%q) = %v, want %v", tc.key, c[tc.key], got, tc.want)
		}
	}
	if Config(nil).Bool("x") {
		t.Error("nil Config: Bool = true")
	}
}

func TestClampRead(t *testing.T) {
	tests := []struct {
		off   int64
		n     int
		size  int64
		wantN int
		want  error
	}{
		{0, 10, 100, 10, nil},
		{90, 10, 100, 10, nil},
		{95, 10, 100, 5, io.EOF},
		{100, 0, 100, 0, nil},
		{100, 1, 100, 0, io.EOF},
		{101, 0, 100, 0, io.EOF},
		{0, 0, 0, 0, nil},
		{0, 1, 0, 0, io.EOF},
		{-1, 1, 100, 0, ErrNegativeOffset},
	}
	for _, tc := range tests {
		n, err := ClampRead(tc.off, tc.n, tc.size)
		if n != tc.wantN || !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("ClampRead(%d, %d, %d) = %d, %v; want %d, %v", tc.off, tc.n, tc.size, n, err, tc.wantN, tc.want)
		}
	}
}

func TestCompose(t *testing.T) {
	if got := ComposeLocation("/vms/deb", "aux.viso"); got != "/vms/deb/aux.viso" {
		t.Errorf("ComposeLocation = %q", got)
	}
	if got := ComposeName("/vms/deb/aux.viso"); got != "aux.viso" {
		t.Errorf("ComposeName = %q", got)
	}
}

func TestDeviceType(t *testing.T) {
	tests := []struct {
		d, want DeviceType
		ok      bool
	}{
		{DeviceOpticalDisc, DeviceDontCare, true},
		{DeviceOpticalDisc, DeviceOpticalDisc, true},
		{DeviceOpticalDisc, DeviceHardDisk, false},
		{DeviceHardDisk, DeviceFloppy, false},
	}
	for _, tc := range tests {
		if got := tc.d.Accepts(tc.want); got != tc.ok {
			t.Errorf("%s.Accepts(%s) = %v", tc.d, tc.want, got)
		}
	}
	if DeviceType(9).String() != "device type 9" || DeviceOpticalDisc.String() != "optical disc" {
		t.Error("DeviceType.String")
	}
}

// fake is a backend whose probe answer is fixed per file name.
type fake struct {
	name    string
	exts    []Extension
	answers map[string]fakeAnswer // by base name
}

type fakeAnswer struct {
	t   DeviceType
	err error
}

func (f *fake) Name() string               { return f.name }
func (f *fake) Capabilities() Capabilities { return CapFileBased }
func (f *fake) Extensions() []Extension    { return f.exts }
func (f *fake) ConfigKeys() []ConfigKey    { return nil }
func (f *fake) Probe(_ context.Context, path string, _ DeviceType) (DeviceType, error) {
	if a, ok := f.answers[filepath.Base(path)]; ok {
		return a.t, a.err
	}
	if _, err := os.Stat(path); err != nil {
		return DeviceUnknown, err
	}
	return DeviceUnknown, fmt.Errorf("%s: %w", f.name, ErrInvalidHeader)
}
func (f *fake) Open(_ context.Context, path string, flags OpenFlags, want DeviceType, _ Config) (Image, error) {
	if err := CheckOpenFlags(flags); err != nil {
		return nil, err
	}
	return &fakeImage{backend: f.name, path: path, t: want}, nil
}

type fakeImage struct {
	Image         // unimplemented methods panic; the registry test touches only these
	backend, path string
	t             DeviceType
}

func (i *fakeImage) Location() string { return i.path }

func TestRegistryProbe(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.viso", "b.iso", "c.iso", "d.img", "e.viso", "f.bin", "g.ISO", "h.iso"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	viso := &fake{name: "VBoxIsoMaker", exts: []Extension{{"viso", DeviceOpticalDisc}}, answers: map[string]fakeAnswer{
		"a.viso": {DeviceOpticalDisc, nil},
		"c.iso":  {DeviceOpticalDisc, nil}, // a VISO misnamed .iso: content beats extension
		"e.viso": {DeviceOpticalDisc, fmt.Errorf("bad UUID: %w", ErrImageCorrupted)},
		"h.iso":  {DeviceOpticalDisc, fmt.Errorf("too big: %w", ErrInvalidSize)},
	}}
	raw := &fake{name: "RAW", exts: []Extension{{"iso", DeviceOpticalDisc}, {"img", DeviceHardDisk}}, answers: map[string]fakeAnswer{
		"b.iso": {DeviceOpticalDisc, nil},
		"c.iso": {DeviceOpticalDisc, nil},
		"h.iso": {DeviceOpticalDisc, nil},
	}}
	reg, err := NewRegistry(viso, raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file     string
		want     DeviceType
		backend  string
		gotType  DeviceType
		err      error
		alsoErrs []error
	}{
		{file: "a.viso", backend: "VBoxIsoMaker", gotType: DeviceOpticalDisc},
		{file: "b.iso", backend: "RAW", gotType: DeviceOpticalDisc},
		{file: "c.iso", backend: "VBoxIsoMaker", gotType: DeviceOpticalDisc},
		{file: "d.img", backend: "RAW", gotType: DeviceHardDisk},                                      // extension fallback
		{file: "d.img", want: DeviceOpticalDisc, err: ErrInvalidHeader},                               // extension type does not fit
		{file: "e.viso", backend: "VBoxIsoMaker", gotType: DeviceOpticalDisc, err: ErrImageCorrupted}, // recognised, corrupted
		{file: "h.iso", backend: "VBoxIsoMaker", gotType: DeviceOpticalDisc, err: ErrInvalidSize},     // recognised first, beats RAW
		{file: "g.ISO", backend: "RAW", gotType: DeviceOpticalDisc},                                   // extension case-insensitive
		{file: "f.bin", err: ErrInvalidHeader},
		{file: "missing.bin", err: ErrInvalidHeader, alsoErrs: []error{fs.ErrNotExist}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.file, tc.want), func(t *testing.T) {
			b, typ, err := reg.Probe(context.Background(), filepath.Join(dir, tc.file), tc.want)
			if tc.err == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			for _, e := range tc.alsoErrs {
				if !errors.Is(err, e) {
					t.Errorf("err = %v, want it to match %v too", err, e)
				}
			}
			name := ""
			if b != nil {
				name = b.Name()
			}
			if name != tc.backend || typ != tc.gotType {
				t.Fatalf("Probe = %q, %s; want %q, %s", name, typ, tc.backend, tc.gotType)
			}
		})
	}
}

func TestRegistryOpenAndRegister(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "b.iso")
	if err := os.WriteFile(iso, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := &fake{name: "RAW", exts: []Extension{{"iso", DeviceOpticalDisc}}}
	reg := &Registry{}
	if err := reg.Register(raw); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(&fake{name: "raw"}); !errors.Is(err, ErrDuplicateBackend) {
		t.Fatalf("duplicate Register = %v", err)
	}
	if reg.Lookup("Raw") != raw || reg.Lookup("VBoxIsoMaker") != nil {
		t.Fatal("Lookup")
	}
	img, err := reg.Open(context.Background(), iso, OpenReadOnly, DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi := img.(*fakeImage); fi.backend != "RAW" || fi.t != DeviceOpticalDisc {
		t.Fatalf("Open chose %s as %s", fi.backend, fi.t)
	}
	if _, err := reg.Open(context.Background(), iso, 1<<30, DeviceDontCare, nil); !errors.Is(err, ErrInvalidFlags) {
		t.Fatalf("Open with bad flags = %v", err)
	}
	if _, err := reg.Open(context.Background(), filepath.Join(dir, "x.bin"), 0, DeviceDontCare, nil); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("Open unknown = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := reg.Probe(ctx, iso, DeviceDontCare); !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe with cancelled context = %v", err)
	}
}

func TestOptionalNotSupported(t *testing.T) {
	ctx := context.Background()
	b := &fake{name: "F"}
	img := &fakeImage{path: "/x"}
	checks := map[string]error{
		"create":     func() error { _, err := Create(ctx, b, "/x", 1, DeviceHardDisk, 0, nil); return err }(),
		"repair":     Repair(ctx, b, "/x"),
		"rename":     Rename(img, "/y"),
		"compact":    Compact(ctx, img),
		"resize":     Resize(ctx, img, 1),
		"traverse":   TraverseMetadata(ctx, img, func(int64, int64) error { return nil }),
		"timestamps": func() error { _, err := Timestamps(img); return err }(),
	}
	for op, err := range checks {
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s = %v, want ErrNotSupported", op, err)
		}
	}
	// An image implementing the optional interface is dispatched to.
	r := &renamingImage{fakeImage: fakeImage{path: "/x"}}
	if err := Rename(r, "/y"); err != nil || r.to != "/y" {
		t.Errorf("Rename dispatch: %v, %q", err, r.to)
	}
}

type renamingImage struct {
	fakeImage
	to string
}

func (r *renamingImage) Rename(p string) error { r.to = p; return nil }
