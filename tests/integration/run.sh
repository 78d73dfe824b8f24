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
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TEST_TMP"' EXIT
# Every API response a test gets (lib.sh's api_record), checked at the end
# against Firecracker's swagger shapes.
export API_RECORDS=$TEST_TMP/api-responses
mkdir "$API_RECORDS.d"
. "$here/lib.sh"

pass=0 fail=0 skip=0
failed=()
for file in "$here"/t_*.sh; do
	# shellcheck source=/dev/null
	. "$file"
done
# ONLY=REGEX runs the tests whose names match (all by default).
for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -E -- "${ONLY:-.}" | sort); do
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
# The responses the tests got, against the swagger's shapes: one more
# test, failing on any mismatch (each named with its operation).
schema_log=$TEST_TMP/api_schemas.log
if [ -n "${ONLY:-}" ] && [ ! -s "$API_RECORDS" ]; then
	skip=$((skip + 1)); printf '[SKIP] api_schemas: the tests chosen made no API call\n'
elif node_path=$("$here/../api_schemas/install.sh" 2>"$schema_log") &&
	NODE_PATH=$node_path node "$here/../api_schemas/check.js" "$API_RECORDS" >>"$schema_log" 2>&1; then
	pass=$((pass + 1)); printf '[PASS] api_schemas: %s\n' "$(tail -n 1 "$schema_log")"
else
	fail=$((fail + 1)); failed+=(api_schemas); printf '[FAIL] api_schemas\n'
	grep -v '^operations seen' "$schema_log" | sed 's/^/    | /' | tail -n 40
fi
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
