package raw

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/backend/backendtest"
)

// image returns pseudo-random bytes of the given size with id (if any) written
// as the first volume descriptor's standard identifier.
func image(size int, id string) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	if id != "" {
		copy(b[recognitionOffset:], id)
	} else if size > recognitionOffset+identifierLen {
		copy(b[recognitionOffset:], "XXXXX")
	}
	return b
}

type files struct {
	dir                              string
	iso, udf, plainImg, isoImg, bin  string
	small, empty, fifo, subdir, none string
	isoData, imgData                 []byte
}

func setup(t *testing.T) files {
	t.Helper()
	dir := t.TempDir()
	f := files{dir: dir}
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Not a multiple of 2048, to exercise the partial last block.
	f.isoData = image(40*OpticalBlockSize+123, "CD001")
	f.imgData = image(100*DiskBlockSize, "")
	f.iso = write("disc.iso", f.isoData)
	f.udf = write("win.iso", image(20*OpticalBlockSize, "BEA01"))
	f.plainImg = write("disk.img", f.imgData)
	f.isoImg = write("disc-as.img", f.isoData)
	f.bin = write("blob.bin", f.imgData)
	f.small = write("small.iso", []byte("CD001"))
	f.empty = write("empty.img", nil)
	f.fifo = filepath.Join(dir, "fifo.iso")
	if err := syscall.Mkfifo(f.fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f.subdir = filepath.Join(dir, "dir.iso")
	if err := os.Mkdir(f.subdir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.none = filepath.Join(dir, "missing.iso")
	return f
}

// withTimeout fails the test if fn blocks (a FIFO open must not).
func withTimeout(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked")
	}
}

func TestStatic(t *testing.T) {
	b := New(nil)
	if b.Name() != "RAW" || b.Capabilities() != backend.CapFileBased || len(b.ConfigKeys()) != 0 {
		t.Fatalf("static description: %s %v %v", b.Name(), b.Capabilities(), b.ConfigKeys())
	}
	exts := b.Extensions()
	if len(exts) != 2 || exts[0] != (backend.Extension{Ext: "iso", Type: backend.DeviceOpticalDisc}) ||
		exts[1] != (backend.Extension{Ext: "img", Type: backend.DeviceHardDisk}) {
		t.Fatalf("Extensions = %v", exts)
	}
}

func TestProbe(t *testing.T) {
	f := setup(t)
	b := New(nil)
	tests := []struct {
		name string
		path string
		want backend.DeviceType
		got  backend.DeviceType
		err  error
	}{
		{"ISO 9660", f.iso, backend.DeviceDontCare, backend.DeviceOpticalDisc, nil},
		{"ISO 9660, optical wanted", f.iso, backend.DeviceOpticalDisc, backend.DeviceOpticalDisc, nil},
		{"ISO 9660, hard disk wanted", f.iso, backend.DeviceHardDisk, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"UDF only", f.udf, backend.DeviceDontCare, backend.DeviceOpticalDisc, nil},
		{"ISO content named .img", f.isoImg, backend.DeviceDontCare, backend.DeviceOpticalDisc, nil},
		{"no descriptor", f.plainImg, backend.DeviceDontCare, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"too short", f.small, backend.DeviceDontCare, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"empty", f.empty, backend.DeviceDontCare, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{"missing", f.none, backend.DeviceDontCare, backend.DeviceUnknown, fs.ErrNotExist},
		{"directory", f.subdir, backend.DeviceDontCare, backend.DeviceUnknown, ErrNotRegular},
		{"fifo", f.fifo, backend.DeviceDontCare, backend.DeviceUnknown, ErrNotRegular},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got backend.DeviceType
			var err error
			withTimeout(t, func() { got, err = b.Probe(context.Background(), tc.path, tc.want) })
			if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("Probe err = %v, want %v", err, tc.err)
			}
			if got != tc.got {
				t.Fatalf("Probe = %s, want %s", got, tc.got)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Probe(ctx, f.iso, backend.DeviceDontCare); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled probe = %v", err)
	}
}

func TestOpenConformance(t *testing.T) {
	f := setup(t)
	b := New(nil)
	tests := []struct {
		name  string
		path  string
		want  backend.DeviceType
		data  []byte
		typ   backend.DeviceType
		block int64
	}{
		{"iso", f.iso, backend.DeviceDontCare, f.isoData, backend.DeviceOpticalDisc, OpticalBlockSize},
		{"iso as optical", f.iso, backend.DeviceOpticalDisc, f.isoData, backend.DeviceOpticalDisc, OpticalBlockSize},
		{"img by extension", f.plainImg, backend.DeviceDontCare, f.imgData, backend.DeviceHardDisk, DiskBlockSize},
		{"img with ISO content", f.isoImg, backend.DeviceDontCare, f.isoData, backend.DeviceOpticalDisc, OpticalBlockSize},
		{"unknown extension", f.bin, backend.DeviceDontCare, f.imgData, backend.DeviceHardDisk, DiskBlockSize},
		{"empty", f.empty, backend.DeviceDontCare, []byte{}, backend.DeviceHardDisk, DiskBlockSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := b.Open(context.Background(), tc.path, backend.OpenSequential, tc.want, nil)
			if err != nil {
				t.Fatal(err)
			}
			ri := img.(*Image)
			if ri.DeviceType() != tc.typ || img.Regions()[0].BlockSize != tc.block {
				t.Fatalf("type %s block %d, want %s %d", ri.DeviceType(), img.Regions()[0].BlockSize, tc.typ, tc.block)
			}
			if got := img.OpenFlags(); got != backend.OpenSequential|backend.OpenReadOnly {
				t.Fatalf("OpenFlags = %s (READONLY must be forced)", got)
			}
			backendtest.TestImage(t, img, tc.data)
			backendtest.TestClosed(t, img)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	f := setup(t)
	b := New(nil)
	tests := []struct {
		name  string
		path  string
		flags backend.OpenFlags
		err   error
	}{
		{"unknown flag", f.iso, backend.OpenReadOnly | 1<<12, backend.ErrInvalidFlags},
		{"missing", f.none, 0, fs.ErrNotExist},
		{"directory", f.subdir, 0, ErrNotRegular},
		{"fifo", f.fifo, 0, ErrNotRegular},
		{"fifo info", f.fifo, backend.OpenInfo, ErrNotRegular},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			withTimeout(t, func() { _, err = b.Open(context.Background(), tc.path, tc.flags, backend.DeviceDontCare, nil) })
			if !errors.Is(err, tc.err) {
				t.Fatalf("Open = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestInfoMode(t *testing.T) {
	f := setup(t)
	b := New(nil)
	ctx := context.Background()
	img, err := b.Open(ctx, f.iso, backend.OpenInfo, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.TestInfoImage(t, img)
	if img.Size() != int64(len(f.isoData)) {
		t.Fatalf("info Size = %d, want %d", img.Size(), len(f.isoData))
	}
	// Bad flags are refused and change nothing.
	if err := img.SetOpenFlags(ctx, backend.OpenInfo|1<<9); !errors.Is(err, backend.ErrInvalidFlags) {
		t.Fatalf("SetOpenFlags(bad) = %v", err)
	}
	// Staying in info mode keeps INFO and forces READONLY.
	if err := img.SetOpenFlags(ctx, backend.OpenInfo|backend.OpenShareable); err != nil {
		t.Fatal(err)
	}
	if got := img.OpenFlags(); got != backend.OpenInfo|backend.OpenShareable|backend.OpenReadOnly {
		t.Fatalf("OpenFlags = %s", got)
	}
	backendtest.TestInfoImage(t, img)
	// Leaving info mode opens the file.
	if err := img.SetOpenFlags(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if got := img.OpenFlags(); got != backend.OpenReadOnly {
		t.Fatalf("OpenFlags after leaving info = %s", got)
	}
	backendtest.TestImage(t, img, f.isoData)
	// Asking for INFO again while open: INFO is cleared, the data stays.
	if err := img.SetOpenFlags(ctx, backend.OpenInfo); err != nil {
		t.Fatal(err)
	}
	if got := img.OpenFlags(); got != backend.OpenReadOnly {
		t.Fatalf("OpenFlags after INFO on an open image = %s", got)
	}
	backendtest.TestClosed(t, img)
	if err := img.SetOpenFlags(ctx, 0); !errors.Is(err, backend.ErrNotOpened) {
		t.Fatalf("SetOpenFlags after Close = %v", err)
	}
}

func TestLeaveInfoFailureKeepsFlags(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, backend.OpenInfo, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.iso); err != nil {
		t.Fatal(err)
	}
	before := img.OpenFlags()
	if err := img.SetOpenFlags(context.Background(), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SetOpenFlags = %v, want not-exist", err)
	}
	if img.OpenFlags() != before {
		t.Fatalf("flags changed to %s after a failed switch", img.OpenFlags())
	}
	backendtest.TestInfoImage(t, img)
}

func TestOperations(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, 0, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close(false)
	uuidErr := func(_ uuid.UUID, err error) error { return err }
	tests := []struct {
		op   string
		err  error
		want error
	}{
		{"Write", func() error { _, err := img.Write(0, []byte{1}); return err }(), backend.ErrReadOnly},
		{"Flush", img.Flush(), nil},
		{"Discard", img.Discard(0, 2048), backend.ErrNotSupported},
		{"Geometry", func() error { _, _, err := img.Geometry(); return err }(), backend.ErrNotSupported},
		{"SetGeometry", img.SetGeometry(backend.Geometry{Cylinders: 1}, backend.Geometry{}), backend.ErrReadOnly},
		{"Comment", func() error { _, err := img.Comment(); return err }(), backend.ErrNotSupported},
		{"SetComment", img.SetComment("x"), backend.ErrNotSupported},
		{"UUID", uuidErr(img.UUID()), backend.ErrNotSupported},
		{"SetUUID", img.SetUUID(uuid.New()), backend.ErrNotSupported},
		{"ModificationUUID", uuidErr(img.ModificationUUID()), backend.ErrNotSupported},
		{"SetModificationUUID", img.SetModificationUUID(uuid.New()), backend.ErrNotSupported},
		{"ParentUUID", uuidErr(img.ParentUUID()), backend.ErrNotSupported},
		{"SetParentUUID", img.SetParentUUID(uuid.New()), backend.ErrNotSupported},
		{"ParentModificationUUID", uuidErr(img.ParentModificationUUID()), backend.ErrNotSupported},
		{"SetParentModificationUUID", img.SetParentModificationUUID(uuid.New()), backend.ErrNotSupported},
		{"Rename", backend.Rename(img, f.iso+".new"), backend.ErrNotSupported},
		{"Resize", backend.Resize(context.Background(), img, 1), backend.ErrNotSupported},
	}
	for _, tc := range tests {
		if (tc.want == nil) != (tc.err == nil) || (tc.want != nil && !errors.Is(tc.err, tc.want)) {
			t.Errorf("%s = %v, want %v", tc.op, tc.err, tc.want)
		}
	}
	if img.Version() != 1 || img.ImageFlags() != 0 || img.Location() != f.iso {
		t.Errorf("Version %d ImageFlags %d Location %q", img.Version(), img.ImageFlags(), img.Location())
	}
	if d := img.Dump(); !strings.Contains(d, f.iso) || !strings.Contains(d, "READONLY") || !strings.Contains(d, "size=82043") {
		t.Errorf("Dump = %q", d)
	}
}

// Close with delete releases the handle but never deletes the file.
func TestCloseDeleteRefused(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, 0, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Close(true); !errors.Is(err, backend.ErrReadOnly) {
		t.Fatalf("Close(true) = %v, want ErrReadOnly", err)
	}
	if _, err := os.Stat(f.iso); err != nil {
		t.Fatalf("file deleted: %v", err)
	}
	if _, err := img.ReadAt(make([]byte, 1), 0); !errors.Is(err, backend.ErrNotOpened) {
		t.Fatalf("read after Close(true) = %v", err)
	}
}

// A file that shrinks after open is reported as an unexpected EOF, not as the
// end of the image.
func TestShrunkFile(t *testing.T) {
	f := setup(t)
	img, err := New(nil).Open(context.Background(), f.iso, 0, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close(false)
	if err := os.Truncate(f.iso, 4096); err != nil {
		t.Fatal(err)
	}
	n, err := img.ReadAt(make([]byte, 8192), 0)
	if n != 4096 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAt = %d, %v; want 4096, io.ErrUnexpectedEOF", n, err)
	}
}

// The OpenFile hook is used for probe, open and leaving info mode.
func TestOpenFileHook(t *testing.T) {
	f := setup(t)
	var calls []string
	denied := errors.New("denied by hook")
	b := New(func(p string) (*os.File, error) {
		calls = append(calls, filepath.Base(p))
		if strings.HasSuffix(p, ".img") {
			return nil, denied
		}
		return os.Open(p)
	})
	ctx := context.Background()
	if _, err := b.Probe(ctx, f.iso, backend.DeviceDontCare); err != nil {
		t.Fatal(err)
	}
	img, err := b.Open(ctx, f.iso, backend.OpenInfo, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := img.SetOpenFlags(ctx, 0); err != nil {
		t.Fatal(err)
	}
	_ = img.Close(false)
	if _, err := b.Open(ctx, f.plainImg, 0, backend.DeviceDontCare, nil); !errors.Is(err, denied) {
		t.Fatalf("hook error lost: %v", err)
	}
	if strings.Join(calls, ",") != "disc.iso,disc.iso,disc.iso,disk.img" {
		t.Fatalf("hook calls %v", calls)
	}
}

func TestRegistryWithRaw(t *testing.T) {
	f := setup(t)
	reg, err := backend.NewRegistry(New(nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want backend.DeviceType
		got  backend.DeviceType
		err  error
	}{
		{f.iso, backend.DeviceDontCare, backend.DeviceOpticalDisc, nil},
		{f.isoImg, backend.DeviceDontCare, backend.DeviceOpticalDisc, nil}, // content beats the .img extension
		{f.plainImg, backend.DeviceDontCare, backend.DeviceHardDisk, nil},  // extension fallback
		{f.plainImg, backend.DeviceOpticalDisc, backend.DeviceUnknown, backend.ErrInvalidHeader},
		{f.bin, backend.DeviceDontCare, backend.DeviceUnknown, backend.ErrInvalidHeader},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path)+"/"+tc.want.String(), func(t *testing.T) {
			_, got, err := reg.Probe(context.Background(), tc.path, tc.want)
			if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("Probe err = %v, want %v", err, tc.err)
			}
			if got != tc.got {
				t.Fatalf("Probe = %s, want %s", got, tc.got)
			}
		})
	}
	img, err := reg.Open(context.Background(), f.isoImg, backend.OpenReadOnly, backend.DeviceDontCare, nil)
	if err != nil {
		t.Fatal(err)
	}
	backendtest.TestImage(t, img, f.isoData)
	backendtest.TestClosed(t, img)
}
