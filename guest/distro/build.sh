#!/bin/bash
# The distro-kernel artifacts (`make distro`): Debian's stock cloud kernel,
# a busybox initramfs that loads its virtio modules, and a Debian 12 root
# filesystem with systemd. Each is built once into the cache
# (EMBER_CACHE, default ~/.cache/ember) under a key of its recipe, then
# copied to OUTDIR:
#   vmlinuz, config        kernel.sh     distro-kernel-<key>/
#   initramfs.cpio.gz      initramfs.sh  distro-initramfs-<key>/
#   rootfs.ext4            rootfs.sh     distro-rootfs-<key>/
#   KEY                    the three entries' names and package versions
#
#   guest/distro/build.sh OUTDIR     (make distro: OUTDIR=build/distro)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: guest/distro/build.sh OUTDIR}

kdir=$(bash "$here/kernel.sh")
idir=$(bash "$here/initramfs.sh" "$kdir")
rdir=$(bash "$here/rootfs.sh" "$kdir")

mkdir -p "$out"
# Copy, never link: the tests boot copies, but a hand-run boot of
# OUTDIR/rootfs.ext4 must not write into the cache.
for f in "$kdir/vmlinuz" "$kdir/config" "$idir/initramfs.cpio.gz" "$rdir/rootfs.ext4"; do
	cp --sparse=always "$f" "$out/.$(basename "$f").tmp"
	mv -f "$out/.$(basename "$f").tmp" "$out/$(basename "$f")"
done
for d in "$kdir" "$idir" "$rdir"; do
	echo "[$(basename "$d")]"
	cat "$d/KEY"
done >"$out/KEY"
printf '  %-8s%s\n' DISTRO "$out: vmlinuz initramfs.cpio.gz rootfs.ext4 ($(awk '/^release/ {print $2}' "$kdir/KEY"))"
