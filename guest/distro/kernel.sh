#!/bin/bash
# Debian's stock cloud kernel, unmodified: vmlinuz (a bzImage), its config
# and its modules (with modules.dep), from the package apt would install.
#
#   guest/distro/kernel.sh       prints the cache entry's path on stdout
#
# Entry distro-kernel-<key>; key: this script and the versions of
# linux-image-cloud-amd64 and of the versioned package it depends on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
need_tools apt-get apt-cache dpkg-deb depmod sha256sum flock

meta=linux-image-cloud-amd64
meta_ver=$(apt-cache policy "$meta" | awk '/Candidate:/ {print $2}')
[ -n "$meta_ver" ] && [ "$meta_ver" != "(none)" ] || die "apt knows no $meta (apt-get update?)"
image=$(apt-cache depends "$meta" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$image" ] || die "cannot tell which kernel package $meta depends on"
image_ver=$(apt-cache policy "$image" | awk '/Candidate:/ {print $2}')
key=$(printf '%s %s\n%s %s\n' "$meta" "$meta_ver" "$image" "$image_ver" |
	recipe_key ember-distro-kernel-v1 "$here/kernel.sh")
dir=$distro_cache/distro-kernel-$key

cache_lock
if [ -f "$dir/KEY" ]; then
	say CACHED "distro-kernel-$key ($image $image_ver)" >&2
else
	newtmp kernel
	say APT "$meta $meta_ver, $image $image_ver" >&2
	# As root in a private directory apt warns that it downloads unsandboxed.
	(cd "$tmp" && apt-get download -q "$meta=$meta_ver" "$image=$image_ver") 2>&1 |
		grep -v 'unsandboxed' >&2 || true
	deb=$(ls "$tmp"/"${image}"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download did not fetch $image"
	dpkg-deb -x "$deb" "$tmp/x"
	kver=${image#linux-image-}
	mkdir -p "$tmp/out/lib/modules"
	cp "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
	cp "$tmp/x/boot/config-$kver" "$tmp/out/config"
	# (The package's System.map is a stub: the symbols are in its -dbg package.)
	mv "$tmp/x/lib/modules/$kver" "$tmp/out/lib/modules/"
	# The package's postinst would run depmod; we do it on the tree.
	depmod -b "$tmp/out" "$kver"
	printf 'release %s\n%s %s\n%s %s\n' "$kver" "$meta" "$meta_ver" "$image" "$image_ver" >"$tmp/out/KEY"
	mv "$tmp/out" "$dir"
fi
prune distro-kernel "$dir"
echo "$dir"
