# ember-snapshot-editor as an orchestrator runs it: rebasing a sparse Diff
# memory file onto its base, the state file's version, and its errors.
# SNAPSHOT_EDITOR and MKVMSTATE (a helper that writes a valid state file,
# since the shell cannot compute its CRC) default to the builds next to
# $EMBER.

editor_bin() {
	SNAP_EDITOR=${SNAPSHOT_EDITOR:-$(dirname "$EMBER")/ember-snapshot-editor}
	[ -x "$SNAP_EDITOR" ] || { echo "no ember-snapshot-editor at $SNAP_EDITOR"; exit 77; }
}

# editor_refuses RC WORD ARGS...: the editor must exit RC with one line on
# stderr that mentions WORD.
editor_refuses() {
	local want=$1 word=$2 rc=0
	shift 2
	"$SNAP_EDITOR" "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "exit $rc, want $want: $* ($(cat "$TEST_TMP/err"))"
	[ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] || fail "want one line, got: $(cat "$TEST_TMP/err")"
	grep -q -- "$word" "$TEST_TMP/err" || fail "error lacks '$word': $(cat "$TEST_TMP/err")"
	[ ! -s "$TEST_TMP/out" ] || fail "stdout on error: $(cat "$TEST_TMP/out")"
}

# put_pages FILE OFFSET_KIB COUNT_KIB SOURCE: writes COUNT KiB from SOURCE
# at OFFSET KiB without truncating FILE.
put_pages() {
	dd if="$4" of="$1" bs=1K seek="$2" count="$3" conv=notrunc status=none
}

test_snapshot_editor_help() {
	editor_bin
	local out
	out=$("$SNAP_EDITOR" --help)
	for w in "edit-memory rebase" --memory-path --diff-path "info-vmstate version" --vmstate-path; do
		grep -q -- "$w" <<<"$out" || fail "help lacks $w"
	done
	"$SNAP_EDITOR" info-vmstate version --help | grep -q -- --vmstate-path || fail "subcommand --help"
}

test_snapshot_editor_bad_arguments() {
	editor_bin
	editor_refuses 2 "no command"
	editor_refuses 2 "frobnicate" frobnicate
	editor_refuses 2 "rebase" edit-memory
	editor_refuses 2 "squash" edit-memory squash
	editor_refuses 2 "--diff-path is required" edit-memory rebase --memory-path "$TEST_TMP/m"
	editor_refuses 2 "needs a value" edit-memory rebase --memory-path "$TEST_TMP/m" --diff-path
	editor_refuses 2 "--bogus" edit-memory rebase -m "$TEST_TMP/m" -d "$TEST_TMP/d" --bogus
	editor_refuses 2 "twice" info-vmstate version -v a --vmstate-path=b
	editor_refuses 2 "--vmstate-path is required" info-vmstate version
}

# A base of random pages; a sparse diff with pages dirtied at scattered
# offsets (one of them all zeros, which must land too), a run longer than
# the editor's copy buffer, holes elsewhere, and shorter than the base.
test_snapshot_editor_rebase() {
	editor_bin
	local base=$TEST_TMP/base.mem diff=$TEST_TMP/diff.mem want=$TEST_TMP/want.mem
	head -c 4M /dev/urandom >"$base"
	head -c 2M /dev/urandom >"$TEST_TMP/dirty"
	truncate -s 3584K "$diff"
	put_pages "$diff" 4 4 "$TEST_TMP/dirty"
	put_pages "$diff" 1024 1536 "$TEST_TMP/dirty"
	put_pages "$diff" 3072 4 /dev/zero
	put_pages "$diff" 3580 4 "$TEST_TMP/dirty"
	# Holes are what tells a clean page from a dirty one: without them the
	# editor would copy zeros over the base, rightly.
	local blocks
	blocks=$(stat -c '%b*%B' "$diff")
	[ $((blocks)) -lt $((3584 * 1024)) ] || { echo "$TEST_TMP's filesystem keeps no holes"; exit 77; }

	cp "$base" "$want"
	put_pages "$want" 4 4 "$TEST_TMP/dirty"
	put_pages "$want" 1024 1536 "$TEST_TMP/dirty"
	put_pages "$want" 3072 4 /dev/zero
	put_pages "$want" 3580 4 "$TEST_TMP/dirty"

	"$SNAP_EDITOR" edit-memory rebase --memory-path "$base" --diff-path "$diff" || fail "rebase failed"
	cmp "$base" "$want" || fail "rebased base differs from the expected bytes"
	[ "$(stat -c %s "$base")" -eq $((4 * 1024 * 1024)) ] || fail "base size changed"

	# Applying the same diff again changes nothing; an all-hole diff neither.
	"$SNAP_EDITOR" edit-memory rebase -m "$base" -d "$diff" || fail "second rebase failed"
	cmp "$base" "$want" || fail "second rebase changed the base"
	truncate -s 4M "$TEST_TMP/holes.mem"
	"$SNAP_EDITOR" edit-memory rebase --memory-path="$base" --diff-path="$TEST_TMP/holes.mem" ||
		fail "all-hole rebase failed"
	cmp "$base" "$want" || fail "an all-hole diff changed the base"
}

test_snapshot_editor_rebase_refusals() {
	editor_bin
	local base=$TEST_TMP/base.mem diff=$TEST_TMP/long.mem
	head -c 64K /dev/urandom >"$base"
	cp "$base" "$TEST_TMP/copy.mem"
	truncate -s 68K "$diff"
	put_pages "$diff" 0 4 /dev/zero
	editor_refuses 1 "longer than memory file" edit-memory rebase --memory-path "$base" --diff-path "$diff"
	cmp "$base" "$TEST_TMP/copy.mem" || fail "a refused rebase changed the base"
	editor_refuses 1 "$TEST_TMP/nope.mem" edit-memory rebase --memory-path "$TEST_TMP/nope.mem" --diff-path "$diff"
	editor_refuses 1 "$TEST_TMP/nope.mem" edit-memory rebase --memory-path "$base" --diff-path "$TEST_TMP/nope.mem"
	editor_refuses 1 "not a regular file" edit-memory rebase --memory-path "$base" --diff-path "$TEST_TMP"
}

test_snapshot_editor_vmstate_version() {
	editor_bin
	local mk=${MKVMSTATE:-$(dirname "$EMBER")/tests/mkvmstate} f=$TEST_TMP/vmstate out
	[ -x "$mk" ] || { echo "no mkvmstate helper at $mk"; exit 77; }
	"$mk" "$f" cpu=registers serial:2=fifo || fail "mkvmstate failed"
	out=$("$SNAP_EDITOR" info-vmstate version --vmstate-path "$f")
	[ "$out" = v1 ] || fail "printed '$out', want v1"

	# A later format's file: the version is still readable.
	printf '\x07' | dd of="$f" bs=1 seek=8 conv=notrunc status=none
	out=$("$SNAP_EDITOR" info-vmstate version -v "$f")
	[ "$out" = v7 ] || fail "printed '$out', want v7"

	printf 'this is no snapshot\n' >"$TEST_TMP/garbage"
	editor_refuses 1 "$TEST_TMP/garbage: not an Ember snapshot file" \
		info-vmstate version --vmstate-path "$TEST_TMP/garbage"
	: >"$TEST_TMP/empty"
	editor_refuses 1 "not an Ember snapshot file" info-vmstate version --vmstate-path "$TEST_TMP/empty"
	editor_refuses 1 "$TEST_TMP/missing" info-vmstate version --vmstate-path "$TEST_TMP/missing"
}
