#!/usr/bin/env bash
# Regenerates go.mod/go.sum of this wrapper module for another Kubernetes version:
#   ./gen.sh 1.34.4
# k8s.io/kubernetes cannot be built with `go install cmd@version` because its go.mod maps
# every k8s.io/* staging module to ./staging/src/...; a module that requires it must
# replace each of those with the published v0.MINOR.PATCH release instead. The list is
# read from the downloaded go.mod so nothing is hard-coded, and the go/godebug lines are
# copied so GODEBUG defaults match an upstream build.
set -euo pipefail
kver=${1:?usage: gen.sh KVER (e.g. 1.34.4)}
cd "$(dirname "$0")"
mod=$(go mod download -json "k8s.io/kubernetes@v$kver" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
[[ -f $mod ]] || { echo "gen.sh: cannot download k8s.io/kubernetes@v$kver" >&2; exit 1; }
{
	echo "module github.com/csi-viso/csi-viso/test/e2e/cluster/k8sbuild"
	echo
	grep -E '^(go|godebug) ' "$mod"
	echo
	echo "require k8s.io/kubernetes v$kver"
	echo
	echo "replace ("
	awk -v v="v0.${kver#1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "\t" $1 " => " $1 " " v}' "$mod"
	echo ")"
} > go.mod
rm -f go.sum
go mod tidy
echo "gen.sh: go.mod and go.sum now build Kubernetes v$kver"
