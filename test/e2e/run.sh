#!/usr/bin/env bash
# run.sh — `make e2e`: the whole end-to-end run on a single-node cluster assembled from parts.
#
#   1. (make) `make images` has packed bin/images/csi-viso.tar and csi-provisioner.tar
#   2. cluster/up.sh brings Kubernetes up (binaries cached under $CSI_VISO_CACHE)
#   3. the images are imported into the node's containerd (ctr -n k8s.io images import)
#   4. namespace csi-viso; `kubectl apply --dry-run=server -f deploy/kubernetes/` must pass
#   5. a media root folder with a small base ISO (xorriso) and an escaping symlink, then
#      `helm install` of charts/csi-viso with test/e2e/values-e2e.yaml
#   6. go test -tags e2e ./test/e2e/ (client-go; the last subtest uninstalls the chart and
#      checks that nothing of the driver is left on the node)
#   7. always, even on failure or Ctrl-C: helm uninstall (if still installed), cluster/down.sh,
#      and an independent leftover check (go test -tags e2e_down, cluster.Leftovers)
#
# Settings: E2E_STATE, CSI_VISO_CACHE (see cluster/README.md), E2E_RUN (go test -run
# pattern, default all), E2E_TIMEOUT (go test -timeout, default 20m).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"
export PATH=/usr/local/go/bin:$PATH
export E2E_STATE=${E2E_STATE:-/tmp/csi-viso-e2e}

# Names the tests share with this script (e2e_test.go reads the E2E_* variables).
NS=csi-viso
RELEASE=csi-viso
MEDIA_NAME=csi-viso-e2e
# The media root lives at the same absolute path on the host as inside the node plugin
# (/media/<name>), so one VISO naming /media/csi-viso-e2e/... builds with `csi-viso build`
# on the host and mounts in the cluster.
export E2E_MEDIA=/media/$MEDIA_NAME
# The node plugin's state folder on the host: under $E2E_STATE, so the cluster's own
# leftover checks cover it and down.sh removes it.
export E2E_CSI_STATE=$E2E_STATE/csi-viso-state
export E2E_CSI_VISO=$REPO/bin/images/csi-viso
export E2E_NAMESPACE=$NS E2E_RELEASE=$RELEASE
export E2E_EXTRA_CLEAN="$E2E_MEDIA"

t0=$(date +%s)
phase_t=$t0
phase() {
	local now
	now=$(date +%s)
	echo "[e2e +$((now - t0))s] (previous step $((now - phase_t))s) $*"
	phase_t=$now
}
die() { echo "[e2e] error: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (the cluster's kubelet and containerd run here)"
for f in bin/images/csi-viso.tar bin/images/csi-provisioner.tar "$E2E_CSI_VISO"; do
	[[ -f $f ]] || die "$f missing: run make images first (make e2e does)"
done
command -v xorriso >/dev/null || die "xorriso missing (scripts/deps.sh installs it)"

teardown() {
	local rc=$? left=0
	trap - EXIT INT TERM
	phase "teardown (tests exit status $rc)"
	if [[ -n ${HELM:-} && -f $E2E_STATE/kubeconfig ]] &&
		"$HELM" --kubeconfig "$E2E_STATE/kubeconfig" status "$RELEASE" -n "$NS" >/dev/null 2>&1; then
		"$HELM" --kubeconfig "$E2E_STATE/kubeconfig" uninstall "$RELEASE" -n "$NS" --wait --timeout 2m || left=1
	fi
	test/e2e/cluster/down.sh || left=1
	rm -rf --one-file-system "$E2E_MEDIA"
	# Independent of down.sh's own verification: cluster.Leftovers from Go.
	go test -tags e2e_down -count=1 -run '^TestNothingLeft$' ./test/e2e/ || left=1
	phase "cluster down"
	if ((rc == 0 && left)); then
		rc=1
		echo "[e2e] FAIL: the teardown left something behind (see above)" >&2
	fi
	echo "[e2e] total $(($(date +%s) - t0))s, exit $rc"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

phase "cluster up"
test/e2e/cluster/up.sh
# shellcheck source=/dev/null
source "$E2E_STATE/cluster.env" # KUBECTL, HELM, NODE, ...
export KUBECONFIG=$E2E_STATE/kubeconfig E2E_KUBECONFIG=$E2E_STATE/kubeconfig

phase "import images"
test/e2e/cluster/load-image.sh bin/images/csi-viso.tar bin/images/csi-provisioner.tar

phase "namespace + server-side dry run of deploy/kubernetes/"
"$KUBECTL" apply -f deploy/kubernetes/00-namespace.yaml
"$KUBECTL" apply --dry-run=server -f deploy/kubernetes/
"$KUBECTL" apply --dry-run=server -f deploy/kubernetes/unattended-install/

phase "media root $E2E_MEDIA"
rm -rf --one-file-system "$E2E_MEDIA"
mkdir -p "$E2E_MEDIA/base-tree/docs"
echo "base ISO for the csi-viso e2e test" >"$E2E_MEDIA/base-tree/README.TXT"
echo "kept from the base" >"$E2E_MEDIA/base-tree/docs/kept.txt"
xorriso -abort_on FAILURE -return_with WARNING 32 -outdev "$E2E_MEDIA/base.iso" \
	-volid E2EBASE -joliet on -map "$E2E_MEDIA/base-tree" / -commit 2>/dev/null
rm -rf "$E2E_MEDIA/base-tree"
# A symlink inside the media root pointing outside it (the escape tests use it).
ln -s /etc/passwd "$E2E_MEDIA/escape.iso"
chmod 0755 "$E2E_MEDIA" && chmod 0644 "$E2E_MEDIA/base.iso"

phase "helm install from charts/"
"$HELM" install "$RELEASE" charts/csi-viso --namespace "$NS" \
	--values test/e2e/values-e2e.yaml \
	--set "mediaRoots[0].name=$MEDIA_NAME" --set "mediaRoots[0].hostPath=$E2E_MEDIA" \
	--set "stateDir=$E2E_CSI_STATE" \
	--wait --timeout 3m

phase "go test"
go test -tags e2e -count=1 -v -timeout "${E2E_TIMEOUT:-20m}" -run "${E2E_RUN:-.}" ./test/e2e/
phase "tests passed"
