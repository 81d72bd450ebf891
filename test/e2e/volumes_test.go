//go:build e2e

package e2e

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// seedData is a ConfigMap's data: a VISO that imports the base ISO from the media root
// (an absolute path inside a media root: allowed) and adds answer files from its own keys.
func (e *env) seedData() map[string]string {
	return map[string]string{
		"seed.viso": visoMarker +
			"--import-iso=" + e.media + "/base.iso\n" +
			"--volume-id=E2ESEED\n" +
			"--rock-ridge\n--joliet\n" +
			"/user-data=user-data\n" +
			"/meta-data=meta-data\n" +
			"/answers/Unattended-answers.cfg=Unattended-answers.cfg\n",
		"user-data":              "#cloud-config\nhostname: e2e\n",
		"meta-data":              "instance-id: e2e\n",
		"Unattended-answers.cfg": "password=e2e-secret\n",
	}
}

const shaScript = "sha256sum /iso/disk.img"

// testInlineVolume: an ephemeral inline volume from a ConfigMap serves disk.img, and its
// bytes are exactly those of `csi-viso build` of the same VISO on the host.
func testInlineVolume(t *testing.T, e *env) {
	ctx := testCtx(t, 3*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-inline")
	data := e.seedData()
	e.createConfigMap(t, ctx, ns, "seed", data)
	want := e.hostSHA(t, data, "seed.viso")

	got := e.podSHA(t, ctx, e.readerPod(ns, "reader", shaScript, inlineVolume(map[string]string{"configMap": "seed"}), false))
	if got != want {
		t.Errorf("inline volume: pod read disk.img with SHA-256 %s, host `csi-viso build` of the same VISO gives %s", got, want)
	}
	t.Logf("inline volume disk.img SHA-256 %s (host build equal)", got)
}

// testClaimFilesystemAndBlock: claims of the chart's StorageClass naming the ConfigMap by
// annotation, provisioned by the real external-provisioner, read by one pod as a file and
// by another as a block device; both equal the host build.
func testClaimFilesystemAndBlock(t *testing.T, e *env) {
	ctx := testCtx(t, 4*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-claim")
	data := e.seedData()
	e.createConfigMap(t, ctx, ns, "seed", data)
	want := e.hostSHA(t, data, "seed.viso")

	fsClaim := e.claim(t, ctx, ns, "iso-fs", "viso", "seed", corev1.PersistentVolumeFilesystem)
	blockClaim := e.claim(t, ctx, ns, "iso-block", "viso", "seed", corev1.PersistentVolumeBlock)
	t.Logf("claims bound: %s -> %s, %s -> %s", fsClaim.Name, fsClaim.Spec.VolumeName, blockClaim.Name, blockClaim.Spec.VolumeName)

	got := e.podSHA(t, ctx, e.readerPod(ns, "reader-fs", shaScript, claimVolume("iso-fs"), false))
	if got != want {
		t.Errorf("filesystem claim: pod read disk.img with SHA-256 %s, host build gives %s", got, want)
	}
	// The loop device is exactly the image's size (ISO images are whole 2 KiB sectors).
	gotBlock := e.podSHA(t, ctx, e.readerPod(ns, "reader-block",
		"sha256sum /dev/iso; dd if=/dev/iso bs=1 skip=32769 count=5 2>/dev/null", claimVolume("iso-block"), true))
	if gotBlock != want {
		t.Errorf("block claim: pod read /dev/iso with SHA-256 %s, host build gives %s", gotBlock, want)
	}
	t.Logf("claims: filesystem %s, block %s, host %s", got, gotBlock, want)
}

// testUnattendedCleanup: deleting a claim of a StorageClass with unattendedInstall "true"
// removes exactly the VISO key and the Unattended-* keys the VISO references from the
// ConfigMap, and the node keeps no staged copy of the object.
func testUnattendedCleanup(t *testing.T, e *env) {
	ctx := testCtx(t, 4*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-unattended")
	data := map[string]string{
		"install.viso": visoMarker +
			"--volume-id=E2EUNATT\n--rock-ridge\n" +
			"/user-data=user-data\n" +
			"/Unattended-answers.cfg=Unattended-answers.cfg\n" +
			"/post/Unattended-post.sh=./Unattended-post.sh\n",
		"user-data":              "#cloud-config\n", // referenced, not Unattended-*: stays
		"Unattended-answers.cfg": "password=e2e-unattended-secret\n",
		"Unattended-post.sh":     "#!/bin/sh\necho post\n",
		"Unattended-decoy.cfg":   "not referenced by the VISO: stays\n",
	}
	e.createConfigMap(t, ctx, ns, "install", data)
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "e2e-viso-unattended"},
		Provisioner: driverName,
		Parameters:  map[string]string{"unattendedInstall": "true"},
	}
	scs := e.c.Client.StorageV1().StorageClasses()
	if _, err := scs.Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create StorageClass: %v", err)
	}
	t.Cleanup(func() { _ = scs.Delete(context.Background(), sc.Name, metav1.DeleteOptions{}) })

	claim := e.claim(t, ctx, ns, "install-iso", sc.Name, "install", corev1.PersistentVolumeFilesystem)
	pv := claim.Spec.VolumeName

	// A pod that keeps the volume published while the test looks at the node's state.
	reader := e.createPod(t, ctx, e.readerPod(ns, "reader", shaScript+"; sleep 3600", claimVolume(claim.Name), false))
	if _, err := e.c.WaitPod(ctx, ns, reader.Name, corev1.PodRunning); err != nil {
		t.Fatalf("reader: %v\nevents:\n%s", err, e.podEvents(context.Background(), ns, reader.Name))
	}
	staged := e.stagedFiles(t, "Unattended-answers.cfg")
	if len(staged) == 0 {
		t.Fatalf("while the volume is published, no staged copy of Unattended-answers.cfg was found under %s (the check below could not fail)", e.csiState)
	}
	t.Logf("staged on the node while published: %v", staged)

	// Same bytes as a host build: unattendedInstall changes what deletion does, not the image.
	if got, want := e.podLogsSHA(t, ctx, ns, reader.Name), e.hostSHA(t, data, "install.viso"); got != want {
		t.Errorf("unattended claim: pod read SHA-256 %s, host build gives %s", got, want)
	}
	if err := e.c.DeletePod(ctx, ns, reader.Name); err != nil {
		t.Fatal(err)
	}
	claims := e.c.Client.CoreV1().PersistentVolumeClaims(ns)
	if err := claims.Delete(ctx, claim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete claim: %v", err)
	}
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		_, err := e.c.Client.CoreV1().PersistentVolumes().Get(ctx, pv, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("PV %s not deleted after its claim: %v\nevents:\n%s", pv, err, e.objectEvents(context.Background(), "", pv))
	}

	cm, err := e.c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "install", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ConfigMap after the claim's deletion: %v (it must survive: keys not referenced remain)", err)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"Unattended-decoy.cfg", "user-data"}; !slices.Equal(keys, want) {
		t.Errorf("ConfigMap keys after the claim's deletion: %q, want exactly %q (VISO key and referenced Unattended-* keys removed, the rest kept)", keys, want)
	}
	// The kubelet unstages after the pod is gone, which may come after the PV's deletion.
	var leftStaged, records []string
	err = wait.PollUntilContextTimeout(ctx, pollInterval, 30*time.Second, true, func(context.Context) (bool, error) {
		leftStaged, records = e.stagedFiles(t, "Unattended-answers.cfg"), e.nodeRecords(t)
		return len(leftStaged)+len(records) == 0, nil
	})
	if err != nil {
		t.Errorf("30 s after the claim's deletion the node still holds staged copies %v and volume folders %v under %s", leftStaged, records, e.csiState)
	}
}

// stagedFiles lists files named name anywhere under the node plugin's state folder.
func (e *env) stagedFiles(t *testing.T, name string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(e.csiState, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Name() == name {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", e.csiState, err)
	}
	return found
}

// nodeRecords lists the entries of the state folder's node/ (one folder per volume).
func (e *env) nodeRecords(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.csiState, "node"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read node state: %v", err)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	return names
}
