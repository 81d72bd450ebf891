// Command csi-viso synthesises ISO images from VirtualBox .viso files and, as a CSI
// driver, publishes them into Kubernetes pods. See the README for the subcommands.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
)

// version is set at link time (-ldflags "-X main.version=…").
var version = "dev"

// command is one subcommand: run returns an error wrapping errUsage for exit status 2,
// any other error for exit status 1.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"build":       {"write the image a VISO describes to an ISO file", runBuild},
		"driver":      {"run the CSI driver (node, controller or both)", runDriver},
		"mount":       {"serve a VISO's image as DIR/disk.img until interrupted", runMount},
		"fuse-holder": {"keep the node plugin's FUSE connections alive across its restarts", runHolder},
		"inspect":     {"print a VISO's UUID, arguments and parsed plan", runInspect},
		"rm":          {"delete a VISO like VirtualBox's close-with-delete", runRm},
		"version":     {"print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "csi-viso: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "csi-viso %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "csi-viso %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: csi-viso <command> [arguments]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	fmt.Fprintf(stdout, "csi-viso %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
