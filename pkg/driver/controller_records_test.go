package driver

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDeleteByReplacedController: an unattended volume created by one
// controller is deleted by another that has none of its records (a
// replaced controller pod with an emptyDir): the volume ID carries the
// source object, so the UnattendedInstall cleanup still runs, removing
// exactly the VISO and its Unattended-* keys.
func TestDeleteByReplacedController(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	resp, err := e.ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pvc-1234", VolumeCapabilities: []*csi.VolumeCapability{fsCap()},
		Parameters: map[string]string{AttrConfigMap: "seed", AttrUnattendedInstall: "true", "csi.storage.k8s.io/pvc/namespace": testNS}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetVolume().GetVolumeId()
	if !strings.HasPrefix(id, unattendedIDPrefix) || len(id) > maxVolumeIDLength {
		t.Fatalf("volume ID %q does not carry the source", id)
	}
	// The controller's records are lost with its pod.
	if err := os.RemoveAll(filepath.Join(e.d.opts.StateDir, "controller")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		t.Fatal(err)
	}
	cm, err := e.client.CoreV1().ConfigMaps(testNS).Get(ctx, "seed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"meta-data", "user-data"}; !slices.Equal(keys, want) {
		t.Errorf("keys left %v, want %v", keys, want)
	}
	// A plain volume ID without records is still a no-op.
	if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: "viso-0123"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{unattendedIDPrefix, unattendedIDPrefix + "ns:x:y::h", unattendedIDPrefix + "ns:cm::k:h"} {
		if _, ok := refFromVolumeID(bad); ok {
			t.Errorf("refFromVolumeID(%q) accepted", bad)
		}
	}
}
