#!/usr/bin/env bash
# Integration runner: sources every tests/integration/t_*.sh, runs each
# function named test_* in it (in a subshell, with a timeout) and prints
# "N passed, N failed, N skipped". Needs EMBER (the binary) and GUESTS
# (built bare-metal guests). A test skips by exiting 77.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export EMBER=${EMBER:?EMBER must name the ember binary}
export GUESTS=${GUESTS:?GUESTS must name the built test guests}
export TEST_TMP=$(mktemp -d /tmp/ember-it.XXXXXX)
trap 'rm -rf "$TEST_TMP"' EXIT
. "$here/lib.sh"

pass=0 fail=0 skip=0
failed=()
for file in "$here"/t_*.sh; do
	# shellcheck source=/dev/null
	. "$file"
done
for t in $(declare -F | awk '{print $3}' | grep '^test_' | sort); do
	log="$TEST_TMP/$t.log"
	start=$(date +%s.%N)
	( set -e; trap bg_reap EXIT; "$t" ) >"$log" 2>&1
	rc=$?
	secs=$(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)")
	case $rc in
	0) pass=$((pass + 1)); printf '[PASS] %s (%ss)\n' "$t" "$secs" ;;
	77) skip=$((skip + 1)); printf '[SKIP] %s: %s\n' "$t" "$(tail -n 1 "$log")" ;;
	*) fail=$((fail + 1)); failed+=("$t"); printf '[FAIL] %s (exit %d)\n' "$t" "$rc"
	   sed 's/^/    | /' "$log" | tail -n 40 ;;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
