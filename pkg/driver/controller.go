package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

type controllerServer struct {
	csi.UnimplementedControllerServer
	d *Driver
}

func (s *controllerServer) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: []*csi.ControllerServiceCapability{{
		Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{
			Type: csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		}},
	}}}, nil
}

// volumeIDFor derives the volume ID from the CreateVolume name, so a retry
// after a lost reply finds the same record.
func volumeIDFor(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "viso-" + hex.EncodeToString(sum[:16])
}

// unattendedIDPrefix starts the ID of a volume whose deletion must apply the
// UnattendedInstall cleanup: the ID carries the source object, so
// DeleteVolume can clean up even when the controller that created the volume
// (and its records) is gone. ':' cannot occur in namespaces, object names or
// keys, so the fields split unambiguously.
const unattendedIDPrefix = "viso-u1:"

// maxVolumeIDLength is what the CSI spec asks COs to accept at least.
const maxVolumeIDLength = 128

// unattendedVolumeID is the ID of an unattended volume created under name
// for ref, or "" when it would be longer than maxVolumeIDLength.
func unattendedVolumeID(name string, ref source.Ref) string {
	kind, obj := "cm", ref.ConfigMap
	if ref.Secret != "" {
		kind, obj = "secret", ref.Secret
	}
	sum := sha256.Sum256([]byte(name))
	id := unattendedIDPrefix + strings.Join([]string{ref.Namespace, kind, obj, ref.Key, hex.EncodeToString(sum[:8])}, ":")
	if len(id) > maxVolumeIDLength {
		return ""
	}
	return id
}

// refFromVolumeID recovers the source object of an unattended volume ID.
func refFromVolumeID(id string) (source.Ref, bool) {
	rest, ok := strings.CutPrefix(id, unattendedIDPrefix)
	if !ok {
		return source.Ref{}, false
	}
	f := strings.Split(rest, ":")
	if len(f) != 5 || f[0] == "" || f[2] == "" {
		return source.Ref{}, false
	}
	ref := source.Ref{Namespace: f[0], Key: f[3]}
	switch f[1] {
	case "cm":
		ref.ConfigMap = f[2]
	case "secret":
		ref.Secret = f[2]
	default:
		return source.Ref{}, false
	}
	return ref, true
}

func checkCapabilities(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return errorf(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range caps {
		if _, err := checkCapability(c); err != nil {
			return err
		}
	}
	return nil
}

// CreateVolume records a volume. Nothing is built here: the image is
// synthesised on the node that stages it. The capacity reported is the
// required bytes asked for (0, "unknown", when none): never the image size,
// which may be smaller than the claim and would be rejected.
func (s *controllerServer) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, errorf(codes.InvalidArgument, "volume name missing")
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	if req.GetVolumeContentSource() != nil {
		return nil, errorf(codes.InvalidArgument, "volume content sources (snapshots, clones) are not supported")
	}
	required, limit := req.GetCapacityRange().GetRequiredBytes(), req.GetCapacityRange().GetLimitBytes()
	if required < 0 || limit < 0 {
		return nil, errorf(codes.InvalidArgument, "negative capacity range")
	}
	if limit > 0 && required > limit {
		return nil, errorf(codes.OutOfRange, "required bytes %d exceed limit bytes %d", required, limit)
	}
	params := req.GetParameters()
	attrs, err := parseAttributes(params, attrOptions{allowNoSource: true})
	if err != nil {
		return nil, err
	}
	unlock, err := s.d.locks.tryLock("name:"+name, "CreateVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()

	vctx := maps.Clone(params)
	if vctx == nil {
		vctx = map[string]string{}
	}
	switch {
	case attrs.Image != "":
		if err := s.checkImage(attrs.Image); err != nil {
			return nil, err
		}
	case !attrs.fromObject():
		cm, err := s.configMapFromPVC(ctx, attrs)
		if err != nil {
			return nil, err
		}
		vctx[AttrConfigMap] = cm
		attrs.ConfigMap = cm
	}
	id := volumeIDFor(name)
	if attrs.UnattendedInstall && attrs.fromObject() {
		ref := source.Ref{Namespace: attrs.namespace(), ConfigMap: attrs.ConfigMap, Secret: attrs.Secret, Key: attrs.Key}
		if uid := unattendedVolumeID(name, ref); uid != "" {
			id = uid
		} else {
			klog.InfoS("Volume ID cannot carry the source object (longer than 128 bytes): its UnattendedInstall cleanup relies on this controller's records", "name", name, "object", ref)
		}
	}
	if rec, err := s.d.store.ControllerVolume(id); err == nil {
		if rec.Name != name || !maps.Equal(rec.Parameters, params) || rec.RequiredBytes != required || rec.LimitBytes != limit {
			return nil, errorf(codes.AlreadyExists, "volume %q exists with other parameters or capacity range", name)
		}
		return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: rec.VolumeID, CapacityBytes: rec.CapacityBytes, VolumeContext: rec.VolumeContext}}, nil
	} else if !errors.Is(err, state.ErrNotFound) {
		return nil, withCode(codes.Internal, err)
	}

	rec := state.ControllerVolume{
		Name: name, VolumeID: id, Parameters: maps.Clone(params),
		RequiredBytes: required, LimitBytes: limit, CapacityBytes: required,
		VolumeContext: vctx,
	}
	if err := s.d.store.PutControllerVolume(rec); err != nil {
		return nil, withCode(codes.Internal, err)
	}
	klog.InfoS("Volume created", "name", name, "volumeID", id, "context", vctx)
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: id, CapacityBytes: rec.CapacityBytes, VolumeContext: vctx}}, nil
}

// checkImage resolves a plain ISO when this process has media roots; a
// controller without them only applies the lexical rules (the node decides).
func (s *controllerServer) checkImage(p string) error {
	if len(s.d.opts.MediaRoots) == 0 {
		return nil
	}
	res, err := s.d.mediaResolver()
	if err != nil {
		return err
	}
	defer res.Close()
	_, err = s.d.resolveImage(res, p)
	return err
}

// configMapFromPVC reads the viso.csi.io/configmap annotation of the PVC
// named by the provisioner's extra create metadata.
func (s *controllerServer) configMapFromPVC(ctx context.Context, a Attributes) (string, error) {
	if a.PVCNamespace == "" || a.PVCName == "" {
		return "", errorf(codes.InvalidArgument, "no image source: the parameters set none of %s, %s, %s, and without %s and %s (external-provisioner --extra-create-metadata) the PVC annotation %s cannot be read",
			AttrConfigMap, AttrSecret, AttrImage, keyPVCNamespace, keyPVCName, AnnotationConfigMap)
	}
	cm, err := s.d.opts.Source.PVCAnnotation(ctx, a.PVCNamespace, a.PVCName, AnnotationConfigMap)
	if err != nil {
		return "", err
	}
	if cm == "" {
		return "", errorf(codes.InvalidArgument, "persistentvolumeclaim %s/%s: no image source: the StorageClass parameters set none of %s, %s, %s and the claim has no %s annotation",
			a.PVCNamespace, a.PVCName, AttrConfigMap, AttrSecret, AttrImage, AnnotationConfigMap)
	}
	return cm, nil
}

// DeleteVolume forgets the volume; with unattendedInstall it first removes
// the VISO and its Unattended-* keys from the source object. An unknown ID
// succeeds (the volume is gone already).
func (s *controllerServer) DeleteVolume(ctx context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, errorf(codes.InvalidArgument, "volume ID missing")
	}
	unlock, err := s.d.locks.tryLock(id, "DeleteVolume")
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := s.d.store.ControllerVolume(id)
	if errors.Is(err, state.ErrNotFound) {
		// A controller that did not create the volume (replaced pod, lost
		// state): the ID itself names what an unattended volume must clean.
		if ref, ok := refFromVolumeID(id); ok {
			if err := s.d.cleanUnattended(ctx, id, ref); err != nil {
				return nil, err
			}
		}
		return &csi.DeleteVolumeResponse{}, nil
	}
	if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	attrs, err := parseAttributes(rec.VolumeContext, attrOptions{allowNoSource: true})
	if err != nil {
		return nil, withCode(codes.Internal, fmt.Errorf("stored volume context of %q: %w", id, err))
	}
	if attrs.UnattendedInstall && attrs.fromObject() {
		ref := source.Ref{Namespace: attrs.namespace(), ConfigMap: attrs.ConfigMap, Secret: attrs.Secret, Key: attrs.Key}
		if err := s.d.cleanUnattended(ctx, id, ref); err != nil {
			return nil, err
		}
	}
	if err := s.d.store.DeleteControllerVolume(id); err != nil {
		return nil, withCode(codes.Internal, err)
	}
	klog.InfoS("Volume deleted", "volumeID", id, "name", rec.Name)
	return &csi.DeleteVolumeResponse{}, nil
}

func (s *controllerServer) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, errorf(codes.InvalidArgument, "volume ID missing")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, errorf(codes.InvalidArgument, "volume capabilities missing")
	}
	if _, err := s.d.store.ControllerVolume(id); errors.Is(err, state.ErrNotFound) {
		return nil, errorf(codes.NotFound, "volume %q does not exist", id)
	} else if err != nil {
		return nil, withCode(codes.Internal, err)
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	if _, err := parseAttributes(req.GetParameters(), attrOptions{allowNoSource: true}); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

// cleanUnattended applies the UnattendedInstall rule to the source object of
// a deleted volume; an object already gone is fine.
func (d *Driver) cleanUnattended(ctx context.Context, id string, ref source.Ref) error {
	removed, deleted, err := d.opts.Source.RemoveUnattended(ctx, ref)
	switch {
	case errors.Is(err, source.ErrObjectNotFound):
		klog.InfoS("Unattended cleanup: source object already gone", "volumeID", id, "object", ref)
	case err != nil:
		return fmt.Errorf("volume %q: unattended cleanup: %w", id, err)
	default:
		klog.InfoS("Unattended cleanup of the source object", "volumeID", id, "object", ref, "removedKeys", removed, "objectDeleted", deleted)
	}
	return nil
}
