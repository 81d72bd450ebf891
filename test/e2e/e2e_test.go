//go:build e2e

// Package e2e holds csi-viso's end-to-end tests: they run against the single-node cluster
// that run.sh (`make e2e`) assembles with test/e2e/cluster, with csi-viso installed by helm
// from charts/csi-viso. run.sh passes what the tests need in E2E_* variables; see README.md.
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/csi-viso/csi-viso/test/e2e/cluster"
)

const (
	driverName = "viso.csi.io"
	// visoMarker is the first line of every VISO the tests write.
	visoMarker = "--iprt-iso-maker-file-marker-bourne-sh 3f2504e0-4f89-41d3-9a0c-0305e82c3301\n"
	// annotationConfigMap names a claim's ConfigMap (pkg/driver.AnnotationConfigMap).
	annotationConfigMap = "viso.csi.io/configmap"
	pollInterval        = 500 * time.Millisecond
)

// env is what run.sh set up: the cluster, the chart's release and the node's folders.
type env struct {
	c         *cluster.Cluster
	namespace string // the chart's namespace
	release   string // the helm release
	media     string // media root: the same absolute path on the host and in the plugin
	csiState  string // the node plugin's --state-dir on the host
	csiViso   string // the csi-viso binary for host builds (the one in the image)
}

// TestE2E runs the scenarios in a fixed order: the last one uninstalls the chart.
func TestE2E(t *testing.T) {
	e := setup(t)
	for _, s := range []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"InlineVolume", testInlineVolume},
		{"ClaimFilesystemAndBlock", testClaimFilesystemAndBlock},
		{"UnattendedCleanup", testUnattendedCleanup},
		{"VISOErrorEvent", testVISOErrorEvent},
		{"Escapes", testEscapes},
		{"PluginRestart", testPluginRestart},
		{"Uninstall", testUninstall},
	} {
		t.Run(s.name, func(t *testing.T) { s.run(t, e) })
	}
}

func setup(t *testing.T) *env {
	t.Helper()
	vars := map[string]string{}
	for _, k := range []string{"E2E_KUBECONFIG", "E2E_NAMESPACE", "E2E_RELEASE", "E2E_MEDIA", "E2E_CSI_STATE", "E2E_CSI_VISO"} {
		vars[k] = os.Getenv(k)
		if vars[k] == "" {
			t.Fatalf("%s is not set: run the e2e tests with `make e2e` (test/e2e/run.sh), which sets up the cluster and the chart", k)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.Attach(ctx, vars["E2E_KUBECONFIG"], os.Stderr)
	if err != nil {
		t.Fatalf("attach to the e2e cluster: %v", err)
	}
	return &env{
		c: c, namespace: vars["E2E_NAMESPACE"], release: vars["E2E_RELEASE"],
		media: vars["E2E_MEDIA"], csiState: vars["E2E_CSI_STATE"], csiViso: vars["E2E_CSI_VISO"],
	}
}

// ctx returns a context bounded by d and cancelled at the end of the test.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace creates a namespace for one scenario and deletes it (waiting until it is
// gone, so its volumes are unpublished) when the scenario ends.
func (e *env) newNamespace(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := e.deleteNamespace(dctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

func (e *env) deleteNamespace(ctx context.Context, name string) error {
	nss := e.c.Client.CoreV1().Namespaces()
	// Pods first, at once: the namespace controller would wait for their grace period.
	zero := int64(0)
	_ = e.c.Client.CoreV1().Pods(name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		_, err := nss.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s not gone: %w", name, err)
	}
	return nil
}

func (e *env) createConfigMap(t *testing.T, ctx context.Context, ns, name string, data map[string]string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if _, err := e.c.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap %s/%s: %v", ns, name, err)
	}
}

// hostSHA builds the VISO key of data with `csi-viso build` on the host, in a temporary
// folder holding every key as a file (what the node stages), and returns the image's SHA-256.
func (e *env) hostSHA(t *testing.T, data map[string]string, visoKey string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o400); err != nil {
			t.Fatalf("write key %s: %v", k, err)
		}
	}
	out := filepath.Join(t.TempDir(), "host.iso")
	cmd := exec.Command(e.csiViso, "build", filepath.Join(dir, visoKey), "-o", out, "--media-root", e.media)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host build: %s: %v\n%s", cmd, err, b)
	}
	sum, err := fileSHA(out)
	if err != nil {
		t.Fatalf("host image: %v", err)
	}
	return sum
}

// fileSHA returns the hex SHA-256 of a file.
func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readerPod is a busybox pod running script with the volume vol at /iso (filesystem) or
// as the device /dev/iso (block).
func (e *env) readerPod(ns, name, script string, vol corev1.VolumeSource, block bool) *corev1.Pod {
	p := e.c.BusyboxPod(ns, name, script)
	p.Spec.Volumes = []corev1.Volume{{Name: "iso", VolumeSource: vol}}
	if block {
		p.Spec.Containers[0].VolumeDevices = []corev1.VolumeDevice{{Name: "iso", DevicePath: "/dev/iso"}}
	} else {
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "iso", MountPath: "/iso", ReadOnly: true}}
	}
	return p
}

func inlineVolume(attrs map[string]string) corev1.VolumeSource {
	ro := true
	return corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: driverName, ReadOnly: &ro, VolumeAttributes: attrs}}
}

func claimVolume(claim string) corev1.VolumeSource {
	return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: true}}
}

// podSHA runs pod to completion and returns the first field of its first log line: the
// pods' scripts print `sha256sum` output.
func (e *env) podSHA(t *testing.T, ctx context.Context, pod *corev1.Pod) string {
	t.Helper()
	logs, err := e.c.RunPod(ctx, pod)
	if err != nil {
		t.Fatalf("pod %s/%s: %v\nevents:\n%s", pod.Namespace, pod.Name, err, e.podEvents(context.Background(), pod.Namespace, pod.Name))
	}
	f := strings.Fields(logs)
	if len(f) == 0 || len(f[0]) != 64 {
		t.Fatalf("pod %s/%s printed no SHA-256: %q", pod.Namespace, pod.Name, logs)
	}
	return f[0]
}

// claim creates a PVC of storageClass naming ConfigMap cm in its annotation and waits
// until it is Bound; it returns the bound claim.
func (e *env) claim(t *testing.T, ctx context.Context, ns, name, storageClass, cm string, mode corev1.PersistentVolumeMode) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{annotationConfigMap: cm}},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &storageClass,
			VolumeMode:       &mode,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")},
			},
		},
	}
	claims := e.c.Client.CoreV1().PersistentVolumeClaims(ns)
	if _, err := claims.Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create claim %s/%s: %v", ns, name, err)
	}
	var last *corev1.PersistentVolumeClaim
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		p, err := claims.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return p.Status.Phase == corev1.ClaimBound, nil
	})
	if err != nil {
		phase := "never read"
		if last != nil {
			phase = string(last.Status.Phase)
		}
		t.Fatalf("claim %s/%s not Bound (phase %s): %v\nevents:\n%s", ns, name, phase, err, e.objectEvents(context.Background(), ns, name))
	}
	return last
}

// podEvents returns the events of a pod, one "Reason: message" per line.
func (e *env) podEvents(ctx context.Context, ns, name string) string {
	return e.objectEvents(ctx, ns, name)
}

func (e *env) objectEvents(ctx context.Context, ns, name string) string {
	evs, err := e.c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return "(events not listed: " + err.Error() + ")"
	}
	var b strings.Builder
	for _, ev := range evs.Items {
		fmt.Fprintf(&b, "  %s %s: %s\n", ev.Type, ev.Reason, ev.Message)
	}
	return b.String()
}

// waitEvent waits for an event of the pod whose message contains every string of want,
// and returns that message. The failure names what was wanted and every event seen.
func (e *env) waitEvent(t *testing.T, ctx context.Context, ns, pod string, want ...string) string {
	t.Helper()
	var found string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		evs, err := e.c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if containsAll(ev.Message, want) {
				found = ev.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: no event naming all of %q within the wait (%v); events:\n%s", ns, pod, want, err, e.podEvents(context.Background(), ns, pod))
	}
	return found
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// createPod creates a pod and returns it (for pods the test watches rather than runs).
func (e *env) createPod(t *testing.T, ctx context.Context, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := e.c.Client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", p.Namespace, p.Name, err)
	}
	return created
}

// podLogsSHA returns the first field of a running pod's log, waiting until there is one.
func (e *env) podLogsSHA(t *testing.T, ctx context.Context, ns, pod string) string {
	t.Helper()
	var logs string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := e.c.PodLogs(ctx, ns, pod, "main")
		logs = l
		return err == nil && len(strings.Fields(l)) > 0, nil
	})
	f := strings.Fields(logs)
	if err != nil || len(f) == 0 || len(f[0]) != 64 {
		t.Fatalf("pod %s/%s printed no SHA-256 (%v): %q", ns, pod, err, logs)
	}
	return f[0]
}
