#!/usr/bin/env bash
# Regenerates go.mod/go.sum of this wrapper module for another external-provisioner release:
#   ./gen.sh 6.4.0
# `go install github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner@v` fails
# because the provisioner's go.mod has replace directives (every k8s.io/* module pinned to
# one release), and replace directives only apply in the main module. This module requires
# the provisioner and copies its replace lines (and go/godebug lines, so GODEBUG defaults
# match an upstream build); nothing is hard-coded.
set -euo pipefail
ver=${1:?usage: gen.sh VERSION (e.g. 6.4.0)}
cd "$(dirname "$0")"
mod=$(go mod download -json "github.com/kubernetes-csi/external-provisioner/v6@v$ver" |
	sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[[ -f $mod ]] || { echo "gen.sh: cannot download external-provisioner v$ver" >&2; exit 1; }
{
	echo "module github.com/csi-viso/csi-viso/test/e2e/provisioner"
	echo
	grep -E '^(go|godebug) ' "$mod"
	echo
	echo "require github.com/kubernetes-csi/external-provisioner/v6 v$ver"
	echo
	echo "replace ("
	# single-line "replace a => b v" and lines inside a replace ( ... ) block
	awk '/^replace \(/ {blk = 1; next}
	     blk && /^\)/ {blk = 0; next}
	     blk && $2 == "=>" {print "\t" $0; next}
	     /^replace / && $3 == "=>" {sub(/^replace /, ""); print "\t" $0}' "$mod"
	echo ")"
} > go.mod
rm -f go.sum
go mod tidy
echo "gen.sh: go.mod and go.sum now build external-provisioner v$ver"
