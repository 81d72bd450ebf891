package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrDigestMismatch: the bytes fetched are not the ones the catalog pins.
	ErrDigestMismatch = errors.New("sha256 mismatch")
	// ErrSizeMismatch: the medium is not the size the catalog says.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrHTTP: the server answered with an error status (404, 500, ...).
	ErrHTTP = errors.New("HTTP error")
	// ErrCacheFull: the medium does not fit under the cache's size cap even
	// after evicting every medium not in use.
	ErrCacheFull = errors.New("media cache full")
)

// Cache is a node's content-addressed store of catalog media: one verified
// file per SHA-256 under Dir/sha256/, downloads in progress under
// Dir/partial/ (resumed with HTTP Range), never served before verified.
type Cache struct {
	Dir string
	// MaxBytes caps the verified media kept (0: no cap). Media in use are
	// never evicted; least recently used ones go first.
	MaxBytes int64
	// Client fetches media (nil: http.DefaultClient).
	Client *http.Client
	// Progress, when set, is told of every fetch's progress (total is -1
	// while unknown).
	Progress ProgressFunc
	// Attempts is how many times one fetch resumes after a broken
	// connection (0: 3).
	Attempts int

	mu       sync.Mutex
	inflight map[string]*fetch
	inUse    map[string]int

	hits, misses, fetched atomic.Int64
}

// Stats are the cache's counters since start.
type Stats struct {
	Hits, Misses, BytesFetched int64
}

type fetch struct {
	done chan struct{}
	err  error
	// watchers are told of this fetch's progress: the callers waiting for
	// it that asked to be (WithProgress), keyed so each can leave.
	watchers map[*ProgressFunc]struct{}
}

// ProgressFunc is told how far a fetch got (total is -1 while unknown).
type ProgressFunc func(e Entry, done, total int64)

type progressKey struct{}

// WithProgress returns a context whose Get calls report the progress of the
// download they wait for to fn (a publish turns it into pod events).
func WithProgress(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, &fn)
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), BytesFetched: c.fetched.Load()}
}

func (c *Cache) path(digest string) string    { return filepath.Join(c.Dir, "sha256", digest) }
func (c *Cache) partial(digest string) string { return filepath.Join(c.Dir, "partial", digest) }

// Get returns the path of the verified medium e, fetching it first if the
// cache lacks it; concurrent calls for one digest share one download. The
// medium is pinned until release is called (it is not evicted meanwhile).
func (c *Cache) Get(ctx context.Context, e Entry) (path string, release func(), err error) {
	digest := e.SHA256
	for {
		c.mu.Lock()
		if c.inflight == nil {
			c.inflight, c.inUse = map[string]*fetch{}, map[string]int{}
		}
		if fi, err := os.Stat(c.path(digest)); err == nil && fi.Mode().IsRegular() {
			c.inUse[digest]++
			c.mu.Unlock()
			c.hits.Add(1)
			now := time.Now()
			_ = os.Chtimes(c.path(digest), now, now) // LRU order
			return c.path(digest), c.releaser(digest), nil
		}
		f, running := c.inflight[digest]
		if !running {
			f = &fetch{done: make(chan struct{}), watchers: map[*ProgressFunc]struct{}{}}
			c.inflight[digest] = f
			c.misses.Add(1)
			// The download belongs to every waiter, not to the first one's
			// request: it goes on if that request is cancelled.
			go c.run(context.WithoutCancel(ctx), e, f)
		}
		w, _ := ctx.Value(progressKey{}).(*ProgressFunc)
		if w != nil {
			f.watchers[w] = struct{}{}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-f.done:
		}
		if w != nil {
			c.mu.Lock()
			delete(f.watchers, w)
			c.mu.Unlock()
		}
		if ctx.Err() != nil {
			return "", nil, fmt.Errorf("waiting for medium %s: %w", e.Name, ctx.Err())
		}
		if f.err != nil {
			return "", nil, f.err
		}
		// Loop: take the verified file like a hit (or fetch again if it was
		// evicted in between).
	}
}

func (c *Cache) releaser(digest string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.inUse[digest]--; c.inUse[digest] <= 0 {
				delete(c.inUse, digest)
			}
		})
	}
}

func (c *Cache) run(ctx context.Context, e Entry, f *fetch) {
	f.err = c.download(ctx, e)
	c.mu.Lock()
	delete(c.inflight, e.SHA256)
	c.mu.Unlock()
	close(f.done)
}

// download fetches e into the partial file (resuming what is there),
// verifies size and digest, and renames it into place.
func (c *Cache) download(ctx context.Context, e Entry) error {
	for _, d := range []string{filepath.Join(c.Dir, "sha256"), filepath.Join(c.Dir, "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("media cache: %w", err)
		}
	}
	if err := c.makeRoom(e); err != nil {
		return err
	}
	part := c.partial(e.SHA256)
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var err error
	for try := 0; try < attempts; try++ {
		var retry bool
		retry, err = c.fetchInto(ctx, e, part)
		if err == nil || !retry {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("fetch medium %s from %s: %w", e.Name, e.URL, err)
	}
	if err := c.verify(e, part); err != nil {
		_ = os.Remove(part) // never kept, never served
		return fmt.Errorf("medium %s from %s: %w", e.Name, e.URL, err)
	}
	if err := os.Chmod(part, 0o444); err != nil {
		return err
	}
	if err := os.Rename(part, c.path(e.SHA256)); err != nil {
		return fmt.Errorf("media cache: %w", err)
	}
	return syncDir(filepath.Join(c.Dir, "sha256"))
}

// fetchInto appends the rest of e to part. retry says whether a failure was
// a broken transfer worth resuming.
func (c *Cache) fetchInto(ctx context.Context, e Entry, part string) (retry bool, err error) {
	out, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	defer out.Close()
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return false, err
	}
	if e.Size > 0 && have > e.Size {
		have = 0 // more than the medium: start over
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return false, err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, err // unreachable host, TLS failure, reset
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
	case resp.StatusCode == http.StatusOK:
		have = 0 // no range support: from the start
		if err := out.Truncate(0); err != nil {
			return false, err
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0 && (e.Size == 0 || have == e.Size):
		return false, nil // already complete; verify decides
	default:
		return false, fmt.Errorf("%s: %w", resp.Status, ErrHTTP)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
		if e.Size > 0 && total != e.Size {
			_ = os.Remove(part)
			return false, fmt.Errorf("server offers %d bytes, the catalog says %d: %w", total, e.Size, ErrSizeMismatch)
		}
	} else if e.Size > 0 {
		total = e.Size
	}
	if _, err := out.Seek(have, io.SeekStart); err != nil {
		return false, err
	}
	w := &progressWriter{w: out, c: c, f: c.inflightOf(e.SHA256), e: e, done: have, total: total}
	limit := io.Reader(resp.Body)
	if e.Size > 0 {
		limit = io.LimitReader(resp.Body, e.Size-have+1) // one byte more tells "too long"
	}
	_, err = io.CopyBuffer(w, limit, make([]byte, 1<<20))
	if serr := out.Sync(); err == nil {
		err = serr
	}
	switch {
	case errors.Is(err, ErrSizeMismatch):
		_ = os.Remove(part)
		return false, err
	case err != nil:
		return ctx.Err() == nil, err // cut mid-body: resume
	}
	return false, nil
}

// verify checks size and SHA-256 of the downloaded file.
func (c *Cache) verify(e Entry, part string) error {
	f, err := os.Open(part)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if e.Size > 0 && n != e.Size {
		return fmt.Errorf("got %d bytes, the catalog says %d: %w", n, e.Size, ErrSizeMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
		return fmt.Errorf("expected sha256 %s, got %s: %w", e.SHA256, got, ErrDigestMismatch)
	}
	return nil
}

// makeRoom evicts least recently used media not in use until e fits.
func (c *Cache) makeRoom(e Entry) error {
	if c.MaxBytes <= 0 {
		return nil
	}
	need := e.Size
	if need > c.MaxBytes {
		return fmt.Errorf("medium %s is %d bytes, the cache holds at most %d: %w", e.Name, need, c.MaxBytes, ErrCacheFull)
	}
	ents, err := os.ReadDir(filepath.Join(c.Dir, "sha256"))
	if err != nil {
		return err
	}
	type item struct {
		digest string
		size   int64
		used   time.Time
	}
	var items []item
	var total int64
	for _, de := range ents {
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		items = append(items, item{de.Name(), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	sort.Slice(items, func(i, j int) bool { return items[i].used.Before(items[j].used) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if total+need <= c.MaxBytes {
			break
		}
		if c.inUse[it.digest] > 0 {
			continue
		}
		if err := os.Remove(c.path(it.digest)); err == nil {
			total -= it.size
		}
	}
	if total+need > c.MaxBytes {
		return fmt.Errorf("medium %s (%d bytes) does not fit: %d of %d bytes are held by media in use: %w", e.Name, need, total, c.MaxBytes, ErrCacheFull)
	}
	return nil
}

type progressWriter struct {
	w           io.Writer
	c           *Cache
	f           *fetch
	e           Entry
	done, total int64
}

func (c *Cache) inflightOf(digest string) *fetch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight[digest]
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.c.fetched.Add(int64(n))
	if p.e.Size > 0 && p.done > p.e.Size {
		return n, fmt.Errorf("server sends more than the catalog's %d bytes: %w", p.e.Size, ErrSizeMismatch)
	}
	if p.c.Progress != nil {
		p.c.Progress(p.e, p.done, p.total)
	}
	if p.f != nil {
		p.c.mu.Lock()
		ws := make([]*ProgressFunc, 0, len(p.f.watchers))
		for w := range p.f.watchers {
			ws = append(ws, w)
		}
		p.c.mu.Unlock()
		for _, w := range ws {
			(*w)(p.e, p.done, p.total)
		}
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
