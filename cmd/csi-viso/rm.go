package main

import (
	"fmt"
	"io"
	"os"

	"github.com/csi-viso/csi-viso/pkg/viso"
)

// runRm deletes a VISO the way VirtualBox's close-with-delete does: with
// --unattended-install, first the generated Unattended-* files it references in its
// own folder, then the VISO itself. A file that is not a valid VISO is never deleted:
// the tool must not become a general-purpose rm.
func runRm(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rm", "rm FILE.viso [--unattended-install]", stderr)
	unattended := fs.Bool("unattended-install", false, "also delete the Unattended-* files the VISO references in its folder (VirtualBox's UnattendedInstall=1)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: rm takes exactly one FILE.viso", errUsage)
	}
	path := pos[0]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	env, err := viso.ReadEnvelope(path, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("not removed: %w", err)
	}
	removed, warnings, err := viso.RemoveVISO(path, env.Args, *unattended)
	for _, p := range removed {
		fmt.Fprintf(stdout, "removed %s\n", p)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %v\n", w)
	}
	return err
}
