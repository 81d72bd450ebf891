package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/csi-viso/csi-viso/pkg/viso"
)

// runBuild materialises the image of a VISO. It streams into a temporary file
// beside OUT and renames it over OUT only when everything succeeded, so OUT is
// either the complete new image or untouched.
func runBuild(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", "build FILE.viso -o OUT.iso [--media-root DIR]...", stderr)
	out := fs.String("o", "", "output ISO file (required)")
	var roots multiFlag
	fs.Var(&roots, "media-root", "folder absolute source paths may point into (repeatable; default: the VISO's folder)")
	mf := addMediaFlags(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return fmt.Errorf("%w: build takes one FILE.viso and -o OUT.iso", errUsage)
	}
	res, err := viso.NewResolver(pos[0], roots)
	if err != nil {
		return err
	}
	defer res.Close()
	if err := mf.apply(context.Background(), res, stderr); err != nil {
		return err
	}
	doc, err := viso.ParseFile(pos[0], res)
	if err != nil {
		return err
	}
	img, err := doc.Build(res)
	if err != nil {
		return err
	}
	defer img.Close()
	return writeAtomically(*out, img.Size(), img.WriteTo, stderr)
}

// writeAtomically writes size bytes produced by write into path via a temporary
// file in the same folder, showing progress when stderr is a terminal.
func writeAtomically(path string, size int64, write func(io.Writer) (int64, error), stderr io.Writer) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var w io.Writer = tmp
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		p := &progress{total: size}
		stop := p.show(f, path)
		defer stop()
		w = io.MultiWriter(tmp, p)
	}
	n, err := write(w)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if n != size {
		return fmt.Errorf("writing %s: wrote %d of %d bytes", path, n, size)
	}
	// CreateTemp makes the file 0600; an ISO is not secret, so give it the usual mode.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress counts bytes written and redraws one status line a few times a second.
type progress struct {
	total int64
	done  atomic.Int64
}

func (p *progress) Write(b []byte) (int, error) {
	p.done.Add(int64(len(b)))
	return len(b), nil
}

func (p *progress) show(f *os.File, name string) (stop func()) {
	tick := time.NewTicker(200 * time.Millisecond)
	quit := make(chan struct{})
	finished := make(chan struct{})
	draw := func() {
		done := p.done.Load()
		pct := 100.0
		if p.total > 0 {
			pct = float64(done) * 100 / float64(p.total)
		}
		const width = 30
		bar := int(pct * width / 100)
		fmt.Fprintf(f, "\r%s [%-*s] %5.1f%% %d/%d MiB", filepath.Base(name), width, string(repeat('#', bar)), pct, done>>20, p.total>>20)
	}
	go func() {
		defer close(finished)
		for {
			select {
			case <-tick.C:
				draw()
			case <-quit:
				draw()
				fmt.Fprintln(f)
				return
			}
		}
	}()
	return func() {
		tick.Stop()
		close(quit)
		<-finished
	}
}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
