package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csi-viso/csi-viso/pkg/driver/serve/reflink"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

// runMount serves DIR/disk.img with the driver's serving code until SIGINT
// or SIGTERM, then unmounts (retrying while the file is busy). In reflink
// mode (and auto, where the state dir allows it) the image is materialised
// in --state-dir and bound read-only at DIR; it is deleted at the end.
func runMount(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mount", "mount FILE.viso DIR [--media-root DIR]... [--file-name NAME] [--serve-mode auto|reflink|fuse --state-dir DIR]", stderr)
	var roots multiFlag
	fs.Var(&roots, "media-root", "folder absolute source paths may point into (repeatable; default: the VISO's folder)")
	fileName := fs.String("file-name", serve.DefaultFileName, "name of the served file")
	modeFlag := fs.String("serve-mode", string(serve.ModeFUSE), "auto, reflink (materialise in --state-dir, sharing the sources' blocks) or fuse")
	stateDir := fs.String("state-dir", "", "folder for the materialised image (reflink and auto modes; on the sources' XFS or btrfs)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: mount takes FILE.viso and DIR", errUsage)
	}
	mode, err := serve.ParseMode(*modeFlag)
	if err != nil {
		return fmt.Errorf("%w: --serve-mode: %v", errUsage, err)
	}
	if mode != serve.ModeFUSE && *stateDir == "" {
		return fmt.Errorf("%w: --serve-mode=%s needs --state-dir", errUsage, mode)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	img, err := viso.NewBackend(roots).Open(ctx, pos[0], backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
	if err != nil {
		return err
	}
	defer img.Close(false)
	if mode != serve.ModeFUSE {
		done, err := mountMaterialized(ctx, img, pos[1], *stateDir, *fileName, mode == serve.ModeAuto, stdout)
		switch {
		case err == nil:
			return done()
		case mode == serve.ModeAuto && (errors.Is(err, reflink.ErrNotSupported) || errors.Is(err, reflink.ErrTooMuchCopy)):
			fmt.Fprintf(stderr, "serve mode auto: %v; serving through FUSE\n", err)
		default:
			return err
		}
	}
	srv, err := serve.Mount(ctx, pos[1], img, serve.Options{FileName: *fileName})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s (%d bytes); interrupt to unmount\n", srv.Path(), img.Size())
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
		return fmt.Errorf("%s was unmounted from outside", srv.Dir())
	}
	uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Unmount(uctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "unmounted %s\n", srv.Dir())
	return nil
}

// mountMaterialized writes the image into stateDir sharing the sources'
// blocks (copying at most 256 MiB when bounded), binds it read-only at dir/name and returns a function that waits
// for SIGINT/SIGTERM, then unbinds and deletes it.
func mountMaterialized(ctx context.Context, img backend.Image, dir, stateDir, name string, bounded bool, stdout io.Writer) (func() error, error) {
	ri, ok := img.(reflink.Image)
	if !ok {
		return nil, fmt.Errorf("image cannot name its host extents: %w", reflink.ErrNotSupported)
	}
	if err := reflink.Probe(stateDir); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, filepath.Base(dir)+"-"+name)
	start := time.Now()
	var opts reflink.Options
	if bounded {
		opts.MaxCopyBytes = 256 << 20 // auto: more than this copied is better served by FUSE
	}
	st, err := reflink.Materialize(ctx, ri, path, opts)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	err = serve.BindFile(f, dir, name)
	f.Close()
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	fmt.Fprintf(stdout, "serving %s (%d bytes, materialised in %s: %d bytes shared with the sources, %d copied, %v); interrupt to unmount\n",
		filepath.Join(dir, name), st.Size, path, st.Cloned, st.Copied, time.Since(start).Round(time.Millisecond))
	return func() error {
		<-ctx.Done()
		err := errors.Join(unix.Unmount(filepath.Join(dir, name), unix.MNT_DETACH), unix.Unmount(dir, unix.MNT_DETACH), os.Remove(path))
		if err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		fmt.Fprintf(stdout, "unmounted %s\n", dir)
		return nil
	}, nil
}
