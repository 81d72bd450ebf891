# lib.sh — settings and helpers shared by up.sh, down.sh and build.sh. Sourced, not run.
#
# Layout (everything the cluster writes is under $STATE or $CACHE, except the runtime paths
# the kubelet, containerd and CNI insist on: /var/lib/kubelet, /run/containerd,
# /etc/cni/net.d/10-csi-viso-e2e.conflist, /var/lib/cni, /run/netns):
#   $CACHE/k8s-v$KVER/bin   kube-* binaries and kubectl, reused across runs (build.sh)
#   $CACHE/helm-v$HELMVER/bin/helm
#   $CACHE/images           pause.tar, busybox.tar (rebuilt only when missing)
#   $STATE                  pki, kubeconfigs, etcd + containerd data, logs, pids; wiped by up.sh

KVER=${KVER:-1.34.4}
HELMVER=${HELMVER:-3.22.0}
CACHE=${CSI_VISO_CACHE:-$HOME/.cache/csi-viso}
STATE=${E2E_STATE:-/tmp/csi-viso-e2e}
NODE=${E2E_NODE:-csi-viso-e2e}
KBIN=$CACHE/k8s-v$KVER/bin
HELM=$CACHE/helm-v$HELMVER/bin/helm
IMAGES=$CACHE/images
# Image references the cluster uses; tests refer to them by these names.
PAUSE_IMAGE=${PAUSE_IMAGE:-csi-viso.local/pause:1}
BUSYBOX_IMAGE=${BUSYBOX_IMAGE:-csi-viso.local/busybox:1}
# Runtime paths that are not ours to choose (see the layout above).
KUBELET_DIR=/var/lib/kubelet
CONTAINERD_SOCK=/run/containerd/containerd.sock
CNI_CONF=/etc/cni/net.d/10-csi-viso-e2e.conflist
CNI_BRIDGE=cviso0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
export PATH=/usr/local/go/bin:$PATH

t0=${t0:-$(date +%s)}
log() { echo "[$(basename "$0") +$(($(date +%s) - t0))s] $*"; }
die() { echo "[$(basename "$0")] error: $*" >&2; exit 1; }

# start NAME CMD...: run CMD in the background with its output in $STATE/logs/NAME.log and
# record "NAME PID" in $STATE/pids, so down.sh stops exactly what we started (by PID).
start() {
	local n=$1
	shift
	nohup "$@" >"$STATE/logs/$n.log" 2>&1 &
	echo "$n $!" >>"$STATE/pids"
}

# retry SECONDS CMD...: run CMD every quarter second until it succeeds or SECONDS pass.
retry() {
	local n=$(($1 * 4)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.25
	done
	return 1
}

host_ip() { ip -4 -o route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}'; }
