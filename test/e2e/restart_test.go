//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// testPluginRestart deletes the node plugin pod (the DaemonSet recreates it) while one
// pod reads a claim's volume and another an inline volume in a loop, and records what
// the readers see and what the new plugin does.
func testPluginRestart(t *testing.T, e *env) {
	ctx := testCtx(t, 5*time.Minute)
	ns := e.newNamespace(t, ctx, "e2e-restart")
	data := e.seedData()
	e.createConfigMap(t, ctx, ns, "seed", data)
	want := e.hostSHA(t, data, "seed.viso")
	e.claim(t, ctx, ns, "iso", "viso", "seed", corev1.PersistentVolumeFilesystem)

	// Each volume kind read by a pod with the default mount propagation (None: the
	// container keeps the mount it was given) and by one with HostToContainer (mounts the
	// node makes later at the target reach the container).
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

	old := e.nodePluginPod(t, ctx, "")
	oldLogs := e.followLogs(ctx, old.Name)
	deleted := time.Now()
	if err := e.c.Client.CoreV1().Pods(e.namespace).Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete node plugin pod %s: %v", old.Name, err)
	}
	t.Logf("deleted node plugin pod %s at %d", old.Name, deleted.Unix())
	fresh := e.nodePluginPod(t, ctx, string(old.UID))
	ready := time.Now()
	t.Logf("new node plugin pod %s ready %.1fs after the deletion", fresh.Name, ready.Sub(deleted).Seconds())
	time.Sleep(observeAfter)

	t.Logf("old plugin's last log lines (after the deletion request):\n%s", indent(oldLogs.since(deleted)))
	newLogs, err := e.c.PodLogs(ctx, e.namespace, fresh.Name, "csi-viso")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new plugin's log:\n%s", indent(newLogs))

	// What the new plugin did: every volume served again (reconcile at start).
	if n := strings.Count(newLogs, "Reconcile: serving volume again"); n != 3 {
		t.Errorf("new plugin logged %d \"Reconcile: serving volume again\" lines, want 3 (the claim and two inline volumes)", n)
	}
	for name := range readers {
		logs, err := e.c.PodLogs(ctx, ns, name, "main")
		if err != nil {
			t.Fatal(err)
		}
		obs := summarise(logs, want, deleted.Unix())
		t.Logf("%s: %s", name, obs)
		t.Logf("%s reads from 3 s before the deletion on:\n%s", name, indent(linesFrom(logs, deleted.Unix()-3)))

		// What the reader sees (observed on this cluster, see README.md): from the first
		// read after the old plugin died, every open fails with ENOTCONN, and it does not
		// recover when the new plugin serves the volume again, with either propagation.
		if obs.okBefore == 0 {
			t.Errorf("%s: no good read before the deletion", name)
		}
		if obs.firstOKAfterErr != "" || obs.lastOK {
			t.Errorf("%s: a good read after the failures (%q): the reader recovered, which this test has not seen before; update README.md and the test", name, obs.firstOKAfterErr)
		}
		if !strings.Contains(obs.lastLine, "Transport endpoint is not connected") {
			t.Errorf("%s: last read %q, want ENOTCONN (Transport endpoint is not connected)", name, obs.lastLine)
		}

		// While the node side is live again: the pod's target on the host reads the image.
		p, err := e.c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		targets, err := filepath.Glob(filepath.Join(kubeletDir, "pods", string(p.UID), "volumes", "kubernetes.io~csi", "*", "mount", "disk.img"))
		if err != nil || len(targets) != 1 {
			t.Fatalf("%s: target on the host: %v %v", name, targets, err)
		}
		if got, err := fileSHA(targets[0]); err != nil || got != want {
			t.Errorf("%s: the host reads its target %s: SHA-256 %s, %v; want %s (the new plugin serves it again)", name, targets[0], got, err, want)
		} else {
			t.Logf("%s: the host reads the pod's target again after reconcile: %s", name, targets[0])
		}
	}
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

// logStream collects a container's log as it is written, with the time each line arrived.
type logStream struct {
	mu    sync.Mutex
	lines []timedLine
}

type timedLine struct {
	at   time.Time
	text string
}

// followLogs follows the csi-viso container of a node plugin pod until it ends.
func (e *env) followLogs(ctx context.Context, pod string) *logStream {
	ls := &logStream{}
	go func() {
		since := metav1.Now()
		rc, err := e.c.Client.CoreV1().Pods(e.namespace).GetLogs(pod, &corev1.PodLogOptions{Container: "csi-viso", Follow: true, SinceTime: &since}).Stream(ctx)
		if err != nil {
			ls.add("(log stream failed: " + err.Error() + ")")
			return
		}
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			ls.add(sc.Text())
		}
	}()
	return ls
}

func (ls *logStream) add(s string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.lines = append(ls.lines, timedLine{time.Now(), s})
}

func (ls *logStream) since(t time.Time) string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var b strings.Builder
	for _, l := range ls.lines {
		if !l.at.Before(t) {
			b.WriteString(l.text + "\n")
		}
	}
	return b.String()
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
