#!/bin/busybox sh
# /init of the csi-viso boot-test initramfs (packed by prepare.sh).
#
# It loads the storage and isofs modules, finds the boot medium (CD-ROM
# first, then an IDE/SATA or virtio disk for isohybrid images), mounts it
# three times with the kernel's own isofs driver and prints every node of
# each view to the serial console, then powers the machine off.
#
# Output protocol (one record per line; everything else on the console is
# noise to be ignored; parsed by test/boot/boottest):
#   @@VISO-START <uptime>
#   @@VISO-DEVICE <device>
#   @@VISO-BEGIN <view> <hex mount options from /proc/mounts>
#   @@VISO-E <view> <type f|d|l|o> <st_mode hex> <uid> <gid> <nlink> <mtime> <size> <sha256|-> <hex path> <hex symlink target|->
#   @@VISO-END <view> <number of E records>
#   @@VISO-ERROR <view|-> <hex message>
#   @@VISO-KMSG <kernel log line>
#   @@VISO-DONE <uptime>
# Paths are absolute inside the image ("/" is the root) and, like every
# free-text field, hex-encoded bytes so that any name survives the console.
# Views: rr (default mount: Rock Ridge), joliet (-o norock),
# plain (-o norock,nojoliet).

/bin/busybox mkdir -p /proc /sys /dev /mnt /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
# Keep asynchronous kernel messages from splitting our records; the
# interesting ones are replayed as @@VISO-KMSG lines at the end.
echo 1 >/proc/sys/kernel/printk

uptime_s() { cut -d' ' -f1 /proc/uptime; }
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
fail() { echo "@@VISO-ERROR $1 $(hex "$2")"; }

echo "@@VISO-START $(uptime_s)"

# modules.order lists the modules in dependency order (prepare.sh).
if [ -f /lib/modules/modules.order ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/lib/modules/$m.ko" 2>/tmp/insmod.err || fail - "insmod $m: $(cat /tmp/insmod.err)"
	done </lib/modules/modules.order
fi

# The medium: viso.dev=/dev/X on the kernel command line wins; otherwise
# the first block device holding an ISO 9660 volume among the usual names, waiting up to
# 10 s for the drivers to probe.
dev=
for arg in $(cat /proc/cmdline); do
	case $arg in viso.dev=*) dev=${arg#viso.dev=} ;; esac
done
i=0
while [ $i -lt 200 ]; do
	if [ -n "$dev" ]; then
		[ -b "$dev" ] && break
	else
		for d in /dev/sr0 /dev/sda /dev/vda; do
			# QEMU's pc machine always has a CD drive, empty in the
			# hard-disk modes: take a device only if it holds a volume
			# descriptor ("CD001" at byte 1 of sector 16).
			if [ -b $d ] && [ "$(dd if=$d bs=2048 skip=16 count=1 2>/dev/null | dd bs=1 skip=1 count=5 2>/dev/null)" = CD001 ]; then
				dev=$d
				break
			fi
		done
		[ -n "$dev" ] && break
	fi
	sleep 0.05
	i=$((i + 1))
done

emit() { # emit VIEW ABSPATH IMAGEPATH
	p=$2
	if [ -L "$p" ]; then t=l; elif [ -d "$p" ]; then t=d; elif [ -f "$p" ]; then t=f; else t=o; fi
	st=$(stat -c '%f %u %g %h %Y %s' "$p") || { fail "$1" "stat $3"; return; }
	sum=-
	if [ $t = f ]; then
		out=$(sha256sum <"$p") || { fail "$1" "read $3"; return; }
		sum=${out%% *}
	fi
	target=-
	if [ $t = l ]; then target=$(hex "$(readlink "$p")"); fi
	echo "@@VISO-E $1 $t $st $sum $(hex "$3") $target"
	count=$((count + 1))
}

walk() { # walk VIEW MOUNTPOINT DIR
	local e
	ls -a "$3" >/dev/null 2>/tmp/ls.err || fail "$1" "readdir ${3#"$2"}: $(cat /tmp/ls.err)"
	for e in "$3"/* "$3"/.[!.]* "$3"/..?*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		emit "$1" "$e" "${e#"$2"}"
		if [ -d "$e" ] && [ ! -L "$e" ]; then walk "$1" "$2" "$e"; fi
	done
}

if [ -z "$dev" ] || [ ! -b "$dev" ]; then
	fail - "no boot medium found (tried ${dev:-/dev/sr0 /dev/sda /dev/vda})"
else
	echo "@@VISO-DEVICE $dev"
	for spec in rr:ro joliet:ro,norock plain:ro,norock,nojoliet; do
		view=${spec%%:*}
		mnt=/mnt/$view
		mkdir -p "$mnt"
		if ! mount -t iso9660 -o "${spec#*:}" "$dev" "$mnt" 2>/tmp/mount.err; then
			fail "$view" "mount -o ${spec#*:} $dev: $(cat /tmp/mount.err)"
			continue
		fi
		opts=$(awk -v m="$mnt" '$2 == m { print $4 }' /proc/mounts)
		echo "@@VISO-BEGIN $view $(hex "$opts")"
		count=0
		emit "$view" "$mnt" /
		walk "$view" "$mnt" "$mnt"
		# A second, independent walk catches directory read errors the
		# shell globs above would silently swallow.
		find "$mnt" >/dev/null 2>/tmp/find.err || fail "$view" "find: $(cat /tmp/find.err)"
		echo "@@VISO-END $view $count"
		umount "$mnt" || fail "$view" "umount failed"
	done
fi

dmesg | grep -i -E 'isofs|iso9660|iso 9660|rock|joliet|sr0|sda|vda|i/o error|error|fail' |
	while read -r line; do echo "@@VISO-KMSG $line"; done
echo "@@VISO-DONE $(uptime_s)"
sync
poweroff -f
