package driver

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/csi-viso/csi-viso/pkg/backend"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/viso"
)

const testNS = "vms"

// testVISO is a small VISO whose member files are ConfigMap keys next to it.
const testVISO = `--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301
--volume-id=cidata
--rock-ridge
--joliet
/user-data=user-data
/meta-data=meta-data
/Unattended-answer.xml=Unattended-answer.xml
`

func testKeys() map[string]string {
	return map[string]string{
		"seed.viso":             testVISO,
		"user-data":             "#cloud-config\npassword: secret\n" + strings.Repeat("# padding line\n", 3000),
		"meta-data":             "instance-id: test\n",
		"Unattended-answer.xml": "<answer/>\n",
	}
}

// env is one driver served in-process over a Unix socket.
type env struct {
	t      testing.TB
	dir    string
	media  string
	d      *Driver
	client *fake.Clientset
	conn   *grpc.ClientConn
	node   csi.NodeClient
	ctrl   csi.ControllerClient
	ident  csi.IdentityClient
}

type envOpt func(*Options)

func withoutCluster() envOpt { return func(o *Options) { o.Source = nil } }

// newEnv starts a driver in mode all with a fake cluster holding the
// ConfigMap "seed" in testNS and a media root holding plain.iso.
func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests need root: they mount FUSE filesystems and loop devices")
	}
	dir := t.TempDir()
	e := &env{t: t, dir: dir, media: filepath.Join(dir, "media")}
	if err := os.MkdirAll(e.media, 0o755); err != nil {
		t.Fatal(err)
	}
	writeISO(t, filepath.Join(e.media, "plain.iso"))
	e.client = fake.NewClientset(configMap("seed", testKeys()))
	o := Options{
		Version: "test", NodeID: "node-1", Mode: ModeAll,
		StateDir: filepath.Join(dir, "state"), MediaRoots: []string{e.media},
		Source: NewSource(&source.Source{Client: e.client}),
	}
	for _, f := range opts {
		f(&o)
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.start(d)
	return e
}

// start serves d and connects a client; cleanup stops both and checks
// that nothing is left mounted.
func (e *env) start(d *Driver) {
	t := e.t
	if err := d.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.d = d
	sock := filepath.Join(e.dir, "csi-"+filepath.Base(t.TempDir())+".sock")
	l, err := Listen("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := d.GRPCServer()
	go func() { _ = srv.Serve(l) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	e.node, e.ctrl, e.ident = csi.NewNodeClient(conn), csi.NewControllerClient(conn), csi.NewIdentityClient(conn)
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		// Never leave a test's loop devices and mounts behind, even when it
		// failed midway (loops first: they keep the FUSE mounts busy).
		for _, l := range loopsUnder(e.dir) {
			_ = serve.DetachLoop("/dev/" + filepath.Base(filepath.Dir(filepath.Dir(l))))
		}
		for _, m := range mountsUnder(e.dir) {
			_ = unmountAll(m)
		}
	})
}

func configMap(name string, keys map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS}, Data: keys}
}

// writeISO builds a small ISO with the VISO backend (what `csi-viso build` does).
func writeISO(t testing.TB, out string) {
	t.Helper()
	want := buildExpected(t, map[string]string{
		"p.viso":   "--iprt-iso-maker-file-marker-bourne-sh 9f2504e0-4f89-41d3-9a0c-0305e82c3301\n--volume-id=PLAIN\n/data.bin=data.bin\n",
		"data.bin": strings.Repeat("plain iso bytes ", 40000),
	}, "p.viso")
	if err := os.WriteFile(out, want, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildExpected synthesises the image of VISO key visoKey among files, the
// way `csi-viso build` does, for byte-for-byte comparisons.
func buildExpected(t testing.TB, files map[string]string, visoKey string) []byte {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := viso.NewBackend(nil).Open(context.Background(), filepath.Join(dir, visoKey), backend.OpenReadOnly, backend.DeviceOpticalDisc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close(false)
	buf := make([]byte, img.Size())
	if _, err := img.ReadAt(buf, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return buf
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func assertSame(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes read, differ from the %d expected bytes", what, len(got), len(want))
	}
}

func wantCode(t testing.TB, err error, code codes.Code, contains ...string) {
	t.Helper()
	s, _ := status.FromError(err)
	if err == nil || s.Code() != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
	for _, c := range contains {
		if !strings.Contains(s.Message(), c) {
			t.Errorf("message %q does not contain %q", s.Message(), c)
		}
	}
}

func fsCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY},
	}
}

func blockCap() *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER},
	}
}

func ephemeralCtx(extra map[string]string) map[string]string {
	m := map[string]string{
		keyEphemeral: "true", keyPodNamespace: testNS,
		KubePrefix + "pod.name": "vm-launcher", KubePrefix + "pod.uid": "1234", KubePrefix + "serviceAccount.name": "default",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// mountsUnder lists mount points below dir, deepest (latest) first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append([]string{f[4]}, out...)
		}
	}
	return out
}

func loopsUnder(dir string) []string {
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), dir+"/") {
			out = append(out, f)
		}
	}
	return out
}

// assertClean checks that no mount, loop device, node record or staged
// file is left.
func (e *env) assertClean() {
	t := e.t
	t.Helper()
	if m := mountsUnder(e.dir); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if l := loopsUnder(e.dir); len(l) > 0 {
		t.Errorf("loop devices left: %v", l)
	}
	ents, err := os.ReadDir(filepath.Join(e.d.store.Dir(), "node"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		t.Errorf("node state left: %s", en.Name())
	}
	e.d.mu.Lock()
	n := len(e.d.live)
	e.d.mu.Unlock()
	if n != 0 {
		t.Errorf("%d volumes still held in memory", n)
	}
}
