//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testVISOErrorEvent: a VISO with an unknown option on line 4 fails the mount, and the
// pod's events name the ConfigMap, the key, the line and the argument.
func testVISOErrorEvent(t *testing.T, e *env) {
	ctx := testCtx(t, 2*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-error")
	e.createConfigMap(t, ctx, ns, "broken", map[string]string{
		"broken.viso": visoMarker + // line 1
			"--volume-id=BROKEN\n" + // line 2
			"/user-data=user-data\n" + // line 3
			"--no-such-option=e2e\n", // line 4
		"user-data": "x\n",
	})
	pod := e.createPod(t, ctx, e.readerPod(ns, "reader", shaScript, inlineVolume(map[string]string{"configMap": "broken"}), false))
	msg := e.waitEvent(t, ctx, ns, pod.Name, "configmap "+ns+"/broken", `broken.viso:4:`, `--no-such-option=e2e`)
	t.Logf("event: %s", msg)
	e.assertNothingExposed(t, ctx, pod)
}

// testEscapes: VISOs and images reaching outside their folder or the media roots fail to
// mount; the pod never starts (so nothing is exposed) and its events name the problem.
func testEscapes(t *testing.T, e *env) {
	ctx := testCtx(t, 3*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-escape")
	link := e.media + "/escape.iso" // run.sh: a symlink to /etc/passwd inside the media root
	if target, err := os.Readlink(link); err != nil || !strings.HasPrefix(target, "/etc/") {
		t.Fatalf("media root symlink %s: target %q, %v (run.sh makes it point to /etc/passwd)", link, target, err)
	}
	for _, c := range []struct {
		name  string
		attrs map[string]string // inline volume attributes
		viso  string            // the VISO's line after the marker, if a ConfigMap is used
		want  []string          // strings the event must contain
	}{
		{name: "dotdot", viso: "/x=../volume.json",
			want: []string{`/x=../volume.json`, "leaves the allowed folders"}},
		{name: "absolute", viso: "/shadow=/etc/shadow",
			want: []string{`/shadow=/etc/shadow`, "leaves the allowed folders", "media root"}},
		{name: "symlink-in-viso", viso: "/x=" + link,
			want: []string{"/x=" + link, "leaves the allowed folders"}},
		{name: "symlink-image", attrs: map[string]string{"image": link},
			want: []string{link}},
	} {
		t.Run(c.name, func(t *testing.T) {
			attrs := c.attrs
			if c.viso != "" {
				e.createConfigMap(t, ctx, ns, c.name, map[string]string{"escape.viso": visoMarker + c.viso + "\n"})
				attrs = map[string]string{"configMap": c.name}
			}
			pod := e.createPod(t, ctx, e.readerPod(ns, c.name, shaScript, inlineVolume(attrs), false))
			msg := e.waitEvent(t, ctx, ns, pod.Name, c.want...)
			t.Logf("event: %s", msg)
			e.assertNothingExposed(t, ctx, pod)
		})
	}
}

// assertNothingExposed checks that a pod whose volume failed is still waiting in
// ContainerCreating a few seconds later, and that nothing is mounted in its volume folder.
func (e *env) assertNothingExposed(t *testing.T, ctx context.Context, pod *corev1.Pod) {
	t.Helper()
	time.Sleep(3 * time.Second) // a retry of the mount must fail the same way
	p, err := e.c.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("pod %s/%s: phase %s, want Pending (its volume must not mount)", p.Namespace, p.Name, p.Status.Phase)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" {
			t.Errorf("pod %s/%s: container %s state %+v, want waiting in ContainerCreating", p.Namespace, p.Name, cs.Name, cs.State)
		}
	}
	mounts, err := podCSIMounts(string(p.UID))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) > 0 {
		t.Errorf("pod %s/%s: its failed volume left mounts on the node: %v", p.Namespace, p.Name, mounts)
	}
}
