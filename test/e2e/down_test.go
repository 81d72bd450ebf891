//go:build e2e_down

package e2e

import (
	"testing"

	"github.com/csi-viso/csi-viso/test/e2e/cluster"
)

// TestNothingLeft runs after run.sh has torn the cluster down (build tag e2e_down, so it
// never runs against a live cluster): cluster.Leftovers, independent of down.sh's own check,
// must find no process, shim, mount, loop device, netns, bridge, iptables chain or listener.
func TestNothingLeft(t *testing.T) {
	left, err := cluster.Leftovers(cluster.StateDir())
	if err != nil {
		t.Fatalf("inspect the machine: %v", err)
	}
	for _, l := range left {
		t.Errorf("left after make e2e: %s", l)
	}
}
