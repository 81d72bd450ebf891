#!/bin/sh
# Regenerates the FuzzOpen seed media. Each seed is a small xorriso image
# without its 32 KiB system area (FuzzOpen supplies zeros for it), gzipped.
# Timestamps are pinned so the output is deterministic.
set -eu
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1700000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src
mkdir -p "$src/isolinux" "$src/boot" "$src/docs/sub"
printf 'hello\n' > "$src/docs/hello.txt"
printf 'nested\n' > "$src/docs/sub/Nested File.txt"
head -c 3000 /dev/zero | tr '\0' 'x' > "$src/docs/sub/x.bin"
: > "$src/docs/empty"
ln -s ../docs/hello.txt "$src/docs/sub/link"
chmod 0640 "$src/docs/hello.txt"
head -c 2048 /dev/zero | tr '\0' 'B' > "$src/isolinux/isolinux.bin"
head -c 2048 /dev/zero | tr '\0' 'E' > "$src/boot/efi.img"
find "$src" -exec touch -h -d @1700000000 {} +
mk() {
	name=$1
	shift
	xorriso -as mkisofs -quiet -no-pad -o "$tmp/$name.iso" "$@" "$src"
	tail -c +32769 "$tmp/$name.iso" | gzip -n -9 > "$name.iso.gz"
}
mk rrjoliet -R -J -V SEED_RR
mk boot -R -J -V SEED_BOOT -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
	-boot-load-size 4 -boot-info-table -eltorito-alt-boot -e boot/efi.img -no-emul-boot
mk plain --norock -V SEED_PLAIN
