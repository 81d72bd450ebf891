#!/usr/bin/env bash
# down.sh — tears the e2e cluster down completely and proves it: no process we started, no
# container shim, no mount or loop device under the kubelet/containerd/state paths, no CNI
# network namespace, bridge or CNI-/KUBE- iptables chain is left, and the sysctls up.sh
# changed are restored. Prints what remained and exits 1 if anything did.
#
# First a polite pass while the API server still answers: pods that use volumes are deleted
# and claims removed, so a CSI driver gets its unpublish/delete calls; then everything is
# stopped by the PIDs up.sh recorded (never by process name) and the rest is cleaned by force.
# E2E_EXTRA_CLEAN may name further folders (e.g. a CSI driver's state dir) whose mounts and
# loop devices are removed too.
set -uo pipefail
t0=$(date +%s)
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"

PREFIXES=("$KUBELET_DIR" /run/containerd "$STATE" ${E2E_EXTRA_CLEAN:-})
KC=("$KBIN/kubectl" --kubeconfig "$STATE/kubeconfig" --request-timeout=10s)

# ------------------------------------------------------------------ polite pass
if [[ -x $KBIN/kubectl && -f $STATE/kubeconfig ]] && "${KC[@]}" get --raw /readyz >/dev/null 2>&1; then
	# Pods with a CSI or claim volume, as "namespace name".
	users=$("${KC[@]}" get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.volumes[*].csi.driver}{.spec.volumes[*].persistentVolumeClaim.claimName}{"\n"}{end}' |
		awk 'NF > 2 {print $1, $2}')
	while read -r ns pod; do
		[[ -n $pod ]] && "${KC[@]}" -n "$ns" delete pod "$pod" --grace-period=2 --wait=false >/dev/null 2>&1
	done <<<"$users"
	while read -r ns pod; do
		[[ -n $pod ]] && "${KC[@]}" -n "$ns" wait --for=delete "pod/$pod" --timeout=60s >/dev/null 2>&1
	done <<<"$users"
	"${KC[@]}" delete pvc -A --all --timeout=60s >/dev/null 2>&1
	"${KC[@]}" delete pv --all --timeout=30s >/dev/null 2>&1
	log "workload pods and claims deleted"
fi

# ------------------------------------------------------------------ processes, by recorded PID
# pid_of NAME: the PID up.sh recorded for NAME, if that process still runs the same program.
pid_of() {
	local p
	p=$(awk -v n="$1" '$1 == n && NF == 2 {print $2}' "$STATE/pids" 2>/dev/null | tail -1)
	[[ -n $p && -r /proc/$p/cmdline ]] || return 1
	# Guard against PID reuse: the command line must still name the program we started.
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$1" || return 1
	echo "$p"
}
# running PID...: true while any PID runs. A zombie counts as stopped: our daemons are
# orphans whose reaper (PID 1 here) takes a second or two to collect them.
running() {
	local p
	for p in "$@"; do
		[[ $(awk '/^State:/ {print $2}' "/proc/$p/status" 2>/dev/null) =~ ^[^Z]$ ]] && return 0
	done
	return 1
}
# stop NAME...: SIGTERM to all of them at once, up to 20 s for them to exit, then SIGKILL.
stop() {
	local n p i pids=() names=()
	for n in "$@"; do
		p=$(pid_of "$n") || continue
		kill "$p" 2>/dev/null && pids+=("$p") && names+=("$n($p)")
	done
	((${#pids[@]})) || return 0
	for ((i = 0; i < 200; i++)); do
		running "${pids[@]}" || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	log "stopped ${names[*]}"
}
# Our shims: started by our containerd, they carry its socket on their command line.
our_shims() {
	local d
	for d in /proc/[0-9]*; do
		[[ $(cat "$d/comm" 2>/dev/null) == containerd-shim* ]] || continue
		tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q -- "-address $CONTAINERD_SOCK" && echo "${d#/proc/}"
	done
}

stop kubelet kube-proxy
if pid_of containerd >/dev/null; then
	CTR=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)
	tasks=$("${CTR[@]}" tasks ls -q 2>/dev/null)
	for t in $tasks; do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
	# containerd's CRI plugin deletes a task itself once its exit is seen; delete by hand
	# only what is still listed after a few seconds.
	for ((i = 0; i < 25; i++)); do
		[[ -z $("${CTR[@]}" tasks ls -q 2>/dev/null) ]] && break
		sleep 0.2
	done
	for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1; done
	for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1; done
	[[ -n $tasks ]] && log "killed $(wc -w <<<"$tasks") container tasks"
fi
stop containerd
for p in $(our_shims); do kill -9 "$p" 2>/dev/null && log "killed leftover shim $p"; done
stop kube-scheduler kube-controller-manager kube-apiserver
stop etcd
# Anything else a caller recorded in the pids file (start from lib.sh), newest first.
stop $(awk 'NF == 2 {print $1}' "$STATE/pids" 2>/dev/null | tac)

# ------------------------------------------------------------------ mounts and loop devices
under_prefix() { # PATH: true if PATH is one of PREFIXES or below one
	local x
	for x in "${PREFIXES[@]}"; do [[ $1 == "$x" || $1 == "$x"/* ]] && return 0; done
	return 1
}
our_mounts() { # mount points under PREFIXES or in /run/netns/cni-*, deepest first
	awk '{print $5}' /proc/self/mountinfo | while read -r m; do
		m=$(printf '%b' "$m") # mountinfo escapes spaces as \040
		if under_prefix "$m" || [[ $m == /run/netns/cni-* ]]; then echo "$m"; fi
	done | awk '{print length($0), $0}' | sort -rn | cut -d' ' -f2-
}
our_loops() { # loop devices whose backing file is under PREFIXES
	losetup -nl -O NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
		under_prefix "${file% (deleted)}" && echo "$dev"
	done
}
for dev in $(our_loops); do losetup -d "$dev" && log "detached $dev"; done
for pass in 1 2 3; do
	mapfile -t ms < <(our_mounts)
	((${#ms[@]})) || break
	for m in "${ms[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	# Detaching a lazily unmounted FUSE file can free a loop device only now.
	for dev in $(our_loops); do losetup -d "$dev" 2>/dev/null; done
done

# ------------------------------------------------------------------ network
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do ip netns del "$ns"; done
ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && ip link del "$CNI_BRIDGE"
ours_re='^(CNI|KUBE)-'
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	for tbl in nat filter mangle raw; do
		# Jumps from built-in chains into ours first, then flush and delete our chains.
		$ipt -t $tbl -S 2>/dev/null | awk '$1 == "-A" && $2 !~ /^(CNI|KUBE)-/ && / -j (CNI|KUBE)-/' |
			sed 's/^-A/-D/' | while read -r rule; do eval "$ipt -t $tbl $rule" 2>/dev/null; done
		chains=$($ipt -t $tbl -S 2>/dev/null | awk '$1 == "-N" {print $2}' | grep -E "$ours_re")
		for c in $chains; do $ipt -t $tbl -F "$c" 2>/dev/null; done
		for c in $chains; do $ipt -t $tbl -X "$c" 2>/dev/null; done
	done
done
if [[ -f $STATE/sysctl.orig ]]; then
	while read -r k v; do echo "$v" >"/proc/sys/$k"; done <"$STATE/sysctl.orig"
fi

# ------------------------------------------------------------------ files and cgroups
rm -f "$CNI_CONF" /var/lib/cni/results/csi-viso-e2e-*
rmdir /var/lib/cni/results /var/lib/cni /etc/cni/net.d /etc/cni 2>/dev/null
if [[ -z $(our_mounts) ]]; then
	rm -rf --one-file-system "$KUBELET_DIR" /run/containerd "$STATE/data"
	for x in ${E2E_EXTRA_CLEAN:-}; do rm -rf --one-file-system "$x"; done
fi
# The kubelet's cgroupfs hierarchy; empty once every pod process is gone.
for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice /sys/fs/cgroup/unified/kubepods; do
	[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
done
rm -f "$STATE/pids.done" && [[ -f $STATE/pids ]] && mv "$STATE/pids" "$STATE/pids.done"

# ------------------------------------------------------------------ verify
left=()
while read -r n p; do
	[[ -n $p && -r /proc/$p/cmdline ]] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "$n" && left+=("process $n ($p)")
done < <(awk 'NF == 2' "$STATE/pids.done" 2>/dev/null)
for p in $(our_shims); do left+=("shim $p"); done
while read -r m; do [[ -n $m ]] && left+=("mount $m"); done < <(our_mounts)
for dev in $(our_loops); do left+=("loop device $dev"); done
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do left+=("netns $ns"); done
ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && left+=("bridge $CNI_BRIDGE")
for ipt in iptables ip6tables; do
	command -v $ipt >/dev/null || continue
	for tbl in nat filter mangle raw; do
		for c in $($ipt -t $tbl -S 2>/dev/null | awk '$1 == "-N" {print $2}' | grep -E "$ours_re"); do left+=("$ipt -t $tbl chain $c"); done
	done
done
for port in 2379 2380 6443 10250 10256 10257 10259; do
	ss -Hltn "sport = :$port" | grep -q . && left+=("listener on port $port")
done
[[ -d /sys/fs/cgroup/memory/kubepods ]] && left+=("cgroup /sys/fs/cgroup/*/kubepods")

if ((${#left[@]})); then
	log "NOT clean; remaining:"
	printf '  %s\n' "${left[@]}"
	exit 1
fi
log "clean: no process, shim, mount, loop device, netns, bridge, iptables chain or listener left"
