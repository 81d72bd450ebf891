package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// liveVolume is what this process holds for a served volume.
type liveVolume struct {
	img  backend.Image // nil on the kernel path
	srv  *serve.Server // nil on the kernel path
	size int64
}

// unmountTimeout bounds how long a busy FUSE mount is retried before it is
// detached lazily.
const unmountTimeout = 5 * time.Second

func (d *Driver) getLive(volumeID string) *liveVolume {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.live[volumeID]
}

func (d *Driver) setLive(volumeID string, lv *liveVolume) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if lv == nil {
		delete(d.live, volumeID)
	} else {
		d.live[volumeID] = lv
	}
}

// newNodeRecord builds the record of a volume about to be served at
// serveDir, and stages its source object if it has one.
func (d *Driver) newNodeRecord(ctx context.Context, volumeID, kind, serveDir string, attrs map[string]string, a Attributes) (*state.NodeVolume, error) {
	rec := &state.NodeVolume{
		VolumeID:   volumeID,
		Kind:       kind,
		Attributes: attrs,
		FileName:   a.FileName,
		ServeDir:   serveDir,
		Unattended: a.UnattendedInstall,
	}
	if kind == state.KindPersistent {
		rec.StagingPath = serveDir
	}
	if a.Image != "" {
		res, err := d.mediaResolver()
		if err != nil {
			return nil, err
		}
		defer res.Close()
		p, err := d.resolveImage(res, a.Image)
		if err != nil {
			return nil, err
		}
		rec.Image = p
		if fi, err := res.Stat(p); err == nil && kernelServable(fi) {
			rec.Kernel = true
		}
		return rec, nil
	}
	ns := a.namespace()
	if ns == "" {
		return nil, errorf(codes.InvalidArgument, "volume %q: no namespace for %s: the volume context has neither %s nor %s (is podInfoOnMount set on the CSIDriver?)",
			volumeID, objectName(a), keyPodNamespace, keyPVCNamespace)
	}
	rec.Source = &state.Source{Namespace: ns, ConfigMap: a.ConfigMap, Secret: a.Secret, Key: a.Key}
	// Record first: a crash while staging leaves a record reconcile can
	// act on, never answer files nobody knows about.
	if err := d.store.PutNodeVolume(*rec); err != nil {
		return nil, withCode(codes.Internal, err)
	}
	ref := source.Ref{Namespace: ns, ConfigMap: a.ConfigMap, Secret: a.Secret, Key: a.Key}
	staged, err := d.opts.Source.Stage(ctx, ref, d.store.SourceDir(volumeID))
	if err != nil {
		return nil, err
	}
	rec.VISOKey = staged.VISOKey
	return rec, nil
}

func objectName(a Attributes) string {
	if a.Secret != "" {
		return "secret " + a.Secret
	}
	return "configmap " + a.ConfigMap
}

// serveVolume opens the image of rec and FUSE-serves it at rec.ServeDir,
// attaching a loop device for block volumes. A mount left at ServeDir by a
// dead server is removed first so that ours does not stack on it.
func (d *Driver) serveVolume(ctx context.Context, rec *state.NodeVolume) (*liveVolume, error) {
	if rec.Kernel {
		return d.kernelServe(rec)
	}
	img, err := d.openVolumeImage(ctx, rec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(rec.ServeDir, 0o750); err != nil {
		_ = img.Close(false)
		return nil, fmt.Errorf("create %s: %w", rec.ServeDir, err)
	}
	if err := serve.CleanupMountPoint(rec.ServeDir); err != nil {
		_ = img.Close(false)
		return nil, fmt.Errorf("clear old mount at %s: %w", rec.ServeDir, err)
	}
	srv, err := serve.Mount(ctx, rec.ServeDir, img, serve.Options{FileName: rec.FileName})
	if err != nil {
		_ = img.Close(false)
		return nil, err
	}
	lv := &liveVolume{img: img, srv: srv, size: img.Size()}
	rec.Loop = ""
	if rec.Block {
		dev, err := serve.AttachLoop(srv.Path())
		if err != nil {
			d.stopServing(rec, lv)
			return nil, err
		}
		rec.Loop = dev
	}
	return lv, nil
}

// stopServing detaches the loop device and unmounts the FUSE server of rec
// (live or dead), then closes the image. Errors are collected; the caller
// decides whether the record may go.
func (d *Driver) stopServing(rec *state.NodeVolume, lv *liveVolume) error {
	var errs []error
	if rec.Loop != "" {
		if err := serve.DetachLoop(rec.Loop); err != nil {
			errs = append(errs, err)
		}
	}
	if lv != nil && lv.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), unmountTimeout)
		err := lv.srv.Unmount(ctx)
		cancel()
		if err != nil && !errors.Is(err, serve.ErrBusy) {
			errs = append(errs, err)
		}
	}
	if rec.Kernel {
		// Only an ephemeral volume has mounts at ServeDir; a persistent
		// one's staging path is left as the kubelet made it.
		if rec.Kind == state.KindEphemeral {
			errs = append(errs, unmountAll(rec.ServeDir))
		}
	} else if err := serve.CleanupMountPoint(rec.ServeDir); err != nil {
		// Also catches a dead mount from an earlier process and loops we lost.
		errs = append(errs, err)
	}
	d.metrics.served(lv)
	if lv != nil && lv.img != nil {
		if err := lv.img.Close(false); err != nil {
			klog.InfoS("Closing image failed", "volumeID", rec.VolumeID, "err", err)
		}
	}
	return errors.Join(errs...)
}

// forget wipes the staged source and drops the record.
func (d *Driver) forget(rec *state.NodeVolume) error {
	d.setLive(rec.VolumeID, nil)
	if err := d.store.DeleteNodeVolume(rec.VolumeID, d.opts.Source.Wipe); err != nil {
		return withCode(codes.Internal, err)
	}
	return nil
}

// unmountTarget removes every mount at target (bind mounts, dead FUSE
// mounts answering ENOTCONN, the kernel path's tmpfs and file bind) and
// then target itself. A target that is gone already is fine.
func (d *Driver) unmountTarget(target string) error {
	if err := unmountAll(target); err != nil {
		return err
	}
	if err := os.Remove(target); err != nil && !isNotExist(err) {
		return fmt.Errorf("remove %s: %w", target, err)
	}
	return nil
}

// bindTarget publishes a persistent volume at target, read-only: the
// staging folder for filesystem volumes, the loop device node for block.
func (d *Driver) bindTarget(rec *state.NodeVolume, target string, block bool) error {
	src := rec.ServeDir
	if block {
		if rec.Loop == "" {
			return errorf(codes.FailedPrecondition, "volume %q was staged for filesystem access, not block", rec.VolumeID)
		}
		src = rec.Loop
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(target), err)
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
		if err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		_ = f.Close()
	} else {
		if rec.Kernel {
			if err := d.kernelServeDir(rec, target); err != nil {
				_ = os.Remove(target)
				return err
			}
			return nil
		}
		if err := os.MkdirAll(target, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
	}
	if err := bindReadOnly(src, target, block); err != nil {
		_ = os.Remove(target)
		return err
	}
	return nil
}

// bindReadOnly bind-mounts src onto target and makes the bind read-only,
// nosuid (and nodev, except for a device node, which must stay usable).
// It calls mount(2) itself rather than mount-utils' Mount, which runs the
// mount(8) binary: the driver's image holds nothing but the driver.
func bindReadOnly(src, target string, device bool) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", src, target, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID)
	if !device {
		flags |= unix.MS_NODEV
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		_ = unix.Unmount(target, unix.MNT_DETACH)
		return fmt.Errorf("make bind %s read-only: %w", target, err)
	}
	return nil
}

// isMounted reports whether target is a mount point answering normally.
func (d *Driver) isMounted(target string) bool {
	isMnt, err := d.mounter.IsMountPoint(target)
	if err != nil || !isMnt {
		return false
	}
	_, err = os.Stat(target)
	return err == nil // a dead FUSE mount answers ENOTCONN
}
