#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine of this project's kind.
# Debian packages are installed with apt-get when we are root; otherwise a missing tool is
# reported and the script fails, so no test ever runs without its oracle.
set -euo pipefail

# Oracles that read our images back (see ../shared/design/testing-recipes.md §1).
pkgs=(xorriso genisoimage libcdio-utils p7zip-full mtools dosfstools)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go modules are fetched by the go command itself; warm the cache once so test timings are honest.
go mod download
