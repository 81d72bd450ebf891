package driver

import (
	"context"

	"github.com/csi-viso/csi-viso/pkg/driver/source"
)

// StagedSource is what staging a ConfigMap or Secret produced.
type StagedSource struct {
	Dir      string // the folder holding the staged keys
	VISOKey  string // the key serving as the VISO
	VISOPath string // Dir/VISOKey
}

// Source is what the driver needs from the cluster: staging an object's keys
// as files, the UnattendedInstall cleanup of the object, and reading a PVC
// annotation. pkg/driver/source implements it against client-go; a driver
// without a cluster gets one whose calls fail with source.ErrNoCluster.
type Source interface {
	Stage(ctx context.Context, ref source.Ref, dir string) (StagedSource, error)
	Wipe(dir string) error
	RemoveUnattended(ctx context.Context, ref source.Ref) (removed []string, objectDeleted bool, err error)
	PVCAnnotation(ctx context.Context, namespace, pvc, annotation string) (string, error)
}

// clusterSource adapts *source.Source to Source.
type clusterSource struct{ s *source.Source }

// NewSource returns the Source backed by the Kubernetes API client of s
// (s.Client nil: every call fails with source.ErrNoCluster).
func NewSource(s *source.Source) Source { return clusterSource{s: s} }

func (c clusterSource) Stage(ctx context.Context, ref source.Ref, dir string) (StagedSource, error) {
	st, err := c.s.Stage(ctx, ref, dir)
	if err != nil {
		return StagedSource{}, err
	}
	return StagedSource{Dir: st.Dir, VISOKey: st.VISOKey, VISOPath: st.VISOPath}, nil
}

func (c clusterSource) Wipe(dir string) error { return source.Wipe(dir) }

func (c clusterSource) RemoveUnattended(ctx context.Context, ref source.Ref) ([]string, bool, error) {
	return c.s.RemoveUnattended(ctx, ref)
}

func (c clusterSource) PVCAnnotation(ctx context.Context, namespace, pvc, annotation string) (string, error) {
	return c.s.PVCAnnotation(ctx, namespace, pvc, annotation)
}
