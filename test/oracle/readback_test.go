package oracle_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kdomanski/iso9660"
)

// Read-back tests: images built from VISO files are read by xorriso (Rock Ridge and
// Joliet trees, content through osirrox), isoinfo, 7z and kdomanski/iso9660, and
// must hold exactly the names, sizes, modes and bytes the VISO asked for.

var toolPackage = map[string]string{"xorriso": "xorriso", "osirrox": "xorriso", "isoinfo": "genisoimage", "7z": "p7zip-full"}

func tool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s not found: install it with `apt-get install -y --no-install-recommends %s` (make test does)", bin, toolPackage[bin])
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hostFile is a source file of a read-back case: its path in the VISO's folder,
// content (or a sparse size), and host mode.
type hostFile struct {
	path   string
	data   []byte
	sparse int64 // > 0: a sparse file of this size instead of data
	mode   os.FileMode
}

// entry is what a reader must show for one path.
type entry struct {
	dir  bool
	size int64
	mode string // ls-style permission string ("r--r--r--"), "" = unchecked
	sha  string // "" = unchecked
}

type readbackCase struct {
	name     string
	body     string // VISO arguments after the marker line
	files    []hostFile
	rr       map[string]entry // Rock Ridge view (xorriso default), nil = not checked
	joliet   map[string]entry // Joliet view (xorriso -read_fs norock), nil = not checked
	noJoliet bool             // the image must have no Joliet tree
	volume   string
}

func shaOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestReadBack(t *testing.T) {
	long := strings.Repeat("abcdefghij", 10) + "abcde.txt" // 109 bytes: fits Joliet, spills Rock Ridge into a CE area
	j110 := strings.Repeat("j", 106) + ".txt"              // exactly 110 UTF-16 units
	uni := "Ünïcödé-日本語-🚀.txt"
	deep := "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12"
	hello := []byte("hello\n")
	blob := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	rich := []hostFile{
		{"src/hello.txt", hello, 0, 0o644},
		{"src/empty", nil, 0, 0o644},
		{"src/run.sh", []byte("#!/bin/sh\n"), 0, 0o755},
		{"src/private.key", []byte("k"), 0, 0o600},
		{"src/" + long, []byte("long\n"), 0, 0o644},
		{"src/" + j110, []byte("j\n"), 0, 0o644},
		{"src/" + uni, []byte("u\n"), 0, 0o644},
		{"src/" + deep + "/blob.bin", blob, 0, 0o644},
	}
	richWant := func(rational bool) map[string]entry {
		m := map[string]entry{}
		mode := func(host os.FileMode) string {
			if !rational {
				return host.String()[1:]
			}
			if host&0o111 != 0 {
				return "r-xr-xr-x"
			}
			return "r--r--r--"
		}
		for _, f := range rich {
			p := "/data/" + strings.TrimPrefix(f.path, "src/")
			m[p] = entry{size: int64(len(f.data)), mode: mode(f.mode), sha: shaOf(f.data)}
		}
		dirMode := "r-xr-xr-x"
		if !rational {
			dirMode = "rwxr-xr-x"
		}
		m["/data"] = entry{dir: true, mode: dirMode}
		for d := "/data/" + deep; d != "/data"; d = filepath.Dir(d) {
			m[d] = entry{dir: true, mode: dirMode}
		}
		return m
	}
	noModes := func(m map[string]entry) map[string]entry {
		out := map[string]entry{}
		for k, v := range m {
			v.mode = ""
			out[k] = v
		}
		return out
	}
	simple := []hostFile{{"a.txt", []byte("A\n"), 0, 0o644}, {"readme.txt", []byte("R\n"), 0, 0o644}, {"Read-Me.txt", []byte("r\n"), 0, 0o644}}
	simpleWant := map[string]entry{
		"/a.txt": {size: 2, sha: shaOf([]byte("A\n"))}, "/readme.txt": {size: 2, sha: shaOf([]byte("R\n"))},
		"/Read-Me.txt": {size: 2, sha: shaOf([]byte("r\n"))},
	}
	simpleBody := "/a.txt=a.txt\n/readme.txt=readme.txt\n/Read-Me.txt=Read-Me.txt\n"

	cases := []readbackCase{
		{name: "rich tree, Rock Ridge level 2, rational attributes", body: "--rock-ridge\n--volume-id=RICH\n/data=src\n",
			files: rich, rr: richWant(true), joliet: noModes(richWant(true)), volume: "RICH"},
		{name: "strict attributes keep host modes", body: "--rock-ridge\n--strict-attribs\n/data=src\n",
			files: rich, rr: richWant(false)},
		{name: "forced modes", body: "--file-mode=0640\n--dir-mode=0750\n/data=src\n--chmod=0700:/data/run.sh\n",
			files: rich[:3], rr: map[string]entry{
				"/data": {dir: true, mode: "rwxr-x---"}, "/data/hello.txt": {size: 6, mode: "rw-r-----", sha: shaOf(hello)},
				"/data/empty": {mode: "rw-r-----"}, "/data/run.sh": {size: 10, mode: "rwx------"}}},
		{name: "ISO level 1", body: "--iso-level=1\n--rock-ridge\n" + simpleBody, files: simple, rr: simpleWant, joliet: simpleWant},
		{name: "ISO level 2", body: "--iso-level=2\n--rock-ridge\n" + simpleBody, files: simple, rr: simpleWant, joliet: simpleWant},
		{name: "ISO level 3", body: "--iso-level=3\n--rock-ridge\n" + simpleBody, files: simple, rr: simpleWant, joliet: simpleWant},
		{name: "no Joliet", body: "--no-joliet\n--rock-ridge\n" + simpleBody, files: simple, rr: simpleWant, noJoliet: true},
		// Rock Ridge level 1 has no ER, so xorriso reads the Joliet tree: names must still be whole.
		{name: "default Rock Ridge level 1 with Joliet", body: simpleBody, files: simple, joliet: simpleWant},
		{name: "name setup: different primary and Joliet names", body: "--rock-ridge\n--name-setup=iso,joliet\n'/PRIMARY.TXT=/joliet name.txt=a.txt'\n/ONLYISO.TXT==a.txt\n",
			files:  simple[:1],
			rr:     map[string]entry{"/PRIMARY.TXT": {size: 2}, "/ONLYISO.TXT": {size: 2}},
			joliet: map[string]entry{"/joliet name.txt": {size: 2}}},
		{name: "removal and replacement", body: "--rock-ridge\n/x/a.txt=a.txt\n/x/b.txt=readme.txt\n/x/a.txt=:must-remove:\n/x/a.txt=Read-Me.txt\n/x/b.txt=:remove:\n",
			files: simple, rr: map[string]entry{"/x": {dir: true}, "/x/a.txt": {size: 2, sha: shaOf([]byte("r\n"))}}},
		{name: "sparse 5 GiB file, multi-extent", body: "--rock-ridge\n/big.bin=big.bin\n/after.txt=a.txt\n",
			files: []hostFile{{"big.bin", nil, 5 << 30, 0o644}, {"a.txt", []byte("A\n"), 0, 0o644}},
			rr:    map[string]entry{"/big.bin": {size: 5 << 30}, "/after.txt": {size: 2, sha: shaOf([]byte("A\n"))}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runReadback(t, tc) })
	}
}

func runReadback(t *testing.T, tc readbackCase) {
	dir := t.TempDir()
	for _, f := range tc.files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.sparse > 0 {
			fh, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := fh.Truncate(f.sparse); err != nil {
				t.Fatal(err)
			}
			fh.Close()
		} else if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
	}
	v := filepath.Join(dir, "case.viso")
	text := "--iprt-iso-maker-file-marker-bourne-sh 5a0f7c1e-2b3d-4e6f-9a8b-7c6d5e4f3a2b\n" + tc.body
	if err := os.WriteFile(v, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := buildISO(t, v)

	if tc.rr != nil {
		compareTree(t, "Rock Ridge", lsdl(t, iso, false), tc.rr)
		extractAndCompare(t, iso, tc.rr)
		// kdomanski/iso9660 computes byte offsets in 32 bits: past 4 GiB it reads the
		// wrong sectors (a continuation area there made it allocate without bound), so
		// it only reads images below 4 GiB, as its documentation allows.
		if fi, err := os.Stat(iso); err == nil && fi.Size() < 1<<32 {
			kdomanskiCompare(t, iso, tc.rr)
		}
	}
	if tc.joliet != nil {
		compareTree(t, "Joliet", lsdl(t, iso, true), tc.joliet)
	}
	info := tool(t, "isoinfo", "-d", "-i", iso)
	if tc.volume != "" && !strings.Contains(info, "Volume id: "+tc.volume+"\n") {
		t.Errorf("isoinfo volume id: %s", info)
	}
	if tc.joliet != nil && !strings.Contains(info, "Joliet with UCS level 3 found") {
		t.Errorf("isoinfo finds no Joliet:\n%s", info)
	}
	if tc.noJoliet && strings.Contains(info, "Joliet with UCS") {
		t.Errorf("isoinfo finds Joliet where none was asked for")
	}
	tool(t, "7z", "t", iso)
}

var lsdlLine = regexp.MustCompile(`^([d-])(\S{9})\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+('.*')$`)

// lsdl lists the Rock Ridge (or, with joliet, the Joliet) tree with xorriso.
func lsdl(t *testing.T, iso string, joliet bool) map[string]entry {
	t.Helper()
	args := []string{"-abort_on", "NEVER", "-return_with", "SORRY", "32", "-backslash_codes", "on"}
	if joliet {
		args = append(args, "-read_fs", "norock")
	}
	out := tool(t, "xorriso", append(args, "-indev", iso, "-find", "/", "-exec", "lsdl")...)
	got := map[string]entry{}
	for _, line := range strings.Split(out, "\n") {
		m := lsdlLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		path := unshell(m[4])
		if path == "/" {
			continue
		}
		var size int64
		fmt.Sscan(m[3], &size)
		e := entry{dir: m[1] == "d", mode: m[2]}
		if !e.dir {
			e.size = size
		}
		got[path] = e
	}
	return got
}

// unshell undoes xorriso's shell quoting ('…' with '"'"' for quotes) and its
// -backslash_codes escapes (octal bytes, \\, \n, …), which Go's string-literal
// syntax shares.
func unshell(s string) string {
	s = strings.ReplaceAll(s, `'"'"'`, "'")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'")
	if u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`); err == nil {
		return u
	}
	return s
}

func compareTree(t *testing.T, view string, got, want map[string]entry) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: %q missing (have %d entries)", view, p, len(got))
		case g.dir != w.dir || (!w.dir && g.size != w.size):
			t.Errorf("%s: %q dir=%v size=%d, want dir=%v size=%d", view, p, g.dir, g.size, w.dir, w.size)
		case view == "Rock Ridge" && w.mode != "" && g.mode != w.mode:
			t.Errorf("%s: %q mode %s, want %s", view, p, g.mode, w.mode)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %q", view, p)
		}
	}
}

// extractAndCompare extracts every checked file with osirrox (or, for the huge
// sparse file, streams it through 7z) and compares SHA-256.
func extractAndCompare(t *testing.T, iso string, want map[string]entry) {
	t.Helper()
	for p, w := range want {
		if w.dir {
			continue
		}
		sum := w.sha
		if sum == "" && w.size >= 1<<30 {
			sum = zerosSHA(w.size)
		}
		if sum == "" {
			continue
		}
		var got string
		if w.size >= 1<<30 {
			cmd := exec.Command("7z", "x", "-so", iso, strings.TrimPrefix(p, "/"))
			h := sha256.New()
			cmd.Stdout = h
			if err := cmd.Run(); err != nil {
				t.Fatalf("7z x %s: %v", p, err)
			}
			got = hex.EncodeToString(h.Sum(nil))
		} else {
			out := filepath.Join(t.TempDir(), "x")
			tool(t, "osirrox", "-abort_on", "NEVER", "-return_with", "WARNING", "32", "-indev", iso, "-extract", p, out)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got = shaOf(b)
		}
		if got != sum {
			t.Errorf("content of %s differs", p)
		}
	}
}

func zerosSHA(n int64) string {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := int64(len(buf))
		if n < k {
			k = n
		}
		h.Write(buf[:k])
		n -= k
	}
	return hex.EncodeToString(h.Sum(nil))
}

// kdomanskiCompare reads the primary tree with Rock Ridge names through
// kdomanski/iso9660 (no Joliet, no multi-extent: files under 4 GiB only).
func kdomanskiCompare(t *testing.T, iso string, want map[string]entry) {
	t.Helper()
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := iso9660.OpenImage(f)
	if err != nil {
		t.Fatalf("kdomanski: %v", err)
	}
	root, err := img.RootDir()
	if err != nil {
		t.Fatalf("kdomanski root: %v", err)
	}
	seen := map[string]bool{}
	var walk func(dir *iso9660.File, path string)
	walk = func(dir *iso9660.File, path string) {
		kids, err := dir.GetChildren()
		if err != nil {
			t.Fatalf("kdomanski %s: %v", path, err)
		}
		for _, k := range kids {
			p := path + "/" + k.Name()
			w, ok := want[p]
			if !ok {
				continue // names without Rock Ridge (level 0/1 trees) are not compared here
			}
			seen[p] = true
			if k.IsDir() {
				walk(k, p)
				continue
			}
			if w.size >= 1<<32-1 {
				continue
			}
			if k.Size() != w.size {
				t.Errorf("kdomanski: %s size %d, want %d", p, k.Size(), w.size)
			}
			if w.sha != "" {
				b, err := io.ReadAll(k.Reader())
				if err != nil || shaOf(b) != w.sha {
					t.Errorf("kdomanski: %s content differs (%v)", p, err)
				}
			}
		}
	}
	walk(root, "")
	for p, w := range want {
		if !seen[p] && w.size < 1<<32-1 {
			t.Errorf("kdomanski: %s not found", p)
		}
	}
}
