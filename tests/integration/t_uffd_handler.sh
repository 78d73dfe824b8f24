# ember-uffd-handler as an orchestrator runs it: one handler per VMM,
# several VMMs restored from one memory file at once, malformed handshakes.
# UFFD_HANDLER and UFFDVMM (a helper that plays a VMM restored with the
# Uffd backend: gm_alloc + vm_uffd_attach, then compares every page with
# the file) default to the builds next to $EMBER.

uffd_bins() {
	UFFD_BIN=${UFFD_HANDLER:-$(dirname "$EMBER")/ember-uffd-handler}
	UFFD_VMM=${UFFDVMM:-$(dirname "$EMBER")/tests/uffdvmm}
	[ -x "$UFFD_BIN" ] || { echo "no ember-uffd-handler at $UFFD_BIN"; exit 77; }
	[ -x "$UFFD_VMM" ] || { echo "no uffdvmm helper at $UFFD_VMM"; exit 77; }
}

need_userfaultfd() {
	[ -r /dev/userfaultfd ] && [ -w /dev/userfaultfd ] || { echo "no usable /dev/userfaultfd"; exit 77; }
}

# uffd_start SOCKET MEMORY_FILE LOG: starts a handler in the background
# (its pid in UFFD_PID) and waits for its socket.
uffd_start() {
	timeout 30 "$UFFD_BIN" "$1" "$2" >"$3.out" 2>"$3.err" &
	UFFD_PID=$!
	local i
	for i in $(seq 100); do
		[ -S "$1" ] && return 0
		kill -0 "$UFFD_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "no socket at $1: $(cat "$3.err")"
}

# uffd_expect_exit PID RC LOG [WORD]: the handler must exit RC; on 1, with
# one line on stderr mentioning WORD.
uffd_expect_exit() {
	local pid=$1 want=$2 log=$3 word=${4-} rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq "$want" ] || fail "handler exit $rc, want $want: $(cat "$log.err")"
	[ -z "$word" ] && return 0
	[ "$(wc -l <"$log.err")" -eq 1 ] || fail "want one line, got: $(cat "$log.err")"
	grep -q -- "$word" "$log.err" || fail "error lacks '$word': $(cat "$log.err")"
}

test_uffd_handler_help_and_arguments() {
	uffd_bins
	local out rc
	out=$("$UFFD_BIN" --help)
	for w in "SOCKET_PATH MEMORY_FILE" "one per VMM" "Exit status"; do
		grep -q -- "$w" <<<"$out" || fail "help lacks $w"
	done
	for args in "" "only-one" "a b c" "--frob a b"; do
		rc=0
		# shellcheck disable=SC2086
		"$UFFD_BIN" $args >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
		[ "$rc" -eq 2 ] || fail "'$args': exit $rc, want 2"
		[ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] || fail "'$args': $(cat "$TEST_TMP/err")"
	done
	rc=0
	"$UFFD_BIN" "$TEST_TMP/s.sock" "$TEST_TMP/none.mem" 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "missing memory file: exit $rc"
	grep -q "memory file $TEST_TMP/none.mem" "$TEST_TMP/err" || fail "$(cat "$TEST_TMP/err")"
	[ ! -e "$TEST_TMP/s.sock" ] || fail "socket made for a missing memory file"
}

# Three clones restored at once from one memory file, each with its own
# handler; every page of each must be the file's, and each handler ends
# when its VMM does.
test_uffd_handler_serves_clones() {
	uffd_bins
	need_userfaultfd
	local mem=$TEST_TMP/clone.mem i pids=() vmms=()
	head -c 16M /dev/urandom >"$mem"
	for i in 0 1 2; do
		uffd_start "$TEST_TMP/clone$i.sock" "$mem" "$TEST_TMP/h$i"
		pids+=("$UFFD_PID")
	done
	for i in 0 1 2; do
		timeout 30 "$UFFD_VMM" "$TEST_TMP/clone$i.sock" "$mem" 16 >"$TEST_TMP/vmm$i.out" 2>&1 &
		vmms+=($!)
	done
	for i in 0 1 2; do
		wait "${vmms[$i]}" || fail "VMM $i: $(cat "$TEST_TMP/vmm$i.out")"
		grep -q "4096 pages, 0 differ" "$TEST_TMP/vmm$i.out" || fail "VMM $i: $(cat "$TEST_TMP/vmm$i.out")"
	done
	for i in 0 1 2; do
		uffd_expect_exit "${pids[$i]}" 0 "$TEST_TMP/h$i"
		[ ! -e "$TEST_TMP/clone$i.sock" ] || fail "socket $i left behind"
	done
}

# send_message SOCKET JSON FD_KIND: a hand-made VMM (python3): FD_KIND is
# uffd (a real userfaultfd), null (/dev/null) or none.
send_message() {
	python3 - "$@" <<'PY'
import fcntl, os, socket, sys
path, msg, kind = sys.argv[1:4]
fds = []
if kind == "uffd":
    dev = os.open("/dev/userfaultfd", os.O_RDWR)
    fds.append(fcntl.ioctl(dev, 0xAA00, os.O_CLOEXEC | os.O_NONBLOCK))  # USERFAULTFD_IOC_NEW
elif kind == "null":
    fds.append(os.open("/dev/null", os.O_RDWR))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
socket.send_fds(s, [msg.encode()], fds)
s.settimeout(10)
s.recv(1)  # until the handler hangs up
PY
}

test_uffd_handler_malformed_messages() {
	uffd_bins
	need_userfaultfd
	command -v python3 >/dev/null || { echo "no python3"; exit 77; }
	local mem=$TEST_TMP/bad.mem sock=$TEST_TMP/bad.sock log=$TEST_TMP/bad n=0
	head -c 1M /dev/zero >"$mem"
	local region='{"base_host_virt_addr":4096,"size":4096,"offset":0,"page_size":4096}'
	while IFS='|' read -r msg kind word; do
		n=$((n + 1))
		uffd_start "$sock" "$mem" "$log$n"
		send_message "$sock" "$msg" "$kind" || fail "sending '$msg'"
		uffd_expect_exit "$UFFD_PID" 1 "$log$n" "$word"
	done <<EOF
not json|uffd|message: not JSON
[]|uffd|0 regions
[$region,$region]|uffd|regions 0 and 1 overlap
[{"base_host_virt_addr":4096,"size":2097152,"offset":0,"page_size":4096}]|uffd|past the end of the memory file
[{"base_host_virt_addr":4096,"size":4096,"offset":0,"page_size":4096,"x":1}]|uffd|unknown field "x"
[$region]|null|not a userfaultfd
[$region]|none|0 file descriptors
EOF
}
