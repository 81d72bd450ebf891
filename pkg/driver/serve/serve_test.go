package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMountServesImage(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		name     string
		size     int
		opts     Options
		wantName string
		wantTime time.Time
	}{
		{"default 64MiB", 64 << 20, Options{}, "disk.img", time.Unix(0, 0)},
		{"name and time", 3<<20 + 123, Options{FileName: "install.iso", ModTime: when}, "install.iso", when},
		{"direct io", 5<<20 + 1, Options{DirectIO: true}, "disk.img", time.Unix(0, 0)},
		{"empty image", 0, Options{}, "disk.img", time.Unix(0, 0)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := randomBytes(tc.size, uint64(i))
			s := mountT(t, bytes.NewReader(want), tc.opts)
			if got := filepath.Base(s.Path()); got != tc.wantName {
				t.Errorf("Path base = %q, want %q", got, tc.wantName)
			}
			checkContent(t, s.Path(), want)
			if st := s.Stats(); st.BytesRead < int64(tc.size) || st.BytesSpliced != 0 {
				t.Errorf("Stats = %+v, want BytesRead >= %d and nothing spliced", st, tc.size)
			}

			var st syscall.Stat_t
			if err := syscall.Stat(s.Path(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode != syscall.S_IFREG|0o444 || st.Size != int64(tc.size) || st.Uid != 0 || st.Gid != 0 || st.Nlink != 1 {
				t.Errorf("file stat: mode %o size %d uid %d gid %d nlink %d", st.Mode, st.Size, st.Uid, st.Gid, st.Nlink)
			}
			if got := time.Unix(st.Mtim.Unix()); !got.Equal(tc.wantTime) {
				t.Errorf("mtime = %v, want %v", got, tc.wantTime)
			}
			if err := syscall.Stat(s.Dir(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode != syscall.S_IFDIR|0o555 || st.Uid != 0 {
				t.Errorf("root stat: mode %o uid %d", st.Mode, st.Uid)
			}
			ents, err := os.ReadDir(s.Dir())
			if err != nil || len(ents) != 1 || ents[0].Name() != tc.wantName || !ents[0].Type().IsRegular() {
				t.Errorf("ReadDir = %v, %v; want one regular file %q", ents, err, tc.wantName)
			}
			for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC} {
				f, err := os.OpenFile(s.Path(), flag, 0)
				if err == nil {
					f.Close()
				}
				if !errors.Is(err, syscall.EROFS) {
					t.Errorf("open with flags %#x: %v, want EROFS", flag, err)
				}
			}
			if err := os.WriteFile(filepath.Join(s.Dir(), "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
				t.Errorf("create in root: %v, want EROFS", err)
			}
			if err := os.Chmod(s.Path(), 0o666); !errors.Is(err, syscall.EROFS) {
				t.Errorf("chmod: %v, want EROFS", err)
			}
		})
	}
}

// TestMountTable checks the mount line, the raised readahead, and that an
// unprivileged UID (KubeVirt's 107) reads the file.
func TestMountTable(t *testing.T) {
	want := randomBytes(2<<20, 7)
	s := mountT(t, bytes.NewReader(want), Options{})
	infos, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	at := mountsAt(infos, s.Dir())
	if len(at) != 1 {
		t.Fatalf("%d mounts at %s, want 1", len(at), s.Dir())
	}
	m := at[0]
	if m.FSType != "fuse.csi-viso" || m.Source != "csi-viso" {
		t.Errorf("mount type %q source %q", m.FSType, m.Source)
	}
	line := mountLine(t, s.Dir())
	for _, opt := range []string{" ro,", "nosuid", "nodev", "allow_other", "max_read=1048576"} {
		if !strings.Contains(line, opt) {
			t.Errorf("mountinfo line lacks %q: %s", opt, line)
		}
	}
	ra, err := readIntFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", m.Major, m.Minor))
	if err != nil || ra != DefaultReadAheadKB {
		t.Errorf("read_ahead_kb = %d, %v; want %d", ra, err, DefaultReadAheadKB)
	}

	// t.TempDir makes 0700 directories; let UID 107 walk to the mount.
	for d := filepath.Dir(s.Dir()); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("cat", s.Path())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 107, Gid: 107}}
	got, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("cat as uid 107: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("cat as uid 107: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("uid 107 read different bytes")
	}
}

// mountLine is dir's line of /proc/self/mountinfo.
func mountLine(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return l
		}
	}
	t.Fatalf("no mountinfo line for %s", dir)
	return ""
}

func TestMountRejects(t *testing.T) {
	img := bytes.NewReader(randomBytes(4096, 1))
	busy := mountT(t, img, Options{})
	plainFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(plainFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		dir     string
		img     Image
		file    string
		wantErr error
	}{
		{"dot name", context.Background(), t.TempDir(), img, ".", ErrInvalidFileName},
		{"dotdot name", context.Background(), t.TempDir(), img, "..", ErrInvalidFileName},
		{"slash name", context.Background(), t.TempDir(), img, "a/b", ErrInvalidFileName},
		{"nul name", context.Background(), t.TempDir(), img, "a\x00b", ErrInvalidFileName},
		{"long name", context.Background(), t.TempDir(), img, strings.Repeat("x", 256), ErrInvalidFileName},
		{"missing dir", context.Background(), filepath.Join(t.TempDir(), "nope"), img, "", os.ErrNotExist},
		{"not a dir", context.Background(), plainFile, img, "", nil},
		{"nil image", context.Background(), t.TempDir(), nil, "", nil},
		{"already mounted", context.Background(), busy.Dir(), img, "", ErrAlreadyMounted},
		{"canceled", canceled, t.TempDir(), img, "", context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Mount(tc.ctx, tc.dir, tc.img, Options{FileName: tc.file})
			if err == nil {
				stopT(t, s)
				t.Fatalf("Mount succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Mount error %v, want %v", err, tc.wantErr)
			}
			if tc.dir != busy.Dir() && mountCount(t, tc.dir) != 0 {
				t.Errorf("failed Mount left a mount at %s", tc.dir)
			}
		})
	}
	if n := mountCount(t, busy.Dir()); n != 1 {
		t.Errorf("%d mounts at the busy dir, want 1 (no stacking)", n)
	}
}

func TestUnmountIdempotent(t *testing.T) {
	want := randomBytes(1<<20, 3)
	s, err := Mount(context.Background(), t.TempDir(), bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	waitT(t, s)
	if n := mountCount(t, s.Dir()); n != 0 {
		t.Errorf("%d mounts left", n)
	}
	if err := s.Unmount(ctx); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
}

// TestUnmountBusyFile: an open file keeps the mount busy; Unmount retries
// until its context ends, then detaches lazily and the reader keeps reading.
func TestUnmountBusyFile(t *testing.T) {
	want := randomBytes(2<<20, 4)
	s, err := Mount(context.Background(), t.TempDir(), bytes.NewReader(want), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Unmount(ctx)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Unmount with an open file: %v, want ErrBusy", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("Unmount gave up after %v, before its context ended", el)
	}
	if n := mountCount(t, s.Dir()); n != 0 {
		t.Errorf("lazy unmount left %d mounts", n)
	}
	buf := make([]byte, 1<<20)
	if _, err := f.ReadAt(buf, 1<<20); err != nil || !bytes.Equal(buf, want[1<<20:]) {
		t.Errorf("read after lazy unmount: %v", err)
	}
	f.Close()
	waitT(t, s)
}

func TestConcurrentMounts(t *testing.T) {
	const n = 20
	root := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = mountReadUnmount(filepath.Join(root, fmt.Sprint(i)), randomBytes(4<<20+i*4096, uint64(100+i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("mount %d: %v", i, err)
		}
	}
	infos, err := readMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range infos {
		if strings.HasPrefix(m.MountPoint, root+"/") {
			t.Errorf("mount left behind: %s", m.MountPoint)
		}
	}
}

func mountReadUnmount(dir string, want []byte) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	s, err := Mount(context.Background(), dir, bytes.NewReader(want), Options{})
	if err != nil {
		return err
	}
	got, rerr := os.ReadFile(s.Path())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uerr := s.Unmount(ctx)
	s.Wait()
	if rerr != nil {
		return rerr
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("content differs at byte %d", firstDiff(got, want))
	}
	return uerr
}

// TestSplice serves an image whose data partly lives in a host file; reads
// inside one file extent are spliced, the rest copied, and both give the
// image's bytes.
func TestSplice(t *testing.T) {
	sizes := []int64{4096, 7 << 20, 2048, 9<<20 + 17, 1 << 20, 3<<20 + 5, 100}
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("disableSplice=%v", disable), func(t *testing.T) {
			img, want := newFileImage(t, t.TempDir(), sizes, 9)
			s, err := Mount(context.Background(), t.TempDir(), img, Options{DisableSplice: disable})
			if err != nil {
				t.Fatal(err)
			}
			checkContent(t, s.Path(), want)
			// Unaligned reads crossing extent boundaries, with the page
			// cache bypassed by a second mount-free path: pread at odd spots.
			f, err := os.Open(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range [][2]int64{{4095, 10}, {4096 + 7<<20 - 3, 5000}, {int64(len(want)) - 50, 50}, {12345, 3 << 20}} {
				buf := make([]byte, r[1])
				if _, err := f.ReadAt(buf, r[0]); err != nil || !bytes.Equal(buf, want[r[0]:r[0]+r[1]]) {
					t.Errorf("pread [%d,+%d): %v", r[0], r[1], err)
				}
			}
			f.Close()
			st := s.Stats()
			stopT(t, s)
			if disable && (st.BytesSpliced != 0 || img.grants.Load() != 0) {
				t.Errorf("splice disabled but %d bytes spliced, %d grants", st.BytesSpliced, img.grants.Load())
			}
			if !disable && st.BytesSpliced < 8<<20 {
				t.Errorf("only %d bytes spliced of %d in file extents (stats %+v)", st.BytesSpliced, 7<<20+9<<20, st)
			}
			if g, r := img.grants.Load(), img.releases.Load(); g != r {
				t.Errorf("%d FdRange grants but %d releases", g, r)
			}
		})
	}
}
