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
	"github.com/csi-viso/csi-viso/pkg/driver/serve/reflink"
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
			rec.Mode, rec.ModeReason = string(serve.ModeKernel), "world-readable plain ISO"
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

// serveVolume serves the image of rec at rec.ServeDir, top-down: a plain
// world-readable ISO goes to the kernel as it is; any other image is opened
// and then either materialised (reflink: a file sharing the sources' blocks,
// served by the kernel) or served through FUSE, as the serve mode and the
// state folder's file system allow. Block volumes get a loop device over the
// result. rec records the mode and why.
func (d *Driver) serveVolume(ctx context.Context, rec *state.NodeVolume) (*liveVolume, error) {
	if rec.Kernel {
		lv, err := d.kernelServe(rec)
		if err == nil {
			d.metrics.decided(rec)
		}
		return lv, err
	}
	img, err := d.openVolumeImage(ctx, rec)
	if err != nil {
		return nil, err
	}
	mode, reason := d.chooseMode()
	if mode == serve.ModeReflink {
		lv, err := d.materialize(ctx, rec, img)
		switch {
		case err == nil:
			d.metrics.decided(rec)
			return lv, nil
		case d.opts.ServeMode == serve.ModeAuto && (errors.Is(err, reflink.ErrNotSupported) || errors.Is(err, reflink.ErrTooMuchCopy)):
			mode, reason = serve.ModeFUSE, err.Error()
		default:
			_ = img.Close(false)
			return nil, withCode(codes.FailedPrecondition, fmt.Errorf("volume %q: serve mode reflink: %w", rec.VolumeID, err))
		}
	}
	rec.Mode, rec.ModeReason = string(mode), reason
	lv, err := d.fuseServe(ctx, rec, img)
	if err != nil {
		return nil, err
	}
	d.metrics.decided(rec)
	return lv, nil
}

// chooseMode decides before trying: FUSE when asked for or when the state
// folder cannot share blocks at all (probed once at start), else reflink.
func (d *Driver) chooseMode() (serve.Mode, string) {
	switch {
	case d.opts.ServeMode == serve.ModeFUSE:
		return serve.ModeFUSE, "serve mode fuse asked for"
	case d.reflinkErr != nil && d.opts.ServeMode == serve.ModeAuto:
		return serve.ModeFUSE, d.reflinkErr.Error()
	}
	return serve.ModeReflink, "state folder shares blocks with the sources"
}

// reflinkMaxCopy bounds, in auto mode, what a materialised image may copy
// rather than share (metadata, answer files, added files whose data is not
// block-aligned in the image): past it, FUSE serves the volume without
// using the disk. Serve mode reflink copies whatever it must.
const reflinkMaxCopy = 256 << 20

// materialize writes the image into the volume's state folder, closes img
// (the file stands alone) and serves the file through the kernel path.
func (d *Driver) materialize(ctx context.Context, rec *state.NodeVolume, img backend.Image) (*liveVolume, error) {
	if d.reflinkErr != nil {
		return nil, d.reflinkErr
	}
	ri, ok := img.(reflink.Image)
	if !ok {
		return nil, fmt.Errorf("image cannot name its host extents: %w", reflink.ErrNotSupported)
	}
	path := filepath.Join(d.store.NodeDir(rec.VolumeID), "image.iso")
	start := time.Now()
	var opts reflink.Options
	if d.opts.ServeMode == serve.ModeAuto {
		opts.MaxCopyBytes = reflinkMaxCopy
	}
	st, err := reflink.Materialize(ctx, ri, path, opts)
	if err != nil {
		return nil, err
	}
	_ = img.Close(false)
	rec.Kernel, rec.Materialized = true, path
	rec.Mode, rec.ModeReason = string(serve.ModeReflink), fmt.Sprintf("%s: %d bytes shared, %d copied", reflink.FSType(path), st.Cloned, st.Copied)
	klog.InfoS("Materialised image", "volumeID", rec.VolumeID, "path", path, "size", st.Size, "cloned", st.Cloned, "copied", st.Copied, "duration", time.Since(start))
	lv, err := d.kernelServe(rec)
	if err != nil {
		_ = os.Remove(path)
		rec.Kernel, rec.Materialized = false, ""
		return nil, err
	}
	return lv, nil
}

// fuseServe FUSE-serves img at rec.ServeDir and hands the connection to the
// holder, so a restart of this process only pauses readers. A mount left at
// ServeDir by a dead server is removed first so that ours does not stack on it.
func (d *Driver) fuseServe(ctx context.Context, rec *state.NodeVolume, img backend.Image) (*liveVolume, error) {
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
	d.hold(rec, srv)
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

// hold gives the holder a copy of the server's descriptor. Without one the
// volume is served all the same, but a restart ends it: the reason says so.
func (d *Driver) hold(rec *state.NodeVolume, srv *serve.Server) {
	if d.holder == nil {
		rec.ModeReason += "; no FUSE holder configured: a plugin restart ends this volume"
		return
	}
	if err := d.holder.Put(rec.VolumeID, srv.Fd(), srv.Handover()); err != nil {
		klog.ErrorS(err, "FUSE holder unavailable: this volume will not survive a plugin restart", "volumeID", rec.VolumeID)
		rec.ModeReason += "; FUSE holder unavailable: a plugin restart ends this volume"
	}
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
	if !rec.Kernel && d.holder != nil {
		if err := d.holder.Delete(rec.VolumeID); err != nil {
			klog.InfoS("FUSE holder: could not drop the descriptor (it drops it itself once the mount is gone)", "volumeID", rec.VolumeID, "err", err)
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
