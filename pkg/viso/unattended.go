package viso

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// UnattendedPrefix is the base-name prefix VirtualBox's unattended installer gives
// every file it generates next to the VISO (spec §6.3), and the only names the
// cleanup rule deletes.
const UnattendedPrefix = "Unattended-"

// UnattendedTargets lists, in argument order without duplicates, the paths
// (relative to visoDir, cleaned) that VirtualBox's UnattendedInstall cleanup rule
// selects from the VISO's arguments (spec §6.2). args is every argument of the
// VISO split WITHOUT the "VBox-Iso-Maker" prefix: marker, UUID, option names and
// option values included.
//
// For each argument: take the text after the last '=' (else the whole
// argument); skip it if it starts with '-'; make it absolute against visoDir
// (absolute paths stay as they are; "." and ".." are resolved lexically); keep
// it if it lies inside visoDir and its base name starts with "Unattended-"
// (case-sensitive).
//
// One deliberate divergence: VirtualBox tests containment with a plain string
// prefix, so a VISO in /vms/win also reaches /vms/win2/Unattended-x. Here
// containment is a real path-boundary check. The folder itself is never a
// target.
//
// Kept from VirtualBox on purpose: option values given as separate arguments are
// scanned too, so "--import-iso Unattended-base.iso" selects the install ISO if it
// sits in the folder under that name; response files (@file) are not scanned.
func UnattendedTargets(visoDir string, args []argv.Arg) []string {
	dir := absDir(visoDir)
	seen := map[string]bool{}
	var out []string
	for _, a := range args {
		text := a.Text
		if i := strings.LastIndexByte(text, '='); i >= 0 {
			text = text[i+1:]
		}
		if text == "" || strings.HasPrefix(text, "-") {
			continue
		}
		p := text
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		rel, ok := confine.Within(dir, p)
		if !ok || rel == "." {
			continue
		}
		if !strings.HasPrefix(filepath.Base(rel), UnattendedPrefix) || seen[rel] {
			continue
		}
		seen[rel] = true
		out = append(out, rel)
	}
	return out
}

// absDir makes the VISO's folder absolute and clean; if the working directory
// cannot be determined the cleaned path is used, which still matches
// absolute arguments written in the same form.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// RemoveVISO deletes like VirtualBox's close-with-delete (spec §6): when
// unattended is true it first deletes each of UnattendedTargets (best effort: a
// missing target, a refused one or a failed delete becomes a warning, never a
// failure), then it deletes the .viso itself; a failure there is the returned
// error. args is as for UnattendedTargets.
//
// Every deletion goes through a confine.Resolver rooted at the VISO's folder
// with no media roots, so a target reached through a symlinked directory that
// leaves the folder is not deleted, a target that is itself a symlink loses the
// link (never its target), and directories are never removed. A target that is
// the .viso itself is skipped (it is deleted last anyway).
//
// removed holds the absolute paths actually deleted, targets first and the .viso
// last.
func RemoveVISO(visoPath string, args []argv.Arg, unattended bool) (removed []string, warnings []error, err error) {
	abs, err := filepath.Abs(visoPath)
	if err != nil {
		return nil, nil, fmt.Errorf("remove VISO %q: %w", visoPath, err)
	}
	dir, name := filepath.Split(abs)
	dir = filepath.Clean(dir)
	r, err := confine.New(dir, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("remove VISO %q: %w", visoPath, err)
	}
	defer r.Close()

	if unattended {
		for _, rel := range UnattendedTargets(dir, args) {
			if rel == name {
				continue
			}
			if err := r.Remove(rel); err != nil {
				warnings = append(warnings, fmt.Errorf("unattended cleanup of %q: %w", visoPath, err))
				continue
			}
			removed = append(removed, filepath.Join(dir, rel))
		}
	}
	if err := r.Remove(name); err != nil {
		return removed, warnings, fmt.Errorf("remove VISO %q: %w", visoPath, err)
	}
	return append(removed, abs), warnings, nil
}
