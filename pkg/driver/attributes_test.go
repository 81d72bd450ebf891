package driver

import (
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

func TestParseAttributes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      map[string]string
		want    Attributes
		errCode codes.Code
		errText string
	}{
		{name: "configmap defaults", in: map[string]string{"configMap": "cm"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img"}},
		{name: "secret with key and file name", in: map[string]string{"secret": "s", "key": "a.viso", "fileName": "cidata.iso"},
			want: Attributes{Secret: "s", Key: "a.viso", FileName: "cidata.iso"}},
		{name: "image relative", in: map[string]string{"image": "isos/base.iso"},
			want: Attributes{Image: "isos/base.iso", FileName: "disk.img"}},
		{name: "image absolute", in: map[string]string{"image": "/srv/isos/base.iso"},
			want: Attributes{Image: "/srv/isos/base.iso", FileName: "disk.img"}},
		{name: "unattended true", in: map[string]string{"configMap": "cm", "unattendedInstall": "true"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img", UnattendedInstall: true}},
		{name: "unattended false", in: map[string]string{"configMap": "cm", "unattendedInstall": "false"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img"}},
		{name: "kubernetes keys", in: map[string]string{"configMap": "cm", "csi.storage.k8s.io/ephemeral": "true",
			"csi.storage.k8s.io/pod.namespace": "ns", "csi.storage.k8s.io/pod.name": "p", "csi.storage.k8s.io/some/future": "x"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img", Ephemeral: true, PodNamespace: "ns"}},
		{name: "pvc keys", in: map[string]string{"configMap": "cm", "csi.storage.k8s.io/pvc/namespace": "ns", "csi.storage.k8s.io/pvc/name": "c"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img", PVCNamespace: "ns", PVCName: "c"}},
		{name: "external-provisioner identity (set on every provisioned PV)", in: map[string]string{"configMap": "cm",
			"storage.kubernetes.io/csiProvisionerIdentity": "1732497000000-8081-viso.csi.io"},
			want: Attributes{ConfigMap: "cm", FileName: "disk.img"}},
		{name: "other storage.kubernetes.io key", in: map[string]string{"configMap": "cm", "storage.kubernetes.io/other": "x"},
			errCode: codes.InvalidArgument, errText: `"storage.kubernetes.io/other"`},
		{name: "unknown key", in: map[string]string{"configMap": "cm", "Image": "x"}, errCode: codes.InvalidArgument, errText: `"Image"`},
		{name: "lookalike prefix", in: map[string]string{"configMap": "cm", "csi.storage.k8s.io": "x"}, errCode: codes.InvalidArgument, errText: `"csi.storage.k8s.io"`},
		{name: "unattended TRUE", in: map[string]string{"configMap": "cm", "unattendedInstall": "TRUE"}, errCode: codes.InvalidArgument, errText: "unattendedInstall"},
		{name: "unattended 1", in: map[string]string{"configMap": "cm", "unattendedInstall": "1"}, errCode: codes.InvalidArgument, errText: "unattendedInstall"},
		{name: "no source", in: map[string]string{"fileName": "x"}, errCode: codes.InvalidArgument, errText: "no image source"},
		{name: "configmap and secret", in: map[string]string{"configMap": "a", "secret": "b"}, errCode: codes.InvalidArgument, errText: "exclude"},
		{name: "empty configmap", in: map[string]string{"configMap": ""}, errCode: codes.InvalidArgument, errText: "configMap is empty"},
		{name: "empty key", in: map[string]string{"configMap": "a", "key": ""}, errCode: codes.InvalidArgument, errText: "key is empty"},
		{name: "key with image", in: map[string]string{"image": "a.iso", "key": "x.viso"}, errCode: codes.InvalidArgument, errText: "key"},
		{name: "file name dotdot", in: map[string]string{"image": "a.iso", "fileName": ".."}, errCode: codes.InvalidArgument, errText: "fileName"},
		{name: "file name empty", in: map[string]string{"image": "a.iso", "fileName": ""}, errCode: codes.InvalidArgument, errText: "fileName"},
		{name: "image escapes", in: map[string]string{"image": "a/../../b.iso"}, errCode: codes.InvalidArgument, errText: "leaves the media roots"},
		{name: "image dot", in: map[string]string{"image": "."}, errCode: codes.InvalidArgument, errText: "leaves the media roots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAttributes(tc.in)
			if tc.errText != "" {
				if err == nil || codeOf(err) != tc.errCode || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got %v (%v), want %s containing %q", err, codeOf(err), tc.errCode, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStripSecrets(t *testing.T) {
	req := &csi.NodeStageVolumeRequest{
		VolumeId:      "v1",
		Secrets:       map[string]string{"password": "hunter2", "token": "abc"},
		VolumeContext: map[string]string{"configMap": "cm"},
	}
	out := StripSecrets(req)
	for _, secret := range []string{"hunter2", "abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q in log line %s", secret, out)
		}
	}
	for _, keep := range []string{"password", "token", "v1", "configMap", strippedValue} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q missing from log line %s", keep, out)
		}
	}
	if req.Secrets["password"] != "hunter2" {
		t.Error("StripSecrets changed the request itself")
	}
	// Nested: CreateVolume's secrets and a non-message.
	cv := StripSecrets(&csi.CreateVolumeRequest{Name: "n", Secrets: map[string]string{"k": "s3cr3t"}})
	if strings.Contains(cv, "s3cr3t") {
		t.Errorf("secret in %s", cv)
	}
	if StripSecrets(42) != "-" {
		t.Error("non-message not rendered as -")
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"unix:///csi/csi.sock", "unix", "/csi/csi.sock"},
		{"unix:/csi/csi.sock", "unix", "/csi/csi.sock"},
		{"/csi/csi.sock", "unix", "/csi/csi.sock"},
		{"tcp://127.0.0.1:10000", "tcp", "127.0.0.1:10000"},
		{"http://x", "", ""},
		{"unix://", "", ""},
	} {
		n, a, err := ParseEndpoint(tc.in)
		if (err != nil) != (tc.network == "") || n != tc.network || a != tc.addr {
			t.Errorf("ParseEndpoint(%q) = %q, %q, %v", tc.in, n, a, err)
		}
	}
}

func TestVolumeLocks(t *testing.T) {
	l := newVolumeLocks()
	u1, err := l.tryLock("a", "op1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.tryLock("a", "op2"); codeOf(err) != codes.Aborted || !strings.Contains(err.Error(), "op1") {
		t.Fatalf("second lock: %v", err)
	}
	u2, err := l.tryLock("b", "op2")
	if err != nil {
		t.Fatalf("other volume: %v", err)
	}
	u1()
	u3, err := l.tryLock("a", "op3")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	u2()
	u3()
}
