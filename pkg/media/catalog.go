// Package media is the operator's media catalog and the node's verified
// cache of it: installer ISOs kept on an HTTP(S) mirror, listed once by the
// operator, imported by name from VISO files.
//
// Threat model: a VISO is written by a namespace user, the catalog by the
// operator. Only catalog entries can be fetched — a VISO names an entry, never
// a URL — so no user can make the node reach an arbitrary address (SSRF) or
// plant bytes the operator did not pin: every file is verified against the
// catalog's SHA-256 before any use, and a partial or mismatched download is
// never served.
package media

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// ErrCatalog: the catalog file is malformed; the message names the entry.
var ErrCatalog = errors.New("invalid media catalog")

// Entry is one medium of the catalog.
type Entry struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"` // 0: not known in advance
}

// Catalog maps names to entries.
type Catalog struct {
	File    string
	entries map[string]Entry
}

type catalogFile struct {
	Media []Entry `json:"media"`
}

// LoadCatalog reads and checks a catalog file:
// {"media": [{"name": "debian-12.iso", "url": "https://…", "sha256": "<hex>", "size": 123}]}.
func LoadCatalog(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media catalog %s: %w", path, err)
	}
	return ParseCatalog(path, b)
}

// ParseCatalog checks catalog bytes; file names the catalog in errors.
func ParseCatalog(file string, b []byte) (*Catalog, error) {
	var cf catalogFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil {
		return nil, fmt.Errorf("media catalog %s: %v: %w", file, err, ErrCatalog)
	}
	c := &Catalog{File: file, entries: map[string]Entry{}}
	for i, e := range cf.Media {
		where := fmt.Sprintf("media catalog %s: entry %d (%q)", file, i+1, e.Name)
		if err := checkName(e.Name); err != nil {
			return nil, fmt.Errorf("%s: name: %v: %w", where, err, ErrCatalog)
		}
		if _, dup := c.entries[e.Name]; dup {
			return nil, fmt.Errorf("%s: name listed twice: %w", where, ErrCatalog)
		}
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: url %q is not an http:// or https:// URL: %w", where, e.URL, ErrCatalog)
		}
		e.SHA256 = strings.ToLower(e.SHA256)
		if d, err := hex.DecodeString(e.SHA256); err != nil || len(d) != 32 {
			return nil, fmt.Errorf("%s: sha256 %q is not 64 hex digits: %w", where, e.SHA256, ErrCatalog)
		}
		if e.Size < 0 {
			return nil, fmt.Errorf("%s: negative size %d: %w", where, e.Size, ErrCatalog)
		}
		c.entries[e.Name] = e
	}
	return c, nil
}

// checkName accepts a plain file name, as a VISO names a file in its folder.
func checkName(n string) error {
	switch {
	case n == "", n == ".", n == "..":
		return errors.New("must not be empty, \".\" or \"..\"")
	case strings.ContainsAny(n, "/\\\x00"):
		return errors.New("must be a plain file name (no /, \\ or NUL)")
	case len(n) > 255:
		return errors.New("longer than 255 bytes")
	}
	return nil
}

// Lookup returns the entry called name.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	e, ok := c.entries[name]
	return e, ok
}

// Len is the number of entries.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.entries)
}

// Lookup is the resolver hook (confine.Resolver.SetCatalog) that turns a
// catalog name into the verified local copy, fetching it through c. Names
// the catalog lacks report ok false.
func Lookup(ctx context.Context, cat *Catalog, c *Cache) func(name string) (path string, release func(), ok bool, err error) {
	return func(name string) (string, func(), bool, error) {
		e, ok := cat.Lookup(name)
		if !ok {
			return "", nil, false, nil
		}
		p, release, err := c.Get(ctx, e)
		if err != nil {
			return "", nil, true, err
		}
		return p, release, true, nil
	}
}

// Hook is the catalog hook of the VISO backend (viso.Backend.Catalog): a
// name the catalog lists turns into the verified local copy, fetched
// through c under the caller's context. Names the catalog lacks report ok
// false.
func (cat *Catalog) Hook(c *Cache) func(ctx context.Context, name string) (path string, release func(), ok bool, err error) {
	return func(ctx context.Context, name string) (string, func(), bool, error) {
		e, ok := cat.Lookup(name)
		if !ok {
			return "", nil, false, nil
		}
		p, release, err := c.Get(ctx, e)
		if err != nil {
			return "", nil, true, err
		}
		return p, release, true, nil
	}
}
