#!/bin/bash
# Build the Ember guest: Linux kernel (vmlinux + bzImage), a busybox
# initramfs and the same userland as an ext4 root filesystem.
#
#   guest/build.sh OUTDIR        (make guest runs it with OUTDIR=build/guest)
#
# Everything is built under the cache directory (EMBER_CACHE, default
# ~/.cache/ember), never in the repository, and kept there under a key that
# hashes the recipe, so a second run only copies files:
#   kernel-<key>/  made by guest/kernel.sh: vmlinux, bzImage, config,
#                  System.map, gen_init_cpio, build.log
#                  key: kernel.config, kernel.sh, linux-source-6.1 version,
#                  gcc and ld versions
#   guest-<key>/   the kernel files plus initramfs.cpio.gz and rootfs.ext4
#                  key: the kernel key, build.sh, init, busybox-static and
#                  e2fsprogs versions
# (Editing init or this script rebuilds the images in seconds; only
# kernel.config or kernel.sh rebuild the kernel.)
# Environment: JOBS (default nproc), V=1 shows the kernel build output.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: guest/build.sh OUTDIR}
cache=${EMBER_CACHE:-$HOME/.cache/ember}
jobs=${JOBS:-$(nproc)}
verbose=${V:-0}
ksrc_pkg=linux-source-6.1
busybox=/bin/busybox
rootfs_mib=32
# Fixed identity and timestamps, so that images differ only when inputs do.
epoch=1704067200
rootfs_uuid=3e6d6265-7200-4775-8573-740000000001
keep_cached=3

export LC_ALL=C

say() { printf '  %-8s%s\n' "$1" "$2"; }
die() { echo "guest/build.sh: error: $*" >&2; exit 1; }

pkgver() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null ||
		die "Debian package $1 is not installed (run: make deps)"
}

for tool in gcc make flex bison bc xz cpio gzip mkfs.ext4 debugfs flock sha256sum; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (run: make deps)"
done
[ -x "$busybox" ] || die "$busybox not found (package busybox-static)"
for f in kernel.config kernel.sh init build.sh; do
	[ -r "$here/$f" ] || die "missing recipe file guest/$f"
done

ksrc_ver=$(pkgver "$ksrc_pkg")
bb_ver=$(pkgver busybox-static)
e2fs_ver=$(pkgver e2fsprogs)
kkey=$({
	echo "ember-kernel-v1 $ksrc_pkg $ksrc_ver"
	gcc --version | head -n1
	ld --version | head -n1
	cat "$here/kernel.config" "$here/kernel.sh"
} | sha256sum | cut -c1-16)
gkey=$({
	echo "ember-guest-v1 $kkey busybox-static $bb_ver e2fsprogs $e2fs_ver"
	cat "$here/build.sh" "$here/init"
} | sha256sum | cut -c1-16)
kdir=$cache/kernel-$kkey
gdir=$cache/guest-$gkey

mkdir -p "$cache"
# One builder at a time: a second `make guest` waits, then finds the cache.
exec 9>"$cache/.lock"
if ! flock -n 9; then
	say WAIT "another guest build holds $cache/.lock"
	flock 9
fi
# Leftovers of an interrupted build (we hold the lock, nobody else uses them).
rm -rf "$cache"/tmp.*

tmpdirs=()
cleanup() { [ ${#tmpdirs[@]} -eq 0 ] || rm -rf "${tmpdirs[@]}"; }
trap cleanup EXIT
# Sets $tmp to a new scratch directory, removed on exit (not a $(...)
# function: the list must be updated in this shell).
newtmp() {
	tmp=$(mktemp -d "$cache/tmp.$1.XXXXXX")
	tmpdirs+=("$tmp")
}

build_kernel() {
	local tmp
	newtmp kernel
	JOBS=$jobs V=$verbose bash "$here/kernel.sh" "$tmp/work" "$tmp/out"
	rm -rf "$tmp/work"
	mv "$tmp/out" "$kdir"
}

# Staging tree of the guest userland: busybox, its applet links, init.
make_root() {
	local root=$1 applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,run,mnt,root,var,init.d}
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	install -m 0755 "$busybox" "$root/bin/busybox"
	install -m 0755 "$here/init" "$root/init"
	install -m 0755 "$here/init" "$root/sbin/init"
	"$busybox" --list-full | while read -r applet; do
		case $applet in
		bin/busybox | sbin/init | "") continue ;;
		esac
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	echo ember >"$root/etc/hostname"
	[ -x "$root/bin/sh" ] || die "busybox has no sh applet"
	# gen_init_cpio and mkfs.ext4 -d copy file mtimes: pin them.
	find "$root" -exec touch -h -d "@$epoch" {} +
}

# gen_init_cpio list for the staging tree, all owned by root. Parents
# come before their children (sorted paths).
cpio_list() {
	local root=$1 p mode
	(cd "$root" && find . -mindepth 1 | sort) | while read -r p; do
		p=${p#.}
		mode=$(stat -c %a "$root$p")
		if [ -L "$root$p" ]; then
			echo "slink $p $(readlink "$root$p") 0777 0 0"
		elif [ -d "$root$p" ]; then
			echo "dir $p $mode 0 0"
		elif [ -f "$root$p" ]; then
			echo "file $p $root$p $mode 0 0"
		else
			die "unexpected file type: $root$p"
		fi
	done
}

build_images() {
	local tmp root
	newtmp guest
	root=$tmp/root
	mkdir -p "$tmp/out"
	make_root "$root"

	say CPIO "initramfs.cpio.gz ($(find "$root" -mindepth 1 | wc -l) entries)"
	# The kernel opens /dev/console before /init runs, so the node must be
	# in the archive (after /dev, which the tree listing holds).
	{ cpio_list "$root"; echo "nod /dev/console 0600 0 0 c 5 1"; } >"$tmp/cpio.list"
	"$kdir/gen_init_cpio" -t "$epoch" "$tmp/cpio.list" | gzip -9 -n >"$tmp/out/initramfs.cpio.gz"

	say EXT4 "rootfs.ext4 (${rootfs_mib} MiB)"
	truncate -s "${rootfs_mib}M" "$tmp/out/rootfs.ext4"
	E2FSPROGS_FAKE_TIME=$epoch mkfs.ext4 -q -F -L ember-root -U "$rootfs_uuid" \
		-E root_owner=0:0,hash_seed=$rootfs_uuid -d "$root" "$tmp/out/rootfs.ext4"
	if [ "$(id -u)" != 0 ]; then
		# mkfs -d copies the builder's uid; the guest expects root.
		(cd "$root" && find . -mindepth 1) | sed 's|^\.||' |
			while read -r p; do printf 'sif %s uid 0\nsif %s gid 0\n' "$p" "$p"; done >"$tmp/own.cmds"
		debugfs -w -f "$tmp/own.cmds" "$tmp/out/rootfs.ext4" >/dev/null 2>&1 ||
			die "debugfs could not chown the rootfs"
	fi
	e2fsck -fn "$tmp/out/rootfs.ext4" >/dev/null 2>&1 || die "rootfs.ext4 fails e2fsck"

	cp "$kdir/vmlinux" "$kdir/bzImage" "$kdir/config" "$kdir/System.map" "$tmp/out/"
	printf 'kernel %s\nguest %s\nlinux-source %s\nbusybox-static %s\ne2fsprogs %s\n' \
		"$kkey" "$gkey" "$ksrc_ver" "$bb_ver" "$e2fs_ver" >"$tmp/out/KEY"
	mv "$tmp/out" "$gdir"
}

if [ -f "$gdir/KEY" ]; then
	say CACHED "guest-$gkey"
else
	if [ -f "$kdir/vmlinux" ]; then
		say CACHED "kernel-$kkey"
	else
		build_kernel
	fi
	build_images
fi
touch "$gdir" "$kdir" 2>/dev/null || true

# Prune all but the most recently used entries of each kind.
for kind in kernel guest; do
	ls -1dt "$cache/$kind"-* 2>/dev/null | tail -n +$((keep_cached + 1)) | while read -r old; do
		[ "$old" = "$gdir" ] || [ "$old" = "$kdir" ] || rm -rf "$old"
	done
done

# Copy, never link: tests may boot the rootfs read-write.
mkdir -p "$out"
for f in vmlinux bzImage config System.map initramfs.cpio.gz rootfs.ext4 KEY; do
	cp --sparse=always "$gdir/$f" "$out/.$f.tmp"
	mv -f "$out/.$f.tmp" "$out/$f"
done
say GUEST "$out: vmlinux bzImage initramfs.cpio.gz rootfs.ext4"
