package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/csi-viso/csi-viso/pkg/driver/serve/holder"
)

// runHolder keeps FUSE descriptors handed to it by the node plugin until
// SIGINT or SIGTERM (which ends every FUSE mount no plugin serves).
func runHolder(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fuse-holder", "fuse-holder --socket PATH", stderr)
	sock := fs.String("socket", "/var/lib/csi-viso/fuse-holder.sock", "Unix socket the node plugin hands descriptors to (give it the same path as --fuse-holder)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: fuse-holder takes no arguments", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return holder.Serve(ctx, *sock)
}
