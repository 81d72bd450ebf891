package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

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
		if !serve.IsCorruptedMount(err) {
			return nil, errorf(codes.NotFound, "volume %q at %s: %v", id, p, err)
		}
	}
	var size int64
	if lv := s.d.getLive(id); lv != nil {
		size = lv.size
	}
	block := rec.Targets[p].Block || (p == rec.ServeDir && rec.Block)
	usage := []*csi.VolumeUsage{{Unit: csi.VolumeUsage_BYTES, Total: size, Used: size}}
	if !block {
		// The filesystem holds the root folder and one file.
		usage = append(usage, &csi.VolumeUsage{Unit: csi.VolumeUsage_INODES, Total: 2, Used: 2})
	}
	return &csi.NodeGetVolumeStatsResponse{Usage: usage}, nil
}

// NodeGetVolumeHealth checks that every place the volume is published (or
// the one path asked about) still answers. stat alone is not enough: the
// kernel answers it from its attribute cache, so the served file is opened
// and one byte read, which needs the serving side alive. A dead FUSE server
// (the plugin restarted without reconciling, or was killed) is INACCESSIBLE.
func (s *nodeServer) NodeGetVolumeHealth(_ context.Context, req *csi.NodeGetVolumeHealthRequest) (*csi.NodeGetVolumeHealthResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, errorf(codes.InvalidArgument, "volume ID missing")
	}
	rec, err := s.d.store.NodeVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, errorf(codes.NotFound, "volume %q is not on this node", id)
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	var paths []string
	if p := req.GetVolumePublishPath(); p != "" {
		paths = []string{filepath.Clean(p)}
	} else {
		for t := range rec.Targets {
			paths = append(paths, t)
		}
		sort.Strings(paths)
	}
	health := &csi.VolumeHealth{VolumeId: id}
	if s.d.getLive(id) == nil {
		health.HealthStatuses = append(health.HealthStatuses, &csi.VolumeHealth_VolumeHealthEntry{
			Status: csi.VolumeHealthErrorType_INACCESSIBLE, Reason: "NotServed",
			Message: "the plugin does not serve this volume (it could not serve it again after a restart); delete the pod to publish it again",
		})
	}
	for _, p := range paths {
		t, ok := rec.Targets[p]
		if !ok {
			return nil, errorf(codes.NotFound, "volume %q is not published at %s", id, p)
		}
		name := p
		if !t.Block {
			name = filepath.Join(p, rec.FileName)
		}
		if err := probeRead(name); err != nil {
			reason := "ReadFailed"
			if serve.IsCorruptedMount(err) {
				reason = "ServerGone"
			}
			health.HealthStatuses = append(health.HealthStatuses, &csi.VolumeHealth_VolumeHealthEntry{
				Status: csi.VolumeHealthErrorType_INACCESSIBLE, Reason: reason,
				Message: fmt.Sprintf("%s does not answer: %v", name, err),
			})
		}
	}
	return &csi.NodeGetVolumeHealthResponse{VolumeHealth: health}, nil
}

// probeRead opens name and reads its first byte.
func probeRead(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
