//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// testUninstall uninstalls the chart (after every other scenario has deleted its pods and
// claims) and checks that csi-viso left nothing on the node: no mounts of ours, no loop
// devices over our files, no driver process (FUSE server), no volume folders in its state,
// and that the kubelet no longer lists the driver.
func testUninstall(t *testing.T, e *env) {
	ctx := testCtx(t, 4*time.Minute)
	if out, err := e.c.Run(ctx, e.c.Helm, "uninstall", e.release, "--namespace", e.namespace, "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	pods := e.c.Client.CoreV1().Pods(e.namespace)
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
	if err != nil {
		t.Fatalf("pods of the chart still in namespace %s after uninstall: %v", e.namespace, err)
	}

	// The last pod's processes may still be exiting when its API object is gone.
	var ms []mount
	var loops, procs []string
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(context.Context) (bool, error) {
		var err error
		if ms, err = e.driverMounts(); err != nil {
			return false, err
		}
		if loops, err = e.driverLoops(); err != nil {
			return false, err
		}
		if procs, err = driverProcesses(); err != nil {
			return false, err
		}
		return len(ms)+len(loops)+len(procs) == 0, nil
	})
	if err != nil {
		t.Errorf("after helm uninstall (%v):\n  mounts left: %v\n  loop devices left: %v\n  driver processes left: %v", err, ms, loops, procs)
	}
	if left := e.nodeRecords(t); len(left) > 0 {
		t.Errorf("node state folder %s/node still has volume folders after every volume was deleted: %v", e.csiState, left)
	}

	// The kubelet drops the driver from its CSINode when the registration socket goes.
	var drivers []string
	err = wait.PollUntilContextTimeout(ctx, pollInterval, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := e.c.Client.StorageV1().CSINodes().Get(ctx, e.c.Node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		drivers = drivers[:0]
		for _, d := range n.Spec.Drivers {
			drivers = append(drivers, d.Name)
		}
		return len(drivers) == 0, nil
	})
	if err != nil {
		t.Errorf("CSINode %s still lists drivers %v a minute after uninstall (%v): the kubelet deregisters a plugin when its registration socket %s/plugins_registry/%s-reg.sock goes; is it still there?", e.c.Node, drivers, err, kubeletDir, driverName)
	}
	if _, err := e.c.Client.StorageV1().CSIDrivers().Get(ctx, driverName, metav1.GetOptions{}); err == nil {
		t.Errorf("CSIDriver %s still exists after uninstall", driverName)
	}
}
