package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ControllerVolume records a volume created by CreateVolume: the same name
// with the same arguments must return the same volume, and DeleteVolume must
// know what to clean up in the cluster.
type ControllerVolume struct {
	Name          string            `json:"name"`
	VolumeID      string            `json:"volumeID"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	RequiredBytes int64             `json:"requiredBytes,omitempty"`
	LimitBytes    int64             `json:"limitBytes,omitempty"`
	CapacityBytes int64             `json:"capacityBytes"`
	// VolumeContext is what CreateVolume returned (parameters plus what the
	// controller resolved, such as the ConfigMap named by a PVC annotation).
	VolumeContext map[string]string `json:"volumeContext,omitempty"`
}

func (s *Store) controllerPath(volumeID string) string {
	return filepath.Join(s.dir, controllerDir, Key(volumeID)+".json")
}

// PutControllerVolume stores v under its VolumeID.
func (s *Store) PutControllerVolume(v ControllerVolume) error {
	if v.VolumeID == "" {
		return errors.New("state: controller volume without ID")
	}
	return WriteJSON(s.controllerPath(v.VolumeID), v)
}

// ControllerVolume returns the record of volumeID, or an error wrapping ErrNotFound.
func (s *Store) ControllerVolume(volumeID string) (ControllerVolume, error) {
	var v ControllerVolume
	if err := readJSON(s.controllerPath(volumeID), &v); err != nil {
		return ControllerVolume{}, err
	}
	if v.VolumeID != volumeID {
		// A hash collision or a hand-edited file: never act on the wrong volume.
		return ControllerVolume{}, fmt.Errorf("state: record for %q holds %q: %w", volumeID, v.VolumeID, ErrNotFound)
	}
	return v, nil
}

// DeleteControllerVolume removes the record; a missing one is fine.
func (s *Store) DeleteControllerVolume(volumeID string) error {
	return removeFile(s.controllerPath(volumeID))
}

// Node volume kinds.
const (
	KindPersistent = "persistent" // staged by NodeStageVolume, published by bind mounts
	KindEphemeral  = "ephemeral"  // an inline volume served straight at its target
)

// Source names the ConfigMap or Secret a node volume was staged from.
type Source struct {
	Namespace string `json:"namespace"`
	ConfigMap string `json:"configMap,omitempty"`
	Secret    string `json:"secret,omitempty"`
	Key       string `json:"key,omitempty"`
}

// Target is one published path of a volume.
type Target struct {
	Block bool `json:"block,omitempty"`
}

// NodeVolume records what this node did for one volume. ServeDir is where
// the FUSE server is mounted (the staging path for a persistent volume, the
// target for an ephemeral one); Loop is the loop device of a block volume.
type NodeVolume struct {
	VolumeID   string            `json:"volumeID"`
	Kind       string            `json:"kind"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Source is set when the image comes from a ConfigMap or Secret.
	Source *Source `json:"source,omitempty"`
	// VISOKey is the staged key serving as the VISO (relative to SourceDir).
	VISOKey string `json:"visoKey,omitempty"`
	// Image is the resolved absolute path of a plain ISO (the image attribute).
	Image       string            `json:"image,omitempty"`
	FileName    string            `json:"fileName"`
	StagingPath string            `json:"stagingPath,omitempty"`
	ServeDir    string            `json:"serveDir"`
	Block       bool              `json:"block,omitempty"`
	Loop        string            `json:"loop,omitempty"`
	Targets     map[string]Target `json:"targets,omitempty"`
	// Kernel: a world-readable plain ISO served without FUSE (bind mount of
	// the file, or a loop device over it); it survives plugin restarts.
	Kernel bool `json:"kernel,omitempty"`
	// Mode is how the image is served (kernel, reflink or fuse) and
	// ModeReason why; Materialized is the image file of a reflink volume
	// (served by the kernel like a plain ISO, so Kernel is set too).
	Mode         string `json:"mode,omitempty"`
	ModeReason   string `json:"modeReason,omitempty"`
	Materialized string `json:"materialized,omitempty"`
	// Unattended: the volume asked for the UnattendedInstall cleanup rule.
	Unattended bool `json:"unattended,omitempty"`
}

// NodeDir is the folder of a volume on this node.
func (s *Store) NodeDir(volumeID string) string {
	return filepath.Join(s.dir, nodeDir, Key(volumeID))
}

// SourceDir is where a volume's source keys are staged.
func (s *Store) SourceDir(volumeID string) string {
	return filepath.Join(s.NodeDir(volumeID), SourceDirName)
}

// PutNodeVolume stores v, creating its folder.
func (s *Store) PutNodeVolume(v NodeVolume) error {
	if v.VolumeID == "" {
		return errors.New("state: node volume without ID")
	}
	dir := s.NodeDir(v.VolumeID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return WriteJSON(filepath.Join(dir, recordFile), v)
}

// NodeVolume returns the record of volumeID, or an error wrapping ErrNotFound.
func (s *Store) NodeVolume(volumeID string) (NodeVolume, error) {
	var v NodeVolume
	if err := readJSON(filepath.Join(s.NodeDir(volumeID), recordFile), &v); err != nil {
		return NodeVolume{}, err
	}
	if v.VolumeID != volumeID {
		return NodeVolume{}, fmt.Errorf("state: record for %q holds %q: %w", volumeID, v.VolumeID, ErrNotFound)
	}
	return v, nil
}

// DeleteNodeVolume removes the record first (so a crash in between leaves
// an orphan folder, which reconcile wipes, rather than a record pointing at
// nothing), then the rest of the volume's folder through wipe, which must
// remove the staged source (the driver overwrites answer files first).
func (s *Store) DeleteNodeVolume(volumeID string, wipe func(dir string) error) error {
	dir := s.NodeDir(volumeID)
	if err := removeFile(filepath.Join(dir, recordFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return s.RemoveNodeDir(filepath.Base(dir), wipe)
}

// RemoveNodeDir deletes the node folder named key (see Key), wiping its
// staged source with wipe (nil: plain removal).
func (s *Store) RemoveNodeDir(key string, wipe func(dir string) error) error {
	if key == "" || strings.ContainsAny(key, `/\`) || key == "." || key == ".." {
		return fmt.Errorf("state: bad node folder name %q", key)
	}
	dir := filepath.Join(s.dir, nodeDir, key)
	var errs []error
	if wipe != nil {
		src := filepath.Join(dir, SourceDirName)
		if _, err := os.Lstat(src); err == nil {
			errs = append(errs, wipe(src))
		}
	}
	errs = append(errs, os.RemoveAll(dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: remove %s: %w", dir, err)
	}
	return syncDir(filepath.Join(s.dir, nodeDir))
}

// NodeEntry is one folder under node/: its record if it has a readable one.
type NodeEntry struct {
	Key    string
	Volume *NodeVolume // nil: no record or an unreadable one (Err says which)
	Err    error
}

// NodeEntries lists every node folder, with its record where there is one.
func (s *Store) NodeEntries() ([]NodeEntry, error) {
	names, err := listDir(filepath.Join(s.dir, nodeDir))
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	out := make([]NodeEntry, 0, len(names))
	for _, n := range names {
		e := NodeEntry{Key: n}
		var v NodeVolume
		if err := readJSON(filepath.Join(s.dir, nodeDir, n, recordFile), &v); err != nil {
			e.Err = err
		} else if Key(v.VolumeID) != n {
			e.Err = fmt.Errorf("state: folder %s holds volume %q", n, v.VolumeID)
		} else {
			e.Volume = &v
		}
		out = append(out, e)
	}
	return out, nil
}
