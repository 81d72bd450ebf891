// Package state keeps the CSI driver's records in its --state-dir so that a
// restarted plugin knows which volumes it created (controller side) and
// which it staged and published where (node side).
//
// Layout under the state directory:
//
//	controller/<volume-id>.json   one ControllerVolume per created volume
//	node/<key>/volume.json        one NodeVolume per volume on this node
//	node/<key>/src/               the volume's staged ConfigMap/Secret keys
//
// <key> is a hash of the volume ID: CSI volume IDs are opaque strings that
// may hold any byte, so they never become path components themselves.
//
// Every record is written atomically (temporary file, fsync, rename, fsync of
// the folder): a crash leaves the old record or the new one, never a torn
// one. The folder is private (0700): node records name staged answer files.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotFound is returned (wrapped) when a record does not exist.
var ErrNotFound = errors.New("no such record")

const (
	controllerDir = "controller"
	nodeDir       = "node"
	recordFile    = "volume.json"
	// SourceDirName is the folder inside a node volume's folder that holds
	// its staged source keys.
	SourceDirName = "src"
	// maxRecord bounds how much a corrupt or hostile file can make us read.
	maxRecord = 1 << 20
)

// Store is a state directory. Its methods are safe for concurrent use on
// different volumes; callers serialise operations on one volume.
type Store struct {
	dir string
}

// Open creates (if needed) and opens the state directory dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("state: empty state directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	for _, sub := range []string{"", controllerDir, nodeDir} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o700); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
	}
	return &Store{dir: abs}, nil
}

// Dir is the absolute state directory.
func (s *Store) Dir() string { return s.dir }

// CheckWritable proves the directory accepts a durable write (the Probe
// readiness check): it writes, syncs and removes a small file.
func (s *Store) CheckWritable() error {
	f, err := os.CreateTemp(s.dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("state dir %s not writable: %w", s.dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return fmt.Errorf("state dir %s not writable: %w", s.dir, err)
	}
	return nil
}

// Key is the folder name used for a volume ID.
func Key(volumeID string) string {
	sum := sha256.Sum256([]byte(volumeID))
	return hex.EncodeToString(sum[:16])
}

// WriteJSON writes v as JSON to path atomically, mode 0600.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(data, '\n'), 0o600)
}

// WriteFileAtomic replaces path with data so that readers and a crash see
// either the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// readJSON decodes the JSON file at path into v; a missing file is ErrNotFound.
func readJSON(path string, v any) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	dec := json.NewDecoder(&limitedReader{f: f, left: maxRecord})
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

type limitedReader struct {
	f    *os.File
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("record larger than %d bytes", maxRecord)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}

// removeFile deletes path durably; a missing file is fine.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// listDir returns the names in dir, sorted, skipping temporary files.
func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// RemoveTemporaries deletes temporary files a crash left in the store
// (".name.*.tmp" from an interrupted atomic write).
func (s *Store) RemoveTemporaries() error {
	var errs []error
	for _, d := range []string{s.dir, filepath.Join(s.dir, controllerDir)} {
		ents, err := os.ReadDir(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && (strings.HasSuffix(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".probe-")) {
				errs = append(errs, removeFile(filepath.Join(d, e.Name())))
			}
		}
	}
	return errors.Join(errs...)
}
