package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func blob(n int, seed byte) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func entryFor(name, url string, b []byte) Entry {
	sum := sha256.Sum256(b)
	return Entry{Name: name, URL: url, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

// server serves media by path and counts GET requests per path.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	gets  map[string]int
	cut   atomic.Int32 // cut the body of the next n full-body replies halfway
	rng   []string     // Range headers seen
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files, gets: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.gets[r.URL.Path]++
		if h := r.Header.Get("Range"); h != "" {
			s.rng = append(s.rng, h)
		}
		b, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Range") == "" && s.cut.Add(-1) >= 0 {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the connection breaks mid-body
			}
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestConcurrentPublishesFetchOnce: 20 callers asking at once for the same
// entry cause one download; every caller gets the verified file.
func TestConcurrentPublishesFetchOnce(t *testing.T) {
	data := blob(8<<20, 1)
	s := newServer(t, map[string][]byte{"/debian-12.iso": data})
	c := &Cache{Dir: t.TempDir()}
	e := entryFor("debian-12.iso", s.URL+"/debian-12.iso", data)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, release, err := c.Get(context.Background(), e)
			if err == nil {
				defer release()
				if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
					err = errors.New("wrong bytes")
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := s.gets["/debian-12.iso"]; n != 1 {
		t.Errorf("%d GET requests for 20 concurrent publishes, want 1", n)
	}
	if st := c.Stats(); st.Misses != 1 || st.BytesFetched != int64(len(data)) {
		t.Errorf("stats %+v", st)
	}
	// A second round is served from the cache without a request.
	_, release, err := c.Get(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if n := s.gets["/debian-12.iso"]; n != 1 {
		t.Errorf("a cached medium was fetched again (%d requests)", n)
	}
}

// TestResumeAfterCut: a connection cut mid-body is resumed with a Range
// request; the medium is fetched about once, not twice.
func TestResumeAfterCut(t *testing.T) {
	data := blob(6<<20, 2)
	s := newServer(t, map[string][]byte{"/m.iso": data})
	s.cut.Store(1)
	c := &Cache{Dir: t.TempDir()}
	p, release, err := c.Get(context.Background(), entryFor("m.iso", s.URL+"/m.iso", data))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Fatal("resumed medium has wrong bytes")
	}
	if len(s.rng) != 1 || !strings.HasPrefix(s.rng[0], "bytes=") || s.rng[0] == "bytes=0-" {
		t.Errorf("Range requests %q, want one resuming past the received half", s.rng)
	}
	if f := c.Stats().BytesFetched; f > int64(len(data))+int64(len(data))/10 {
		t.Errorf("fetched %d bytes for a %d-byte medium", f, len(data))
	}
}

// TestRefusals: wrong digest (both digests named, nothing left behind),
// wrong size, HTTP 404, unreachable host.
func TestRefusals(t *testing.T) {
	data := blob(1<<20, 3)
	s := newServer(t, map[string][]byte{"/m.iso": data})
	dir := t.TempDir()
	c := &Cache{Dir: dir}
	ctx := context.Background()

	bad := entryFor("m.iso", s.URL+"/m.iso", blob(1<<20, 4))
	_, _, err := c.Get(ctx, bad)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), bad.SHA256) || !strings.Contains(err.Error(), entryFor("", "", data).SHA256) {
		t.Errorf("wrong digest: %v", err)
	}
	for _, sub := range []string{"sha256", "partial"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, sub)); len(ents) != 0 {
			t.Errorf("%s/ keeps %d files after a digest mismatch", sub, len(ents))
		}
	}
	wrongSize := entryFor("m.iso", s.URL+"/m.iso", data)
	wrongSize.Size++
	if _, _, err := c.Get(ctx, wrongSize); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("wrong size: %v", err)
	}
	if _, _, err := c.Get(ctx, entryFor("gone.iso", s.URL+"/gone.iso", data)); !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	if _, _, err := c.Get(ctx, entryFor("x.iso", "http://127.0.0.1:1/x.iso", data)); err == nil || !strings.Contains(err.Error(), "x.iso") {
		t.Errorf("unreachable host: %v", err)
	}
}

// TestEvictionSparesMediaInUse: under the size cap, the least recently used
// medium not in use goes; one in use never does, and when only media in use
// are left the new one is refused as ErrCacheFull.
func TestEvictionSparesMediaInUse(t *testing.T) {
	const n = 1 << 20
	files := map[string][]byte{}
	for i, name := range []string{"a", "b", "c", "d"} {
		files["/"+name] = blob(n, byte(10+i))
	}
	s := newServer(t, files)
	c := &Cache{Dir: t.TempDir(), MaxBytes: 2*n + n/2}
	ctx := context.Background()
	get := func(name string) (string, func(), error) {
		return c.Get(ctx, entryFor(name, s.URL+"/"+name, files["/"+name]))
	}
	pa, releaseA, err := get("a") // in use throughout
	if err != nil {
		t.Fatal(err)
	}
	pb, releaseB, err := get("b")
	if err != nil {
		t.Fatal(err)
	}
	releaseB()
	pc, releaseC, err := get("c") // evicts b, not a
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pa); err != nil {
		t.Errorf("medium in use evicted: %v", err)
	}
	if _, err := os.Stat(pb); !os.IsNotExist(err) {
		t.Errorf("least recently used medium kept: %v", err)
	}
	if _, _, err := get("d"); !errors.Is(err, ErrCacheFull) {
		t.Errorf("with a and c in use, d: %v, want ErrCacheFull", err)
	}
	if _, err := os.Stat(pc); err != nil {
		t.Errorf("medium in use evicted: %v", err)
	}
	releaseA()
	releaseC()
	if _, release, err := get("d"); err != nil {
		t.Errorf("d after releases: %v", err)
	} else {
		release()
	}
}

// TestCatalogErrors: each malformed entry is refused naming it.
func TestCatalogErrors(t *testing.T) {
	good := `{"name": "debian-12.iso", "url": "https://deb.example/debian-12.iso", "sha256": "` + strings.Repeat("ab", 32) + `"}`
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"media": [`, "cat.json"},
		{"unknown field", `{"media": [], "extra": 1}`, "extra"},
		{"path as name", `{"media": [{"name": "../x.iso", "url": "https://a/x", "sha256": "` + strings.Repeat("0", 64) + `"}]}`, `entry 1 ("../x.iso"): name`},
		{"file URL", `{"media": [` + good + `, {"name": "b.iso", "url": "file:///etc/shadow", "sha256": "` + strings.Repeat("0", 64) + `"}]}`, `entry 2 ("b.iso"): url`},
		{"short digest", `{"media": [{"name": "c.iso", "url": "https://a/c", "sha256": "abc"}]}`, `entry 1 ("c.iso"): sha256`},
		{"twice", `{"media": [` + good + `,` + good + `]}`, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCatalog("cat.json", []byte(tc.body))
			if !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrCatalog naming %q", err, tc.want)
			}
		})
	}
	c, err := ParseCatalog("cat.json", []byte(`{"media": [`+good+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := c.Lookup("debian-12.iso"); !ok || e.Size != 0 || c.Len() != 1 {
		t.Errorf("lookup: %+v %v", e, ok)
	}
}
