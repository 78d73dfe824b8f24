# MMDS (docs/mmds.md): the API's /mmds and /mmds/config with good and bad
# bodies, the data store's size limit, --metadata, the config file's
# "mmds-config"; then Linux guests on the software CPU reading it with
# busybox wget and nc over a TAP in a network namespace of the test's own,
# V1 (JSON, IMDS text) in one boot and V2 (tokens: none, valid, expired)
# in another, while a packet socket on the TAP checks that no frame for
# the MMDS address ever leaves the VMM.

MM_GUEST_DIR=${EMBER_GUEST_DIR:-build/guest}
MM_TIMEOUT=${EMBER_LINUX_TIMEOUT:-300}

# mm_api STATUS METHOD PATH [BODY]: as t_api.sh's api, on $MM_SOCK.
mm_api() {
	local want=$1 method=$2 path=$3 body=${4-} got
	local args=(-s -o "$TEST_TMP/body" -w '%{http_code}' --max-time 10 --unix-socket "$MM_SOCK" -X "$method")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
	got=$(curl "${args[@]}" "http://localhost$path") || true
	[ "$got" = "$want" ] || fail "$method $path $body: got $got, want $want: $(cat "$TEST_TMP/body")"
}

mm_body() {
	[ "$(cat "$TEST_TMP/body")" = "$1" ] || fail "reply $(cat "$TEST_TMP/body"), want $1"
}

mm_body_has() {
	grep -qF -- "$1" "$TEST_TMP/body" || fail "reply lacks '$1': $(cat "$TEST_TMP/body")"
}

# mm_wait_sock PID: until the API answers.
mm_wait_sock() {
	local i
	for i in $(seq 200); do
		curl -s -o /dev/null --max-time 2 --unix-socket "$MM_SOCK" http://localhost/ && return 0
		kill -0 "$1" 2>/dev/null || fail "ember died: $(cat "$MM_OUT")"
		sleep 0.05
	done
	fail "no answer on $MM_SOCK"
}

test_mmds_api() {
	local d="$TEST_TMP/mmapi"
	mkdir -p "$d"
	MM_SOCK=$d/s.sock MM_OUT=$d/out
	echo '{"latest": {"meta-data": {"ami-id": "ami-1"}}}' >"$d/meta.json"
	"$EMBER" --api-sock "$MM_SOCK" --mmds-size-limit 100 --metadata "$d/meta.json" \
		</dev/null >"$MM_OUT" 2>&1 &
	local pid=$!
	mm_wait_sock "$pid"
	mm_api 200 GET /mmds
	mm_body '{"latest":{"meta-data":{"ami-id":"ami-1"}}}'
	mm_api 204 PATCH /mmds '{"latest": {"meta-data": {"ami-id": null, "x": "y"}}, "n": 1}'
	mm_api 200 GET /mmds
	mm_body_has '"x":"y"'
	mm_body_has '"n":1'
	grep -qF ami-1 "$TEST_TMP/body" && fail "PATCH null did not remove ami-id"
	# 100 bytes: a PUT or a PATCH result over it is refused and changes nothing.
	mm_api 400 PUT /mmds "{\"k\": \"$(printf '%0100d' 0)\"}"
	mm_body_has 'over its limit of 100'
	mm_api 400 PATCH /mmds "{\"k\": \"$(printf '%090d' 0)\"}"
	mm_body_has 'over its limit of 100'
	mm_api 200 GET /mmds
	mm_body_has '"x":"y"'
	mm_api 204 PUT /mmds '{"a": "b"}'
	mm_api 200 GET /mmds
	mm_body '{"a":"b"}'
	mm_api 400 PUT /mmds '[1, 2]'
	mm_body_has 'must be a JSON object'
	mm_api 400 PUT /mmds '{"a": '
	mm_body_has 'invalid JSON body'
	# mmds/config: every field checked, interfaces must exist.
	mm_api 400 PUT /mmds/config '{"network_interfaces": ["eth0"]}'
	mm_body_has 'is no configured network interface'
	mm_api 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "mm9"}'
	mm_api 400 PUT /mmds/config '{"network_interfaces": []}'
	mm_body_has 'network_interfaces'
	mm_api 400 PUT /mmds/config '{"version": "V3", "network_interfaces": ["eth0"]}'
	mm_body_has 'version'
	mm_api 400 PUT /mmds/config '{"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"}'
	mm_body_has 'ipv4_address'
	mm_api 400 PUT /mmds/config '{"network_interfaces": ["eth0"], "ipv4_address": "169.254.0.9"}'
	mm_body_has 'ipv4_address'
	mm_api 400 PUT /mmds/config '{"network_interfaces": ["eth0"], "imds_compat": "yes"}'
	mm_body_has 'imds_compat'
	mm_api 400 PUT /mmds/config '{"network_interfaces": ["eth0"], "bogus": 1}'
	mm_body_has 'unknown field'
	mm_api 400 PUT /mmds/config '{}'
	mm_body_has 'missing field'
	mm_api 204 PUT /mmds/config '{"network_interfaces": ["eth0"], "version": "V2", "ipv4_address": "169.254.170.2", "imds_compat": true}'
	mm_api 200 GET /vm/config
	mm_body_has '"mmds-config":{"version":"V2","network_interfaces":["eth0"],"ipv4_address":"169.254.170.2","imds_compat":true}'
	mm_api 400 PATCH /mmds/config '{}'
	mm_body_has 'Invalid request method and/or path'
	kill -TERM "$pid"
	wait "$pid" || true
	# Without --metadata: an empty store reads as {} and takes no PATCH.
	MM_SOCK=$d/e.sock MM_OUT=$d/eout
	"$EMBER" --api-sock "$MM_SOCK" </dev/null >"$MM_OUT" 2>&1 &
	pid=$!
	mm_wait_sock "$pid"
	mm_api 200 GET /mmds
	mm_body '{}'
	mm_api 400 PATCH /mmds '{"a": 1}'
	mm_body_has 'PUT /mmds first'
	mm_api 204 PUT /mmds "{\"k\": \"$(printf '%050000d' 0)\"}"
	kill -TERM "$pid"
	wait "$pid" || true
	# Start-up errors: one line, exit 1.
	echo '[1]' >"$d/bad.json"
	local rc=0
	"$EMBER" --api-sock "$d/s2.sock" --metadata "$d/bad.json" </dev/null >"$d/out2" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "--metadata with an array: exit $rc"
	grep -q -- '--metadata .*must hold a JSON object' "$d/out2" || fail "$(cat "$d/out2")"
	rc=0
	"$EMBER" --api-sock "$d/s3.sock" --mmds-size-limit 10 --metadata "$d/meta.json" </dev/null \
		>"$d/out3" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "--metadata over --mmds-size-limit: exit $rc"
	grep -q 'over its limit of 10' "$d/out3" || fail "$(cat "$d/out3")"
	write_config "$d/c.json" "$GUESTS/hello.elf"
	python3 - "$d/c.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["mmds-config"] = {"network_interfaces": ["nope"]}
json.dump(c, open(sys.argv[1], "w"))
PY
	rc=0
	"$EMBER" --no-api --config-file "$d/c.json" </dev/null >"$d/out4" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "mmds-config naming no interface: exit $rc"
	grep -q '"nope" is no configured network interface' "$d/out4" || fail "$(cat "$d/out4")"
}

# The in-guest half: "MM: <check> ok" lines. The kernel command line says
# which MMDS version and address this boot has.
mm_guest_script() {
	cat <<'EOF2'
#!/bin/sh
v=$(sed -n 's/.*mmds_test=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
a=$(sed -n 's/.*mmds_addr=\([0-9.]*\).*/\1/p' /proc/cmdline)
echo "MM: start $v $a"
ip link set eth0 up && ip addr add 172.16.0.2/24 dev eth0 && ip route add "$a" dev eth0
ping -c 2 -W 5 172.16.0.1 >/dev/null && echo "MM: ping ok"
get() { wget -q -O - "$@" 2>/tmp/err; }  # (busybox 1.35 static: -T crashes)
is() { [ "$1" = "$2" ] && echo "MM: $3 ok" || echo "MM: $3 FAILED: got [$1] want [$2] $(cat /tmp/err)"; }
status() { get "$@" >/dev/null; sed -n 's/.*HTTP\/1.1 \([0-9]*\).*/\1/p' /tmp/err | head -n 1; }
token() {
	printf 'PUT /latest/api/token HTTP/1.1\r\nHost: %s\r\nX-metadata-token-ttl-seconds: %s\r\n\r\n' "$a" "$1" |
		nc "$a" 80 | tail -n 1
}
if [ "$v" = v1 ]; then
	is "$(get "http://$a/latest/meta-data")" "$(printf 'ami-id\nnetwork/\nreservation-id')" "v1 text listing"
	is "$(get "http://$a/latest/meta-data/ami-id")" "ami-12345678" "v1 text value"
	is "$(get --header 'Accept: application/json' "http://$a/latest/meta-data/ami-id")" '"ami-12345678"' "v1 json value"
	is "$(get --header 'Accept: application/json' "http://$a/latest/meta-data/network")" '{"mac":"06:00:ac:10:00:02"}' "v1 json object"
	is "$(get "http://$a/latest/")" "meta-data/" "v1 trailing slash"
	is "$(status "http://$a/latest/nope")" 404 "v1 not found"
	is "$(get --header 'X-metadata-token: forged' "http://$a/latest/meta-data/ami-id")" "ami-12345678" "v1 ignores a bad token"
	# Many requests in a row: connections are freed.
	n=0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
		[ "$(get "http://$a/latest/meta-data/ami-id")" = ami-12345678 ] && n=$((n + 1))
	done
	is "$n" 25 "v1 25 requests"
else
	is "$(status "http://$a/latest/meta-data/ami-id")" 401 "v2 no token 401"
	t=$(token 60)
	is "$(get --header "X-metadata-token: $t" "http://$a/latest/meta-data/ami-id")" "ami-12345678" "v2 token"
	is "$(get --header "X-metadata-token: $t" --header 'Accept: application/json' "http://$a/latest/meta-data")" \
		'{"ami-id":"ami-12345678","network":{"mac":"06:00:ac:10:00:02"},"reservation-id":"r-1"}' "v2 token json"
	is "$(status --header "X-metadata-token: x$t" "http://$a/latest/meta-data/ami-id")" 401 "v2 forged token 401"
	short=$(token 1)
	sleep 2
	is "$(status --header "X-metadata-token: $short" "http://$a/latest/meta-data/ami-id")" 401 "v2 expired token 401"
	is "$(token 0 | head -c 100 | grep -c .)" 1 "v2 ttl 0 answered"
	# The host changes the data while the guest runs.
	echo "MM: wait-patch"
	i=0
	while [ $i -lt 120 ]; do
		[ "$(get --header "X-metadata-token: $t" "http://$a/latest/meta-data/ami-id")" = ami-patched ] && break
		sleep 0.5
		i=$((i + 1))
	done
	is "$(get --header "X-metadata-token: $t" "http://$a/latest/meta-data/ami-id")" ami-patched "v2 sees PATCH"
fi
echo "MM: end"
EOF2
}

# mm_capture_src: counts the frames on the TAP, and those to or about the
# MMDS address, until the VMM (its parent's pid) is gone.
mm_capture_src() {
	cat <<'PY'
import os, socket, struct, sys, time
ifname, out, pid, addr = sys.argv[1], sys.argv[2], int(sys.argv[3]), socket.inet_aton(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifname, 0))
s.settimeout(0.2)
total = mmds = 0
with open(out, "w") as f:
    print("ready", file=f, flush=True)
    while True:
        try:
            fr = s.recv(65536)
        except socket.timeout:
            try:
                os.kill(pid, 0)
                continue
            except OSError:
                break
        total += 1
        t = struct.unpack("!H", fr[12:14])[0]
        if (t == 0x0806 and addr in fr[14:42]) or (t == 0x0800 and fr[30:34] == addr):
            mmds += 1
            print("mmds frame", fr[:64].hex(), file=f, flush=True)
    print("done total", total, "mmds", mmds, file=f, flush=True)
PY
}

# mm_boot NAME ADDR MODE [--api]: one Linux boot with MMDS on eth0; the
# config file or (--api) the API configures it. Leaves the console in
# $d/NAME.out and the capture in $d/NAME.cap.
mm_boot() {
	local name=$1 addr=$2 mode=$3 how=${4-}
	local cfgjson="$d/$name.json" out="$d/$name.out" cap="$d/$name.cap"
	local args="console=ttyS0 reboot=k panic=1 mmds_test=$mode mmds_addr=$addr"
	local net='{"iface_id": "eth0", "host_dev_name": "mm0", "guest_mac": "06:00:ac:10:00:02"}'
	local mmcfg="{\"network_interfaces\": [\"eth0\"], \"version\": \"${mode^^}\", \"ipv4_address\": \"$addr\"}"
	local wrap=(unshare -n sh -c 'ip link set lo up && ip tuntap add dev mm0 mode tap &&
		ip addr add 172.16.0.1/24 dev mm0 && ip link set mm0 up &&
		{ python3 "$MM_CAP_PY" mm0 "$MM_CAP" $$ "$MM_ADDR" & } &&
		for i in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$MM_CAP" 2>/dev/null && break; sleep 0.1; done &&
		exec "$0" "$@"')
	MM_SOCK=$d/$name.sock MM_OUT=$out
	export MM_CAP_PY="$d/cap.py" MM_CAP="$cap" MM_ADDR="$addr"
	if [ "$how" = --api ]; then
		"${wrap[@]}" timeout -k 10 "$MM_TIMEOUT" "$EMBER" --api-sock "$MM_SOCK" --accel tcg \
			</dev/null >"$out" 2>&1 &
		local vm=$!
		mm_wait_sock "$vm"
		mm_api 204 PUT /boot-source "{\"kernel_image_path\": \"$g/vmlinux\", \"initrd_path\": \"$d/initrd.cpio.gz\", \"boot_args\": \"$args\"}"
		mm_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
		mm_api 204 PUT /network-interfaces/eth0 "$net"
		mm_api 204 PUT /mmds/config "$mmcfg"
		mm_api 204 PUT /mmds "$(cat "$d/meta.json")"
		mm_api 204 PUT /actions '{"action_type": "InstanceStart"}'
		mm_api 400 PUT /mmds/config "$mmcfg"
		mm_body_has 'not supported after starting'
		local i
		for ((i = 0; i < MM_TIMEOUT * 10; i++)); do
			grep -q "MM: wait-patch" "$out" && break
			kill -0 "$vm" 2>/dev/null || break
			sleep 0.1
		done
		mm_api 204 PATCH /mmds '{"latest": {"meta-data": {"ami-id": "ami-patched"}}}'
		mm_api 200 GET /mmds
		mm_body_has 'ami-patched'
		local rc=0
		wait "$vm" || rc=$?
		[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(tail -n 30 "$out")"
	else
		cat >"$cfgjson" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "$args" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 256 },
  "network-interfaces": [ $net ],
  "mmds-config": $mmcfg
}
JSON
		local rc=0
		"${wrap[@]}" timeout -k 10 "$MM_TIMEOUT" "$EMBER" --no-api --config-file "$cfgjson" \
			--metadata "$d/meta.json" --accel tcg </dev/null >"$out" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || fail "ember exited with $rc: $(tail -n 30 "$out")"
	fi
	local i
	for i in $(seq 50); do grep -q "^done" "$cap" 2>/dev/null && break; sleep 0.1; done
	echo "--- $name console ---"
	cat "$out"
	echo "--- $name capture ---"
	cat "$cap"
	grep -q "MM: end" "$out" || fail "$name: the guest script did not finish"
	grep -q "MM: .* FAILED" "$out" && fail "$name: $(grep 'MM: .* FAILED' "$out")"
	grep -q "MM: ping ok" "$out" || fail "$name: the guest cannot reach the TAP"
	grep -q "^done" "$cap" || fail "$name: the capture did not finish"
	grep -q "^done total [1-9][0-9]* mmds 0$" "$cap" ||
		fail "$name: frames for MMDS reached the TAP (or the capture saw nothing): $(tail -n 3 "$cap")"
}

test_mmds_linux_guest() {
	g=$MM_GUEST_DIR
	for f in vmlinux initramfs.cpio.gz; do
		[ -f "$g/$f" ] || { echo "$g/$f missing (make guest)"; exit 77; }
	done
	case " $(ember_accels) " in
	*" tcg "*) ;;
	*) echo "no software CPU in this build"; exit 77 ;;
	esac
	unshare -n true 2>/dev/null && [ -w /dev/net/tun ] ||
		{ echo "no network namespace or /dev/net/tun here"; exit 77; }
	d="$TEST_TMP/mmlinux"
	mkdir -p "$d"
	mm_guest_script >"$d/mm_guest.sh"
	mm_capture_src >"$d/cap.py"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/mm_guest.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/meta.json" <<'JSON'
{"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-1",
                          "network": {"mac": "06:00:ac:10:00:02"}}}}
JSON
	mm_boot v1 169.254.169.254 v1
	local c
	for c in "v1 text listing" "v1 text value" "v1 json value" "v1 json object" \
		"v1 trailing slash" "v1 not found" "v1 ignores a bad token" "v1 25 requests"; do
		grep -q "MM: $c ok" "$d/v1.out" || fail "v1: $c"
	done
	mm_boot v2 169.254.170.2 v2 --api
	for c in "v2 no token 401" "v2 token" "v2 token json" "v2 forged token 401" \
		"v2 expired token 401" "v2 sees PATCH"; do
		grep -q "MM: $c ok" "$d/v2.out" || fail "v2: $c"
	done
}
