#!/bin/bash
# A real Debian 12 root filesystem on ext4 (root=/dev/vda): debootstrap
# --variant=minbase with systemd as init, the stock kernel's modules, and
# ember-distro-report.service, which prints the marker line once
# multi-user.target is reached and ends the VM.
#
#   guest/distro/rootfs.sh KERNEL_ENTRY   prints the cache entry's path
#
# Entry distro-rootfs-<key>; key: the kernel entry's key, this script, the
# report script and unit, the package list, and the debootstrap and
# e2fsprogs versions. The mirror is apt's own (mirror.sh), not in the key.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
kdir=${1:?usage: rootfs.sh KERNEL_ENTRY}
need_tools debootstrap mkfs.ext4 e2fsck sha256sum flock
[ "$(id -u)" = 0 ] || die "debootstrap must run as root"

suite=bookworm
# systemd-sysv: systemd as /sbin/init. udev: device units (without it
# serial-getty@ttyS0 waits for dev-ttyS0.device and fails). dbus:
# systemd-logind needs the system bus. kmod: kmod-static-nodes.service
# runs it (and udev loads modules with it).
include=systemd-sysv,udev,dbus,kmod
image_mib=1024
# Fixed, so that no boot is a first boot (systemd-firstboot would prompt).
machine_id=656d626572646973747230726f6f7466

key=$(printf '%s %s %s\ndebootstrap %s\ne2fsprogs %s\n' "$(basename "$kdir")" "$suite" "$include" \
	"$(pkgver debootstrap)" "$(pkgver e2fsprogs)" |
	recipe_key ember-distro-rootfs-v1 "$here/rootfs.sh" "$here/ember-distro-report" \
		"$here/ember-distro-report.service")
dir=$distro_cache/distro-rootfs-$key

cache_lock
if [ -f "$dir/KEY" ]; then
	say CACHED "distro-rootfs-$key" >&2
else
	mirror=$(bash "$here/mirror.sh" "$suite")
	newtmp rootfs
	root=$tmp/root
	say DEBOOT "$suite minbase + $include (apt's mirror)" >&2
	if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" \
		>"$tmp/debootstrap.log" 2>&1; then
		tail -n 20 "$tmp/debootstrap.log" >&2
		die "debootstrap failed (log above)"
	fi
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	kver=$(awk '/^release/ {print $2}' "$kdir/KEY")
	mkdir -p "$root/lib/modules"
	cp -a "$kdir/lib/modules/$kver" "$root/lib/modules/"
	echo ember-debian >"$root/etc/hostname"
	echo "$machine_id" >"$root/etc/machine-id"
	printf '/dev/vda / ext4 defaults 0 0\n' >"$root/etc/fstab"
	# For debugging by hand on the serial console: root without a password.
	chroot "$root" passwd -d root >/dev/null
	install -D -m 0755 "$here/ember-distro-report" "$root/usr/local/sbin/ember-distro-report"
	install -D -m 0644 "$here/ember-distro-report.service" \
		"$root/etc/systemd/system/ember-distro-report.service"
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
	ln -sf ../ember-distro-report.service \
		"$root/etc/systemd/system/multi-user.target.wants/ember-distro-report.service"
	mkdir -p "$tmp/out"
	say EXT4 "rootfs.ext4 (${image_mib} MiB, $(du -sm "$root" | cut -f1) MiB used)" >&2
	truncate -s "${image_mib}M" "$tmp/out/rootfs.ext4"
	mkfs.ext4 -q -F -L debian-root -d "$root" "$tmp/out/rootfs.ext4"
	e2fsck -fn "$tmp/out/rootfs.ext4" >/dev/null 2>&1 || die "rootfs.ext4 fails e2fsck"
	{
		printf 'kernel %s\nsuite %s\ninclude %s\n' "$(basename "$kdir")" "$suite" "$include"
		printf 'debootstrap %s\ne2fsprogs %s\n' "$(pkgver debootstrap)" "$(pkgver e2fsprogs)"
		printf 'systemd %s\n' "$(chroot "$root" dpkg-query -W -f='${Version}' systemd)"
	} >"$tmp/out/KEY"
	cp "$tmp/debootstrap.log" "$tmp/out/"
	mv "$tmp/out" "$dir"
fi
prune distro-rootfs "$dir"
echo "$dir"
