package source

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// checkParent asserts the parent of a staged folder holds exactly the folder
// and its marker: no temporary leftovers.
func checkParent(t *testing.T, parent, base string) {
	t.Helper()
	want := []string{"." + base + ".staged", base}
	if got := listDir(t, parent); !slices.Equal(got, want) {
		t.Errorf("parent holds %q, want %q", got, want)
	}
}

func TestStageConfigMapDataAndBinaryData(t *testing.T) {
	viso := visoText("/autounattend.xml=Unattended-1-autounattend.xml")
	bin := []byte{0, 1, 2, 0xff, '\n'}
	c := newClient(t, configMap("win", "7", map[string]string{
		"install.viso":                  viso,
		"Unattended-1-autounattend.xml": "<unattend/>",
		".hidden":                       "dot files are keys too",
	}, map[string][]byte{"driver.bin": bin}))
	parent := t.TempDir()
	dir := filepath.Join(parent, "vol-1")

	st, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Staged{Dir: dir, VISOKey: "install.viso", VISOPath: filepath.Join(dir, "install.viso"),
		ResourceVersion: "7", UID: "uid-win"}
	if st != want {
		t.Errorf("Staged = %+v, want %+v", st, want)
	}
	got := readStaged(t, dir)
	wantFiles := map[string]string{
		"install.viso":                  viso,
		"Unattended-1-autounattend.xml": "<unattend/>",
		".hidden":                       "dot files are keys too",
		"driver.bin":                    string(bin),
	}
	if !maps.Equal(got, wantFiles) {
		t.Errorf("staged files %q, want %q", got, wantFiles)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("staged folder mode %v, want a directory of mode 0700", fi.Mode())
	}
	checkParent(t, parent, "vol-1")
}

func TestStageCreatesMissingParent(t *testing.T) {
	c := newClient(t, configMap("a", "1", map[string]string{"a.viso": visoText()}, nil))
	dir := filepath.Join(t.TempDir(), "volumes", "deep", "v")
	if _, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "a"}, dir); err != nil {
		t.Fatal(err)
	}
	if got := readStaged(t, dir); got["a.viso"] != visoText() {
		t.Errorf("staged %q", got)
	}
}

func TestStageSecret(t *testing.T) {
	c := newClient(t, secret("creds", "3", map[string][]byte{
		"seed.viso":            []byte(visoText("/user-data=Unattended-user-data")),
		"Unattended-user-data": []byte("password: hunter2\n"),
	}))
	dir := filepath.Join(t.TempDir(), "v")
	st, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, Secret: "creds"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.VISOKey != "seed.viso" || st.ResourceVersion != "3" || st.UID != "uid-creds" {
		t.Errorf("Staged = %+v", st)
	}
	if got := readStaged(t, dir); got["Unattended-user-data"] != "password: hunter2\n" || len(got) != 2 {
		t.Errorf("staged %q", got)
	}
}

func TestStageExplicitKey(t *testing.T) {
	// A key need not end in .viso when named; other .viso keys are then fine.
	c := newClient(t, configMap("m", "1", map[string]string{
		"a.viso": visoText(), "b.viso": visoText(), "custom": visoText("/x=y"),
	}, nil))
	dir := filepath.Join(t.TempDir(), "v")
	st, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "m", Key: "custom"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.VISOKey != "custom" || st.VISOPath != filepath.Join(dir, "custom") {
		t.Errorf("Staged = %+v", st)
	}
	// Case-insensitive extension match when no key is named.
	c = newClient(t, configMap("u", "1", map[string]string{"WIN.VISO": visoText(), "x": "y"}, nil))
	st, err = (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "u"}, filepath.Join(t.TempDir(), "v"))
	if err != nil || st.VISOKey != "WIN.VISO" {
		t.Errorf("Stage = %+v, %v; want VISO key WIN.VISO", st, err)
	}
}

func TestStageSameResourceVersionIsNoOp(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{"install.viso": visoText(), "k": "v"}, nil))
	s := &Source{Client: c}
	ref := Ref{Namespace: testNS, ConfigMap: "win"}
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	before := inode(t, dir)
	// A canary the object does not have: a restage would drop it.
	if err := os.WriteFile(filepath.Join(dir, "canary"), nil, 0o400); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage(t.Context(), ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.ResourceVersion != "7" || st.VISOKey != "install.viso" {
		t.Errorf("Staged = %+v", st)
	}
	if inode(t, dir) != before {
		t.Error("the folder was replaced although the resourceVersion did not change")
	}
	if _, err := os.Lstat(filepath.Join(dir, "canary")); err != nil {
		t.Errorf("no-op Stage touched the folder: %v", err)
	}
	checkParent(t, parent, "v")
}

func TestStageReplacesAtomicallyWhenResourceVersionChanges(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{
		"install.viso": visoText(), "old-side": "gone soon", "kept": "v1",
	}, nil))
	s := &Source{Client: c}
	ref := Ref{Namespace: testNS, ConfigMap: "win"}
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	before := inode(t, dir)
	bumpConfigMap(t, c, "win", func(cm *corev1.ConfigMap) {
		delete(cm.Data, "old-side")
		cm.Data["kept"] = "v2"
		cm.BinaryData = map[string][]byte{"new.bin": {9}}
	})
	st, err := s.Stage(t.Context(), ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.ResourceVersion == "7" || st.ResourceVersion == "" {
		t.Errorf("Staged.ResourceVersion = %q, want the new version", st.ResourceVersion)
	}
	want := map[string]string{"install.viso": visoText(), "kept": "v2", "new.bin": "\x09"}
	if got := readStaged(t, dir); !maps.Equal(got, want) {
		t.Errorf("after the change the folder holds %q, want %q", got, want)
	}
	if inode(t, dir) == before {
		t.Error("the folder was rewritten in place instead of being replaced")
	}
	checkParent(t, parent, "v")

	// The marker now names the new version: a third Stage is a no-op.
	again := inode(t, dir)
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	if inode(t, dir) != again {
		t.Error("Stage after a replacement restaged an up-to-date folder")
	}
}

func TestStageReplacesForeignContent(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{"install.viso": visoText()}, nil))
	s := &Source{Client: c}
	ref := Ref{Namespace: testNS, ConfigMap: "win"}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
	}{
		{"folder without marker", func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "stray"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"regular file", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(dir, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink to a folder elsewhere", func(t *testing.T, dir, outside string) {
			if err := os.Symlink(outside, dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"marker of another object", func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "install.viso"), []byte("old"), 0o400); err != nil {
				t.Fatal(err)
			}
			m := `{"object":"configmap vms/other","uid":"uid-other","resourceVersion":"7","visoKey":"install.viso"}`
			if err := os.WriteFile(filepath.Join(filepath.Dir(dir), ".v.staged"), []byte(m), 0o400); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, outside := t.TempDir(), t.TempDir()
			victim := filepath.Join(outside, "precious")
			if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(parent, "v")
			tt.setup(t, dir, outside)
			if _, err := s.Stage(t.Context(), ref, dir); err != nil {
				t.Fatal(err)
			}
			if got := readStaged(t, dir); !maps.Equal(got, map[string]string{"install.viso": visoText()}) {
				t.Errorf("staged %q", got)
			}
			if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
				t.Errorf("dir is not a real folder after Stage: %v %v", fi, err)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "keep me" {
				t.Errorf("a file outside the folder was touched: %q %v", b, err)
			}
			if got := listDir(t, outside); !slices.Equal(got, []string{"precious"}) {
				t.Errorf("Stage wrote outside the folder: %q", got)
			}
			checkParent(t, parent, "v")
		})
	}
}

func TestStageEmptyResourceVersionAlwaysRestages(t *testing.T) {
	c := newClient(t, configMap("n", "", map[string]string{"a.viso": visoText()}, nil))
	s := &Source{Client: c}
	dir := filepath.Join(t.TempDir(), "v")
	ref := Ref{Namespace: testNS, ConfigMap: "n"}
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	before := inode(t, dir)
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	if inode(t, dir) == before {
		t.Error("an object without resourceVersion was taken as unchanged")
	}
}

func TestStageRemovesLeftovers(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{"install.viso": visoText()}, nil))
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	leftovers := []string{".v.tmp-0123456789abcdef", ".v.old-fedcba9876543210", ".v.staged.tmp-00112233445566ff"}
	for _, n := range leftovers {
		if err := os.MkdirAll(filepath.Join(parent, n, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Names that only look similar belong to someone else.
	others := []string{".v.tmp-short", ".vv.tmp-0123456789abcdef", "w"}
	for _, n := range others {
		if err := os.WriteFile(filepath.Join(parent, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"}, dir); err != nil {
		t.Fatal(err)
	}
	want := append([]string{".v.staged", "v"}, others...)
	slices.Sort(want)
	if got := listDir(t, parent); !slices.Equal(got, want) {
		t.Errorf("parent holds %q, want %q", got, want)
	}
}

func TestWipe(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{"install.viso": visoText(), "Unattended-1-x": "pw"}, nil))
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	if _, err := (&Source{Client: c}).Stage(t.Context(), Ref{Namespace: testNS, ConfigMap: "win"}, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(parent, ".v.tmp-0123456789abcdef"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "other"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Wipe(dir); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, parent); !slices.Equal(got, []string{"other"}) {
		t.Errorf("after Wipe the parent holds %q, want only the unrelated file", got)
	}
	// Already gone, and parent gone: both fine.
	if err := Wipe(dir); err != nil {
		t.Errorf("Wipe of a wiped folder: %v", err)
	}
	if err := Wipe(filepath.Join(parent, "no-such-parent", "v")); err != nil {
		t.Errorf("Wipe under a missing parent: %v", err)
	}
}

func TestWipeDoesNotFollowSymlink(t *testing.T) {
	parent, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "precious")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "v")
	if err := os.Symlink(outside, dir); err != nil {
		t.Fatal(err)
	}
	if err := Wipe(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("the symlink is still there: %v", err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("Wipe followed the symlink: %v", err)
	}
}

func TestWipeRefusesNonFolderPaths(t *testing.T) {
	for _, dir := range []string{"", "/", "."} {
		if err := Wipe(dir); err == nil {
			t.Errorf("Wipe(%q) succeeded", dir)
		}
	}
}

func TestIsAuxName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".vol-1.staged", true},
		{".vol-1.tmp-0123456789abcdef", true},
		{".vol-1.old-0123456789abcdef", true},
		{".vol-1.staged.tmp-0123456789abcdef", true},
		{"vol-1", false},
		{"vol-1.staged", false},
		{"disk.img", false},
	}
	for _, tt := range tests {
		if got := IsAuxName(tt.name); got != tt.want {
			t.Errorf("IsAuxName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRefString(t *testing.T) {
	tests := []struct {
		ref  Ref
		want string
	}{
		{Ref{Namespace: "ns", ConfigMap: "cm"}, "configmap ns/cm"},
		{Ref{Namespace: "ns", Secret: "s", Key: "a.viso"}, `secret ns/s key "a.viso"`},
	}
	for _, tt := range tests {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.ref, got, tt.want)
		}
	}
	if s := (Ref{Namespace: "ns", ConfigMap: "a", Secret: "b"}).String(); !strings.Contains(s, `"a"`) || !strings.Contains(s, `"b"`) {
		t.Errorf("malformed Ref prints %q, want both names", s)
	}
}

func TestStageReplaceWithoutExchange(t *testing.T) {
	c := newClient(t, configMap("win", "7", map[string]string{"install.viso": visoText(), "a": "1"}, nil))
	s := &Source{Client: c}
	ref := Ref{Namespace: testNS, ConfigMap: "win"}
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	bumpConfigMap(t, c, "win", func(cm *corev1.ConfigMap) { cm.Data["a"] = "2" })

	old := exchangeNames
	t.Cleanup(func() { exchangeNames = old })
	// A filesystem without RENAME_EXCHANGE: the two-rename fallback.
	exchangeNames = func(*os.Root, string, string) error {
		return &os.LinkError{Op: "renameat2 exchange", Err: syscall.EINVAL}
	}
	if _, err := s.Stage(t.Context(), ref, dir); err != nil {
		t.Fatal(err)
	}
	if got := readStaged(t, dir); got["a"] != "2" {
		t.Errorf("fallback replacement staged %q", got)
	}
	checkParent(t, parent, "v")

	// Any other failure is an error, and the old copy and no leftover remain.
	bumpConfigMap(t, c, "win", func(cm *corev1.ConfigMap) { cm.Data["a"] = "3" })
	exchangeNames = func(*os.Root, string, string) error {
		return &os.LinkError{Op: "renameat2 exchange", Err: syscall.EIO}
	}
	_, err := s.Stage(t.Context(), ref, dir)
	if err == nil || !strings.Contains(err.Error(), "configmap vms/win") || !strings.Contains(err.Error(), `"install.viso"`) {
		t.Fatalf("Stage with a failing exchange: %v", err)
	}
	if got := readStaged(t, dir); got["a"] != "2" {
		t.Errorf("after a failed replacement the folder holds %q, want the previous copy", got)
	}
	if got := listDir(t, parent); !slices.Equal(got, []string{"v"}) {
		t.Errorf("parent holds %q, want only the folder (marker removed, no leftovers)", got)
	}
}
