package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// NodeGetVolumeStats reports the image size as both capacity and usage: the
// volume is read-only and exactly full. A path that is not where the volume
// is published or staged is NotFound, as the spec asks.
func (s *nodeServer) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	id, p := req.GetVolumeId(), req.GetVolumePath()
	if id == "" {
		return nil, errorf(codes.InvalidArgument, "volume ID missing")
	}
	if p == "" {
		return nil, errorf(codes.InvalidArgument, "volume path missing")
	}
	rec, err := s.d.store.NodeVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, errorf(codes.NotFound, "volume %q is not on this node", id)
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	p = filepath.Clean(p)
	_, published := rec.Targets[p]
	if !published && p != rec.ServeDir {
		return nil, errorf(codes.NotFound, "volume %q is not published or staged at %s", id, p)
	}
	if _, err := os.Stat(p); err != nil {
		if serve.IsCorruptedMount(err) {
			return nil, errorf(codes.Internal, "volume %q at %s: the serving mount is dead: %v", id, p, err)
		}
		return nil, errorf(codes.NotFound, "volume %q at %s: %v", id, p, err)
	}
	var size int64
	if lv := s.d.getLive(id); lv != nil {
		size = lv.size
	}
	usage := []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: size, Used: size}}
	if !rec.Targets[p].Block {
		// The filesystem holds the root folder and one file.
		usage = append(usage, &csi.VolumeUsage{Unit: csi.VolumeUsage_INODES, Total: 2, Used: 2})
	}
	return &csi.NodeGetVolumeStatsResponse{Usage: usage}, nil
}
