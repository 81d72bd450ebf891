package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Staged describes a staged copy of an object on the node.
type Staged struct {
	Dir             string    // the folder holding one file per key
	VISOKey         string    // the key that is the VISO
	VISOPath        string    // Dir joined with VISOKey
	ResourceVersion string    // the object version staged
	UID             types.UID // the object's UID
}

const (
	fileMode = 0o400 // staged files: answer files hold passwords
	dirMode  = 0o700
	// Suffixes of the dot-names kept beside a staged folder DIR, each after
	// "."+base(DIR): the marker, and temporary names used while staging.
	markerSuffix = ".staged"
	tmpInfix     = ".tmp-"
	oldInfix     = ".old-"
)

// marker records what a staged folder holds. It lives beside the folder, not
// in it, because a VISO may add its whole folder to the image ("/=."), and the
// image must hold exactly the object's keys.
type marker struct {
	Object          string    `json:"object"` // Ref.object()
	UID             types.UID `json:"uid"`
	ResourceVersion string    `json:"resourceVersion"`
	VISOKey         string    `json:"visoKey"`
}

// Stage fetches the object ref names and writes every key (ConfigMap data and
// binaryData, Secret data) as a file of mode 0400 into dir, a folder of mode
// 0700. The parent of dir is created (mode 0700) if missing.
//
// The copy is atomic: keys are written with O_EXCL into a sibling temporary
// folder, synced, and renamed to dir. If dir exists and its marker says it
// holds the same object (UID), resourceVersion and VISO key, Stage does nothing;
// otherwise the new copy replaces it atomically (renameat2 RENAME_EXCHANGE,
// then the old copy is removed; on a filesystem without it, the old copy is
// renamed aside first, leaving dir briefly absent). A crash leaves either the
// old or the new folder at dir, plus dot-named leftovers that the next Stage
// or Wipe removes.
//
// Stage must not run concurrently for the same dir (the driver holds a
// per-volume lock).
func (s *Source) Stage(ctx context.Context, ref Ref, dir string) (Staged, error) {
	o, err := s.fetch(ctx, ref)
	if err != nil {
		return Staged{}, err
	}
	key, err := o.visoKey()
	if err != nil {
		return Staged{}, err
	}
	if err := o.checkSizes(key); err != nil {
		return Staged{}, err
	}
	st := Staged{
		Dir: dir, VISOKey: key, VISOPath: filepath.Join(dir, key),
		ResourceVersion: o.rv, UID: o.uid,
	}
	m := marker{Object: ref.object(), UID: o.uid, ResourceVersion: o.rv, VISOKey: key}
	if err := stageFiles(dir, o.keys, m); err != nil {
		return Staged{}, fmt.Errorf("%s: key %q: staging into %s: %w", ref.object(), key, dir, err)
	}
	return st, nil
}

// splitDir returns the parent and base name of dir, refusing names that do
// not denote a folder of their own.
func splitDir(dir string) (parent, base string, err error) {
	if dir == "" {
		return "", "", errors.New("empty folder path")
	}
	clean := filepath.Clean(dir)
	parent, base = filepath.Split(clean)
	if base == "" || base == "." || base == ".." {
		return "", "", fmt.Errorf("%q does not name a folder that can be replaced", dir)
	}
	if parent == "" {
		parent = "."
	}
	return parent, base, nil
}

// stageFiles does the file-system half of Stage.
func stageFiles(dir string, keys map[string][]byte, m marker) error {
	parent, base, err := splitDir(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(parent, dirMode); err != nil {
		return err
	}
	root, err := os.OpenRoot(parent)
	if err != nil {
		return err
	}
	defer root.Close()

	want, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// An empty resourceVersion (never from a real API server) cannot prove the
	// copy is current, so it always restages.
	if m.ResourceVersion != "" && upToDate(root, base, want, m.VISOKey) {
		klog.V(4).InfoS("staged copy is current", "dir", dir, "object", m.Object, "resourceVersion", m.ResourceVersion)
		return nil
	}
	// Leftovers of an interrupted earlier call are of no use any more.
	if err := removeLeftovers(root, base); err != nil {
		klog.ErrorS(err, "removing leftovers of earlier staging", "dir", dir)
	}

	tmp, err := writeTemp(root, base, keys)
	if err != nil {
		return err
	}
	if err := install(root, base, tmp, want); err != nil {
		_ = root.RemoveAll(tmp)
		return err
	}
	klog.V(2).InfoS("staged", "dir", dir, "object", m.Object, "resourceVersion", m.ResourceVersion, "keys", len(keys))
	return nil
}

// upToDate reports whether base is a real folder holding the VISO key as a
// regular file and its marker equals want. Anything unexpected means "no".
func upToDate(root *os.Root, base string, want []byte, visoKey string) bool {
	if fi, err := root.Lstat(base); err != nil || !fi.IsDir() {
		return false
	}
	if fi, err := root.Lstat(filepath.Join(base, visoKey)); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	name := markerName(base)
	if fi, err := root.Lstat(name); err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
		return false
	}
	got, err := root.ReadFile(name)
	return err == nil && bytes.Equal(got, want)
}

// writeTemp writes every key into a new sibling folder and returns its name
// (relative to root). Files are created with O_EXCL, so nothing pre-existing,
// symlinks included, is ever opened. Everything is synced before return.
func writeTemp(root *os.Root, base string, keys map[string][]byte) (name string, err error) {
	name, err = tempName(base, tmpInfix)
	if err != nil {
		return "", err
	}
	if err := root.Mkdir(name, dirMode); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = root.RemoveAll(name)
		}
	}()
	// The umask may have cleared bits of the requested mode; set it exactly.
	if err := root.Chmod(name, dirMode); err != nil {
		return "", err
	}
	sub, err := root.OpenRoot(name)
	if err != nil {
		return "", err
	}
	defer sub.Close()
	for k, v := range keys {
		if err := writeFile(sub, k, v); err != nil {
			return "", err
		}
	}
	if err := syncDir(sub); err != nil {
		return "", err
	}
	return name, nil
}

// writeFile creates name (O_EXCL) with data, mode exactly 0400, and syncs it.
func writeFile(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// install moves the finished temporary folder tmp to base and records the
// marker. The old marker goes first, so a marker that exists always describes
// the folder beside it; a crash in between only costs a restage.
func install(root *os.Root, base, tmp string, markerJSON []byte) error {
	mname := markerName(base)
	if err := root.Remove(mname); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the old marker: %w", err)
	}
	if err := syncDir(root); err != nil {
		return err
	}
	if _, err := root.Lstat(base); errors.Is(err, fs.ErrNotExist) {
		if err := root.Rename(tmp, base); err != nil {
			return err
		}
	} else if err != nil {
		return err
	} else if err := replace(root, base, tmp); err != nil {
		return err
	}
	mtmp, err := tempName(base, markerSuffix+tmpInfix)
	if err != nil {
		return err
	}
	if err := writeFile(root, mtmp, markerJSON); err != nil {
		return err
	}
	if err := root.Rename(mtmp, mname); err != nil {
		_ = root.Remove(mtmp)
		return err
	}
	return syncDir(root)
}

// replace puts the folder tmp at base where something already is, and removes
// the old thing. A symlink at base is moved and unlinked, never followed.
func replace(root *os.Root, base, tmp string) error {
	err := exchangeNames(root, tmp, base)
	old := tmp // after an exchange, the old copy sits under the temporary name
	if err != nil {
		if !exchangeUnsupported(err) {
			return fmt.Errorf("swapping in the new copy: %w", err)
		}
		// Not atomic: base is missing between the two renames.
		if old, err = tempName(base, oldInfix); err != nil {
			return err
		}
		if err := root.Rename(base, old); err != nil {
			return fmt.Errorf("moving the old copy aside: %w", err)
		}
		if err := root.Rename(tmp, base); err != nil {
			return fmt.Errorf("moving the new copy in: %w", err)
		}
	}
	if err := root.RemoveAll(old); err != nil {
		// The new copy is in place; the old one is a leftover that the next
		// Stage or Wipe removes.
		klog.ErrorS(err, "removing the replaced staged copy", "name", old)
	}
	return nil
}

// exchangeNames is exchange; tests replace it to take the fallback path.
var exchangeNames = exchange

// syncDir fsyncs the folder root is open on, making renames and creations in
// it durable.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", root.Name(), err)
	}
	return nil
}

func markerName(base string) string { return "." + base + markerSuffix }

// tempName returns "."+base+infix+<16 random hex digits>.
func tempName(base, infix string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "." + base + infix + hex.EncodeToString(b[:]), nil
}

// IsAuxName reports whether name (a base name in the parent of some staged
// folder) is one of the names Stage keeps beside a staged folder: its marker or
// a temporary folder. A caller listing the parent should skip these.
func IsAuxName(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasSuffix(name, markerSuffix) ||
		strings.Contains(name, tmpInfix) || strings.Contains(name, oldInfix)
}

// leftover reports whether name is a temporary name of the staged folder base.
func leftover(base, name string) bool {
	for _, infix := range []string{tmpInfix, oldInfix, markerSuffix + tmpInfix} {
		p := "." + base + infix
		if strings.HasPrefix(name, p) && isHex16(name[len(p):]) {
			return true
		}
	}
	return false
}

func isHex16(s string) bool {
	if len(s) != 16 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// removeLeftovers removes temporary names of base found in root. Errors are
// collected: a leftover that cannot be removed does not block staging.
func removeLeftovers(root *os.Root, base string) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if leftover(base, n) {
			if err := root.RemoveAll(n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Wipe removes a staged folder, its marker and any leftovers of interrupted
// staging. Files are unlinked, not overwritten (overwriting gives no guarantee
// on journaling or copy-on-write filesystems), but nothing is left behind. A
// folder that is already gone, or whose parent is gone, is not an error. A
// symlink at dir is removed itself, never followed.
func Wipe(dir string) error {
	parent, base, err := splitDir(dir)
	if err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	root, err := os.OpenRoot(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	defer root.Close()
	var errs []error
	if err := root.RemoveAll(base); err != nil {
		errs = append(errs, err)
	}
	if err := root.Remove(markerName(base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := removeLeftovers(root, base); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	if err := syncDir(root); err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	return nil
}
