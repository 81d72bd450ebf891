#!/usr/bin/env bash
# load-image.sh TARBALL... — imports image tarballs (from ../images) into the e2e cluster's
# containerd, in the k8s.io namespace the kubelet uses. Pods use them with
# imagePullPolicy: Never.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
(($#)) || die "usage: load-image.sh TARBALL..."
for t in "$@"; do
	[[ -f $t ]] || die "$t: no such image tarball"
	ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$t"
done
