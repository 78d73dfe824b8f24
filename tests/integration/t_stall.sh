# Outputs whose reader stops reading (issue 11): the guest's console or the
# log going into a pipe nobody reads must cost bytes and lines, never the
# API's answers or a prompt end on SIGTERM. Uses t_api.sh's helpers.

# stall_fifo PATH: a FIFO whose only reader holds it open, already full,
# and never reads (a background job: the runner reaps it).
stall_fifo() {
	local fifo=$1
	mkfifo "$fifo"
	python3 -c '
import os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NONBLOCK)
try:
    while True:
        os.write(fd, b"x" * 4096)
except BlockingIOError:
    pass
try:
    while True:
        os.write(fd, b"x")
except BlockingIOError:
    pass
open(sys.argv[1] + ".full", "w").close()
signal.pause()
' "$fifo" &
	local i
	for i in $(seq 50); do
		[ -e "$fifo.full" ] && return 0
		sleep 0.1
	done
	fail "the FIFO holder never filled $fifo"
}

# stall_start NAME STDOUT STDERR [ember flags...]: ember with its API on
# $TEST_TMP/NAME.sock, stdin from the FIFO $TEST_TMP/NAME.in (written
# through fd 8), stdout and stderr where asked. Sets API_PID, API_SOCK.
stall_start() {
	local name=$1 out=$2 err=$3
	shift 3
	API_SOCK=$TEST_TMP/$name.sock
	mkfifo "$TEST_TMP/$name.in"
	exec 8<>"$TEST_TMP/$name.in"
	"$EMBER" --api-sock "$API_SOCK" "$@" <"$TEST_TMP/$name.in" >"$out" 2>"$err" &
	API_PID=$!
	local deadline=$((SECONDS + 5))
	while [ "$SECONDS" -lt "$deadline" ]; do
		curl -s -o /dev/null --max-time 1 --unix-socket "$API_SOCK" http://localhost/ && return 0
		kill -0 "$API_PID" 2>/dev/null || fail "ember died"
		sleep 0.05
	done
	fail "no answer on the socket within 5 s"
}

# quick STATUS METHOD PATH [BODY]: as api, but the answer must come within
# a second.
quick() {
	local want=$1 method=$2 path=$3 body=${4-} got
	local args=(-s -o "$TEST_TMP/body" -w '%{http_code}' --max-time 1 --unix-socket "$API_SOCK" -X "$method")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
	: >"$TEST_TMP/body"
	got=$(curl "${args[@]}" "http://localhost$path") || true
	api_record "$method" "$path" "$got" "$TEST_TMP/body"
	[ "$got" = "$want" ] || fail "$method $path $body: got '$got' within 1 s, want $want"
}

# term_within_a_second: SIGTERM ends ember within a second, exit 143
# (128 + SIGTERM, as api_stop expects).
term_within_a_second() {
	local i rc=0
	kill -TERM "$API_PID"
	for i in $(seq 10); do
		kill -0 "$API_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$API_PID" 2>/dev/null && fail "ember still running 1 s after SIGTERM"
	wait "$API_PID" || rc=$?
	[ "$rc" -eq 143 ] || fail "exit $rc, want 143"
}

# last_metric FILE GROUP NAME: the counter on the metrics file's last line.
last_metric() {
	tail -n 1 "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]][sys.argv[2]])' "$2" "$3"
}

boot_guest() {
	local guest=$1 accel=$2
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/$guest.elf\"}"
	api 204 PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"accel\": \"$accel\"}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
}

# The guest floods a console nobody reads; one byte of console input (the
# VMM thread then wanted the UART lock a blocked vCPU held); the API still
# answers, pauses, and SIGTERM ends the VMM.
stalled_console() {
	local accel=$1
	need_accel "$accel"
	local out=$TEST_TMP/sc-$accel.fifo metrics=$TEST_TMP/sc-$accel.metrics
	stall_fifo "$out"
	stall_start "sc-$accel" "$out" "$TEST_TMP/sc-$accel.log" --metrics-path "$metrics"
	boot_guest flood "$accel"
	sleep 1
	printf 'x' >&8
	sleep 0.2
	quick 200 GET /
	body_has '"state":"Running"'
	quick 204 PATCH /vm '{"state": "Paused"}'
	quick 200 GET /
	body_has '"state":"Paused"'
	quick 204 PATCH /vm '{"state": "Resumed"}'
	sleep 0.5
	term_within_a_second
	# The last metrics line (written at exit) counts what the reader missed.
	local wrote missed
	wrote=$(last_metric "$metrics" uart write_count)
	[ "$wrote" -gt 0 ] || fail "the guest wrote nothing: $(cat "$TEST_TMP/sc-$accel.log")"
	if [ "$accel" = tcg ]; then
		# Fast enough to fill the 64 KiB buffer within the test.
		missed=$(last_metric "$metrics" uart missed_write_count)
		[ "$missed" -gt 0 ] || fail "no byte dropped: $(tail -n 1 "$metrics")"
		grep -q "serial: the console output is not being read" "$TEST_TMP/sc-$accel.log" ||
			fail "no warning: $(cat "$TEST_TMP/sc-$accel.log")"
	fi
}

test_stall_console_kvm() { stalled_console kvm; }
test_stall_console_tcg() { stalled_console tcg; }

# The log (stderr, at Debug) goes into a pipe nobody reads while the guest
# provokes log lines from its vCPU: the API answers, pauses, and SIGTERM
# ends the VMM.
stalled_log() {
	local accel=$1
	need_accel "$accel"
	local err=$TEST_TMP/sl-$accel.fifo out=$TEST_TMP/sl-$accel.out
	stall_fifo "$err"
	stall_start "sl-$accel" "$out" "$err" --level Debug
	boot_guest noisy "$accel"
	wait_for "EMBER-TEST noisy" "$out" 50
	quick 200 GET /
	quick 204 PATCH /vm '{"state": "Paused"}'
	quick 204 PATCH /vm '{"state": "Resumed"}'
	sleep 0.5
	quick 200 GET /
	term_within_a_second
}

test_stall_log_kvm() { stalled_log kvm; }
test_stall_log_tcg() { stalled_log tcg; }

# PUT /logger naming a FIFO nobody reads once hung the VMM thread in open().
test_stall_logger_fifo_without_reader() {
	local fifo=$TEST_TMP/lf.fifo
	mkfifo "$fifo"
	stall_start lf "$TEST_TMP/lf.out" "$TEST_TMP/lf.err"
	quick 204 PUT /logger "{\"log_path\": \"$fifo\", \"level\": \"Debug\"}"
	quick 200 GET /
	quick 200 GET /machine-config
	term_within_a_second
}

# A module that names no source of Ember would silence every line.
test_stall_logger_refuses_unknown_module() {
	stall_start lm "$TEST_TMP/lm.out" "$TEST_TMP/lm.err"
	quick 400 PUT /logger '{"module": "runtime/nosuch", "level": "Debug"}'
	body_has 'module: \"runtime/nosuch\" is no source folder or file of Ember'
	quick 204 PUT /logger '{"module": "runtime/control", "level": "Debug"}'
	term_within_a_second
	write_config "$TEST_TMP/lm.json" "$GUESTS/hello.elf"
	"$EMBER" --module nosuch --no-api --config-file "$TEST_TMP/lm.json" </dev/null >"$TEST_TMP/lm.cli" 2>&1 &&
		fail "--module nosuch accepted"
	grep -q -- "--module nosuch: no source folder or file of Ember" "$TEST_TMP/lm.cli" ||
		fail "$(cat "$TEST_TMP/lm.cli")"
}
