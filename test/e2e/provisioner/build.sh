#!/usr/bin/env bash
# build.sh — builds (or reuses) the upstream external-provisioner from the Go module proxy
# through this wrapper module, and packs it into an OCI image tarball with ../images.
#
#   test/e2e/provisioner/build.sh [OUT.tar]     # default: bin/images/csi-provisioner.tar
#
# The binary is cached under $CACHE/csi-provisioner-v$VER/ and keyed on go.mod, go.sum, the Go
# version and the flags, so a second run only checks the stamp and repacks the image (1-2 s).
# Image name: $PROVISIONER_IMAGE (default csi-viso.local/csi-provisioner:v$VER).
set -euo pipefail
source "$(dirname "$0")/../cluster/lib.sh"
PDIR=$REPO/test/e2e/provisioner
VER=$(awk '$1 == "require" && $2 == "github.com/kubernetes-csi/external-provisioner/v6" {print $3}' "$PDIR/go.mod")
VER=${VER#v}
[[ -n $VER ]] || die "test/e2e/provisioner/go.mod does not require external-provisioner/v6"
PROVISIONER_IMAGE=${PROVISIONER_IMAGE:-csi-viso.local/csi-provisioner:v$VER}
OUT=${1:-$REPO/bin/images/csi-provisioner.tar}
JOBS=${E2E_BUILD_JOBS:-2}
PBIN=$CACHE/csi-provisioner-v$VER
# main.version is what `csi-provisioner --version` and its first log line print.
LDFLAGS="-s -w -X main.version=v$VER"

mkdir -p "$CACHE" "$PBIN"
exec 8>"$CACHE/provisioner-build.lock"
flock 8

want=$({ go version; cat "$PDIR/go.mod" "$PDIR/go.sum"; echo "$LDFLAGS"; } | sha256sum | cut -c1-16)
if [[ $(cat "$PBIN/.stamp" 2>/dev/null) == "$want" && -x $PBIN/csi-provisioner ]]; then
	log "external-provisioner v$VER: cached in $PBIN"
else
	log "external-provisioner v$VER: building (cold: ~2 min on 2 cores)"
	s=$(date +%s)
	(cd "$PDIR" && CGO_ENABLED=0 nice -n 10 go build -p "$JOBS" -trimpath -ldflags "$LDFLAGS" \
		-o "$PBIN/csi-provisioner.tmp" github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner)
	mv "$PBIN/csi-provisioner.tmp" "$PBIN/csi-provisioner"
	echo "$want" >"$PBIN/.stamp"
	log "external-provisioner v$VER: built in $(($(date +%s) - s)) s"
fi

mkdir -p "$(dirname "$OUT")"
# The upstream image is distroless/static with the binary at /csi-provisioner as entrypoint;
# ours has the same layout, so the chart's args work with either.
(cd "$REPO" && go run ./test/e2e/images -o "$OUT" -name "$PROVISIONER_IMAGE" \
	-bin "$PBIN/csi-provisioner" -path /csi-provisioner)
