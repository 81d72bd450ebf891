#!/usr/bin/env bash
# up.sh — brings up a single-node Kubernetes v$KVER cluster from parts on this machine:
# etcd, containerd, runc and CNI plugins from Debian; kube-* built from the Go module proxy
# (build.sh, cached); our own pause and busybox images imported with ctr. No Docker engine,
# no registry, no systemd. Facts and workarounds: ../../../../shared/design/kubebox.md.
#
#   sudo test/e2e/cluster/up.sh        # then: export KUBECONFIG=$STATE/kubeconfig
#
# Settings (environment): E2E_STATE (default /tmp/csi-viso-e2e), CSI_VISO_CACHE (default
# ~/.cache/csi-viso), KVER, E2E_IMAGES (extra image tarballs to import), E2E_SKIP_PKGS=1.
# A cluster still up from an earlier run is torn down first (down.sh). On success it
# writes $STATE/kubeconfig (admin, certificates inline) and $STATE/env (KUBECONFIG and a
# PATH with kubectl and helm) and prints the time it took.
set -euo pipefail
t0=$(date +%s)
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (it starts a kubelet, containerd and changes iptables)"

# ------------------------------------------------------------------ packages
PKGS=(etcd-server etcd-client containerd runc containernetworking-plugins busybox-static
	iptables conntrack socat ebtables ethtool openssl iproute2 util-linux curl)
if [[ ${E2E_SKIP_PKGS:-0} != 1 ]]; then
	missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	# On a systemd host the packages start their own etcd and containerd, which would hold
	# our ports and sockets. (No systemd on the project's machines.)
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now etcd containerd >/dev/null 2>&1 || true
	fi
fi

# ------------------------------------------------------------------ earlier cluster
if [[ -f $STATE/pids ]]; then
	log "an earlier cluster's state is in $STATE: tearing it down first"
	"$HERE/down.sh"
fi
for port in 2379 2380 6443 10250 10257 10259; do
	if ss -Hltn "sport = :$port" | grep -q .; then
		die "port $port is in use by a process this script did not start; stop it first"
	fi
done
[[ -S $CONTAINERD_SOCK ]] && ctr version >/dev/null 2>&1 &&
	die "a containerd not started by this script is serving $CONTAINERD_SOCK"

# ------------------------------------------------------------------ binaries and images
"$HERE/build.sh"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy; do
	[[ -x $KBIN/$c ]] || die "$KBIN/$c missing after build"
done

rm -rf "$STATE"
mkdir -p "$STATE"/{logs,pki,data,kubelet,containerd}
: >"$STATE/pids"
log "state in $STATE"
KC=("$KBIN/kubectl" --kubeconfig "$STATE/kubeconfig")
HOSTIP=$(host_ip)
[[ -n $HOSTIP ]] || die "no host IPv4 address with a default route"

# ------------------------------------------------------------------ PKI + kubeconfigs
"$HERE/pki.sh" "$STATE" "$NODE" "$HOSTIP"

# Sysctls changed below are restored by down.sh from this file.
for k in net/ipv4/ip_forward net/ipv4/conf/all/route_localnet; do
	echo "$k $(cat /proc/sys/$k)" >>"$STATE/sysctl.orig"
done
echo 1 >/proc/sys/net/ipv4/ip_forward

# ------------------------------------------------------------------ etcd
start etcd etcd --name "$NODE" --data-dir "$STATE/data/etcd" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster "$NODE=http://127.0.0.1:2380" --listen-metrics-urls ""
retry 30 env ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health || die "etcd not healthy (logs/etcd.log)"
log "etcd up"

# ------------------------------------------------------------------ control plane
P=$STATE/pki
# --bind-address 0.0.0.0: pods reach the API through the kubernetes Service (10.96.0.1),
# whose endpoint is the advertise address; kube-proxy makes that VIP work.
# --kubelet-preferred-address-types: the node's hostname does not resolve here, so
# `kubectl logs/exec` must go to the InternalIP.
start kube-apiserver "$KBIN/kube-apiserver" \
	--etcd-servers=http://127.0.0.1:2379 \
	--bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$HOSTIP" \
	--tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
	--client-ca-file="$P/ca.crt" \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" \
	--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
	--kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types=InternalIP,Hostname \
	--allow-privileged=true
retry 60 "${KC[@]}" get --raw /readyz || die "kube-apiserver not ready (logs/kube-apiserver.log)"
log "kube-apiserver ready"
start kube-controller-manager "$KBIN/kube-controller-manager" \
	--kubeconfig="$STATE/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
	--authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false \
	--service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
	--cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
	--use-service-account-credentials=true --service-cluster-ip-range="$SERVICE_CIDR"
start kube-scheduler "$KBIN/kube-scheduler" \
	--kubeconfig="$STATE/scheduler.kubeconfig" \
	--authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false

# ------------------------------------------------------------------ containerd + CNI
cat >"$STATE/containerd/config.toml" <<EOT
version = 2
root = "$STATE/data/containerd"
state = "/run/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # Required on this VM: root lacks CAP_SYS_RESOURCE, so runc cannot apply the -998
    # oom_score_adj the kubelet asks for, and every sandbox fails with "can't get final
    # child's PID from pipe: EOF". This clamps it to containerd's own score.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$(dirname "$CNI_CONF")"
  [plugins."io.containerd.internal.v1.opt"]
    path = "$STATE/data/containerd/opt"
EOT
mkdir -p "$(dirname "$CNI_CONF")"
cat >"$CNI_CONF" <<EOT
{
  "cniVersion": "0.4.0",
  "name": "csi-viso-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
               "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$STATE/data/cni-ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOT
start containerd containerd --config "$STATE/containerd/config.toml"
retry 30 ctr --address "$CONTAINERD_SOCK" version || die "containerd not up (logs/containerd.log)"
for tarball in "$IMAGES/pause.tar" "$IMAGES/busybox.tar" ${E2E_IMAGES:-}; do
	"$HERE/load-image.sh" "$tarball" >/dev/null
done
log "containerd up, images imported"

# ------------------------------------------------------------------ kubelet
cat >"$STATE/kubelet/config.yaml" <<EOT
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
# No systemd here; containerd 1.6 cannot report its cgroup driver (no RuntimeConfig RPC).
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
clusterDomain: cluster.local
failSwapOn: false
# The VM has cgroup v1 only; newer kubelets refuse it unless told otherwise.
failCgroupV1: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
resolvConf: /etc/resolv.conf
serializeImagePulls: false
volumePluginDir: $STATE/kubelet/volume-plugins
# Images are imported, never pulled: never garbage-collect them, never evict for disk.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOT
mkdir -p "$KUBELET_DIR"
start kubelet "$KBIN/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
	--hostname-override="$NODE" --node-ip="$HOSTIP" --v=2
retry 60 "${KC[@]}" get node "$NODE" || die "node $NODE never registered (logs/kubelet.log)"
"${KC[@]}" wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null || die "node $NODE not Ready (logs/kubelet.log)"
log "node $NODE Ready"

# ------------------------------------------------------------------ kube-proxy
start kube-proxy "$KBIN/kube-proxy" --kubeconfig="$STATE/kube-proxy.kubeconfig" --proxy-mode=iptables \
	--cluster-cidr="$POD_CIDR" --hostname-override="$NODE" --conntrack-max-per-core=0 \
	--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
retry 30 curl -sf http://127.0.0.1:10256/healthz || die "kube-proxy not healthy (logs/kube-proxy.log)"

# Pods cannot be created in a namespace before its "default" ServiceAccount exists.
retry 60 "${KC[@]}" get serviceaccount default || die "no default ServiceAccount (logs/kube-controller-manager.log)"

# For Go tests (cluster.Attach): plain KEY=VALUE, no shell.
cat >"$STATE/cluster.env" <<EOT
NODE=$NODE
KUBECTL=$KBIN/kubectl
HELM=$HELM
BUSYBOX_IMAGE=$BUSYBOX_IMAGE
PAUSE_IMAGE=$PAUSE_IMAGE
EOT
cat >"$STATE/env" <<EOT
export KUBECONFIG=$STATE/kubeconfig
export PATH=$KBIN:$(dirname "$HELM"):\$PATH
EOT
log "cluster ready: source $STATE/env  (KUBECONFIG=$STATE/kubeconfig)"
