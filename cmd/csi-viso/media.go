package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/csi-viso/csi-viso/internal/confine"
	"github.com/csi-viso/csi-viso/pkg/media"
)

// mediaFlags are --media-catalog and --cache-dir of build, inspect and mount.
type mediaFlags struct {
	catalog, cacheDir *string
}

func addMediaFlags(fs *flag.FlagSet) mediaFlags {
	return mediaFlags{
		catalog:  fs.String("media-catalog", "", "operator media catalog (JSON): names a VISO may import, fetched from their URLs and verified by SHA-256"),
		cacheDir: fs.String("cache-dir", "", "folder caching catalog media (required with --media-catalog)"),
	}
}

// lookup returns the resolver hook for the catalog, or nil without one.
func (m mediaFlags) lookup(ctx context.Context, stderr io.Writer) (func(string) (string, func(), bool, error), error) {
	if *m.catalog == "" {
		if *m.cacheDir != "" {
			return nil, fmt.Errorf("%w: --cache-dir needs --media-catalog", errUsage)
		}
		return nil, nil
	}
	if *m.cacheDir == "" {
		return nil, fmt.Errorf("%w: --media-catalog needs --cache-dir", errUsage)
	}
	cat, err := media.LoadCatalog(*m.catalog)
	if err != nil {
		return nil, err
	}
	step := int64(64 << 20)
	c := &media.Cache{Dir: *m.cacheDir, Progress: func(e media.Entry, done, total int64) {
		if done%step < 1<<20 || done == total {
			if total > 0 {
				fmt.Fprintf(stderr, "fetching %s: %d of %d MiB\n", e.Name, done>>20, total>>20)
			} else {
				fmt.Fprintf(stderr, "fetching %s: %d MiB\n", e.Name, done>>20)
			}
		}
	}}
	return media.Lookup(ctx, cat, c), nil
}

// apply sets the catalog hook on res (nothing without a catalog).
func (m mediaFlags) apply(ctx context.Context, res *confine.Resolver, stderr io.Writer) error {
	l, err := m.lookup(ctx, stderr)
	if err != nil || l == nil {
		return err
	}
	res.SetCatalog(l)
	return nil
}
