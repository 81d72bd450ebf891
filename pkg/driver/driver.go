package driver

import (
	"context"
	"errors"
	"fmt"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/serve/holder"
	"github.com/csi-viso/csi-viso/pkg/driver/serve/reflink"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"k8s.io/klog/v2"
	"k8s.io/mount-utils"

	"github.com/csi-viso/csi-viso/pkg/driver/source"
	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// Driver is one CSI plugin process.
type Driver struct {
	opts    Options
	store   *state.Store
	locks   *volumeLocks
	mounter mount.Interface

	mu   sync.Mutex
	live map[string]*liveVolume // node volumes served by this process, by volume ID

	reconciled atomic.Bool
	srv        *grpc.Server
	metrics    *metrics

	reflinkErr error          // why the state folder cannot share blocks (nil: it can)
	holder     *holder.Client // keeps FUSE descriptors across restarts; nil: none
}

// New checks opts and opens the state directory. In node mode call
// Reconcile before serving (Run does).
func New(opts Options) (*Driver, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	st, err := state.Open(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	if opts.Source == nil {
		opts.Source = noCluster{}
	}
	d := &Driver{
		opts:    opts,
		store:   st,
		locks:   newVolumeLocks(),
		mounter: mount.New(""),
		live:    map[string]*liveVolume{},
	}
	d.metrics = newMetrics(d)
	if !opts.Mode.node() {
		d.reconciled.Store(true)
	} else {
		if opts.ServeMode != serve.ModeFUSE {
			d.reflinkErr = reflink.Probe(st.Dir())
			klog.InfoS("Reflink probe of the state folder", "dir", st.Dir(), "fsType", reflink.FSType(st.Dir()), "serveMode", opts.ServeMode, "err", d.reflinkErr)
			if d.reflinkErr != nil && opts.ServeMode == serve.ModeReflink {
				return nil, fmt.Errorf("driver: --serve-mode=reflink: %w", d.reflinkErr)
			}
		}
		if opts.FUSEHolder != "" {
			d.holder = &holder.Client{Path: opts.FUSEHolder}
		}
	}
	return d, nil
}

// Store is the driver's state directory.
func (d *Driver) Store() *state.Store { return d.store }

// GRPCServer builds the gRPC server with the services of the driver's mode.
func (d *Driver) GRPCServer() *grpc.Server {
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(logInterceptor, d.metrics.observe))
	csi.RegisterIdentityServer(srv, &identityServer{d: d})
	if d.opts.Mode.controller() {
		csi.RegisterControllerServer(srv, &controllerServer{d: d})
	}
	if d.opts.Mode.node() {
		csi.RegisterNodeServer(srv, &nodeServer{d: d})
	}
	return srv
}

// Run reconciles node state (node mode), then serves CSI on endpoint until
// ctx ends, with the kubelet registration socket and /healthz when the
// options ask for them. Published volumes stay mounted when it returns: their FUSE
// servers end with the process, and the next start serves them again.
func (d *Driver) Run(ctx context.Context, endpoint string) error {
	l, err := Listen(endpoint)
	if err != nil {
		return err
	}
	if d.opts.Mode.node() {
		if err := d.Reconcile(ctx); err != nil {
			// Keep going: volumes that reconciled are served; the rest are
			// reported and their next RPC retries.
			klog.ErrorS(err, "Node state reconcile incomplete")
		}
	}
	d.srv = d.GRPCServer()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	running := 1 // goroutines that will send on errc exactly once
	go func() {
		err := d.srv.Serve(l)
		if err != nil {
			err = fmt.Errorf("serve %s: %w", endpoint, err)
		}
		errc <- err
	}()
	klog.InfoS("CSI driver serving", "name", d.opts.Name, "version", d.opts.Version, "mode", d.opts.Mode,
		"endpoint", endpoint, "nodeID", d.opts.NodeID, "stateDir", d.store.Dir(), "mediaRoots", d.opts.MediaRoots)
	if d.opts.KubeletRegistration && d.opts.Mode.node() {
		running++
		go func() { errc <- d.ServeRegistration(ctx, d.opts.KubeletDir, d.opts.KubeletEndpoint) }()
	}
	if d.opts.HealthAddress != "" {
		running++
		go func() { errc <- ServeHTTP(ctx, d.opts.HealthAddress, d.HealthHandler()) }()
	}
	if d.opts.MetricsAddress != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", d.MetricsHandler())
		running++
		go func() { errc <- ServeHTTP(ctx, d.opts.MetricsAddress, mux) }()
	}
	// Every part returns once ctx ends and the gRPC server is stopped. Wait for
	// all of them before returning: the registration server removes its socket
	// on return, and that removal is what makes the kubelet deregister the
	// plugin. Returning first let the process exit with the socket left behind
	// (seen in the e2e test: CSINode kept listing the driver after uninstall).
	drain := func(n int) {
		for ; n > 0; n-- {
			<-errc
		}
	}
	select {
	case <-ctx.Done():
		d.srv.GracefulStop()
		drain(running)
		return nil
	case err := <-errc:
		// One part stopped on its own: stop the rest and report it.
		cancel()
		d.srv.Stop()
		drain(running - 1)
		if err == nil {
			err = errors.New("a server stopped unexpectedly")
		}
		return err
	}
}

// Listen opens a CSI endpoint: unix:///path, unix:/path, a bare path (all
// Unix sockets, a stale socket file is replaced), or tcp://host:port.
func Listen(endpoint string) (net.Listener, error) {
	network, addr, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if err := os.MkdirAll(filepath.Dir(addr), 0o750); err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", endpoint, err)
		}
		if fi, err := os.Lstat(addr); err == nil {
			if fi.Mode().Type() != fs.ModeSocket {
				return nil, fmt.Errorf("endpoint %s: %s exists and is not a socket", endpoint, addr)
			}
			if err := os.Remove(addr); err != nil {
				return nil, fmt.Errorf("endpoint %s: remove stale socket: %w", endpoint, err)
			}
		}
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", endpoint, err)
	}
	return l, nil
}

// ParseEndpoint splits a CSI endpoint into a network and an address.
func ParseEndpoint(endpoint string) (network, addr string, err error) {
	if strings.HasPrefix(endpoint, "/") {
		return "unix", endpoint, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		if u.Host != "" {
			p = u.Host + p // unix://relative/path
		}
		if p == "" {
			return "", "", fmt.Errorf("endpoint %q: no socket path", endpoint)
		}
		return "unix", p, nil
	case "tcp":
		if u.Host == "" {
			return "", "", fmt.Errorf("endpoint %q: no address", endpoint)
		}
		return "tcp", u.Host, nil
	}
	return "", "", fmt.Errorf("endpoint %q: scheme must be unix or tcp", endpoint)
}

// noCluster is the Source of a driver without Kubernetes API access.
type noCluster struct{}

func (noCluster) Stage(_ context.Context, ref source.Ref, _ string) (StagedSource, error) {
	return StagedSource{}, fmt.Errorf("%s: %w", ref, source.ErrNoCluster)
}

func (noCluster) Wipe(dir string) error { return os.RemoveAll(dir) }

func (noCluster) RemoveUnattended(_ context.Context, ref source.Ref) ([]string, bool, error) {
	return nil, false, fmt.Errorf("%s: %w", ref, source.ErrNoCluster)
}

func (noCluster) PVCAnnotation(_ context.Context, ns, pvc, _ string) (string, error) {
	return "", fmt.Errorf("persistentvolumeclaim %s/%s: %w", ns, pvc, source.ErrNoCluster)
}

// isNotExist reports a missing path, including through errors.Join.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
