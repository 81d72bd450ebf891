package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/serve/holder"

	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// Reconcile brings the node back to what its records say after a restart.
// A FUSE server dies with the process that ran it, so every recorded mount
// is dead (ENOTCONN) or, in a test restarting the driver in one process,
// still served by the old instance. For each record it:
//
//   - removes the old mounts (targets, then the served folder, detaching loop
//     devices first), so nothing stacks on a dead mount;
//   - serves the image again at the same folder from the staged files and,
//     for a persistent volume, binds every recorded target again;
//   - if the image cannot be served any more, tears the volume down and drops
//     the record (the kubelet's unpublish/unstage then find nothing to do).
//
// Folders without a readable record are leftovers of a crash mid-operation:
// their staged files are wiped. Reads in flight when the plugin died got
// ECONNABORTED; a reader that reopens the file afterwards reads again.
func (d *Driver) Reconcile(ctx context.Context) error {
	defer d.reconciled.Store(true)
	if err := d.store.RemoveTemporaries(); err != nil {
		klog.ErrorS(err, "Removing temporary files from the state directory")
	}
	entries, err := d.store.NodeEntries()
	if err != nil {
		return err
	}
	held := d.takeHeld()
	defer func() {
		// Descriptors no record claims (or that could not be resumed).
		for id, h := range held {
			unix.Close(h.Fd)
			if err := d.holder.Delete(id); err != nil {
				klog.InfoS("FUSE holder: could not drop a stale descriptor", "volumeID", id, "err", err)
			}
		}
	}()
	var errs []error
	for _, e := range entries {
		if e.Volume == nil {
			klog.InfoS("Reconcile: removing leftover state", "folder", e.Key, "reason", e.Err)
			if err := d.store.RemoveNodeDir(e.Key, d.opts.Source.Wipe); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if h, ok := held[e.Volume.VolumeID]; ok && !e.Volume.Kernel {
			delete(held, e.Volume.VolumeID)
			err := d.resume(ctx, e.Volume, h)
			if err == nil {
				continue
			}
			klog.ErrorS(err, "Reconcile: cannot take the FUSE connection over; serving the volume anew", "volumeID", e.Volume.VolumeID)
		}
		if err := d.reconcileVolume(ctx, e.Volume); err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", e.Volume.VolumeID, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Driver) reconcileVolume(ctx context.Context, rec *state.NodeVolume) error {
	if d.getLive(rec.VolumeID) != nil {
		return nil // served by this process already
	}
	if rec.Kernel {
		return d.reconcileKernel(rec)
	}
	// Take down what is left, in the order the kernel needs: binds of the
	// served folder (persistent targets), loops, then the FUSE mount.
	if rec.Kind == state.KindPersistent {
		for t := range rec.Targets {
			if err := unmountAll(t); err != nil {
				return err
			}
		}
	}
	if err := d.stopServing(rec, nil); err != nil {
		return d.dropAfter(rec, err)
	}
	if rec.Source != nil && rec.VISOKey == "" {
		// Crashed while staging: nothing was served yet.
		return d.dropAfter(rec, errors.New("staging never completed"))
	}
	lv, err := d.serveVolume(ctx, rec)
	if err != nil {
		return d.dropAfter(rec, err)
	}
	d.setLive(rec.VolumeID, lv)
	for t, tg := range rec.Targets {
		if rec.Kind != state.KindPersistent {
			break
		}
		if err := d.bindTarget(rec, t, tg.Block); err != nil {
			klog.ErrorS(err, "Reconcile: could not publish again", "volumeID", rec.VolumeID, "target", t)
			delete(rec.Targets, t)
		}
	}
	if err := d.store.PutNodeVolume(*rec); err != nil {
		return err
	}
	klog.InfoS("Reconcile: serving volume again", "volumeID", rec.VolumeID, "kind", rec.Kind, "dir", rec.ServeDir, "targets", len(rec.Targets))
	return nil
}

// dropAfter tears a volume down after reconcile failed to serve it again.
func (d *Driver) dropAfter(rec *state.NodeVolume, cause error) error {
	klog.ErrorS(cause, "Reconcile: cannot serve volume again; removing it", "volumeID", rec.VolumeID)
	var errs []error
	for t := range rec.Targets {
		if rec.Kind == state.KindPersistent {
			errs = append(errs, d.unmountTarget(t))
		}
	}
	errs = append(errs, d.stopServing(rec, nil), d.forget(rec))
	return errors.Join(append(errs, cause)...)
}

// reconcileKernel keeps a kernel-path volume as it is: its mounts and loop
// device do not depend on this process. Only the in-memory entry is
// rebuilt; a volume whose ISO went away is torn down.
func (d *Driver) reconcileKernel(rec *state.NodeVolume) error {
	f, err := d.openImageFile(rec)
	if err != nil {
		return d.dropAfter(rec, err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return d.dropAfter(rec, err)
	}
	d.setLive(rec.VolumeID, &liveVolume{size: fi.Size()})
	klog.InfoS("Reconcile: kernel-served volume kept", "volumeID", rec.VolumeID, "image", rec.Image, "targets", len(rec.Targets))
	return nil
}

// takeHeld fetches the FUSE descriptors the holder kept while this process
// was down (none without a holder).
func (d *Driver) takeHeld() map[string]holder.Held {
	if d.holder == nil {
		return nil
	}
	held, err := d.holder.Take()
	if err != nil {
		klog.ErrorS(err, "Reconcile: FUSE holder unavailable; FUSE volumes are served anew (their readers got errors)")
		return nil
	}
	klog.InfoS("Reconcile: FUSE descriptors from the holder", "count", len(held))
	return held
}

// resume serves a FUSE volume again on the connection the holder kept: the
// mount, its binds and loop device stayed as they were, and readers only
// waited. The descriptor is the new server's on success, closed on failure.
func (d *Driver) resume(ctx context.Context, rec *state.NodeVolume, h holder.Held) error {
	var ho serve.Handover
	if err := json.Unmarshal(h.Meta, &ho); err != nil {
		unix.Close(h.Fd)
		return fmt.Errorf("holder description: %w", err)
	}
	if ho.Dir != filepath.Clean(rec.ServeDir) {
		unix.Close(h.Fd)
		return fmt.Errorf("held connection serves %s, the record says %s: %w", ho.Dir, rec.ServeDir, serve.ErrNotResumable)
	}
	img, err := d.openVolumeImage(ctx, rec)
	if err != nil {
		unix.Close(h.Fd)
		return err
	}
	srv, err := serve.Resume(h.Fd, ho, img, serve.Options{FileName: rec.FileName})
	if err != nil {
		unix.Close(h.Fd)
		_ = img.Close(false)
		return err
	}
	d.setLive(rec.VolumeID, &liveVolume{img: img, srv: srv, size: img.Size()})
	d.metrics.decided(rec)
	klog.InfoS("Reconcile: resumed FUSE volume; readers only paused", "volumeID", rec.VolumeID, "dir", rec.ServeDir, "targets", len(rec.Targets), "loop", rec.Loop)
	return nil
}
