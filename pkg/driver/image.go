package driver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/backend/raw"
	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

// mediaResolver confines plain-ISO paths to the media roots. Relative paths
// never reach it: resolveImage turns them into absolute candidates first.
func (d *Driver) mediaResolver() (*confine.Resolver, error) {
	if len(d.opts.MediaRoots) == 0 {
		return nil, errorf(codes.InvalidArgument, "volume attribute %s: no media roots are configured on this node (--media-root), so no image can be served", AttrImage)
	}
	res, err := confine.New(d.opts.MediaRoots[0], d.opts.MediaRoots)
	if err != nil {
		return nil, withCode(codes.FailedPrecondition, fmt.Errorf("media roots: %w", err))
	}
	return res, nil
}

// resolveImage finds the plain ISO an image attribute names: a relative path
// in the first media root that has it, an absolute one only inside a root.
func (d *Driver) resolveImage(res *confine.Resolver, p string) (string, error) {
	if err := checkImagePath(p); err != nil {
		return "", err
	}
	if filepath.IsAbs(p) {
		if _, _, err := res.Locate(p); err != nil {
			return "", withCode(codes.InvalidArgument, fmt.Errorf("volume attribute %s: %w", AttrImage, err))
		}
		if _, err := res.Stat(p); err != nil {
			return "", imageStatError(p, err)
		}
		return filepath.Clean(p), nil
	}
	rel := filepath.Clean(p)
	for _, root := range d.opts.MediaRoots {
		cand := filepath.Join(root, rel)
		_, err := res.Stat(cand)
		if err == nil {
			return cand, nil
		}
		if !errors.Is(err, confine.ErrNotFound) {
			return "", imageStatError(p, err)
		}
	}
	return "", errorf(codes.FailedPrecondition, "volume attribute %s: %q is in none of the media roots (%s)", AttrImage, p, strings.Join(d.opts.MediaRoots, ", "))
}

func imageStatError(p string, err error) error {
	code := codes.FailedPrecondition
	if errors.Is(err, confine.ErrOutsideRoot) || errors.Is(err, confine.ErrSpecialFile) {
		code = codes.InvalidArgument
	}
	return withCode(code, fmt.Errorf("volume attribute %s %q: %w", AttrImage, p, err))
}

// openVolumeImage opens the image a node volume serves, from its record:
// a plain ISO through the raw backend with the confining opener, or the
// staged VISO through the VISO backend.
func (d *Driver) openVolumeImage(ctx context.Context, rec *state.NodeVolume) (backend.Image, error) {
	if rec.Image != "" {
		res, err := d.mediaResolver()
		if err != nil {
			return nil, err
		}
		defer res.Close()
		img, err := raw.New(res.Open).Open(ctx, rec.Image, backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
		if err != nil {
			return nil, withCode(codeOrPrecondition(err), fmt.Errorf("volume attribute %s: %w", AttrImage, err))
		}
		return img, nil
	}
	path := filepath.Join(d.store.SourceDir(rec.VolumeID), rec.VISOKey)
	cfg := backend.Config{}
	if rec.Unattended {
		cfg[viso.ConfigUnattendedInstall] = "1"
	}
	img, err := viso.NewBackend(d.opts.MediaRoots).Open(ctx, path, backend.OpenReadOnly, backend.DeviceOpticalDisc, cfg)
	if err != nil {
		// The VISO's own message names the line and argument; prefix the
		// object and key so the pod's events say where to look.
		err = &relabeled{msg: strings.ReplaceAll(err.Error(), d.store.SourceDir(rec.VolumeID)+"/", ""), err: err}
		return nil, withCode(codeOrPrecondition(err), fmt.Errorf("%s: %w", refOf(rec), err))
	}
	return img, nil
}

// relabeled shows another message for err while keeping it for errors.Is:
// the staged folder's path means nothing to the VISO's author, so messages
// name the key ("seed.viso:8: ...") instead.
type relabeled struct {
	msg string
	err error
}

func (r *relabeled) Error() string { return r.msg }
func (r *relabeled) Unwrap() error { return r.err }

// codeOrPrecondition keeps a specific code (a confinement refusal is the
// request's fault) and otherwise calls a failure to open the image a
// precondition: the ConfigMap or media must be fixed, then the retry works.
func codeOrPrecondition(err error) codes.Code {
	if c := codeOf(err); c != codes.Internal {
		return c
	}
	return codes.FailedPrecondition
}

// refOf is the source reference of a node record, with the staged VISO key.
func refOf(rec *state.NodeVolume) source.Ref {
	if rec.Source == nil {
		return source.Ref{}
	}
	key := rec.Source.Key
	if key == "" {
		key = rec.VISOKey
	}
	return source.Ref{Namespace: rec.Source.Namespace, ConfigMap: rec.Source.ConfigMap, Secret: rec.Source.Secret, Key: key}
}
