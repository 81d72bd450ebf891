package backendtest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-viso/csi-viso/pkg/backend"
)

// memImage is an in-memory image with switches that break one rule each, to
// prove the conformance checks catch them.
type memImage struct {
	data []byte

	nilAtEnd      bool // return nil instead of io.EOF for a read crossing the end
	writable      bool // accept writes
	regionGap     bool // regions do not cover the image
	dropReadOnly  bool // SetOpenFlags does not force READONLY
	acceptUnknown bool // SetOpenFlags accepts unknown bits
	corrupt       bool // serve a wrong byte in the middle

	mu     sync.Mutex
	flags  backend.OpenFlags
	info   bool
	closed bool
}

func (m *memImage) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	gone := m.closed || m.info
	m.mu.Unlock()
	if gone {
		return 0, backend.ErrNotOpened
	}
	n, eof := backend.ClampRead(off, len(p), int64(len(m.data)))
	if n == 0 {
		return 0, eof
	}
	copy(p[:n], m.data[off:])
	if m.corrupt && off <= int64(len(m.data)/2) && int64(len(m.data)/2) < off+int64(n) {
		p[int64(len(m.data)/2)-off] ^= 0xff
	}
	if m.nilAtEnd && eof == io.EOF && n > 0 {
		eof = nil
	}
	return n, eof
}

func (m *memImage) Size() int64     { return int64(len(m.data)) }
func (m *memImage) Version() uint32 { return 1 }
func (m *memImage) Regions() []backend.Region {
	l := int64(len(m.data))
	if m.regionGap {
		l--
	}
	return []backend.Region{{BlockSize: 2048, DataBlockSize: 2048, Length: l,
		DataForm: backend.DataFormRaw, MetadataForm: backend.MetadataFormNone}}
}
func (m *memImage) Write(_ int64, p []byte) (int, error) {
	if m.writable {
		return len(p), nil
	}
	return 0, backend.ErrReadOnly
}
func (m *memImage) Flush() error               { return nil }
func (m *memImage) Discard(int64, int64) error { return backend.ErrNotSupported }
func (m *memImage) Geometry() (backend.Geometry, backend.Geometry, error) {
	return backend.Geometry{}, backend.Geometry{}, backend.ErrNotSupported
}
func (m *memImage) SetGeometry(backend.Geometry, backend.Geometry) error { return backend.ErrReadOnly }
func (m *memImage) ImageFlags() uint32                                   { return 0 }
func (m *memImage) OpenFlags() backend.OpenFlags {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flags
}
func (m *memImage) SetOpenFlags(_ context.Context, f backend.OpenFlags) error {
	if err := backend.CheckOpenFlags(f); err != nil && !m.acceptUnknown {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dropReadOnly {
		f |= backend.OpenReadOnly
	}
	if f&backend.OpenInfo == 0 {
		m.info = false
	}
	if !m.info {
		f &^= backend.OpenInfo
	}
	m.flags = f
	return nil
}
func (m *memImage) Comment() (string, error)             { return "", backend.ErrNotSupported }
func (m *memImage) SetComment(string) error              { return backend.ErrNotSupported }
func (m *memImage) UUID() (uuid.UUID, error)             { return uuid.Nil, backend.ErrNotSupported }
func (m *memImage) SetUUID(uuid.UUID) error              { return backend.ErrNotSupported }
func (m *memImage) ModificationUUID() (uuid.UUID, error) { return uuid.Nil, backend.ErrNotSupported }
func (m *memImage) SetModificationUUID(uuid.UUID) error  { return backend.ErrNotSupported }
func (m *memImage) ParentUUID() (uuid.UUID, error)       { return uuid.Nil, backend.ErrNotSupported }
func (m *memImage) SetParentUUID(uuid.UUID) error        { return backend.ErrNotSupported }
func (m *memImage) ParentModificationUUID() (uuid.UUID, error) {
	return uuid.Nil, backend.ErrNotSupported
}
func (m *memImage) SetParentModificationUUID(uuid.UUID) error { return backend.ErrNotSupported }
func (m *memImage) Dump() string                              { return "mem" }
func (m *memImage) Location() string                          { return "mem" }
func (m *memImage) Close(bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// recorder is a testing.TB that records failures instead of reporting them.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, s)
}
func (r *recorder) Error(args ...any)                 { r.record(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// run calls check with a recorder in its own goroutine (Fatalf exits it).
func run(t *testing.T, check func(testing.TB)) []string {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); check(rec) }()
	<-done
	return rec.failed
}

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestConformanceChecks(t *testing.T) {
	data := content(5*2048 + 17)
	tests := []struct {
		name    string
		img     *memImage
		want    []byte
		failing bool
	}{
		{"conforming", &memImage{}, data, false},
		{"conforming empty", &memImage{}, []byte{}, false},
		{"nil error crossing the end", &memImage{nilAtEnd: true}, data, true},
		{"writable", &memImage{writable: true}, data, true},
		{"region gap", &memImage{regionGap: true}, data, true},
		{"READONLY not forced", &memImage{dropReadOnly: true}, data, true},
		{"unknown flags accepted", &memImage{acceptUnknown: true}, data, true},
		{"corrupt byte", &memImage{corrupt: true}, data, true},
		{"wrong size", &memImage{}, data[:100], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.img.data = data
			if tc.name == "conforming empty" {
				tc.img.data = tc.want
			}
			tc.img.flags = backend.OpenReadOnly
			failed := run(t, func(tb testing.TB) { TestImage(tb, tc.img, tc.want) })
			if tc.failing && len(failed) == 0 {
				t.Fatal("the broken image passed the conformance checks")
			}
			if !tc.failing && len(failed) != 0 {
				t.Fatalf("a conforming image failed: %v", failed)
			}
		})
	}
}

func TestInfoAndClosedChecks(t *testing.T) {
	info := &memImage{data: content(10), info: true, flags: backend.OpenInfo | backend.OpenReadOnly}
	if failed := run(t, func(tb testing.TB) { TestInfoImage(tb, info) }); len(failed) != 0 {
		t.Fatalf("info image failed: %v", failed)
	}
	open := &memImage{data: content(10), flags: backend.OpenReadOnly}
	if failed := run(t, func(tb testing.TB) { TestInfoImage(tb, open) }); len(failed) == 0 {
		t.Fatal("a fully open image passed the info-mode checks")
	}
	if failed := run(t, func(tb testing.TB) { TestClosed(tb, open) }); len(failed) != 0 {
		t.Fatalf("close checks failed: %v", failed)
	}
}
