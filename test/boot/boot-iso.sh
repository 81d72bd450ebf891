#!/bin/bash
# boot-iso.sh MODE ISO LOGFILE: boot an image under QEMU and record the serial console.
#
# MODE:
#   bios      SeaBIOS, the image as an IDE CD-ROM (El Torito, isolinux)
#   uefi      OVMF, the image as an IDE CD-ROM (El Torito 0xEF entry, GRUB)
#   bios-hdd  SeaBIOS, the image as a raw IDE hard disk (isohybrid MBR)
#   uefi-hdd  OVMF, the image as a raw IDE hard disk (isohybrid GPT/MBR ESP)
#   direct    QEMU loads the payload's kernel and initrd itself (-kernel), the
#             image is an IDE CD-ROM: tests content only, the image needs no
#             boot files; the quickest mode
# Except in direct mode the image must carry the payload built by prepare.sh.
# Its /init lists the medium and powers off (see init.sh for the record format).
#
# Exit status: 0 iff the guest printed @@VISO-DONE and no @@VISO-ERROR;
# 1 guest reported an error, 2 usage, 3 no @@VISO-DONE (timeout, hang, crash).
# Environment: CSI_VISO_BOOT_TIMEOUT (seconds, default 240: a TCG boot takes 7-13 s
# alone but over 60 s on a loaded 2-core machine),
# CSI_VISO_BOOT_ACCEL (default tcg: the nested kvm-pvm of our CI machines cannot
# run firmware or boot code), CSI_VISO_BOOT_MEM (MiB, default 512).
set -uo pipefail

usage() { echo "usage: $0 bios|uefi|bios-hdd|uefi-hdd|direct ISO LOGFILE" >&2; exit 2; }
[ $# -eq 3 ] || usage
mode=$1 iso=$2 log=$3
[ -r "$iso" ] || { echo "boot-iso.sh: cannot read $iso" >&2; exit 2; }
timeout_s=${CSI_VISO_BOOT_TIMEOUT:-240}
accel=${CSI_VISO_BOOT_ACCEL:-tcg}
mem=${CSI_VISO_BOOT_MEM:-512}
ovmf=/usr/share/ovmf/OVMF.fd
file=${iso//,/,,} # QEMU's -drive syntax doubles commas in values

fw=()
case $mode in
bios | bios-hdd) ;;
direct)
	payload=${CSI_VISO_CACHE:-$HOME/.cache/csi-viso}/boot
	for f in vmlinuz initrd.img cmdline; do
		[ -r "$payload/$f" ] || { echo "boot-iso.sh: $payload/$f missing (run prepare.sh)" >&2; exit 2; }
	done
	fw=(-kernel "$payload/vmlinuz" -initrd "$payload/initrd.img" -append "$(cat "$payload/cmdline")")
	;;
uefi | uefi-hdd)
	[ -r "$ovmf" ] || { echo "boot-iso.sh: $ovmf missing (package ovmf; run prepare.sh)" >&2; exit 2; }
	fw=(-bios "$ovmf")
	;;
*) usage ;;
esac
case $mode in
bios | uefi | direct) disk=(-drive "file=$file,format=raw,media=cdrom,if=ide,readonly=on" -boot d) ;;
# QEMU refuses readonly=on for IDE disks; snapshot=on keeps guest writes
# in a temporary overlay instead.
*) disk=(-drive "file=$file,format=raw,if=ide,snapshot=on" -boot c) ;;
esac

start=$(date +%s.%N)
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel "$accel" -m "$mem" \
	-nographic -monitor none -no-reboot -net none "${fw[@]}" "${disk[@]}" \
	</dev/null >"$log" 2>&1
rc=$?
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')

if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "boot-iso.sh: $mode: QEMU timed out after ${timeout_s}s" >&2
elif [ $rc -ne 0 ]; then
	echo "boot-iso.sh: $mode: QEMU exited with $rc" >&2
fi
if grep -aq 'KVM internal error' "$log"; then
	echo "boot-iso.sh: KVM internal error: use CSI_VISO_BOOT_ACCEL=tcg" >&2
fi
if grep -aq '@@VISO-ERROR' "$log"; then
	echo "boot-iso.sh: $mode: guest reported errors (${elapsed}s):" >&2
	# Records are "@@VISO-ERROR <view> <hex message>"; decode for humans.
	grep -a -o '@@VISO-ERROR [^ ]* [0-9a-f]*' "$log" | while read -r _ view msg; do
		printf '  %s: %b\n' "$view" "$(sed 's/../\\x&/g' <<<"$msg")" >&2
	done
	exit 1
fi
if ! grep -aq '@@VISO-DONE' "$log"; then
	echo "boot-iso.sh: $mode: no @@VISO-DONE marker (${elapsed}s); log tail:" >&2
	tail -n 20 "$log" >&2
	exit 3
fi
echo "boot-iso.sh: $mode: ok in ${elapsed}s" >&2
exit 0
