#!/usr/bin/env bash
# The distro-kernel suite (`make test-distro`): sources every t_*.sh here,
# runs each test_* function (in a subshell) and prints
# "distro: N passed, N failed, N skipped". A test skips by exiting 77.
# Needs EMBER (the binary), DISTRO (the artifacts: make distro) and
# TSC_KHZ_TOOL (build/tests/tsc-khz). TESTS=REGEX runs only matching tests;
# KEEP=1 keeps the consoles and logs (the path is printed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
export EMBER=${EMBER:?EMBER must name the ember binary}
export DISTRO=${DISTRO:?DISTRO must name the distro artifacts (make distro)}
TSC_KHZ_TOOL=${TSC_KHZ_TOOL:?TSC_KHZ_TOOL must name build/tests/tsc-khz}
export TEST_TMP=$(mktemp -d /tmp/ember-distro.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "distro: logs kept in $TEST_TMP"' EXIT
else
	trap 'rm -rf "$TEST_TMP"' EXIT
fi
for f in vmlinuz initramfs.cpio.gz rootfs.ext4; do
	[ -f "$DISTRO/$f" ] || { echo "$DISTRO/$f missing (make distro)"; exit 2; }
done
# Both VMMs get the same tsc_early_khz= (Ember would add its own).
export DISTRO_TSC_KHZ
DISTRO_TSC_KHZ=$("$TSC_KHZ_TOOL") || { echo "cannot measure the host TSC rate"; exit 2; }
. "$here/lib.sh"

pass=0 fail=0 skip=0
for file in "$here"/t_*.sh; do
	# shellcheck source=/dev/null
	. "$file"
done
for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -E -- "${TESTS:-.}" | sort); do
	log="$TEST_TMP/$t.log"
	start=$(date +%s.%N)
	( set -e; trap bg_reap EXIT; "$t" ) >"$log" 2>&1
	rc=$?
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
	case $rc in
	0) pass=$((pass + 1)); printf '[PASS] %s (%ss)\n' "$t" "$secs" ;;
	77) skip=$((skip + 1)); printf '[SKIP] %s: %s\n' "$t" "$(tail -n 1 "$log")" ;;
	*) fail=$((fail + 1)); printf '[FAIL] %s (exit %d, %ss)\n' "$t" "$rc" "$secs"
	   sed 's/^/    | /' "$log" | tail -n 40 ;;
	esac
done
echo "distro: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
