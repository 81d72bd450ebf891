#!/usr/bin/env bash
# build.sh — builds (or reuses) everything the e2e cluster runs that is not a Debian package:
# Kubernetes v$KVER from the Go module proxy (through the k8sbuild wrapper module), helm
# (helmbuild module), and the pause and busybox images (../images). Results are cached under
# $CACHE and keyed on the inputs (go.mod, go.sum, Go version, flags), so a second run only
# checks stamps. Safe to run concurrently: a lock serialises builders.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The machine has 2 cores shared with other work: build at lower priority. E2E_BUILD_JOBS
# caps go build's package parallelism (-p) for hosts where even that is too much.
JOBS=${E2E_BUILD_JOBS:-2}
gobuild() { CGO_ENABLED=0 nice -n 10 go build -p "$JOBS" -trimpath "$@"; }

mkdir -p "$CACHE"
exec 9>"$CACHE/e2e-build.lock"
flock 9

# stamp FILES...: a digest of the inputs that decide a build's result.
stamp() { { go version; cat "$@"; echo "$LDFLAGS"; } | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------ Kubernetes
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy)
MINOR=$(echo "$KVER" | cut -d. -f2)
LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	# Without these the node reports kubeletVersion v0.0.0-master and kubectl version is useless.
	LDFLAGS+=" -X $p.gitVersion=v$KVER -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
done
mod=$HERE/k8sbuild
grep -q "k8s.io/kubernetes v$KVER\$" "$mod/go.mod" ||
	die "k8sbuild/go.mod is not for v$KVER; run test/e2e/cluster/k8sbuild/gen.sh $KVER"
want=$(stamp "$mod/go.mod" "$mod/go.sum")
if [[ $(cat "$KBIN/.stamp" 2>/dev/null) == "$want" ]]; then
	log "kubernetes v$KVER: cached in $KBIN"
else
	log "kubernetes v$KVER: building ${K8S_CMDS[*]} (cold: ~6 min on 2 cores)"
	tmp=$CACHE/k8s-v$KVER/bin.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	pkgs=()
	for c in "${K8S_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	# One go build for all commands: shared packages are compiled once.
	(cd "$mod" && gobuild -ldflags "$LDFLAGS" -o "$tmp/" "${pkgs[@]}")
	echo "$want" >"$tmp/.stamp"
	rm -rf "$KBIN" && mv "$tmp" "$KBIN"
	log "kubernetes v$KVER: built"
fi

# ------------------------------------------------------------------ helm
mod=$HERE/helmbuild
grep -q "helm.sh/helm/v3 v$HELMVER\$" "$mod/go.mod" || die "helmbuild/go.mod does not pin helm v$HELMVER"
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELMVER -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
want=$(stamp "$mod/go.mod" "$mod/go.sum")
hbin=$(dirname "$HELM")
if [[ $(cat "$hbin/.stamp" 2>/dev/null) == "$want" && -x $HELM ]]; then
	log "helm v$HELMVER: cached"
else
	log "helm v$HELMVER: building"
	mkdir -p "$hbin"
	(cd "$mod" && gobuild -ldflags "$LDFLAGS" -o "$HELM.tmp" helm.sh/helm/v3/cmd/helm)
	mv "$HELM.tmp" "$HELM"
	echo "$want" >"$hbin/.stamp"
	log "helm v$HELMVER: built"
fi

# ------------------------------------------------------------------ images
# The packer and pause live in the csi-viso module; their stamp is their source, the
# go-containerregistry version (not all of go.sum, which other packages change) and busybox.
LDFLAGS="-s -w"
grep "^github.com/google/go-containerregistry " "$REPO/go.sum" >"$CACHE/.ggcr-version" || true
want=$(stamp "$CACHE/.ggcr-version" "$REPO"/test/e2e/images/*.go "$REPO"/test/e2e/images/pause/*.go /bin/busybox)
if [[ $(cat "$IMAGES/.stamp" 2>/dev/null) == "$want" && -f $IMAGES/pause.tar && -f $IMAGES/busybox.tar ]]; then
	log "images: cached"
else
	log "images: building pause and busybox"
	mkdir -p "$IMAGES"
	(cd "$REPO" && gobuild -ldflags "$LDFLAGS" -o "$IMAGES/pause" ./test/e2e/images/pause)
	(cd "$REPO" && gobuild -o "$IMAGES/mkimage" ./test/e2e/images)
	"$IMAGES/mkimage" -o "$IMAGES/pause.tar" -name "$PAUSE_IMAGE" -bin "$IMAGES/pause" -path /pause
	[[ -x /bin/busybox ]] || die "/bin/busybox missing (Debian package busybox-static)"
	"$IMAGES/mkimage" -o "$IMAGES/busybox.tar" -name "$BUSYBOX_IMAGE" -bin /bin/busybox -path /bin/busybox \
		-busybox-applets -entrypoint "" -cmd /bin/sh
	echo "$want" >"$IMAGES/.stamp"
	log "images: built"
fi
