package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestControllerRecords(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := ControllerVolume{Name: "pv-1", VolumeID: "viso-1", Parameters: map[string]string{"image": "a.iso"}, RequiredBytes: 5, CapacityBytes: 5}
	if err := s.PutControllerVolume(v); err != nil {
		t.Fatal(err)
	}
	// A second Store on the same folder (a restarted plugin) sees it.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.ControllerVolume("viso-1")
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("got %+v, %v; want %+v", got, err, v)
	}
	if _, err := s.ControllerVolume("other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown volume: %v", err)
	}
	if err := s.DeleteControllerVolume("viso-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteControllerVolume("viso-1"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.ControllerVolume("viso-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := s.PutControllerVolume(ControllerVolume{}); err == nil {
		t.Error("record without ID accepted")
	}
}

func TestNodeRecordsAndEntries(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"a", "weird/../id with spaces\x00", strings.Repeat("x", 200)}
	for _, id := range ids {
		v := NodeVolume{VolumeID: id, Kind: KindEphemeral, ServeDir: "/t", FileName: "disk.img", Targets: map[string]Target{"/t": {}}}
		if err := s.PutNodeVolume(v); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(s.SourceDir(id), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.SourceDir(id), "k"), []byte("secret"), 0o400); err != nil {
			t.Fatal(err)
		}
		got, err := s.NodeVolume(id)
		if err != nil || got.VolumeID != id || got.ServeDir != "/t" {
			t.Fatalf("NodeVolume(%q) = %+v, %v", id, got, err)
		}
	}
	// A folder with no record and one with a record of another volume.
	if err := os.MkdirAll(filepath.Join(s.Dir(), "node", "orphan", "src"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir(), "node", "wrongkey"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(filepath.Join(s.Dir(), "node", "wrongkey", "volume.json"), NodeVolume{VolumeID: "a"}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.NodeEntries()
	if err != nil {
		t.Fatal(err)
	}
	var good, bad int
	for _, e := range entries {
		if e.Volume != nil {
			good++
		} else {
			bad++
			if err := s.RemoveNodeDir(e.Key, os.RemoveAll); err != nil {
				t.Fatal(err)
			}
		}
	}
	if good != len(ids) || bad != 2 {
		t.Errorf("entries: %d with records, %d without; want %d and 2", good, bad, len(ids))
	}
	var wiped []string
	for _, id := range ids {
		if err := s.DeleteNodeVolume(id, func(dir string) error { wiped = append(wiped, dir); return os.RemoveAll(dir) }); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteNodeVolume(id, os.RemoveAll); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	}
	if len(wiped) != len(ids) {
		t.Errorf("wipe called %d times, want %d", len(wiped), len(ids))
	}
	if left, _ := os.ReadDir(filepath.Join(s.Dir(), "node")); len(left) != 0 {
		t.Errorf("left: %v", left)
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if err := s.RemoveNodeDir(bad, nil); err == nil {
			t.Errorf("RemoveNodeDir(%q) accepted", bad)
		}
	}
}

func TestAtomicWriteAndTemporaries(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), "controller", "x.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if string(b) != content {
			t.Errorf("read %q, want %q", b, content)
		}
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	// An interrupted write leaves a temporary that the next start removes.
	tmp := filepath.Join(s.Dir(), "controller", ".x.json.123.tmp")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTemporaries(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary left: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("record removed: %v", err)
	}
	// A corrupt record is an error, not a panic or an empty record.
	if err := os.WriteFile(filepath.Join(s.Dir(), "controller", Key("c")+".json"), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ControllerVolume("c"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("corrupt record: %v", err)
	}
	if err := s.CheckWritable(); err != nil {
		t.Errorf("CheckWritable: %v", err)
	}
	if _, err := Open(""); err == nil {
		t.Error("empty dir accepted")
	}
}
