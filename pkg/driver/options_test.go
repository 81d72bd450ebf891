package driver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewValidatesOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no state dir", Options{Mode: ModeController}, "no state directory"},
		{"bad mode", Options{Mode: "both", StateDir: state}, `unknown mode "both"`},
		{"node without ID", Options{Mode: ModeNode, StateDir: state}, "no node ID"},
		{"all without ID", Options{Mode: ModeAll, StateDir: state}, "no node ID"},
		{"missing media root", Options{Mode: ModeController, StateDir: state, MediaRoots: []string{filepath.Join(dir, "nope")}}, "media root"},
		{"media root is a file", Options{Mode: ModeController, StateDir: state, MediaRoots: []string{file}}, "not a directory"},
		{"state dir is a file", Options{Mode: ModeController, StateDir: file}, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
	d, err := New(Options{Mode: ModeController, StateDir: state, MediaRoots: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if d.opts.Name != DriverName || d.opts.KubeletDir != "/var/lib/kubelet" ||
		d.opts.KubeletEndpoint != "/var/lib/kubelet/plugins/viso.csi.io/csi.sock" {
		t.Errorf("defaults: %+v", d.opts)
	}
	if err := d.Ready(); err != nil {
		t.Errorf("controller Ready: %v", err)
	}
}
