#!/bin/bash
# Build the Ember guest kernel from Debian's linux-source-6.1:
#
#   guest/kernel.sh WORKDIR OUTDIR
#
# Unpacks the source in WORKDIR (scratch, several hundred MiB), configures it
# as tinyconfig + guest/kernel.config, checks that no option of the fragment
# was lost, builds, and leaves in OUTDIR: vmlinux, bzImage, config,
# System.map, gen_init_cpio (the kernel's cpio writer, for the initramfs),
# build.log and build-warnings.txt. guest/build.sh calls it on a cache miss;
# the kernel cache key hashes this file and kernel.config.
# Environment: JOBS (default nproc), V=1 shows the build output.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${1:?usage: guest/kernel.sh WORKDIR OUTDIR}
out=${2:?usage: guest/kernel.sh WORKDIR OUTDIR}
jobs=${JOBS:-$(nproc)}
verbose=${V:-0}
ksrc_pkg=linux-source-6.1
ksrc_tar=/usr/src/$ksrc_pkg.tar.xz
fragment=$here/kernel.config

export LC_ALL=C
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

say() { printf '  %-8s%s\n' "$1" "$2"; }
die() { echo "guest/kernel.sh: error: $*" >&2; exit 1; }

# Print every line of fragment $1 that does not hold in final config $2.
# "CONFIG_X=v" must appear verbatim; "# CONFIG_X is not set" means X must
# not be set to anything (absent counts as not set).
config_lost() {
	local line sym got
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			sym=${line%%=*}
			got=$(grep -E "^$sym=" "$2" || true)
			[ "$got" = "$line" ] || echo "$line  (final: ${got:-not set})"
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			got=$(grep -E "^$sym=" "$2" || true)
			[ -z "$got" ] || echo "$line  (final: $got)"
			;;
		esac
	done <"$1"
}

[ -r "$ksrc_tar" ] || die "$ksrc_tar not found (package $ksrc_pkg; run: make deps)"
mkdir -p "$work" "$out"
log=$out/build.log
: >"$log"
start=$(date +%s)

say UNTAR "$ksrc_tar"
tar -xf "$ksrc_tar" -C "$work"
src=$work/$ksrc_pkg
[ -f "$src/Makefile" ] || die "unexpected layout in $ksrc_tar"
kmake() { make -C "$src" ARCH=x86_64 "$@"; }

say CONFIG "tinyconfig + guest/kernel.config"
{
	kmake tinyconfig
	(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$fragment")
	kmake olddefconfig
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "kernel configuration failed (log: $log)"; }
lost=$(config_lost "$fragment" "$src/.config")
if [ -n "$lost" ]; then
	echo "guest/kernel.sh: options of guest/kernel.config lost after olddefconfig:" >&2
	echo "$lost" | sed 's/^/    /' >&2
	die "fix guest/kernel.config (unmet dependency, or selected by another option)"
fi
say CONFIG "all $(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$fragment") options of the fragment hold"

say KERNEL "make -j$jobs vmlinux bzImage (takes minutes on 2 cores)"
if [ "$verbose" = 1 ]; then
	kmake -j"$jobs" vmlinux bzImage 2>&1 | tee -a "$log" || die "kernel build failed (log: $log)"
else
	kmake -j"$jobs" vmlinux bzImage >>"$log" 2>&1 ||
		{ tail -n 40 "$log" >&2; die "kernel build failed (log: $log)"; }
fi
cp "$src/vmlinux" "$src/arch/x86/boot/bzImage" "$src/System.map" "$out/"
cp "$src/.config" "$out/config"
gcc -O2 -o "$out/gen_init_cpio" "$src/usr/gen_init_cpio.c"
grep -iE 'warning' "$log" >"$out/build-warnings.txt" || true
say KERNEL "done in $(($(date +%s) - start))s; $(wc -l <"$out/build-warnings.txt") warning lines in build-warnings.txt"
