package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

// runMount serves DIR/disk.img with the driver's serving code until SIGINT
// or SIGTERM, then unmounts (retrying while the file is busy).
func runMount(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mount", "mount FILE.viso DIR [--media-root DIR]... [--file-name NAME]", stderr)
	var roots multiFlag
	fs.Var(&roots, "media-root", "folder absolute source paths may point into (repeatable; default: the VISO's folder)")
	fileName := fs.String("file-name", serve.DefaultFileName, "name of the served file")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: mount takes FILE.viso and DIR", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	img, err := viso.NewBackend(roots).Open(ctx, pos[0], backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
	if err != nil {
		return err
	}
	defer img.Close(false)
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
