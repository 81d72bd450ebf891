package driver

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	srv := httptest.NewServer(e.d.MetricsHandler())
	defer srv.Close()
	scrape := func(re string) float64 {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^` + re + ` (\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no sample %s in:\n%s", re, b)
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	target := filepath.Join(e.dir, "pods", "m", "mount")
	req := &csi.NodePublishVolumeRequest{VolumeId: "m", TargetPath: target, VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "seed"})}
	if _, err := e.node.NodePublishVolume(ctx, req); err != nil {
		t.Fatal(err)
	}
	data := mustRead(t, filepath.Join(target, "disk.img"))
	_, err := e.node.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{VolumeId: "bad", TargetPath: target + "x", VolumeCapability: fsCap(),
		VolumeContext: ephemeralCtx(map[string]string{AttrConfigMap: "seed", "bogus": "1"})})
	wantCode(t, err, codes.InvalidArgument)

	if got := scrape(`csi_viso_operations_total\{code="OK",method="NodePublishVolume"\}`); got != 1 {
		t.Errorf("OK publishes %v, want 1", got)
	}
	if got := scrape(`csi_viso_operations_total\{code="InvalidArgument",method="NodePublishVolume"\}`); got != 1 {
		t.Errorf("failed publishes %v, want 1", got)
	}
	if got := scrape(`csi_viso_operation_duration_seconds_count\{method="NodePublishVolume"\}`); got != 2 {
		t.Errorf("latency samples %v, want 2", got)
	}
	if got := scrape(`csi_viso_images_open`); got != 1 {
		t.Errorf("images open %v, want 1", got)
	}
	if got := scrape(`csi_viso_bytes_served_total`); got < float64(len(data)) {
		t.Errorf("bytes served %v, want at least the %d read", got, len(data))
	}
	if _, err := e.node.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "m", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	if got := scrape(`csi_viso_images_open`); got != 0 {
		t.Errorf("images open after unpublish %v, want 0", got)
	}
	if got := scrape(`csi_viso_bytes_served_total`); got < float64(len(data)) {
		t.Errorf("bytes served fell to %v after the server stopped", got)
	}
}
