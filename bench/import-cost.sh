#!/usr/bin/env bash
# import-cost.sh — publishing cost of a VISO that imports a base ISO does not
# depend on the base's size (issue 5, "Must show").
#
# Builds two bases with the same 2 000 files: a sparse 4 GiB one and a 40 MiB
# one (xorriso output streamed through `dd conv=sparse`, so the 4 GiB base
# takes almost no disk). For each, a VISO imports the base, replaces a file
# (:must-remove: + re-add) and adds one. Then it measures the wall time of
# `csi-viso inspect --json` (the full layout, process start to exit; median
# of 5) for both, one warm `cat` of the 4 GiB base, prints the ratios and
# checks the targets (< 0.5 s, < 1/4 of the warm cat, same order for both
# sizes). Finally `csi-viso build` of both is verified with xorriso listings.
#
# Usage: bench/import-cost.sh [WORKDIR]   (default: a temporary folder, removed
# at exit). Needs go, xorriso; uses hyperfine when installed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
files=2000
if [[ $# -gt 0 ]]; then
	work=$1
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/csi-viso-import-cost.XXXXXX)
	trap 'rm -rf "$work"' EXIT
fi
die() { echo "import-cost: $*" >&2; exit 1; }
for tool in go xorriso dd; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y xorriso; Go 1.24+)"
done

echo "== building csi-viso"
(cd "$repo" && go build -o "$work/csi-viso" ./cmd/csi-viso)
cli=$work/csi-viso

# make_base NAME BYTES_PER_FILE: a tree of $files sparse files in 20 folders
# plus the file the VISO replaces, mastered into NAME/base.iso.
make_base() {
	local name=$1 per=$2 dir=$work/$1
	rm -rf "$dir" && mkdir -p "$dir/tree"
	for d in $(seq -w 0 19); do mkdir -p "$dir/tree/dir$d"; done
	for i in $(seq 1 "$files"); do
		truncate -s "$per" "$dir/tree/dir$(printf %02d $((i % 20)))/file-$i.bin"
	done
	echo "original content" >"$dir/tree/replace-me.txt"
	xorriso -as mkisofs -quiet -R -J -V "IMPORT_COST_${name^^}" -o - "$dir/tree" 2>"$dir/xorriso.log" |
		dd of="$dir/base.iso" bs=1M conv=sparse iflag=fullblock status=none ||
		{ cat "$dir/xorriso.log" >&2; die "xorriso failed for $name"; }
	rm -rf "$dir/tree"
	echo "replaced content" >"$dir/new.txt"
	echo "added content" >"$dir/added.txt"
	cat >"$dir/remaster.viso" <<EOF
--iprt-iso-maker-file-marker-bourne-sh 6a1f0c2e-4d1b-4a57-9c3e-2b7f1e9d$(printf %04d ${#name})
--import-iso=base.iso
/replace-me.txt=:must-remove:
/replace-me.txt=new.txt
/added.txt=added.txt
EOF
	printf '   %-6s base %s bytes, %s KiB on disk\n' "$name" "$(stat -c %s "$dir/base.iso")" "$(du -k "$dir/base.iso" | cut -f1)"
}

echo "== building bases ($files files each)"
make_base big $(((4 << 30) / files))
make_base small $(((40 << 20) / files))

# The executor must accept the VISO before anything is timed.
for n in big small; do
	if ! "$cli" inspect --json "$work/$n/remaster.viso" >"$work/$n/inspect.json" 2>"$work/$n/inspect.err"; then
		cat "$work/$n/inspect.err" >&2
		die "csi-viso inspect --json failed for the $n base (is --import-iso implemented?)"
	fi
done

# median_seconds CMD...: median wall time of 5 runs (hyperfine if present).
median_seconds() {
	if command -v hyperfine >/dev/null; then
		hyperfine --style none --warmup 1 --runs 5 --export-json "$work/hf.json" "$(printf '%q ' "$@")" >/dev/null 2>&1 ||
			die "hyperfine: $* failed"
		python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/hf.json"
		return
	fi
	"$@" >/dev/null 2>&1 # warm-up
	local times=() s e
	for _ in 1 2 3 4 5; do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || die "$* failed"
		e=$(date +%s%N)
		times+=($((e - s)))
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n 3p | awk '{printf "%.4f\n", $1 / 1e9}'
}

echo "== timing (median of 5$(command -v hyperfine >/dev/null && echo ', hyperfine'))"
t_big=$(median_seconds "$cli" inspect --json "$work/big/remaster.viso")
t_small=$(median_seconds "$cli" inspect --json "$work/small/remaster.viso")
cat "$work/big/base.iso" >/dev/null # warm the page cache
s=$(date +%s%N)
cat "$work/big/base.iso" >/dev/null
e=$(date +%s%N)
t_cat=$(awk -v n=$((e - s)) 'BEGIN { printf "%.4f", n / 1e9 }')

awk -v b="$t_big" -v s="$t_small" -v c="$t_cat" 'BEGIN {
	printf "   inspect --json, 4 GiB base : %.3f s\n", b
	printf "   inspect --json, 40 MiB base: %.3f s\n", s
	printf "   warm cat of the 4 GiB base : %.3f s\n", c
	printf "   ratio inspect(4 GiB) / cat : %.3f (target < 0.25)\n", b / c
	printf "   ratio 4 GiB / 40 MiB       : %.2f (target: same order, < 10)\n", b / s
	fail = 0
	if (b >= 0.5) { print "   FAIL: inspect of the 4 GiB import takes 0.5 s or more"; fail = 1 }
	if (b >= c / 4) { print "   FAIL: inspect takes a quarter of a warm cat or more"; fail = 1 }
	if (b / s >= 10) { print "   FAIL: the 4 GiB import costs 10x the 40 MiB one or more"; fail = 1 }
	exit fail
}' || die "publishing-cost targets missed"

echo "== csi-viso build, verified by xorriso"
for n in big small; do
	out=$work/$n/out.iso
	"$cli" build "$work/$n/remaster.viso" -o "$out" >/dev/null
	listing=$(xorriso -abort_on NEVER -return_with SORRY 32 -indev "$out" -find / -type f -exec lsdl 2>/dev/null) ||
		die "xorriso rejects the $n image"
	count=$(grep -c "^-" <<<"$listing" || true)
	[[ $count -eq $((files + 2)) ]] || die "$n: xorriso lists $count files, want $((files + 2))"
	rm -rf "$work/$n/x" && mkdir "$work/$n/x"
	xorriso -abort_on NEVER -return_with SORRY 32 -indev "$out" -osirrox on \
		-extract /replace-me.txt "$work/$n/x/replace-me.txt" -extract /added.txt "$work/$n/x/added.txt" >/dev/null 2>&1 ||
		die "$n: osirrox extraction failed"
	[[ $(cat "$work/$n/x/replace-me.txt") == "replaced content" ]] || die "$n: /replace-me.txt has the wrong content"
	[[ $(cat "$work/$n/x/added.txt") == "added content" ]] || die "$n: /added.txt has the wrong content"
	printf '   %-6s %s bytes, %d files, replaced and added files read back\n' "$n" "$(stat -c %s "$out")" "$count"
	rm -f "$out"
done
echo "import-cost: OK"
