package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// createPVC runs CreateVolume as external-provisioner would for a claim in
// testNS whose StorageClass names the ConfigMap.
func (e *env) createPVC(name string, params map[string]string, c *csi.VolumeCapability) *csi.Volume {
	e.t.Helper()
	p := map[string]string{keyPVCNamespace: testNS, keyPVCName: name, KubePrefix + "pv/name": "pv-" + name}
	for k, v := range params {
		p[k] = v
	}
	resp, err := e.ctrl.CreateVolume(context.Background(), &csi.CreateVolumeRequest{
		Name: "pv-" + name, Parameters: p, VolumeCapabilities: []*csi.VolumeCapability{c},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 1 << 30},
	})
	if err != nil {
		e.t.Fatalf("CreateVolume: %v", err)
	}
	return resp.GetVolume()
}

func TestPersistentVolumeFilesystemAndBlock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := buildExpected(t, testKeys(), "seed.viso")

	for _, tc := range []struct {
		name  string
		cap   *csi.VolumeCapability
		block bool
	}{
		{"filesystem", fsCap(), false},
		{"block", blockCap(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vol := e.createPVC("claim-"+tc.name, map[string]string{AttrConfigMap: "seed"}, tc.cap)
			if vol.GetCapacityBytes() != 1<<30 {
				t.Errorf("capacity %d, want the required bytes", vol.GetCapacityBytes())
			}
			staging := filepath.Join(e.dir, "kubelet", tc.name, "globalmount")
			target := filepath.Join(e.dir, "kubelet", tc.name, "pods", "p1", "mount")
			stage := &csi.NodeStageVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging, VolumeCapability: tc.cap, VolumeContext: vol.VolumeContext}
			pub := &csi.NodePublishVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging, TargetPath: target, VolumeCapability: tc.cap, VolumeContext: vol.VolumeContext, Readonly: true}
			for i := 0; i < 2; i++ { // the second round proves idempotency
				if _, err := e.node.NodeStageVolume(ctx, stage); err != nil {
					t.Fatalf("NodeStageVolume #%d: %v", i+1, err)
				}
				if _, err := e.node.NodePublishVolume(ctx, pub); err != nil {
					t.Fatalf("NodePublishVolume #%d: %v", i+1, err)
				}
			}
			h, err := e.node.NodeGetVolumeHealth(ctx, &csi.NodeGetVolumeHealthRequest{VolumeId: vol.VolumeId})
			if err != nil || h.GetVolumeHealth().GetVolumeId() != vol.VolumeId || len(h.GetVolumeHealth().GetHealthStatuses()) != 0 {
				t.Errorf("health of a served volume: %v %v, want no adverse status", h, err)
			}
			if n := len(mountsUnder(target)) + countMount(target); n != 1 {
				t.Errorf("%d mounts at the target after publishing twice, want 1", n)
			}
			if tc.block {
				fi, err := os.Stat(target)
				if err != nil || fi.Mode()&os.ModeDevice == 0 {
					t.Fatalf("block target is not a device node: %v %v", fi, err)
				}
				assertSame(t, "block device", mustRead(t, target), want)
				f, err := os.OpenFile(target, os.O_WRONLY, 0)
				if err == nil {
					_, err = f.Write([]byte("x"))
					f.Close()
				}
				if err == nil {
					t.Error("writing to the published block device succeeded")
				}
			} else {
				img := filepath.Join(target, "disk.img")
				fi, err := os.Stat(img)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o444 {
					t.Errorf("disk.img mode %v, want 0444", fi.Mode().Perm())
				}
				assertSame(t, "disk.img", mustRead(t, img), want)
				if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); err == nil {
					t.Error("creating a file in the published folder succeeded")
				}
				st, err := e.node.NodeGetVolumeStats(ctx, &csi.NodeGetVolumeStatsRequest{VolumeId: vol.VolumeId, VolumePath: target})
				if err != nil {
					t.Fatal(err)
				}
				if got := st.GetUsage()[0].GetTotal(); got != int64(len(want)) {
					t.Errorf("stats total %d, want %d", got, len(want))
				}
			}
			for i := 0; i < 2; i++ {
				if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: vol.VolumeId, TargetPath: target}); err != nil {
					t.Fatalf("NodeUnpublishVolume #%d: %v", i+1, err)
				}
				if _, err := e.node.NodeUnstageVolume(ctx, &csi.NodeUnstageVolumeRequest{VolumeId: vol.VolumeId, StagingTargetPath: staging}); err != nil {
					t.Fatalf("NodeUnstageVolume #%d: %v", i+1, err)
				}
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("target %s still exists: %v", target, err)
			}
			e.assertClean()
			if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: vol.VolumeId}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// countMount is 1 when path itself is a mount point.
func countMount(path string) int {
	for _, m := range mountsUnder(filepath.Dir(path)) {
		if m == path {
			return 1
		}
	}
	return 0
}

func TestEphemeralUnattendedCleanup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keys := testKeys()
	keys["Unattended-decoy.txt"] = "not referenced by the VISO: must stay\n"
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("unattended", keys), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := buildExpected(t, keys, "seed.viso")
	target := filepath.Join(e.dir, "pods", "p2", "volumes", "vol", "mount")
	req := &csi.NodePublishVolumeRequest{
		VolumeId: "csi-ephemeral-1", TargetPath: target, VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "unattended", AttrUnattendedInstall: "true", AttrFileName: "cidata.iso"}),
	}
	for i := 0; i < 2; i++ {
		if _, err := e.node.NodePublishVolume(ctx, req); err != nil {
			t.Fatalf("NodePublishVolume #%d: %v", i+1, err)
		}
	}
	assertSame(t, "cidata.iso", mustRead(t, filepath.Join(target, "cidata.iso")), want)
	rec, err := e.d.store.NodeVolume("csi-ephemeral-1")
	if err != nil {
		t.Fatal(err)
	}
	staged := e.d.store.SourceDir(rec.VolumeID)
	if _, err := os.Stat(filepath.Join(staged, "user-data")); err != nil {
		t.Fatalf("staged answer file missing while published: %v", err)
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-ephemeral-1", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Errorf("staged files not wiped: %v", err)
	}
	e.assertClean()
	cm, err := e.client.CoreV1().ConfigMaps(testNS).Get(ctx, "unattended", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for k := range cm.Data {
		left = append(left, k)
	}
	if fmt.Sprint(sorted(left)) != "[Unattended-decoy.txt meta-data user-data]" {
		t.Errorf("keys left after unattended cleanup: %v", sorted(left))
	}

	// The object deleted by its owner while published: unpublish still
	// completes (nothing is left to clean in the cluster).
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("gone", testKeys()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req.VolumeId, req.VolumeContext[AttrConfigMap] = "csi-ephemeral-2", "gone"
	if _, err := e.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := e.client.CoreV1().ConfigMaps(testNS).Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-ephemeral-2", TargetPath: target}); err != nil {
		t.Fatalf("unpublish after the ConfigMap was deleted: %v", err)
	}
	e.assertClean()
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestConcurrentEphemeralPublishes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wantVISO := buildExpected(t, testKeys(), "seed.viso")
	wantISO := mustRead(t, filepath.Join(e.media, "plain.iso"))
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	target := func(i int) string { return filepath.Join(e.dir, "pods", fmt.Sprint(i), "mount") }
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			attrs := map[string]string{AttrConfigMap: "seed"}
			if i%2 == 1 {
				attrs = map[string]string{AttrImage: "plain.iso"}
			}
			_, errs[i] = e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
				VolumeId: fmt.Sprintf("eph-%d", i), TargetPath: target(i), VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(attrs),
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := 0; i < n; i++ {
		want := wantVISO
		if i%2 == 1 {
			want = wantISO
		}
		assertSame(t, fmt.Sprintf("volume %d", i), mustRead(t, filepath.Join(target(i), "disk.img")), want)
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: fmt.Sprintf("eph-%d", i), TargetPath: target(i)})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("unpublish %d: %v", i, err)
		}
	}
	e.assertClean()
}

func TestSameVolumeConcurrentCallAborted(t *testing.T) {
	e := newEnv(t)
	unlock, err := e.d.locks.tryLock("vol-busy", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = e.node.NodePublishVolume(context.Background(), &csi.NodePublishVolumeRequest{
		VolumeId: "vol-busy", TargetPath: filepath.Join(e.dir, "t"), VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrImage: "plain.iso"}),
	})
	wantCode(t, err, codes.Aborted, "vol-busy")
	_, err = e.node.NodeUnpublishVolume(context.Background(), &csi.NodeUnpublishVolumeRequest{VolumeId: "vol-busy", TargetPath: filepath.Join(e.dir, "t")})
	wantCode(t, err, codes.Aborted)
	_, err = e.ctrl.DeleteVolume(context.Background(), &csi.DeleteVolumeRequest{VolumeId: "vol-busy"})
	wantCode(t, err, codes.Aborted)
}

func TestPublishErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bad := testKeys()
	bad["seed.viso"] = testVISO + "--no-such-option\n"
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("broken", bad), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := testKeys()
	two["other.viso"] = testVISO
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("two", two), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		attrs    map[string]string
		code     codes.Code
		contains []string
	}{
		{"unknown attribute", map[string]string{AttrImage: "plain.iso", "imagePath": "x"}, codes.InvalidArgument, []string{`"imagePath"`}},
		{"bad unattendedInstall", map[string]string{AttrImage: "plain.iso", AttrUnattendedInstall: "yes"}, codes.InvalidArgument, []string{AttrUnattendedInstall, `"yes"`}},
		{"two sources", map[string]string{AttrImage: "plain.iso", AttrConfigMap: "seed"}, codes.InvalidArgument, nil},
		{"no source", map[string]string{}, codes.InvalidArgument, []string{"no image source"}},
		{"file name with slash", map[string]string{AttrImage: "plain.iso", AttrFileName: "a/b"}, codes.InvalidArgument, []string{AttrFileName}},
		{"image escapes", map[string]string{AttrImage: "../state/x.iso"}, codes.InvalidArgument, []string{"leaves the media roots"}},
		{"image outside roots", map[string]string{AttrImage: "/etc/passwd"}, codes.InvalidArgument, []string{"/etc/passwd"}},
		{"image missing", map[string]string{AttrImage: "nope.iso"}, codes.FailedPrecondition, []string{"nope.iso"}},
		{"configmap missing", map[string]string{AttrConfigMap: "absent"}, codes.FailedPrecondition, []string{"absent"}},
		{"key missing", map[string]string{AttrConfigMap: "seed", AttrKey: "x.viso"}, codes.FailedPrecondition, []string{"seed", "x.viso"}},
		{"two viso keys", map[string]string{AttrConfigMap: "two"}, codes.FailedPrecondition, []string{"two"}},
		{"VISO error", map[string]string{AttrConfigMap: "broken"}, codes.FailedPrecondition, []string{"configmap vms/broken", `key "seed.viso": seed.viso:8: argument "--no-such-option"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(e.dir, "err", tc.name)
			_, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
				VolumeId: "err-" + tc.name, TargetPath: target, VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(tc.attrs),
			})
			wantCode(t, err, tc.code, tc.contains...)
		})
	}
	e.assertClean()
}

func TestNoCluster(t *testing.T) {
	e := newEnv(t, withoutCluster())
	ctx := context.Background()
	target := filepath.Join(e.dir, "pods", "a", "mount")
	_, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: "cm", TargetPath: target, VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "seed"}),
	})
	wantCode(t, err, codes.FailedPrecondition, "configmap vms/seed", "no Kubernetes API")
	// Plain images need no cluster.
	if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: "img", TargetPath: target, VolumeCapability: fsCap(), VolumeContext: ephemeralCtx(map[string]string{AttrImage: "plain.iso"}),
	}); err != nil {
		t.Fatal(err)
	}
	assertSame(t, "plain image", mustRead(t, filepath.Join(target, "disk.img")), mustRead(t, filepath.Join(e.media, "plain.iso")))
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "img", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	e.assertClean()
}

// TestSecretSourceAndFileName: a Secret works like a ConfigMap, fileName
// renames the served file, and the staged copy is private (0400 files).
func TestSecretSourceAndFileName(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "answers", Namespace: testNS}, Data: map[string][]byte{}}
	for k, v := range testKeys() {
		sec.Data[k] = []byte(v)
	}
	if _, err := e.client.CoreV1().Secrets(testNS).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(e.dir, "pods", "s", "mount")
	if _, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "sec", TargetPath: target, VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrSecret: "answers", AttrKey: "seed.viso", AttrFileName: "answers.iso"})}); err != nil {
		t.Fatal(err)
	}
	assertSame(t, "answers.iso", mustRead(t, filepath.Join(target, "answers.iso")), buildExpected(t, testKeys(), "seed.viso"))
	if ents, _ := os.ReadDir(target); len(ents) != 1 {
		t.Errorf("published folder holds %d entries, want exactly the one file", len(ents))
	}
	fi, err := os.Stat(filepath.Join(e.d.store.SourceDir("sec"), "user-data"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("staged answer file mode %v, want 0400", fi.Mode().Perm())
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "sec", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	e.assertClean()
}
