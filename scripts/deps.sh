#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine of this project's kind, then
# checks that every tool the tests call is really there. Debian packages are installed with
# apt-get when we are root; otherwise a missing tool is reported and the script fails, so no
# test ever runs without its oracle. A tool missing after the install fails with its name.
set -euo pipefail

# tool (a command on PATH, or an absolute file) → the Debian package that provides it.
# Keep this the one list: a test that calls a new tool adds its line here.
tools=(
	# oracles that read our images back (../shared/design/testing-recipes.md §1)
	xorriso:xorriso osirrox:xorriso isoinfo:genisoimage genisoimage:genisoimage
	iso-info:libcdio-utils 7z:p7zip-full
	# system-area checks of isohybrid images (TestInPlaceHybrid)
	sfdisk:fdisk sgdisk:gdisk
	# EFI images and reflink file systems the tests make themselves
	mcopy:mtools mkfs.vfat:dosfstools mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs
	filefrag:e2fsprogs losetup:mount blockdev:util-linux
	# QEMU boot tests (test/boot/prepare.sh builds the guest payload from these)
	qemu-system-x86_64:qemu-system-x86 /usr/share/ovmf/OVMF.fd:ovmf
	/usr/share/seabios/bios-256k.bin:seabios /usr/lib/ISOLINUX/isolinux.bin:isolinux
	/usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common
	/usr/lib/grub/x86_64-efi/linux.mod:grub-efi-amd64-bin grub-mkstandalone:grub-common
	/bin/busybox:busybox-static xz:xz-utils
	# benchmarks that compare against a reference command (bench/)
	hyperfine:hyperfine
)

have() { if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null 2>&1; fi; }

missing=()
for t in "${tools[@]}"; do
	have "${t%%:*}" || missing+=("${t##*:}")
done
if ((${#missing[@]})); then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The check that catches a gap: every tool must exist now, whatever the package list said.
absent=()
for t in "${tools[@]}"; do
	have "${t%%:*}" || absent+=("${t%%:*} (package ${t##*:})")
done
if ((${#absent[@]})); then
	printf 'deps: still missing after install: %s\n' "${absent[@]}" >&2
	exit 1
fi

# Go modules are fetched by the go command itself; warm the cache once so test timings are honest.
go mod download
