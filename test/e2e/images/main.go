// Command images packs static binaries into a single-layer linux image and writes it as an
// OCI image-layout tarball (or a docker-archive one) that `ctr -n k8s.io images import`
// loads, so the e2e cluster runs images built without a Docker engine or a registry.
//
//	go run ./test/e2e/images -o csi-viso.tar -name csi-viso.local/csi-viso:e2e -bin bin/csi-viso
//	go run ./test/e2e/images -o busybox.tar -name csi-viso.local/busybox:1 \
//	    -bin /bin/busybox -path /bin/busybox -busybox-applets -entrypoint= -cmd /bin/sh
//
// The binary lands at /<basename> unless -path says otherwise and is the entrypoint unless
// -entrypoint says otherwise (an empty -entrypoint= leaves it unset). Every image also has
// /etc/passwd, /etc/group, /tmp, /proc, /sys and /dev.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

// listFlag is a repeatable flag; each use may also hold comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	if v != "" {
		*l = append(*l, strings.Split(v, ",")...)
	}
	return nil
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output tarball (required)")
	ref := fs.String("name", "", "image reference, e.g. csi-viso.local/csi-viso:e2e (required)")
	bin := fs.String("bin", "", "the static binary to pack (required)")
	binPath := fs.String("path", "", "where the binary goes in the image (default /<basename of -bin>)")
	format := fs.String("format", "oci", "archive format: oci (image layout) or docker (docker save)")
	arch := fs.String("arch", runtime.GOARCH, "image architecture")
	applets := fs.Bool("busybox-applets", false, "add a /bin/<applet> symlink for every applet `-bin --list` prints")
	workdir := fs.String("workdir", "", "working directory of the image config")
	var entrypoint, cmd, env, files listFlag
	fs.Var(&entrypoint, "entrypoint", "entrypoint, comma-separated or repeated (default: the binary; -entrypoint= for none)")
	fs.Var(&cmd, "cmd", "cmd, comma-separated or repeated")
	fs.Var(&env, "env", "KEY=VALUE, comma-separated or repeated (default PATH=/bin:/usr/bin:/sbin:/usr/sbin)")
	fs.Var(&files, "file", "extra HOST=IMAGEPATH file, repeated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *ref == "" || *bin == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-o, -name and -bin are required and there are no positional arguments")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", *ref, err)
	}
	s := Spec{Arch: *arch, WorkingDir: *workdir, Entrypoint: entrypoint, Cmd: cmd, Env: env}
	if *binPath == "" {
		*binPath = "/" + filepath.Base(*bin)
	}
	s.Files = append(s.Files, File{Host: *bin, Image: *binPath})
	if !set["entrypoint"] {
		s.Entrypoint = []string{*binPath}
	}
	if !set["env"] {
		s.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	}
	for _, f := range files {
		host, img, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("%w: -file %q is not HOST=IMAGEPATH", ErrBadSpec, f)
		}
		s.Files = append(s.Files, File{Host: host, Image: img})
	}
	if *applets {
		names, err := busyboxApplets(*bin)
		if err != nil {
			return err
		}
		s.Symlinks = map[string]string{}
		for _, n := range names {
			if p := "/bin/" + n; p != *binPath {
				s.Symlinks[p] = path.Base(*binPath)
			}
		}
	}

	img, err := Build(s)
	if err != nil {
		return err
	}
	write := WriteOCI
	switch *format {
	case "oci":
	case "docker":
		write = WriteDocker
	default:
		return fmt.Errorf("%w: -format %q (want oci or docker)", ErrBadSpec, *format)
	}
	if err := writeFileAtomic(*out, func(w io.Writer) error { return write(w, tag, img) }); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	fmt.Fprintf(stderr, "images: wrote %s: %s (%s)\n", *out, tag.Name(), d)
	return nil
}

// busyboxApplets asks the busybox binary itself which applets it has, so the image offers
// exactly the commands the binary implements.
func busyboxApplets(bin string) ([]string, error) {
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		n := strings.TrimSpace(sc.Text())
		if n != "" && !strings.ContainsAny(n, "/ ") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s --list printed no applets", ErrBadSpec, bin)
	}
	return names, nil
}

// writeFileAtomic writes through a temporary file renamed into place, so an interrupted run
// never leaves a truncated archive that a later import would choke on.
func writeFileAtomic(p string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("rename to %s: %w", p, err)
	}
	return nil
}
