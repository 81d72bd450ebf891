package driver

import (
	"fmt"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"os"
	"path/filepath"
)

// Mode selects the services a driver process runs.
type Mode string

const (
	ModeNode       Mode = "node"
	ModeController Mode = "controller"
	ModeAll        Mode = "all"
)

// ParseMode accepts "node", "controller" and "all".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeNode, ModeController, ModeAll:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want node, controller or all)", s)
}

func (m Mode) node() bool       { return m == ModeNode || m == ModeAll }
func (m Mode) controller() bool { return m == ModeController || m == ModeAll }

// DriverName is the CSI driver name (CSIDriver object, StorageClass provisioner).
const DriverName = "viso.csi.io"

// Options configure a Driver.
type Options struct {
	// Name is the CSI driver name; empty means DriverName.
	Name string
	// Version is reported by GetPluginInfo (the binary's version).
	Version string
	// NodeID is this node's ID (required in node mode).
	NodeID string
	Mode   Mode
	// StateDir holds the driver's records and staged sources.
	StateDir string
	// MediaRoots are the only folders plain ISOs and absolute VISO sources
	// may come from. None: every absolute path is refused.
	MediaRoots []string
	// Source reaches the cluster; nil means there is none (every ConfigMap
	// or Secret volume fails with FailedPrecondition).
	Source Source

	// KubeletRegistration makes Run (node and all modes) register the
	// plugin with the kubelet through KubeletDir/plugins_registry, telling it
	// to dial KubeletEndpoint (default KubeletDir/plugins/<name>/csi.sock).
	KubeletRegistration bool
	KubeletDir          string
	KubeletEndpoint     string
	// HealthAddress, when set, is where Run serves /healthz.
	HealthAddress string
	// MetricsAddress, when set, is where Run serves Prometheus /metrics.
	MetricsAddress string

	// ServeMode picks how images are served (serve.ModeAuto when empty).
	ServeMode serve.Mode
	// FUSEHolder is the socket of the FUSE descriptor holder (csi-viso
	// fuse-holder) that keeps FUSE mounts alive across plugin restarts;
	// empty: none, and a restart ends every FUSE-served volume.
	FUSEHolder string
}

func (o *Options) validate() error {
	if o.Name == "" {
		o.Name = DriverName
	}
	if o.Mode == "" {
		o.Mode = ModeAll
	}
	if o.ServeMode == "" {
		o.ServeMode = serve.ModeAuto
	}
	if _, err := serve.ParseMode(string(o.ServeMode)); err != nil {
		return err
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return err
	}
	if o.StateDir == "" {
		return fmt.Errorf("no state directory")
	}
	if o.Mode.node() && o.NodeID == "" {
		return fmt.Errorf("no node ID (required in %s mode)", o.Mode)
	}
	if o.KubeletDir == "" {
		o.KubeletDir = "/var/lib/kubelet"
	}
	if o.KubeletEndpoint == "" {
		o.KubeletEndpoint = DefaultKubeletEndpoint(o.KubeletDir, o.Name)
	}
	roots := make([]string, 0, len(o.MediaRoots))
	for _, r := range o.MediaRoots {
		abs, err := filepath.Abs(r)
		if err != nil {
			return fmt.Errorf("media root %q: %w", r, err)
		}
		// Fail at start, not at the first publish, on a mistyped root.
		if fi, err := os.Stat(abs); err != nil {
			return fmt.Errorf("media root: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("media root %s: not a directory", abs)
		}
		roots = append(roots, abs)
	}
	o.MediaRoots = roots
	return nil
}
