package driver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

type nodeServer struct {
	csi.UnimplementedNodeServer
	d *Driver
}

func (s *nodeServer) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: s.d.opts.NodeID}, nil
}

func (s *nodeServer) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, c := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME,
		csi.NodeServiceCapability_RPC_GET_VOLUME_STATS,
		csi.NodeServiceCapability_RPC_GET_VOLUME_HEALTH,
	} {
		caps = append(caps, &csi.NodeServiceCapability{Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: c}}})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

// checkCapability accepts mount and block access with any access mode: every
// volume is served read-only whatever was asked (KubeVirt live migration
// needs ReadWriteMany claims to be accepted).
func checkCapability(c *csi.VolumeCapability) (block bool, err error) {
	if c == nil {
		return false, errorf(codes.InvalidArgument, "volume capability missing")
	}
	if c.GetAccessMode() == nil {
		return false, errorf(codes.InvalidArgument, "volume capability has no access mode")
	}
	switch {
	case c.GetBlock() != nil:
		return true, nil
	case c.GetMount() != nil:
		return false, nil
	}
	return false, errorf(codes.InvalidArgument, "volume capability has neither mount nor block access type")
}

// checkIDAndPath validates the volume ID and the path every node RPC needs and
// returns the path cleaned.
func checkIDAndPath(id, path, what string) (string, error) {
	if id == "" {
		return "", errorf(codes.InvalidArgument, "volume ID missing")
	}
	if path == "" {
		return "", errorf(codes.InvalidArgument, "%s missing", what)
	}
	return filepath.Clean(path), nil
}

func (s *nodeServer) NodeStageVolume(ctx context.Context, req *csi.NodeStageVolumeRequest) (*csi.NodeStageVolumeResponse, error) {
	id := req.GetVolumeId()
	staging, err := checkIDAndPath(id, req.GetStagingTargetPath(), "staging target path")
	if err != nil {
		return nil, err
	}
	block, err := checkCapability(req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	attrs, err := ParseAttributes(req.GetVolumeContext())
	if err != nil {
		return nil, err
	}
	unlock, err := s.d.locks.tryLock(id, "NodeStageVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()

	if rec, err := s.d.store.NodeVolume(id); err == nil {
		if rec.Kind != state.KindPersistent || rec.StagingPath != staging {
			return nil, errorf(codes.AlreadyExists, "volume %q is already staged at %s", id, rec.ServeDir)
		}
		if rec.Block != block {
			return nil, errorf(codes.AlreadyExists, "volume %q is already staged with another access type", id)
		}
		if s.d.getLive(id) != nil {
			return &csi.NodeStageVolumeResponse{}, nil
		}
		// Known but not served by this process (a failed reconcile): redo.
		if err := s.d.stopServing(&rec, nil); err != nil {
			return nil, err
		}
		if err := s.d.forget(&rec); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, state.ErrNotFound) {
		return nil, withCode(codes.Internal, err)
	}

	rec, err := s.d.newNodeRecord(ctx, id, state.KindPersistent, staging, maps.Clone(req.GetVolumeContext()), attrs)
	if err != nil {
		s.d.abandon(id, nil, nil)
		return nil, err
	}
	rec.Block = block
	if err := s.d.store.PutNodeVolume(*rec); err != nil {
		s.d.abandon(id, nil, nil)
		return nil, withCode(codes.Internal, err)
	}
	lv, err := s.d.serveVolume(ctx, rec)
	if err != nil {
		s.d.abandon(id, rec, nil)
		return nil, err
	}
	if err := s.d.store.PutNodeVolume(*rec); err != nil {
		s.d.abandon(id, rec, lv)
		return nil, withCode(codes.Internal, err)
	}
	s.d.setLive(id, lv)
	klog.InfoS("Volume staged", "volumeID", id, "stagingPath", staging, "block", block, "loop", rec.Loop)
	return &csi.NodeStageVolumeResponse{}, nil
}

// abandon undoes a failed stage or ephemeral publish: stop serving what was
// started, wipe what was staged, drop the record.
func (d *Driver) abandon(id string, rec *state.NodeVolume, lv *liveVolume) {
	if rec != nil {
		if err := d.stopServing(rec, lv); err != nil {
			klog.ErrorS(err, "Cleanup after a failed operation", "volumeID", id)
		}
	}
	d.setLive(id, nil)
	if err := d.store.DeleteNodeVolume(id, d.opts.Source.Wipe); err != nil {
		klog.ErrorS(err, "Cleanup after a failed operation", "volumeID", id)
	}
}

func (s *nodeServer) NodeUnstageVolume(ctx context.Context, req *csi.NodeUnstageVolumeRequest) (*csi.NodeUnstageVolumeResponse, error) {
	id := req.GetVolumeId()
	staging, err := checkIDAndPath(id, req.GetStagingTargetPath(), "staging target path")
	if err != nil {
		return nil, err
	}
	unlock, err := s.d.locks.tryLock(id, "NodeUnstageVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := s.d.store.NodeVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		// Already unstaged (or never staged): make sure nothing of ours is left.
		rec = state.NodeVolume{VolumeID: id, ServeDir: staging}
		if err := s.d.stopServing(&rec, nil); err != nil {
			return nil, err
		}
		return &csi.NodeUnstageVolumeResponse{}, nil
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	if rec.Kind != state.KindPersistent || rec.StagingPath != staging {
		return nil, errorf(codes.InvalidArgument, "volume %q is not staged at %s (it is served at %s)", id, staging, rec.ServeDir)
	}
	// Published targets should be gone already; take down any the CO forgot
	// so that the FUSE mount is not held busy by a bind.
	for t := range rec.Targets {
		if err := s.d.unmountTarget(t); err != nil {
			return nil, err
		}
	}
	if err := s.d.stopServing(&rec, s.d.getLive(id)); err != nil {
		return nil, err
	}
	if err := s.d.forget(&rec); err != nil {
		return nil, err
	}
	klog.InfoS("Volume unstaged", "volumeID", id, "stagingPath", staging)
	return &csi.NodeUnstageVolumeResponse{}, nil
}

func (s *nodeServer) NodePublishVolume(ctx context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id := req.GetVolumeId()
	target, err := checkIDAndPath(id, req.GetTargetPath(), "target path")
	if err != nil {
		return nil, err
	}
	block, err := checkCapability(req.GetVolumeCapability())
	if err != nil {
		return nil, err
	}
	attrs, err := ParseAttributes(req.GetVolumeContext())
	if err != nil {
		return nil, err
	}
	if attrs.Ephemeral {
		if block {
			return nil, errorf(codes.InvalidArgument, "ephemeral inline volumes are filesystem volumes; block access was asked for")
		}
	} else if req.GetStagingTargetPath() == "" {
		return nil, errorf(codes.InvalidArgument, "staging target path missing (the volume must be staged first)")
	}
	unlock, err := s.d.locks.tryLock(id, "NodePublishVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if attrs.Ephemeral {
		return s.publishEphemeral(ctx, id, target, req.GetVolumeContext(), attrs)
	}
	return s.publishPersistent(id, filepath.Clean(req.GetStagingTargetPath()), target, block)
}

func (s *nodeServer) publishPersistent(id, staging, target string, block bool) (*csi.NodePublishVolumeResponse, error) {
	rec, err := s.d.store.NodeVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, errorf(codes.FailedPrecondition, "volume %q is not staged on this node", id)
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	if rec.Kind != state.KindPersistent || rec.StagingPath != staging {
		return nil, errorf(codes.FailedPrecondition, "volume %q is not staged at %s", id, staging)
	}
	if s.d.getLive(id) == nil {
		return nil, errorf(codes.FailedPrecondition, "volume %q is staged but not served (the plugin restarted and could not serve it again); unstage and stage it again", id)
	}
	if t, ok := rec.Targets[target]; ok {
		if t.Block != block {
			return nil, errorf(codes.AlreadyExists, "volume %q is already published at %s with another access type", id, target)
		}
		if s.d.isMounted(target) {
			return &csi.NodePublishVolumeResponse{}, nil
		}
		// Recorded but not mounted (crash, or unmounted from outside): redo.
		if err := s.d.unmountTarget(target); err != nil {
			return nil, err
		}
	}
	if err := s.d.bindTarget(&rec, target, block); err != nil {
		return nil, err
	}
	if rec.Targets == nil {
		rec.Targets = map[string]state.Target{}
	}
	rec.Targets[target] = state.Target{Block: block}
	if err := s.d.store.PutNodeVolume(rec); err != nil {
		_ = s.d.unmountTarget(target)
		return nil, withCode(codes.Internal, err)
	}
	klog.InfoS("Volume published", "volumeID", id, "target", target, "block", block)
	return &csi.NodePublishVolumeResponse{}, nil
}

func (s *nodeServer) publishEphemeral(ctx context.Context, id, target string, vctx map[string]string, attrs Attributes) (*csi.NodePublishVolumeResponse, error) {
	rec, err := s.d.store.NodeVolume(id)
	switch {
	case err == nil:
		if rec.Kind != state.KindEphemeral || rec.ServeDir != target {
			return nil, errorf(codes.AlreadyExists, "volume %q is already served at %s", id, rec.ServeDir)
		}
		if s.d.getLive(id) != nil && s.d.isMounted(target) {
			return &csi.NodePublishVolumeResponse{}, nil
		}
		if err := s.d.stopServing(&rec, s.d.getLive(id)); err != nil {
			return nil, err
		}
		if err := s.d.forget(&rec); err != nil {
			return nil, err
		}
	case !errors.Is(err, state.ErrNotFound):
		return nil, withCode(codes.Internal, err)
	}
	nrec, err := s.d.newNodeRecord(ctx, id, state.KindEphemeral, target, maps.Clone(vctx), attrs)
	if err != nil {
		s.d.abandon(id, nil, nil)
		return nil, err
	}
	nrec.Targets = map[string]state.Target{target: {}}
	if err := s.d.store.PutNodeVolume(*nrec); err != nil {
		s.d.abandon(id, nil, nil)
		return nil, withCode(codes.Internal, err)
	}
	lv, err := s.d.serveVolume(ctx, nrec)
	if err != nil {
		s.d.abandon(id, nrec, nil)
		_ = s.d.unmountTarget(target)
		return nil, err
	}
	// The serve mode (and a materialised file) must be known after a restart.
	if err := s.d.store.PutNodeVolume(*nrec); err != nil {
		s.d.abandon(id, nrec, lv)
		_ = s.d.unmountTarget(target)
		return nil, withCode(codes.Internal, err)
	}
	s.d.setLive(id, lv)
	klog.InfoS("Ephemeral volume published", "volumeID", id, "target", target)
	return &csi.NodePublishVolumeResponse{}, nil
}

func (s *nodeServer) NodeUnpublishVolume(ctx context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id := req.GetVolumeId()
	target, err := checkIDAndPath(id, req.GetTargetPath(), "target path")
	if err != nil {
		return nil, err
	}
	unlock, err := s.d.locks.tryLock(id, "NodeUnpublishVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := s.d.store.NodeVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		// Idempotent: a retry after success, or a volume we never knew.
		// Remove what may be left at the target (a dead mount, the folder).
		if err := s.d.unmountTarget(target); err != nil {
			return nil, err
		}
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	if rec.Kind == state.KindEphemeral {
		if rec.ServeDir != target {
			return nil, errorf(codes.NotFound, "volume %q is not published at %s", id, target)
		}
		return &csi.NodeUnpublishVolumeResponse{}, s.unpublishEphemeral(ctx, &rec)
	}
	if err := s.d.unmountTarget(target); err != nil {
		return nil, err
	}
	if _, ok := rec.Targets[target]; ok {
		delete(rec.Targets, target)
		if err := s.d.store.PutNodeVolume(rec); err != nil {
			return nil, withCode(codes.Internal, err)
		}
	}
	klog.InfoS("Volume unpublished", "volumeID", id, "target", target)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// unpublishEphemeral takes an inline volume down completely; with
// unattendedInstall it also applies the cleanup rule to the source object,
// as deleting the pod deletes the volume.
func (s *nodeServer) unpublishEphemeral(ctx context.Context, rec *state.NodeVolume) error {
	if err := s.d.stopServing(rec, s.d.getLive(rec.VolumeID)); err != nil {
		return err
	}
	if err := s.d.unmountTarget(rec.ServeDir); err != nil {
		return err
	}
	if rec.Unattended && rec.Source != nil {
		removed, deleted, err := s.d.opts.Source.RemoveUnattended(ctx, refOf(rec))
		switch {
		case errors.Is(err, source.ErrObjectNotFound):
			// Deleted by its owner already: nothing left to clean.
			klog.InfoS("Unattended cleanup: source object already gone", "volumeID", rec.VolumeID, "object", refOf(rec))
		case err != nil:
			// Keep the record so the kubelet's retry tries again.
			return fmt.Errorf("volume %q: unattended cleanup: %w", rec.VolumeID, err)
		default:
			klog.InfoS("Unattended cleanup of the source object", "volumeID", rec.VolumeID, "object", refOf(rec), "removedKeys", removed, "objectDeleted", deleted)
		}
	}
	if err := s.d.forget(rec); err != nil {
		return err
	}
	klog.InfoS("Ephemeral volume unpublished", "volumeID", rec.VolumeID, "target", rec.ServeDir)
	return nil
}
