//go:build e2e

package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testLog sends script output to the test log line by line.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestClusterLifecycle brings the cluster up (or attaches via E2E_KUBECONFIG), checks the
// node and the server version, runs a busybox pod from the locally imported image and reads
// its output through client-go, then tears down and checks that nothing is left.
//
//	go test -tags e2e -count=1 -timeout 30m -v ./test/e2e/cluster/
func TestClusterLifecycle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the e2e cluster needs root (kubelet, containerd, iptables)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	start := time.Now()
	c, err := FromEnv(ctx, testLog{t})
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Logf("cluster ready in %s (owned=%v, kubeconfig %s)", time.Since(start).Round(time.Millisecond), c.Owned(), c.Kubeconfig)
	closed := false
	defer func() {
		if !closed {
			if err := c.Close(context.WithoutCancel(ctx)); err != nil {
				t.Errorf("teardown: %v", err)
			}
		}
	}()

	v, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != "v1.34.4" {
		t.Errorf("server version %s, want v1.34.4", v.GitVersion)
	}
	node, err := c.Client.CoreV1().Nodes().Get(ctx, c.Node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node %s: %v", c.Node, err)
	}
	if !nodeReady(node) {
		t.Errorf("node %s not Ready: %+v", c.Node, node.Status.Conditions)
	}
	if got := node.Status.NodeInfo.KubeletVersion; got != "v1.34.4" {
		t.Errorf("kubelet version %s, want v1.34.4", got)
	}

	// The pod hashes a known string with the image's sha256sum, the way the CSI tests will
	// hash disk.img, and reads its service-account token to prove the API wiring.
	const payload = "csi-viso e2e"
	sum := sha256.Sum256([]byte(payload))
	pod := c.BusyboxPod("default", "e2e-hello", `echo "hello from $(hostname)"; printf '%s' '`+payload+
		`' | sha256sum; test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token-ok`)
	podStart := time.Now()
	logs, err := c.RunPod(ctx, pod)
	if err != nil {
		t.Fatalf("busybox pod: %v", err)
	}
	t.Logf("busybox pod ran in %s:\n%s", time.Since(podStart).Round(time.Millisecond), logs)
	for _, want := range []string{"hello from e2e-hello", hex.EncodeToString(sum[:]) + "  -", "token-ok"} {
		if !strings.Contains(logs, want) {
			t.Errorf("pod logs lack %q", want)
		}
	}

	checkBidirectionalMount(ctx, t, c)

	// kubectl and helm built by up.sh work against the cluster.
	if out, err := c.Run(ctx, c.Kubectl, "get", "--raw", "/readyz"); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("kubectl get --raw /readyz: %q, %v", out, err)
	}
	if out, err := c.Run(ctx, c.Helm, "version", "--short"); err != nil || !strings.HasPrefix(string(out), "v3.") {
		t.Errorf("helm version: %q, %v", out, err)
	}
	if out, err := c.Run(ctx, c.Helm, "list", "-A"); err != nil {
		t.Errorf("helm list: %q, %v", out, err)
	}

	if !c.Owned() {
		return // attached to someone else's cluster: leave it running
	}
	downStart := time.Now()
	closed = true
	if err := c.Close(ctx); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	t.Logf("torn down in %s", time.Since(downStart).Round(time.Millisecond))
	left, err := Leftovers(StateDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left after teardown: %q", left)
	}
}

// checkBidirectionalMount proves what a CSI node plugin pod needs from the cluster: a
// privileged pod sees /dev/fuse and /dev/loop-control, and a mount it makes under the
// kubelet folder (mountPropagation: Bidirectional) appears on the host.
func checkBidirectionalMount(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	target := kubeletDir + "/e2e-propagation"
	pod := c.BusyboxPod("default", "e2e-propagation", "test -c /dev/fuse && echo fuse-ok; test -c /dev/loop-control && echo loop-ok; "+
		"mkdir -p "+target+" && mount -t tmpfs -o size=1m e2e-propagation "+target+" && echo mounted")
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: new(true)}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{
		Name: "kubelet-dir", MountPath: kubeletDir, MountPropagation: new(corev1.MountPropagationBidirectional),
	}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "kubelet-dir", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: kubeletDir, Type: new(corev1.HostPathDirectory)},
	}}}
	defer func() {
		// The mount outlives the pod on the host; remove it so only the test saw it.
		if err := unix.Unmount(target, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			t.Errorf("unmount %s: %v", target, err)
		}
		os.Remove(target)
	}()
	logs, err := c.RunPod(ctx, pod)
	if err != nil {
		t.Fatalf("privileged pod: %v", err)
	}
	for _, want := range []string{"fuse-ok", "loop-ok", "mounted"} {
		if !strings.Contains(logs, want) {
			t.Errorf("privileged pod logs lack %q:\n%s", want, logs)
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(mountPoints(mi), target) {
		t.Errorf("the pod's mount at %s did not propagate to the host", target)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
