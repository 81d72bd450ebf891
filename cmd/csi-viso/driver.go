package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver"
	"github.com/csi-viso/csi-viso/pkg/driver/serve"
	"github.com/csi-viso/csi-viso/pkg/driver/source"
)

const driverUsage = "driver --endpoint unix:///csi/csi.sock --node-id N --mode node|controller|all --state-dir DIR [--media-root DIR]... [--kubeconfig F] [--kubelet-dir /var/lib/kubelet] [--kubelet-registration=true] [--health-address :9808] [--metrics-address :9090]"

// runDriver runs the CSI plugin until SIGINT or SIGTERM. Published volumes
// are left mounted on exit: the next start reconciles them.
func runDriver(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("driver", driverUsage, stderr)
	endpoint := fs.String("endpoint", "unix:///csi/csi.sock", "CSI endpoint (unix:///path or tcp://host:port)")
	nodeID := fs.String("node-id", "", "this node's ID (required in node and all modes)")
	mode := fs.String("mode", string(driver.ModeAll), "services to run: node, controller or all")
	stateDir := fs.String("state-dir", "/var/lib/csi-viso", "folder for the driver's records and staged sources")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster config; none: ConfigMap/Secret volumes fail)")
	name := fs.String("driver-name", driver.DriverName, "CSI driver name")
	kubeletDir := fs.String("kubelet-dir", "/var/lib/kubelet", "the kubelet's root folder (registration socket under plugins_registry/)")
	registration := fs.Bool("kubelet-registration", true, "register with the kubelet (node and all modes); false when no kubelet runs")
	registrationPath := fs.String("kubelet-registration-path", "", "CSI socket path the kubelet dials (default KUBELET_DIR/plugins/NAME/csi.sock)")
	healthAddress := fs.String("health-address", "", "serve /healthz (the CSI Probe) on this address, e.g. :9808 (default off)")
	metricsAddress := fs.String("metrics-address", "", "serve Prometheus /metrics on this address, e.g. :9090 (default off)")
	serveMode := fs.String("serve-mode", string(serve.ModeAuto), "how images are served: auto (reflink where the state dir's file system shares blocks, else FUSE), reflink or fuse")
	fuseHolder := fs.String("fuse-holder", "", "socket of the FUSE descriptor holder (csi-viso fuse-holder) that keeps FUSE volumes alive across plugin restarts")
	var roots multiFlag
	fs.Var(&roots, "media-root", "folder plain ISOs and absolute VISO sources may come from (repeatable)")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(f *flag.Flag) {
		if f.Name == "v" || f.Name == "vmodule" {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: driver takes no positional arguments", errUsage)
	}
	m, err := driver.ParseMode(*mode)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	client, err := kubeClient(*kubeconfig)
	if err != nil {
		return err
	}
	if client == nil {
		klog.InfoS("No Kubernetes API configured: only image volumes can be served")
	}
	sm, err := serve.ParseMode(*serveMode)
	if err != nil {
		return fmt.Errorf("%w: --serve-mode: %v", errUsage, err)
	}
	d, err := driver.New(driver.Options{
		Name:                *name,
		Version:             version,
		NodeID:              *nodeID,
		Mode:                m,
		StateDir:            *stateDir,
		MediaRoots:          roots,
		Source:              driver.NewSource(&source.Source{Client: client}),
		KubeletRegistration: *registration,
		KubeletDir:          *kubeletDir,
		KubeletEndpoint:     *registrationPath,
		HealthAddress:       *healthAddress,
		MetricsAddress:      *metricsAddress,
		ServeMode:           sm,
		FUSEHolder:          *fuseHolder,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer klog.Flush()
	return d.Run(ctx, *endpoint)
}

// kubeClient builds a client from kubeconfig, else from the in-cluster
// config; with neither it returns nil (no cluster), not an error.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	}
	cfg.UserAgent = "csi-viso/" + version
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}
