#!/bin/bash
# Make an initramfs overlay that adds test scripts to the guest:
#
#   guest/mkoverlay.sh OUT.cpio.gz SCRIPT...
#
# OUT.cpio.gz is a gzip'd newc cpio holding each SCRIPT as /init.d/NN-name
# (NN = 01, 02, ... in argument order, mode 0755, owned by root). The guest's
# /init runs /init.d/* in order after printing EMBER-GUEST-READY. Append it
# to the base image; Linux unpacks concatenated archives one after another:
#
#   cat build/guest/initramfs.cpio.gz OUT.cpio.gz > test-initrd.cpio.gz
set -euo pipefail

usage() { echo "usage: $0 OUT.cpio.gz SCRIPT..." >&2; exit 2; }
[ $# -ge 2 ] || usage
out=$1
shift
[ $# -le 99 ] || { echo "$0: at most 99 scripts" >&2; exit 2; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/ember-overlay.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -m 0755 "$stage/init.d"

n=0
for script in "$@"; do
	[ -f "$script" ] && [ -r "$script" ] || { echo "$0: not a readable file: $script" >&2; exit 1; }
	n=$((n + 1))
	name=$(printf '%02d-%s' "$n" "$(basename "$script")")
	install -m 0755 "$script" "$stage/init.d/$name"
done

# Fixed timestamps and root ownership: the same scripts give the same bytes.
find "$stage" -exec touch -h -d @1704067200 {} +
mkdir -p "$(dirname "$out")"
(cd "$stage" && find init.d | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -9 -n >"$out.tmp"
mv -f "$out.tmp" "$out"
