//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// loopScript reads the image once a second and prints "UNIXTIME <sha256sum output>" or
// "UNIXTIME <its error>": each read opens the file anew, as a reader that retries would.
const loopScript = `while true; do r=$(sha256sum /iso/disk.img 2>&1); echo "$(date +%s) $r"; sleep 1; done`

// observeAfter is how long the readers are watched once the new plugin is ready.
const observeAfter = 20 * time.Second

// testPluginRestart SIGKILLs the node plugin's process (an OOM kill or a crash; the
// kubelet restarts its container, the FUSE holder container beside it keeps the
// connections) while pods read a claim's volume and inline volumes in a loop, each read
// opening the image anew. The readers must never see an error: the restarted plugin takes
// the FUSE connections back from the holder, and a read in flight only pauses.
func testPluginRestart(t *testing.T, e *env) {
	ctx := testCtx(t, 5*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-restart")
	data := e.seedData()
	e.createConfigMap(t, ctx, ns, "seed", data)
	want := e.hostSHA(t, data, "seed.viso")
	e.claim(t, ctx, ns, "iso", "viso", "seed", corev1.PersistentVolumeFilesystem)

	// Each volume kind read by a pod with the default mount propagation (None: the
	// container keeps the mount it was given) and by one with HostToContainer.
	h2c := corev1.MountPropagationHostToContainer
	readers := map[string]corev1.VolumeSource{
		"reader-claim":      claimVolume("iso"),
		"reader-inline":     inlineVolume(map[string]string{"configMap": "seed"}),
		"reader-claim-h2c":  claimVolume("iso"),
		"reader-inline-h2c": inlineVolume(map[string]string{"configMap": "seed"}),
	}
	for name, vol := range readers {
		p := e.readerPod(ns, name, loopScript, vol, false)
		if strings.HasSuffix(name, "-h2c") {
			p.Spec.Containers[0].VolumeMounts[0].MountPropagation = &h2c
		}
		e.createPod(t, ctx, p)
	}
	for name := range readers {
		if _, err := e.c.WaitPod(ctx, ns, name, corev1.PodRunning); err != nil {
			t.Fatalf("%s: %v\nevents:\n%s", name, err, e.podEvents(context.Background(), ns, name))
		}
		e.waitReads(t, ctx, ns, name, want, 2)
	}

	pod := e.nodePluginPod(t, ctx, "")
	restarts := containerRestarts(pod, "csi-viso")
	pid, err := driverPID()
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL node plugin (pid %d): %v", pid, err)
	}
	t.Logf("SIGKILLed the node plugin process %d of pod %s at %d", pid, pod.Name, killed.Unix())
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		p, err := e.c.Client.CoreV1().Pods(e.namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return containerRestarts(p, "csi-viso") > restarts && containerReady(p, "csi-viso"), nil
	})
	if err != nil {
		t.Fatalf("node plugin container not restarted and Ready: %v", err)
	}
	t.Logf("node plugin container restarted and Ready %.1fs after the kill", time.Since(killed).Seconds())
	time.Sleep(observeAfter)

	newLogs, err := e.c.PodLogs(ctx, e.namespace, pod.Name, "csi-viso")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted plugin's log:\n%s", indent(newLogs))
	if n := strings.Count(newLogs, "resumed FUSE volume"); n != 3 {
		t.Errorf("restarted plugin logged %d \"resumed FUSE volume\" lines, want 3 (the claim and two inline volumes)", n)
	}
	for name := range readers {
		logs, err := e.c.PodLogs(ctx, ns, name, "main")
		if err != nil {
			t.Fatal(err)
		}
		obs := summarise(logs, want, killed.Unix())
		t.Logf("%s: %s", name, obs)
		if obs.okBefore == 0 || obs.okAfter < int(observeAfter/time.Second)/2 {
			t.Errorf("%s: %d good reads before the kill, %d after; want reads going on", name, obs.okBefore, obs.okAfter)
		}
		if obs.errs != 0 || !obs.lastOK {
			t.Errorf("%s: %d failed reads across the plugin restart (first %q); want none, only a pause\n%s",
				name, obs.errs, obs.firstErr, indent(linesFrom(logs, killed.Unix()-3)))
		}
	}
}

// driverPID finds the node plugin's process on this host (the e2e node).
func driverPID() (int, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && filepath.Base(args[0]) == "csi-viso" && args[1] == "driver" && slices.Contains(args, "--mode=node") {
			return strconv.Atoi(filepath.Base(filepath.Dir(p)))
		}
	}
	return 0, fmt.Errorf("no csi-viso driver --mode=node process on this host")
}

func containerRestarts(p *corev1.Pod, name string) int32 {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == name {
			return c.RestartCount
		}
	}
	return 0
}

func containerReady(p *corev1.Pod, name string) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == name {
			return c.Ready
		}
	}
	return false
}

// waitReads waits until the reader has logged n reads of the wanted hash.
func (e *env) waitReads(t *testing.T, ctx context.Context, ns, pod, want string, n int) {
	t.Helper()
	var logs string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		l, err := e.c.PodLogs(ctx, ns, pod, "main")
		if err != nil {
			return false, nil
		}
		logs = l
		return strings.Count(l, " "+want+" ") >= n, nil
	})
	if err != nil {
		t.Fatalf("%s/%s did not read the image %d times with SHA-256 %s: %v; its log:\n%s", ns, pod, n, want, err, logs)
	}
}

// nodePluginPod waits for a Ready node plugin pod whose UID is not notUID.
func (e *env) nodePluginPod(t *testing.T, ctx context.Context, notUID string) *corev1.Pod {
	t.Helper()
	var found *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		pods, err := e.c.Client.CoreV1().Pods(e.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=node"})
		if err != nil {
			return false, nil
		}
		for i, p := range pods.Items {
			if string(p.UID) == notUID || p.DeletionTimestamp != nil {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					found = &pods.Items[i]
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no Ready node plugin pod (other than UID %q): %v", notUID, err)
	}
	return found
}

// readerSummary condenses a reader's log after the plugin's deletion.
type readerSummary struct {
	okBefore, okAfter, errs int
	firstErr                string // "+Ns: text"
	firstOKAfterErr         string
	lastLine                string
	lastOK                  bool
}

func (s readerSummary) String() string {
	return fmt.Sprintf("good reads before the deletion %d; after it: %d good, %d failed; first failure %q; first good read after a failure %q; last read %q (good: %v)",
		s.okBefore, s.okAfter, s.errs, s.firstErr, s.firstOKAfterErr, s.lastLine, s.lastOK)
}

// summarise classifies the reader's lines ("UNIXTIME output") relative to the deletion.
func summarise(logs, want string, deleted int64) readerSummary {
	var s readerSummary
	sc := bufio.NewScanner(bytes.NewReader([]byte(logs)))
	for sc.Scan() {
		ts, rest, _ := strings.Cut(sc.Text(), " ")
		at, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			continue
		}
		ok := strings.HasPrefix(rest, want+" ")
		rel := fmt.Sprintf("%+ds: %s", at-deleted, rest)
		switch {
		case at < deleted && ok:
			s.okBefore++
		case at < deleted:
			s.errs++ // failures before the deletion would be a bug; counted, shown
			if s.firstErr == "" {
				s.firstErr = rel
			}
		case ok:
			s.okAfter++
			if s.errs > 0 && s.firstOKAfterErr == "" {
				s.firstOKAfterErr = rel
			}
		default:
			s.errs++
			if s.firstErr == "" {
				s.firstErr = rel
			}
		}
		s.lastLine, s.lastOK = rel, ok
	}
	return s
}

func linesFrom(logs string, from int64) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		ts, _, _ := strings.Cut(l, " ")
		if at, err := strconv.ParseInt(ts, 10, 64); err == nil && at >= from {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
