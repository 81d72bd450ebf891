#!/bin/bash
# prepare.sh: build the QEMU boot-test payload for csi-viso images.
#
# Output (in $CSI_VISO_CACHE/boot, default ~/.cache/csi-viso/boot):
#   vmlinuz       Debian kernel (linux-image-amd64's target, not installed)
#   initrd.img    busybox initramfs running init.sh (mounts the medium with isofs
#                 and lists it on the serial console)
#   isolinux.bin, ldlinux.c32, isolinux.cfg   BIOS El Torito boot loader
#   efiboot.img   FAT image with a standalone GRUB EFI/BOOT/BOOTX64.EFI
#   grub.cfg      the config embedded in BOOTX64.EFI (for reference)
#   cmdline       the kernel command line both loaders pass
#   kernel.version, STAMP
# The images must place them as /isolinux/{isolinux.bin,ldlinux.c32,isolinux.cfg},
# /boot/vmlinuz, /boot/initrd.img and /boot/efiboot.img.
#
# xorriso is installed too, for building reference images.
# The payload is rebuilt only when this script or init.sh changes (STAMP), so a
# warm run costs a package check and a hash. Missing packages are installed with
# apt-get when running as root; otherwise the script fails saying what is missing.
# The last line on stdout is the payload directory. Concurrent runs serialise on
# a lock file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CSI_VISO_CACHE:-$HOME/.cache/csi-viso}
out=$cache/boot

packages=(qemu-system-x86 ovmf seabios isolinux syslinux-common grub-efi-amd64-bin
	grub-common mtools dosfstools busybox-static xz-utils xorriso)
# Storage drivers and the file system; their dependencies are added from the
# depends= strings of the .ko files. Built-in ones are skipped.
want_modules=(isofs cdrom sr_mod sd_mod ata_piix ahci virtio_pci virtio_blk)

log() { echo "prepare.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# A file each package provides: when all exist, the packages are taken as
# installed without asking dpkg (keeps a warm run fast).
key_files=(/usr/bin/qemu-system-x86_64 /usr/share/ovmf/OVMF.fd /usr/share/seabios/bios-256k.bin
	/usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32
	/usr/lib/grub/x86_64-efi/linux.mod /usr/bin/grub-mkstandalone /usr/bin/mcopy /sbin/mkfs.vfat
	/bin/busybox /usr/bin/xz /usr/bin/xorriso)

ensure_packages() {
	local missing=() f p st
	for f in "${key_files[@]}"; do [ -e "$f" ] || missing=(x); done
	[ ${#missing[@]} -eq 0 ] && return 0
	missing=()
	declare -A status=()
	while read -r p st; do status[$p]=$st; done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null)
	for p in "${packages[@]}"; do
		[ "${status[$p]:-}" = installed ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages (run as root or install them): ${missing[*]}"
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

mkdir -p "$out" || die "cannot create $out"
exec 9>"$out.lock" || die "cannot open lock $out.lock"
flock 9 || die "cannot lock $out.lock"

ensure_packages

stamp=$(cat "$0" "$here/init.sh" | sha256sum | cut -c1-32)
if [ -f "$out/STAMP" ] && [ "$(cat "$out/STAMP")" = "$stamp" ]; then
	echo "$out"
	exit 0
fi

log "building payload in $out"
work=$(mktemp -d "$cache/boot-build.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
payload=$work/payload
mkdir -p "$payload" "$work/k"

# --- kernel and modules, from the package without installing it ------------
kpkg=${CSI_VISO_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 (apt-get update needed?)"
fi
(cd "$work" && apt-get download -qq "$kpkg" 2>/dev/null) || die "apt-get download $kpkg failed"
deb=$(ls "$work"/*.deb)
kver=${kpkg#linux-image-}

extract() { # extract GLOB...: pull matching members of the kernel package into $work/k
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/k" --wildcards --no-anchored "$@" 2>/dev/null || true
}

modglob() { # module name -> tar pattern; file names may use - where names use _
	local n=${1//[-_]/[-_]}
	echo "kernel/*/$n.ko" "kernel/*/$n.ko.xz"
}

# One pass over the 70 MB package costs ~2 s, so the first pass also takes the
# directories where the dependencies of the wanted modules live; any other
# dependency costs one more pass.
patterns=("./boot/vmlinuz-$kver" "lib/modules/$kver/modules.builtin"
	"kernel/lib/*.ko" "kernel/crypto/*.ko" "kernel/block/*.ko" "kernel/drivers/virtio/*.ko"
	"kernel/drivers/scsi/scsi_*.ko" "kernel/drivers/ata/lib*.ko")
for m in "${want_modules[@]}"; do read -ra g <<<"$(modglob "$m")"; patterns+=("${g[@]}"); done
extract "${patterns[@]}"
[ -f "$work/k/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $kpkg"
builtin=$work/k/lib/modules/$kver/modules.builtin
[ -f "$builtin" ] || die "no modules.builtin in $kpkg"

modfile() { # name -> path of the extracted .ko (decompressed), or nothing
	local n=${1//-/_} f
	while read -r f; do
		local b=${f##*/}
		b=${b%.xz}
		b=${b%.ko}
		if [ "${b//-/_}" = "$n" ]; then
			if [ "${f%.xz}" != "$f" ]; then xz -dc "$f" >"${f%.xz}" && rm -f "$f" && f=${f%.xz}; fi
			echo "$f"
			return
		fi
	done < <(find "$work/k/lib/modules" -name '*.ko' -o -name '*.ko.xz')
}

is_builtin() { grep -q -E "/${1//[-_]/[-_]}\.ko$" "$builtin"; }

# Depth-first: a module's dependencies are ordered before it.
declare -A seen=()
order=()
add_module() {
	local m=${1//-/_} f deps d
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	if is_builtin "$1"; then return 0; fi
	f=$(modfile "$1")
	if [ -z "$f" ]; then
		read -ra g <<<"$(modglob "$1")"
		extract "${g[@]}"
		f=$(modfile "$1")
	fi
	[ -n "$f" ] || die "module $1 is neither built in nor in $kpkg"
	deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do add_module "$d"; done
	order+=("$f")
}
for m in "${want_modules[@]}"; do add_module "$m"; done

# --- initramfs ------------------------------------------------------------------
rd=$work/initrd
mkdir -p "$rd/bin" "$rd/dev" "$rd/proc" "$rd/sys" "$rd/mnt" "$rd/tmp" "$rd/lib/modules"
cp /bin/busybox "$rd/bin/busybox"
if ! /bin/busybox ls >/dev/null 2>&1 || ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is not a working static binary (package busybox-static)"
fi
install -m 0755 "$here/init.sh" "$rd/init"
: >"$rd/lib/modules/modules.order"
for f in "${order[@]}"; do
	b=${f##*/}
	cp "$f" "$rd/lib/modules/$b"
	echo "${b%.ko}" >>"$rd/lib/modules/modules.order"
done
# /dev/console lets the kernel give /init a console before devtmpfs is up;
# init.sh copes without it, so only make it when allowed to.
mknod -m 0600 "$rd/dev/console" c 5 1 2>/dev/null || true
(cd "$rd" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null) |
	gzip -9n >"$payload/initrd.img" || die "packing the initramfs failed"
cp "$work/k/boot/vmlinuz-$kver" "$payload/vmlinuz"
echo "$kpkg" >"$payload/kernel.version"
log "modules: $(tr '\n' ' ' <"$rd/lib/modules/modules.order")"

# --- BIOS: isolinux ---------------------------------------------------------------
cp /usr/lib/ISOLINUX/isolinux.bin "$payload/isolinux.bin"
cp /usr/lib/syslinux/modules/bios/ldlinux.c32 "$payload/ldlinux.c32"
cmdline="console=ttyS0,115200 panic=-1 quiet"
echo "$cmdline" >"$payload/cmdline" # for boot-iso.sh's direct mode
# SERIAL makes isolinux itself talk to ttyS0, so a boot failure is visible.
cat >"$payload/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /boot/vmlinuz
  APPEND initrd=/boot/initrd.img $cmdline
EOF

# --- UEFI: standalone GRUB in a FAT El Torito image --------------------------------
# Serial only: OVMF mirrors the console to serial, so "console" would double lines.
cat >"$payload/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
search --no-floppy --set=root --file /boot/vmlinuz
linux (\$root)/boot/vmlinuz $cmdline
initrd (\$root)/boot/initrd.img
boot
EOF
grub-mkstandalone -O x86_64-efi --locales= --themes= --fonts= \
	--install-modules="linux normal iso9660 search search_fs_file serial terminal echo part_gpt part_msdos fat" \
	--modules="iso9660 search search_fs_file linux serial terminal part_gpt part_msdos" \
	-o "$work/BOOTX64.EFI" "boot/grub/grub.cfg=$payload/grub.cfg" >&2 || die "grub-mkstandalone failed"
efi_kib=$(($(stat -c %s "$work/BOOTX64.EFI") / 1024 + 256))
mkfs.vfat -C -n EFIBOOT "$payload/efiboot.img" "$efi_kib" >/dev/null || die "mkfs.vfat failed"
mmd -i "$payload/efiboot.img" ::/EFI ::/EFI/BOOT || die "mmd failed"
mcopy -i "$payload/efiboot.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI || die "mcopy failed"

echo "$stamp" >"$payload/STAMP"
# Swap the finished payload in; the lock keeps readers of this script out.
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mv "$payload" "$out"
rm -rf "$out.old"
log "done: $(du -sh "$out" | cut -f1) ($kpkg)"
echo "$out"
