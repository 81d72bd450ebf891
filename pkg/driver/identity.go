package driver

import (
	"context"
	"fmt"
	"os"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"k8s.io/klog/v2"
)

type identityServer struct {
	csi.UnimplementedIdentityServer
	d *Driver
}

func (s *identityServer) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: s.d.opts.Name, VendorVersion: s.d.opts.Version}, nil
}

func (s *identityServer) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	resp := &csi.GetPluginCapabilitiesResponse{}
	if s.d.opts.Mode.controller() {
		resp.Capabilities = append(resp.Capabilities, &csi.PluginCapability{
			Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{
				Type: csi.PluginCapability_Service_CONTROLLER_SERVICE,
			}},
		})
	}
	return resp, nil
}

// Probe answers ready or not ready and never fails: a liveness probe that
// errors would restart a plugin whose only problem is a full disk.
func (s *identityServer) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	err := s.d.Ready()
	if err != nil {
		klog.InfoS("Probe: not ready", "reason", err)
	}
	return &csi.ProbeResponse{Ready: wrapperspb.Bool(err == nil)}, nil
}

// fuseDevice is checked by Ready in node mode.
var fuseDevice = "/dev/fuse"

// Ready reports why the driver cannot serve yet, or nil: the state
// directory takes a durable write, and in node mode /dev/fuse opens and the
// start-up reconcile is done.
func (d *Driver) Ready() error {
	if err := d.store.CheckWritable(); err != nil {
		return err
	}
	if d.opts.Mode.node() {
		f, err := os.OpenFile(fuseDevice, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("FUSE not available: %w", err)
		}
		_ = f.Close()
		if !d.reconciled.Load() {
			return fmt.Errorf("node state not reconciled yet")
		}
	}
	return nil
}
