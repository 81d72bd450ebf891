// Package cluster drives the single-node e2e cluster that up.sh assembles: it brings the
// cluster up or attaches to a running one, hands out a client-go clientset, runs pods,
// imports images, and tears the cluster down while checking independently of down.sh that
// nothing was left behind.
//
// The scripts next to this file hold the how (kubebox.md's recipe); this package holds what a
// Go test needs. Typical use in a test built with the e2e tag:
//
//	c, err := cluster.FromEnv(ctx, os.Stderr) // E2E_KUBECONFIG set: attach; else up.sh
//	defer c.Close(ctx)                         // down.sh, only if this process brought it up
//	logs, err := c.RunPod(ctx, pod)
package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Defaults mirrored from lib.sh; cluster.env, written by up.sh, overrides them.
const (
	DefaultState  = "/tmp/csi-viso-e2e"
	BusyboxImage  = "csi-viso.local/busybox:1"
	PauseImage    = "csi-viso.local/pause:1"
	envKubeconfig = "E2E_KUBECONFIG"
)

// ErrNotUp reports that no cluster answers at the kubeconfig given.
var ErrNotUp = errors.New("e2e cluster is not up")

// Cluster is a running e2e cluster.
type Cluster struct {
	Kubeconfig string
	State      string // up.sh's state folder (logs, pids, certificates)
	Node       string // the only node's name
	Kubectl    string // kubectl binary matching the server
	Helm       string // helm binary
	Busybox    string // image reference of the busybox test image
	Config     *rest.Config
	Client     kubernetes.Interface

	owned bool      // brought up by this process: Close tears it down
	log   io.Writer // script output
}

// ScriptsDir returns the folder of up.sh and down.sh: this source file's folder.
func ScriptsDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the cluster scripts: no caller information")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "up.sh")); err != nil {
		return "", fmt.Errorf("cluster scripts: %w", err)
	}
	return dir, nil
}

// StateDir is where up.sh keeps the cluster's state: $E2E_STATE or DefaultState.
func StateDir() string {
	if s := os.Getenv("E2E_STATE"); s != "" {
		return s
	}
	return DefaultState
}

// FromEnv attaches to the cluster named by $E2E_KUBECONFIG when it is set, and otherwise
// brings a new cluster up with up.sh (which first removes any earlier one). Script output
// goes to log.
func FromEnv(ctx context.Context, log io.Writer) (*Cluster, error) {
	if kc := os.Getenv(envKubeconfig); kc != "" {
		return Attach(ctx, kc, log)
	}
	return Up(ctx, log)
}

// Up runs up.sh and attaches to the cluster it made; Close will tear it down. When either
// step fails, whatever up.sh had started is torn down before Up returns.
func Up(ctx context.Context, log io.Writer) (*Cluster, error) {
	err := runScript(ctx, log, "up.sh")
	var c *Cluster
	if err == nil {
		c, err = Attach(ctx, filepath.Join(StateDir(), "kubeconfig"), log)
	}
	if err != nil {
		return nil, errors.Join(err, Down(context.WithoutCancel(ctx), log))
	}
	c.owned = true
	return c, nil
}

// Attach connects to a running cluster through kubeconfig. Tool paths come from the
// cluster.env that up.sh writes beside its kubeconfig, else from $PATH.
func Attach(ctx context.Context, kubeconfig string, log io.Writer) (*Cluster, error) {
	if log == nil {
		log = io.Discard
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	if _, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotUp, kubeconfig, err)
	}
	c := &Cluster{
		Kubeconfig: kubeconfig, State: filepath.Dir(kubeconfig), Node: "csi-viso-e2e",
		Kubectl: "kubectl", Helm: "helm", Busybox: BusyboxImage,
		Config: cfg, Client: client, log: log,
	}
	env, err := readEnvFile(filepath.Join(c.State, "cluster.env"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for k, dst := range map[string]*string{"NODE": &c.Node, "KUBECTL": &c.Kubectl, "HELM": &c.Helm, "BUSYBOX_IMAGE": &c.Busybox} {
		if v := env[k]; v != "" {
			*dst = v
		}
	}
	return c, nil
}

// Owned reports whether this process brought the cluster up (and Close tears it down).
func (c *Cluster) Owned() bool { return c.owned }

// Close tears the cluster down with down.sh if this process brought it up, and then checks
// on its own that nothing was left behind. An attached cluster is left running.
func (c *Cluster) Close(ctx context.Context) error {
	if !c.owned {
		return nil
	}
	c.owned = false
	return Down(ctx, c.log)
}

// Down runs down.sh and then Leftovers; either failing is an error naming what remained.
func Down(ctx context.Context, log io.Writer) error {
	scriptErr := runScript(ctx, log, "down.sh")
	left, err := Leftovers(StateDir())
	if err != nil {
		return errors.Join(scriptErr, err)
	}
	if len(left) > 0 {
		return errors.Join(scriptErr, fmt.Errorf("%w: %s", ErrLeftover, strings.Join(left, "; ")))
	}
	return scriptErr
}

// LoadImage imports an image tarball (see test/e2e/images) into the cluster's containerd.
func (c *Cluster) LoadImage(ctx context.Context, tarball string) error {
	return runScript(ctx, c.log, "load-image.sh", tarball)
}

// Run runs one of the cluster's tools (c.Kubectl, c.Helm) against the cluster and returns
// its combined output; the error includes that output.
func (c *Cluster) Run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return out, nil
}

func runScript(ctx context.Context, log io.Writer, name string, args ...string) error {
	if log == nil {
		log = io.Discard
	}
	dir, err := ScriptsDir()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	// The scripts read E2E_STATE themselves; make the default explicit so both sides agree.
	cmd.Env = append(os.Environ(), "E2E_STATE="+StateDir())
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// readEnvFile parses KEY=VALUE lines (no quoting, # comments).
func readEnvFile(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return env, nil
}
