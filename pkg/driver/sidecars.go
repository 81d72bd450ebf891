package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"k8s.io/klog/v2"
	reg "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// The duties of the upstream node-driver-registrar and livenessprobe
// sidecars, built in: one image fewer for users, and neither sidecar can be
// built in this project's environment.

// RegistrationSocket is where the kubelet's plugin watcher looks for the
// driver's registration socket.
func RegistrationSocket(kubeletDir, driverName string) string {
	return filepath.Join(kubeletDir, "plugins_registry", driverName+"-reg.sock")
}

// DefaultKubeletEndpoint is the CSI socket path the kubelet dials, as the
// conventional DaemonSet mounts it (host path of the container's /csi).
func DefaultKubeletEndpoint(kubeletDir, driverName string) string {
	return filepath.Join(kubeletDir, "plugins", driverName, "csi.sock")
}

// registrar answers the kubelet's plugin-registration calls.
type registrar struct {
	reg.UnimplementedRegistrationServer
	name, endpoint string
	registered     atomic.Bool
}

func (r *registrar) GetInfo(context.Context, *reg.InfoRequest) (*reg.PluginInfo, error) {
	klog.V(2).InfoS("Kubelet asked for plugin info", "name", r.name, "endpoint", r.endpoint)
	return &reg.PluginInfo{Type: reg.CSIPlugin, Name: r.name, Endpoint: r.endpoint, SupportedVersions: []string{"1.0.0"}}, nil
}

func (r *registrar) NotifyRegistrationStatus(_ context.Context, s *reg.RegistrationStatus) (*reg.RegistrationStatusResponse, error) {
	r.registered.Store(s.PluginRegistered)
	if s.PluginRegistered {
		klog.InfoS("Registered with the kubelet", "name", r.name)
	} else {
		klog.ErrorS(errors.New(s.Error), "The kubelet refused the registration", "name", r.name)
	}
	return &reg.RegistrationStatusResponse{}, nil
}

// ServeRegistration serves the kubelet plugin-registration socket under
// kubeletDir until ctx ends, telling the kubelet to dial endpoint (a path
// on the host) for CSI. The socket is removed on return, which makes the
// kubelet deregister the plugin.
func (d *Driver) ServeRegistration(ctx context.Context, kubeletDir, endpoint string) error {
	sock := RegistrationSocket(kubeletDir, d.opts.Name)
	l, err := Listen("unix://" + sock)
	if err != nil {
		return fmt.Errorf("registration socket: %w", err)
	}
	srv := grpc.NewServer()
	reg.RegisterRegistrationServer(srv, &registrar{name: d.opts.Name, endpoint: endpoint})
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	klog.InfoS("Serving kubelet plugin registration", "socket", sock, "endpoint", endpoint)
	err = srv.Serve(l)
	_ = os.Remove(sock)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("registration socket %s: %w", sock, err)
}

// HealthHandler answers GET /healthz with 200 "ok" when Ready, else 503 and
// the reason, like the livenessprobe sidecar backed by the CSI Probe.
func (d *Driver) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := d.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// ServeHTTP serves h on addr until ctx ends.
func ServeHTTP(ctx context.Context, addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	klog.InfoS("Serving HTTP", "address", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", addr, err)
	}
	return nil
}
