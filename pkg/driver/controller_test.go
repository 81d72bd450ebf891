package driver

import (
	"context"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCreateVolumeSemantics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	params := map[string]string{AttrImage: "plain.iso", KubePrefix + "pvc/name": "c", KubePrefix + "pvc/namespace": testNS}
	req := &csi.CreateVolumeRequest{Name: "pv-1", Parameters: params, VolumeCapabilities: []*csi.VolumeCapability{fsCap()},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 10 << 20}}
	a, err := e.ctrl.CreateVolume(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Volume.CapacityBytes != 10<<20 {
		t.Errorf("capacity %d, want the required 10 MiB", a.Volume.CapacityBytes)
	}
	b, err := e.ctrl.CreateVolume(ctx, req)
	if err != nil || b.Volume.VolumeId != a.Volume.VolumeId {
		t.Fatalf("same name and arguments: %v, %v vs %v", err, b, a)
	}
	other := &csi.CreateVolumeRequest{Name: "pv-1", Parameters: params, VolumeCapabilities: []*csi.VolumeCapability{fsCap()},
		CapacityRange: &csi.CapacityRange{RequiredBytes: 20 << 20}}
	_, err = e.ctrl.CreateVolume(ctx, other)
	wantCode(t, err, codes.AlreadyExists)

	// Records survive a restart of the controller.
	d2, err := New(e.d.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.start(d2)
	if _, err := e.ctrl.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: a.Volume.VolumeId, VolumeCapabilities: []*csi.VolumeCapability{blockCap()}}); err != nil {
		t.Fatalf("ValidateVolumeCapabilities after restart: %v", err)
	}
	_, err = e.ctrl.CreateVolume(ctx, other)
	wantCode(t, err, codes.AlreadyExists)

	_, err = e.ctrl.ValidateVolumeCapabilities(ctx, &csi.ValidateVolumeCapabilitiesRequest{VolumeId: "nope", VolumeCapabilities: []*csi.VolumeCapability{fsCap()}})
	wantCode(t, err, codes.NotFound)

	for _, tc := range []struct {
		name string
		req  *csi.CreateVolumeRequest
		code codes.Code
	}{
		{"no name", &csi.CreateVolumeRequest{Parameters: params, VolumeCapabilities: []*csi.VolumeCapability{fsCap()}}, codes.InvalidArgument},
		{"no capabilities", &csi.CreateVolumeRequest{Name: "x", Parameters: params}, codes.InvalidArgument},
		{"unknown parameter", &csi.CreateVolumeRequest{Name: "x", Parameters: map[string]string{AttrImage: "plain.iso", "size": "1"}, VolumeCapabilities: []*csi.VolumeCapability{fsCap()}}, codes.InvalidArgument},
		{"missing image", &csi.CreateVolumeRequest{Name: "x", Parameters: map[string]string{AttrImage: "none.iso"}, VolumeCapabilities: []*csi.VolumeCapability{fsCap()}}, codes.FailedPrecondition},
		{"no source, no PVC info", &csi.CreateVolumeRequest{Name: "x", VolumeCapabilities: []*csi.VolumeCapability{fsCap()}}, codes.InvalidArgument},
		{"limit below required", &csi.CreateVolumeRequest{Name: "x", Parameters: params, VolumeCapabilities: []*csi.VolumeCapability{fsCap()},
			CapacityRange: &csi.CapacityRange{RequiredBytes: 10, LimitBytes: 5}}, codes.OutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ctrl.CreateVolume(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}

	if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: a.Volume.VolumeId}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: a.Volume.VolumeId}); err != nil {
		t.Fatalf("second DeleteVolume: %v", err)
	}
}

// TestPVCAnnotationAndUnattendedDelete: the ConfigMap comes from the claim's
// annotation, and DeleteVolume with unattendedInstall removes the VISO and
// the Unattended-* keys it references, nothing else.
func TestPVCAnnotationAndUnattendedDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keys := testKeys()
	keys["Unattended-decoy.txt"] = "unreferenced"
	if _, err := e.client.CoreV1().ConfigMaps(testNS).Create(ctx, configMap("from-annotation", keys), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "install", Namespace: testNS,
		Annotations: map[string]string{AnnotationConfigMap: "from-annotation"}}}
	if _, err := e.client.CoreV1().PersistentVolumeClaims(testNS).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vol := e.createPVC("install", map[string]string{AttrUnattendedInstall: "true"}, fsCap())
	if got := vol.VolumeContext[AttrConfigMap]; got != "from-annotation" {
		t.Fatalf("volume context configMap %q, want the annotation's", got)
	}
	if _, err := e.ctrl.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: vol.VolumeId}); err != nil {
		t.Fatal(err)
	}
	cm, err := e.client.CoreV1().ConfigMaps(testNS).Get(ctx, "from-annotation", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for k := range cm.Data {
		left = append(left, k)
	}
	if got := sorted(left); len(got) != 3 || got[0] != "Unattended-decoy.txt" || got[1] != "meta-data" || got[2] != "user-data" {
		t.Errorf("keys left: %v", got)
	}

	// A claim without the annotation and a StorageClass without a source.
	pvc2 := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: testNS}}
	if _, err := e.client.CoreV1().PersistentVolumeClaims(testNS).Create(ctx, pvc2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ctrl.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "pv-bare", VolumeCapabilities: []*csi.VolumeCapability{fsCap()},
		Parameters: map[string]string{keyPVCNamespace: testNS, keyPVCName: "bare"}})
	wantCode(t, err, codes.InvalidArgument, "vms/bare", AnnotationConfigMap)
}

func TestIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	info, err := e.ident.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
	if err != nil || info.Name != DriverName || info.VendorVersion != "test" {
		t.Fatalf("GetPluginInfo: %v %v", info, err)
	}
	caps, err := e.ident.GetPluginCapabilities(ctx, &csi.GetPluginCapabilitiesRequest{})
	if err != nil || len(caps.Capabilities) != 1 || caps.Capabilities[0].GetService().GetType() != csi.PluginCapability_Service_CONTROLLER_SERVICE {
		t.Fatalf("GetPluginCapabilities: %v %v", caps, err)
	}
	p, err := e.ident.Probe(ctx, &csi.ProbeRequest{})
	if err != nil || !p.GetReady().GetValue() {
		t.Fatalf("Probe: %v %v", p, err)
	}
	old := fuseDevice
	fuseDevice = "/nonexistent/fuse"
	defer func() { fuseDevice = old }()
	p, err = e.ident.Probe(ctx, &csi.ProbeRequest{})
	if err != nil || p.GetReady().GetValue() {
		t.Fatalf("Probe without FUSE: %v %v, want not ready and no error", p, err)
	}
}
