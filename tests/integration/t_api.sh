# The REST API as an orchestrator meets it: Firecracker's getting-started
# sequence over `curl --unix-socket`, pause/resume of a running guest,
# errors, limits, metrics, and the socket's life.

# api_start NAME [ember flags...]: starts ember on $TEST_TMP/NAME.sock with
# its console and log in $TEST_TMP/NAME.out; sets API_PID, API_SOCK, API_OUT.
api_start() {
	local name=$1
	shift
	API_SOCK=$TEST_TMP/$name.sock
	API_OUT=$TEST_TMP/$name.out
	"$EMBER" --api-sock "$API_SOCK" "$@" </dev/null >"$API_OUT" 2>&1 &
	API_PID=$!
	local i
	# Ready once a request gets an answer (a stale socket file may exist
	# before ember replaces it).
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 --unix-socket "$API_SOCK" http://localhost/ && return 0
		kill -0 "$API_PID" 2>/dev/null || fail "ember died: $(cat "$API_OUT")"
		sleep 0.05
	done
	fail "no answer on the socket after 5 s: $(cat "$API_OUT")"
}

# api STATUS METHOD PATH [BODY]: one request; the reply body is left in
# $TEST_TMP/body. Fails unless the status is STATUS.
api() {
	local want=$1 method=$2 path=$3 body=${4-} got
	local args=(-s -o "$TEST_TMP/body" -w '%{http_code}' --max-time 10 --unix-socket "$API_SOCK" -X "$method")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
	: >"$TEST_TMP/body"
	got=$(curl "${args[@]}" "http://localhost$path") || true
	api_record "$method" "$path" "$got" "$TEST_TMP/body"
	[ "$got" = "$want" ] || fail "$method $path $body: got $got, want $want: $(cat "$TEST_TMP/body")"
}

body_has() {
	grep -qF -- "$1" "$TEST_TMP/body" || fail "reply lacks '$1': $(cat "$TEST_TMP/body")"
}

body_lacks() {
	! grep -qF -- "$1" "$TEST_TMP/body" || fail "reply has '$1': $(cat "$TEST_TMP/body")"
}

# wait_for PATTERN FILE [TENTHS]: until grep finds it, or fail.
wait_for() {
	local i
	for i in $(seq "${3:-100}"); do
		grep -q -- "$1" "$2" && return 0
		sleep 0.1
	done
	fail "'$1' never showed in $2: $(tail -n 20 "$2")"
}

# api_stop [CODE]: SIGTERM, expect exit CODE (143) and the socket gone.
api_stop() {
	local want=${1:-143} rc=0
	kill -TERM "$API_PID" 2>/dev/null || true
	wait "$API_PID" || rc=$?
	[ "$rc" -eq "$want" ] || fail "exit $rc, want $want: $(tail -n 20 "$API_OUT")"
	[ ! -e "$API_SOCK" ] || fail "socket left behind"
}

# configure GUEST: boot-source and machine-config for a bare-metal guest.
configure() {
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/$1.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
}

# getting_started ACCEL: the whole sequence on one backend.
getting_started() {
	local accel=$1
	need_accel "$accel"
	api_start "gs-$accel" --id api-test
	api 200 GET /
	body_has '"id":"api-test"'
	body_has '"state":"Not started"'
	body_has '"app_name":"Ember"'
	api 200 GET /version
	body_has '"firecracker_version"'
	# Firecracker's getting-started order: logger, boot-source, machine-config, start.
	local log=$TEST_TMP/gs-$accel.log
	api 204 PUT /logger "{\"log_path\": \"$log\", \"level\": \"Info\", \"show_level\": true, \"show_log_origin\": true}"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\", \"boot_args\": \"console=ttyS0\"}"
	# The software CPU runs one vCPU so far.
	local vcpus=2
	[ "$accel" = tcg ] && vcpus=1
	api 204 PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": 64, \"accel\": \"$accel\"}"
	api 200 GET /machine-config
	body_has "\"vcpu_count\":$vcpus"
	api 200 GET /vm/config
	body_has "\"kernel_image_path\":\"$GUESTS/ticker.elf\""
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "ticker: running" "$API_OUT"
	wait_for "VM built on $accel" "$log"
	grep -q ":Info:runtime/control/controller.c:" "$log" || fail "log lacks level/origin: $(cat "$log")"
	api 200 GET /
	body_has '"state":"Running"'

	# Paused: the guest prints nothing more.
	wait_for "EMBER-TEST tick" "$API_OUT"
	api 204 PATCH /vm '{"state": "Paused"}'
	api 200 GET /
	body_has '"state":"Paused"'
	local before after
	before=$(grep -c "EMBER-TEST tick" "$API_OUT")
	sleep 1.5
	after=$(grep -c "EMBER-TEST tick" "$API_OUT")
	[ "$before" -eq "$after" ] || fail "guest ran while paused: $before -> $after ticks"
	api 204 PATCH /vm '{"state": "Paused"}' # idempotent
	api 204 PATCH /vm '{"state": "Resumed"}'
	api 200 GET /
	body_has '"state":"Running"'
	local i
	for i in $(seq 100); do
		[ "$(grep -c "EMBER-TEST tick" "$API_OUT")" -gt "$after" ] && break
		sleep 0.1
	done
	[ "$(grep -c "EMBER-TEST tick" "$API_OUT")" -gt "$after" ] || fail "guest did not resume"

	# Pre-boot-only resources refuse changes now.
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	body_has "not supported after starting the microVM"
	api 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	api_stop 143
}

test_api_getting_started_and_pause_kvm() { getting_started kvm; }
test_api_getting_started_and_pause_tcg() { getting_started tcg; }

test_api_guest_end_ends_process() {
	# The hello guest resets itself: ember exits 0 and removes its socket.
	need_accel kvm
	api_start end
	configure hello
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	local rc=0
	timeout 20 tail --pid="$API_PID" -f /dev/null || fail "ember still running"
	wait "$API_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc: $(cat "$API_OUT")"
	grep -q "EMBER-TEST-OK hello" "$API_OUT" || fail "$(cat "$API_OUT")"
	[ ! -e "$API_SOCK" ] || fail "socket left behind"
}

test_api_errors_name_the_problem() {
	api_start err
	api 400 GET /nope
	body_has '"fault_message":"Invalid request method and/or path: GET /nope."'
	api 400 DELETE /machine-config
	api 400 PUT /machine-config '{"vcpu_count": 1'
	body_has 'invalid JSON body'
	api 400 PUT /machine-config '{"vcpu_count": 99, "mem_size_mib": 64}'
	body_has 'vcpu_count'
	api 400 PUT /drives/a '{"drive_id": "b", "path_on_host": "/x", "is_root_device": false, "is_read_only": false}'
	body_has 'does not match'
	api 400 PATCH /vm '{"state": "Paused"}'
	body_has 'before starting the microVM'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has 'kernel_image_path is not set'
	api 400 PUT /snapshot/create '{"snapshot_path": "/s", "mem_file_path": "/m"}'
	body_has 'not supported before starting the microVM'
	api 400 PUT /balloon '{"amount_mib": 1, "deflate_on_oom": true}'
	body_has 'balloon'
	api 400 GET /machine-config '{"x": 1}'
	# Path bytes libmicrohttpd would decode into the path: %00 used to cut
	# it short (this answered 200 as GET /version).
	api 400 GET '/version%00x'
	body_has 'Invalid path: \"%00\" at offset 8 decodes to a NUL byte'
	api 400 PUT '/drives/a%0ab' '{"drive_id": "a"}'
	body_has 'decodes to byte 0x0a'
	api 200 GET /
	body_has '"state":"Not started"'
	api_stop 143
}

test_api_failed_start_can_be_fixed() {
	# A drive whose image is missing is refused at its PUT, naming it (as
	# Firecracker); a start that fails for what only the build finds (nine
	# vCPUs on the software CPU, where the backend is there) says why, the
	# VM stays "Not started", the configuration is fixed and the start retried.
	need_accel kvm
	api_start drv
	configure spin
	api 400 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TEST_TMP/missing.img\", \"is_root_device\": true, \"is_read_only\": true}"
	body_has "path_on_host $TEST_TMP/missing.img: cannot open it for reading (is_read_only true): No such file or directory"
	if [[ " $(ember_accels) " = *" tcg "* ]]; then
		api 204 PUT /machine-config '{"vcpu_count": 9, "mem_size_mib": 64, "accel": "tcg"}'
		api 400 PUT /actions '{"action_type": "InstanceStart"}'
		body_has 'vcpu_count 9: the software CPU (tcg) runs at most 8 vCPUs'
		api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
	fi
	api 200 GET /
	body_has '"state":"Not started"'
	truncate -s 1M "$TEST_TMP/disk.img"
	api 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TEST_TMP/disk.img\", \"is_root_device\": true, \"is_read_only\": true}"
	api 200 GET /vm/config
	body_has '"path_on_host":"'"$TEST_TMP/disk.img"'"'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "spin: running" "$API_OUT"
	api 200 GET /
	body_has '"state":"Running"'
	# PATCH swaps the running drive's backing file.
	truncate -s 2M "$TEST_TMP/disk2.img"
	api 204 PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TEST_TMP/disk2.img\"}"
	api 200 GET /vm/config
	body_has '"path_on_host":"'"$TEST_TMP/disk2.img"'"'
	api 400 PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$TEST_TMP/gone.img\"}"
	body_has 'gone.img'
	api 400 PATCH /drives/other '{"drive_id": "other", "path_on_host": "/x"}'
	body_has 'does not exist'
	api 200 GET /vm/config
	body_has '"path_on_host":"'"$TEST_TMP/disk2.img"'"'
	api_stop 143
}

test_api_limits() {
	need_accel kvm
	api_start lim
	configure ticker
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "ticker: running" "$API_OUT"
	# Oversized body, too many headers, malformed HTTP, a stalled client
	# and a connection flood; the guest keeps running and GET / still works.
	python3 - "$API_SOCK" <<'PY' || fail "limits check failed"
import socket, sys, time
path = sys.argv[1]

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s

def ask(raw):
    s = conn()
    s.sendall(raw)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data

def status(data):
    return data.split(b"\r\n", 1)[0]

body = b'{"kernel_image_path": "' + b"x" * 60000 + b'"}'
r = ask(b"PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
assert status(r) == b"HTTP/1.1 400 Bad Request", r[:200]
assert b"larger than the limit" in r, r
r = ask(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n")
assert status(r) == b"HTTP/1.1 400 Bad Request" and b"Too many headers" in r, r[:300]
# Malformed HTTP: libmicrohttpd answers 400 (its own HTML body) or, for a
# request line it cannot split at all, just closes the connection.
r = ask(b"GARBAGE\r\n\r\n")
assert r == b"" or status(r).startswith(b"HTTP/1.1 400"), r[:200]
r = ask(b"GET / HTTP/1.1\r\nNoColonHeader\r\n\r\n")
assert status(r).startswith(b"HTTP/1.1 400"), r[:200]
r = ask(b"GET /\r\n\r\n")
assert status(r).startswith(b"HTTP/1.1 400"), r[:200]
r = ask(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
assert status(r).startswith(b"HTTP/1.1 400"), r[:200]
# A client that stops half-way through its request holds no one up.
stalled = conn()
stalled.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
r = ask(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert b'"state":"Running"' in r, r
# A flood of idle connections: the ones over the limit are refused.
flood = []
refused = 0
for i in range(48):
    try:
        s = conn()
        flood.append(s)
    except OSError:
        refused += 1
time.sleep(0.5)
for s in flood:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            refused += 1
    except socket.timeout:
        pass
    except OSError:
        refused += 1
assert refused > 0, "no connection refused"
for s in flood:
    s.close()
stalled.close()
time.sleep(0.5)
r = ask(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert b'"state":"Running"' in r, r
PY
	local before i
	before=$(grep -c "EMBER-TEST tick" "$API_OUT")
	for i in $(seq 100); do
		[ "$(grep -c "EMBER-TEST tick" "$API_OUT")" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$(grep -c "EMBER-TEST tick" "$API_OUT")" -gt "$before" ] || fail "guest stalled"
	api 200 GET /
	api_stop 143
}

test_api_slow_clients_cut_at_the_deadline() {
	# 32 clients sending one header byte a second (never idle for the 10 s
	# idle timeout) take every connection slot. Each is cut 10 s after its
	# first byte, and a well-behaved client, refused while they hold the
	# slots, is answered then. Without the deadline they held them forever.
	api_start slow
	api 204 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/slow.metrics\"}"
	python3 - "$API_SOCK" <<'PY' || fail "slow clients: $(tail -n 5 "$API_OUT")"
import socket, sys, time
path = sys.argv[1]

def get():
    """GET / on a new connection: its status line, or None if refused."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = s.recv(4096)
    except OSError:
        data = b""
    s.close()
    return data.split(b"\r\n", 1)[0] if data else None

slow = []
for _ in range(32):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    slow.append(s)
line = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
start = time.monotonic()
closed, served, refused, step = {}, None, 0, 0
# Until the good client is served and every slow one cut: each is cut 10 s
# after its own first byte reached the server, so they may close a round
# apart, some after the good client got a freed slot.
while (served is None or len(closed) < 32) and time.monotonic() - start < 16:
    now = time.monotonic() - start
    for n, s in enumerate(slow):
        if n in closed:
            continue
        try:
            if step % 2 == 0:
                s.send(line[step // 2:step // 2 + 1])
            if s.recv(1) == b"":
                closed[n] = now
        except BlockingIOError:
            pass
        except OSError:
            closed[n] = now
    if now >= 2 and served is None:
        if get() == b"HTTP/1.1 200 OK":
            served = now
        else:
            refused += 1
    step += 1
    time.sleep(0.5)
print(f"slow clients closed at {sorted(closed.values())[:1]}..{sorted(closed.values())[-1:]} s,"
      f" good client refused {refused} times, served at {served} s")
assert refused > 0, "the slow clients never held every slot"
assert served is not None and 9 <= served <= 13, served
assert len(closed) == 32 and all(9 <= t <= 13 for t in closed.values()), closed
PY
	api 200 GET /
	api 204 PUT /actions '{"action_type": "FlushMetrics"}'
	grep -q '"request_timeout_count":32' "$TEST_TMP/slow.metrics" || fail "$(cat "$TEST_TMP/slow.metrics")"
	api_stop 143
}

test_api_metrics() {
	need_accel kvm
	api_start met
	api 204 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/met.metrics\"}"
	configure spin
	api 400 PUT /drives/x '{}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "spin: running" "$API_OUT"
	api 204 PUT /actions '{"action_type": "FlushMetrics"}'
	python3 - "$TEST_TMP/met.metrics" <<'PY' || fail "metrics: $(cat "$TEST_TMP/met.metrics")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
m = lines[-1]
put = m["put_api_requests"]
assert put["boot_source_count"] == 1 and put["machine_cfg_count"] == 1, put
assert put["drive_count"] == 1 and put["drive_fails"] == 1, put
assert put["metrics_count"] == 1 and put["actions_count"] >= 1, put
assert m["uart"]["write_count"] >= len("EMBER-TEST spin: running\n"), m["uart"]
assert "utc_timestamp_ms" in m and "logger" in m
PY
	api_stop 143
	# The last line is written on the way out.
	[ "$(wc -l <"$TEST_TMP/met.metrics")" -ge 2 ] || fail "no final metrics line"
}

test_api_metrics_no_api_mode() {
	need_accel kvm
	write_config "$TEST_TMP/m.json" "$GUESTS/hello.elf"
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/m.json" --accel kvm \
		--metrics-path "$TEST_TMP/cli.metrics" </dev/null >"$TEST_TMP/out" 2>&1 ||
		fail "exit $?: $(cat "$TEST_TMP/out")"
	grep -q '"uart":{[^}]*"write_count":[1-9]' "$TEST_TMP/cli.metrics" ||
		fail "$(cat "$TEST_TMP/cli.metrics")"
	# The config file's "metrics" section works too.
	cat >"$TEST_TMP/m2.json" <<JSON
{ "boot-source": { "kernel_image_path": "$GUESTS/hello.elf" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
  "metrics": { "metrics_path": "$TEST_TMP/file.metrics" } }
JSON
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/m2.json" --accel kvm </dev/null >"$TEST_TMP/out" 2>&1 ||
		fail "exit $?: $(cat "$TEST_TMP/out")"
	grep -q '"put_api_requests"' "$TEST_TMP/file.metrics" || fail "$(cat "$TEST_TMP/file.metrics")"
}

test_api_config_file_boots_with_api() {
	need_accel kvm
	write_config "$TEST_TMP/cf.json" "$GUESTS/spin.elf"
	api_start cf --config-file "$TEST_TMP/cf.json" --accel kvm
	wait_for "spin: running" "$API_OUT"
	api 200 GET /
	body_has '"state":"Running"'
	api_stop 143
}

test_api_socket_life() {
	# Before any request: SIGTERM ends it with 143 and removes the socket.
	api_start life
	api_stop 143
	# A stale socket (its process gone) is replaced ...
	python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$TEST_TMP/life.sock"
	[ -S "$TEST_TMP/life.sock" ] || fail "no stale socket made"
	api_start life
	api 200 GET /
	# ... a live one is not taken over.
	local rc=0
	"$EMBER" --api-sock "$API_SOCK" </dev/null >"$TEST_TMP/second.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "second ember took a live socket"
	grep -q "another process is serving it" "$TEST_TMP/second.out" || fail "$(cat "$TEST_TMP/second.out")"
	api 200 GET /
	api_stop 143
	# Not a socket: refused, left alone.
	echo data >"$TEST_TMP/file.sock"
	rc=0
	"$EMBER" --api-sock "$TEST_TMP/file.sock" </dev/null >"$TEST_TMP/third.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] && [ -f "$TEST_TMP/file.sock" ] || fail "rc $rc: $(cat "$TEST_TMP/third.out")"
}

test_api_socket_owner_only_from_bind() {
	# The socket is 0600 the moment bind creates it, whatever the umask:
	# a shim around bind() stats the file before ember's next call.
	local d=$TEST_TMP/bindmode
	mkdir -p "$d"
	cat >"$d/shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int bind(int fd, const struct sockaddr *a, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) = dlsym(RTLD_NEXT, "bind");
	int r = real(fd, a, len);
	const char *out = getenv("BINDMODE_OUT");
	struct stat st;
	if (r == 0 && out && a->sa_family == AF_UNIX &&
	    stat(((const struct sockaddr_un *)a)->sun_path, &st) == 0) {
		FILE *f = fopen(out, "a");
		if (f) {
			fprintf(f, "%o\n", (unsigned)(st.st_mode & 07777));
			fclose(f);
		}
	}
	return r;
}
C
	gcc -O1 -shared -fPIC -o "$d/shim.so" "$d/shim.c" -ldl || fail "shim did not build"
	API_SOCK=$TEST_TMP/mode.sock
	(umask 000 && BINDMODE_OUT=$d/modes LD_PRELOAD=$d/shim.so \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		exec "$EMBER" --api-sock "$API_SOCK") </dev/null >"$TEST_TMP/mode.out" 2>&1 &
	API_PID=$!
	local i
	for i in $(seq 50); do
		[ -s "$d/modes" ] && break
		sleep 0.1
	done
	[ "$(cat "$d/modes" 2>/dev/null)" = 600 ] ||
		fail "mode right after bind: $(cat "$d/modes" 2>/dev/null), want 600: $(cat "$TEST_TMP/mode.out")"
	[ "$(stat -c %a "$API_SOCK")" = 600 ] || fail "mode now: $(stat -c %a "$API_SOCK")"
	api 200 GET /
	api_stop 143
}
