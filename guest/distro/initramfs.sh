#!/bin/bash
# A busybox initramfs for Debian's stock kernel: the virtio modules the
# kernel builds as modules (see MODULES), /init (loads them; then the check
# or the hand-over to a root filesystem) and /check.
#
#   guest/distro/initramfs.sh KERNEL_ENTRY   prints the cache entry's path
#
# Entry distro-initramfs-<key>; key: the kernel entry's key, this script,
# init, check, and the busybox-static version.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
kdir=${1:?usage: initramfs.sh KERNEL_ENTRY}
need_tools modprobe cpio gzip sha256sum flock
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox not found (package busybox-static)"
[ "$(id -u)" = 0 ] || die "must run as root (the archive holds /dev/console)"

# Built in by Debian (nothing to load): ext4, 8250, i8042, hw_random core.
# Modules: the transport and each device's driver; modprobe adds the rest.
MODULES="virtio_mmio virtio_blk virtio_net vmw_vsock_virtio_transport virtio_rng"

kver=$(awk '/^release/ {print $2}' "$kdir/KEY")
key=$(printf '%s %s\n' "$(basename "$kdir")" "$(pkgver busybox-static)" |
	recipe_key ember-distro-initramfs-v1 "$here/initramfs.sh" "$here/init" "$here/check")
dir=$distro_cache/distro-initramfs-$key

cache_lock
if [ -f "$dir/KEY" ]; then
	say CACHED "distro-initramfs-$key" >&2
else
	newtmp initramfs
	root=$tmp/root
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,newroot,lib/modules}
	install -m 0755 "$busybox" "$root/bin/busybox"
	"$busybox" --list-full | while read -r applet; do
		[ -n "$applet" ] && [ ! -e "$root/$applet" ] && ln -s /bin/busybox "$root/$applet"
	done
	install -m 0755 "$here/init" "$root/init"
	install -m 0755 "$here/check" "$root/check"
	mknod -m 0600 "$root/dev/console" c 5 1
	# Dependencies first, each module once.
	for m in $MODULES; do
		modprobe -d "$kdir" -S "$kver" --show-depends "$m" || die "modprobe cannot resolve $m"
	done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r path; do
		rel=${path#"$kdir/lib/modules/"}
		mkdir -p "$root/lib/modules/$(dirname "$rel")"
		cp "$path" "$root/lib/modules/$rel"
		echo "$rel"
	done >"$root/etc/distro-modules"
	say CPIO "initramfs.cpio.gz ($(wc -l <"$root/etc/distro-modules") modules)" >&2
	mkdir -p "$tmp/out"
	(cd "$root" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9 -n >"$tmp/out/initramfs.cpio.gz"
	printf 'kernel %s\nbusybox-static %s\nmodules %s\n' "$(basename "$kdir")" \
		"$(pkgver busybox-static)" "$MODULES" >"$tmp/out/KEY"
	mv "$tmp/out" "$dir"
fi
prune distro-initramfs "$dir"
echo "$dir"
