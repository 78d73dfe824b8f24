# What the API checks at the PUT, as Firecracker does: files, the TAP, the
# vsock directory, the serial output file; a refused PUT leaves the old
# value and a good one then boots. The fields Firecracker's swagger has
# that Ember added (serial_out_path, metrics' emit_id and properties, a
# network interface's mtu), through the API and the config file. Uses the
# helpers of t_api.sh (sourced beside it by run.sh).

# A directory mounted read-only, with one file in it: root ignores a file's
# mode bits, not a read-only mount. Unmounted when the test's shell ends.
ro_mount() {
	RO_DIR=$TEST_TMP/ro
	mkdir -p "$RO_DIR"
	mount -t tmpfs -o size=2m tmpfs "$RO_DIR" || { echo "cannot mount a tmpfs here"; exit 77; }
	trap 'umount "$RO_DIR" 2>/dev/null; bg_reap' EXIT
	truncate -s 1M "$RO_DIR/disk.img"
	mount -o remount,ro "$RO_DIR"
}

test_api_checks_at_the_put() {
	need_accel kvm
	ro_mount
	api_start chk
	local tap=embt$$
	drive() { # ID PATH READ_ONLY
		printf '{"drive_id": "%s", "path_on_host": "%s", "is_root_device": false, "is_read_only": %s}' "$1" "$2" "$3"
	}
	# Kernel and initrd: opened for reading at the PUT.
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$TEST_TMP/nokernel\"}"
	body_has "\"fault_message\":\"boot-source: kernel_image_path $TEST_TMP/nokernel: cannot open it for reading: No such file or directory\""
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$TEST_TMP\"}"
	body_has "kernel_image_path $TEST_TMP: not a regular file"
	# A FIFO is refused without opening it (a read-only open would wait
	# for a writer on the VMM thread).
	mkfifo "$TEST_TMP/chk.fifo"
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$TEST_TMP/chk.fifo\"}"
	body_has "kernel_image_path $TEST_TMP/chk.fifo: not a regular file"
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"initrd_path\": \"$TEST_TMP/noinitrd\"}"
	body_has "initrd_path $TEST_TMP/noinitrd: cannot open it for reading: No such file or directory"
	api 200 GET /vm/config
	body_has '"boot-source":{"kernel_image_path":""}'
	# Drives: opened as is_read_only asks.
	api 400 PUT /drives/d1 "$(drive d1 "$TEST_TMP/nodisk" true)"
	body_has "drive \\\"d1\\\": path_on_host $TEST_TMP/nodisk: cannot open it for reading (is_read_only true): No such file or directory"
	api 400 PUT /drives/d1 "$(drive d1 "$RO_DIR/disk.img" false)"
	body_has "path_on_host $RO_DIR/disk.img: cannot open it for reading and writing (is_read_only false): Read-only file system"
	api 400 PUT /drives/d1 "$(drive d1 "$TEST_TMP" true)"
	body_has "not a regular file or block device"
	api 200 GET /vm/config
	body_has '"drives":[]'
	api 204 PUT /drives/d1 "$(drive d1 "$RO_DIR/disk.img" true)"
	# The TAP: TUNSETIFF at the PUT (a name the kernel refuses), the mtu's range.
	api 400 PUT /network-interfaces/n1 '{"iface_id": "n1", "host_dev_name": "lo"}'
	body_has 'network interface \"n1\": host_dev_name: tap lo: TUNSETIFF: Invalid argument'
	api 400 PUT /network-interfaces/n1 "{\"iface_id\": \"n1\", \"host_dev_name\": \"$tap\", \"mtu\": 67}"
	body_has 'field \"mtu\" must be in 68..65535 (got 67)'
	api 400 PUT /network-interfaces/n1 "{\"iface_id\": \"n1\", \"host_dev_name\": \"$tap\", \"mtu\": 65536}"
	api 400 PUT /network-interfaces/n1 "{\"iface_id\": \"n1\", \"host_dev_name\": \"$tap\", \"mtu\": \"1400\"}"
	body_has 'mtu'
	api 200 GET /vm/config
	body_has '"network-interfaces":[]'
	api 204 PUT /network-interfaces/n1 "{\"iface_id\": \"n1\", \"host_dev_name\": \"$tap\", \"mtu\": 1400}"
	# The vsock socket's directory.
	api 400 PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$TEST_TMP/nodir/v.sock\"}"
	body_has "vsock: uds_path $TEST_TMP/nodir/v.sock: directory $TEST_TMP/nodir: No such file or directory"
	api 400 PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$RO_DIR/disk.img/v.sock\"}"
	body_has "is not a directory"
	api 204 PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$TEST_TMP/chk-v.sock\"}"
	# The serial output file.
	api 400 PUT /serial "{\"serial_out_path\": \"$TEST_TMP/nodir/serial\"}"
	body_has "serial: serial_out_path $TEST_TMP/nodir/serial: No such file or directory"
	api 204 PUT /serial "{\"serial_out_path\": \"$TEST_TMP/chk.serial\"}"
	# Checks keep no fd; a replaced serial file's fd is closed: repeated
	# PUTs, good and bad, leave the VMM's fd count as it was.
	local fds i
	fds=$(ls /proc/"$API_PID"/fd | wc -l)
	for i in 1 2 3 4 5 6 7 8; do
		api 204 PUT /drives/d1 "$(drive d1 "$RO_DIR/disk.img" true)"
		api 400 PUT /drives/d1 "$(drive d1 "$RO_DIR/disk.img" false)"
		api 204 PUT /network-interfaces/n1 "{\"iface_id\": \"n1\", \"host_dev_name\": \"$tap\", \"mtu\": 1400}"
		api 400 PUT /network-interfaces/n1 '{"iface_id": "n1", "host_dev_name": "lo"}'
		api 204 PUT /serial "{\"serial_out_path\": \"$TEST_TMP/chk.serial\"}"
		api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	done
	[ "$(ls /proc/"$API_PID"/fd | wc -l)" -eq "$fds" ] ||
		fail "fds: $fds before, $(ls /proc/"$API_PID"/fd | wc -l) after: $(ls -l /proc/"$API_PID"/fd)"
	# Good values replace the refused ones; the guest boots with them.
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
	api 200 GET /vm/config
	body_has "\"kernel_image_path\":\"$GUESTS/hello.elf\""
	body_has "{\"drive_id\":\"d1\",\"is_root_device\":false,\"cache_type\":\"Unsafe\",\"is_read_only\":true,\"path_on_host\":\"$RO_DIR/disk.img\",\"io_engine\":\"Sync\"}"
	body_has "{\"iface_id\":\"n1\",\"host_dev_name\":\"$tap\",\"mtu\":1400}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	local rc=0
	timeout 20 tail --pid="$API_PID" -f /dev/null || fail "ember still running"
	wait "$API_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc: $(cat "$API_OUT")"
	# The console went to serial_out_path, not stdout.
	grep -q "EMBER-TEST-OK hello" "$TEST_TMP/chk.serial" || fail "serial file: $(cat "$TEST_TMP/chk.serial")"
	! grep -q "EMBER-TEST-OK hello" "$API_OUT" || fail "the console reached stdout too"
}

test_api_drive_swapped_for_a_fifo() {
	# The path passed its check at the PUT, then became a FIFO with no
	# writer: InstanceStart refuses it at once instead of waiting in
	# open() on the VMM thread, and the API goes on answering.
	need_accel kvm
	api_start swap
	truncate -s 1M "$TEST_TMP/swap.img"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "kvm"}'
	api 204 PUT /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$TEST_TMP/swap.img\", \"is_root_device\": false, \"is_read_only\": true}"
	rm "$TEST_TMP/swap.img"
	mkfifo "$TEST_TMP/swap.img"
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has "$TEST_TMP/swap.img: not a regular file or block device"
	api 200 GET /
	body_has '"state":"Not started"'
}

test_api_mtu_reaches_the_tap() {
	# The TAP of a running VM has the interface's mtu (SIOCSIFMTU), in a
	# network namespace of its own.
	need_accel kvm
	unshare -n true 2>/dev/null && [ -w /dev/net/tun ] || { echo "no network namespace or /dev/net/tun"; exit 77; }
	API_SOCK=$TEST_TMP/mtu.sock
	API_OUT=$TEST_TMP/mtu.out
	unshare -n sh -c 'ip tuntap add dev mt0 mode tap && exec "$0" "$@"' \
		"$EMBER" --api-sock "$API_SOCK" </dev/null >"$API_OUT" 2>&1 &
	API_PID=$!
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 --unix-socket "$API_SOCK" http://localhost/ && break
		sleep 0.05
	done
	configure spin
	api 204 PUT /network-interfaces/n1 '{"iface_id": "n1", "host_dev_name": "mt0", "mtu": 9000}'
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "spin: running" "$API_OUT"
	local got
	got=$(nsenter -t "$API_PID" -n ip -o link show mt0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	[ "$got" = 9000 ] || fail "the TAP's mtu is $got, want 9000"
	api_stop 143
}

test_api_failed_start_says_why() {
	# What only the build finds comes back in fault_message with its reason.
	need_accel tcg
	api_start why
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\"}"
	api 204 PUT /machine-config '{"vcpu_count": 9, "mem_size_mib": 64, "accel": "tcg"}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has '"fault_message":"cannot build the VM: vcpu_count 9: the software CPU (tcg) runs at most 8 vCPUs"'
	echo '{}' >"$TEST_TMP/notakernel"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$TEST_TMP/notakernel\"}"
	api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "accel": "tcg"}'
	api 400 PUT /actions '{"action_type": "InstanceStart"}'
	body_has "kernel $TEST_TMP/notakernel: not a kernel image"
	api 200 GET /
	body_has '"state":"Not started"'
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\"}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "ticker: running" "$API_OUT"
	api_stop 143
}

test_api_new_fields_bad_bodies() {
	# serial, metrics and mtu: each wrong type, missing or unknown field,
	# value out of range and malformed JSON is a 400 naming the field.
	api_start nf
	api 400 PUT /serial '{"serial_out_path": 1}'
	body_has 'serial: field \"serial_out_path\"'
	api 400 PUT /serial '{"serial_out_path": ""}'
	api 400 PUT /serial '{"serial_path": "/x"}'
	body_has 'unknown field \"serial_path\"'
	api 400 PUT /serial '{"rate_limiter": {"size": 1, "refill_time": 1}}'
	body_has 'rate_limiter'
	api 400 PUT /serial '{"serial_out_path": '
	body_has 'invalid JSON body'
	api 204 PUT /serial '{}'
	api 400 GET /serial
	api 400 PUT /metrics '{"emit_id": true}'
	body_has 'metrics: missing field \"metrics_path\"'
	api 400 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/nf.metrics\", \"emit_id\": \"yes\"}"
	body_has 'emit_id'
	api 400 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/nf.metrics\", \"properties\": {\"a\": 1}}"
	body_has 'field \"properties\": \"a\" must be a string'
	api 400 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/nf.metrics\", \"properties\": []}"
	api 400 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/nf.metrics\", \"emitid\": true}"
	body_has 'unknown field'
	api 400 PUT /metrics '{"metrics_path": '
	api 400 PUT /network-interfaces/n1 '{"iface_id": "n1", "mtu": 1500}'
	body_has 'host_dev_name'
	api 400 PUT /network-interfaces/n1 '{"iface_id": "n1", "host_dev_name": "t0", "mtu": 1500.5}'
	body_has 'mtu'
	api 400 PUT /network-interfaces/n1 '{"iface_id": "n1", "host_dev_name": "t0", "mtus": 1500}'
	body_has 'unknown field'
	# Good: the metrics line carries the id and the properties.
	api 204 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/nf.metrics\", \"emit_id\": true, \"properties\": {\"team\": \"ember\", \"zone\": \"a\"}}"
	api 200 GET /vm/config
	body_has "\"metrics\":{\"metrics_path\":\"$TEST_TMP/nf.metrics\",\"emit_id\":true,\"properties\":{\"team\":\"ember\",\"zone\":\"a\"}}"
	api 204 PUT /actions '{"action_type": "FlushMetrics"}'
	python3 - "$TEST_TMP/nf.metrics" <<'PY' || fail "metrics: $(cat "$TEST_TMP/nf.metrics")"
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert m["id"] == "anonymous-instance", m.get("id")
assert m["properties"] == {"team": "ember", "zone": "a"}, m.get("properties")
PY
	api_stop 143
}

test_api_config_file_checks() {
	# A config file's paths and fields are checked as the PUTs are: one
	# line naming the field, exit 1, no guest started.
	local k=$GUESTS/hello.elf f=$TEST_TMP/cfc.json rc out
	check() { # WHAT EXPECTED-FRAGMENT
		rc=0
		out=$(timeout 20 "$EMBER" --no-api --config-file "$f" --accel kvm </dev/null 2>&1) || rc=$?
		[ "$rc" -eq 1 ] || fail "$1: exit $rc: $out"
		[ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] || fail "$1: not one line: $out"
		[[ "$out" == *"$2"* ]] || fail "$1: '$out' lacks '$2'"
	}
	echo "{\"boot-source\": {\"kernel_image_path\": \"$TEST_TMP/nok\"}}" >"$f"
	check kernel "boot-source: kernel_image_path $TEST_TMP/nok: cannot open it for reading: No such file or directory"
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"$TEST_TMP/nod\", \"is_root_device\": true}]}" >"$f"
	check drive "drives[0] (root): path_on_host $TEST_TMP/nod: cannot open it for reading and writing (is_read_only false)"
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"$TEST_TMP/nodir/v\"}}" >"$f"
	check vsock "vsock: uds_path $TEST_TMP/nodir/v: directory $TEST_TMP/nodir"
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"lo\"}]}" >"$f"
	check tap "network-interfaces[0] (n): host_dev_name: tap lo: TUNSETIFF"
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"t0\", \"mtu\": 70000}]}" >"$f"
	check mtu 'network-interfaces[0]: field "mtu" must be in 68..65535 (got 70000)'
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"metrics\": {\"metrics_path\": \"$TEST_TMP/cf.m\", \"properties\": {\"a\": true}}}" >"$f"
	check metrics 'metrics: field "properties": "a" must be a string'
	# Firecracker's config file has no serial section.
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"serial\": {}}" >"$f"
	check serial 'serial'
	# And a good one with the new fields boots.
	echo "{\"boot-source\": {\"kernel_image_path\": \"$k\"}, \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, \"metrics\": {\"metrics_path\": \"$TEST_TMP/cf.m\", \"emit_id\": true, \"properties\": {\"a\": \"b\"}}}" >"$f"
	rc=0
	out=$(timeout 20 "$EMBER" --no-api --config-file "$f" --accel kvm --id cfcheck </dev/null 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "good file: exit $rc: $out"
	grep -q '"id":"cfcheck","properties":{"a":"b"}' "$TEST_TMP/cf.m" || fail "$(cat "$TEST_TMP/cf.m")"
}

test_api_schemas_catch_mismatches() {
	# The end-of-run schema check fails on what breaks the swagger's shapes,
	# naming the operation: a null where an object goes, a missing required
	# field, an unknown state, a body on a 204, an HTML 400, a 404 that is
	# no Error, an unknown field; and passes answers in their right shape.
	local sdir=$here/../api_schemas d=$TEST_TMP/sc np out rc=0
	np=$("$sdir/install.sh" 2>/dev/null) || fail "cannot install the schema checker's packages"
	mkdir -p "$d"
	rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$d/$4" >>"$d/$5"; printf '%s' "$6" >"$d/$4"; }
	rec GET /vm/config 200 b1 bad '{"balloon":null}'
	rec GET / 200 b2 bad '{"id":"x","state":"Running","vmm_version":"1"}'
	rec GET / 200 b3 bad '{"id":"x","state":"Stopped","vmm_version":"1","app_name":"Ember"}'
	rec PUT /boot-source 204 b4 bad '{}'
	rec GET /nope 400 b5 bad '<html>bad</html>'
	rec GET /version 404 b6 bad '{"firecracker_version":"1"}'
	rec GET /machine-config 200 b7 bad '{"vcpu_count":1,"mem_size_mib":64,"vcpus":2}'
	out=$(NODE_PATH=$np node "$sdir/check.js" "$d/bad") || rc=$?
	[ "$rc" -eq 1 ] || fail "bad answers passed: $out"
	[ "$(grep -c '^MISMATCH' <<<"$out")" -eq 7 ] || fail "not 7 mismatches: $out"
	local w
	for w in "getExportVmConfig: GET /vm/config -> 200: FullVmConfiguration.json: body/balloon must be object" \
		"describeInstance: GET / -> 200: InstanceInfo.json: body must have required property 'app_name'" \
		"body/state must be equal to one of the allowed values" \
		"putGuestBootSource: PUT /boot-source -> 204: a 204 carries no body" \
		"(no such operation): GET /nope -> 400: Error.json: the body is not JSON" \
		"getFirecrackerVersion: GET /version -> 404: Error.json: body must have required property 'fault_message'" \
		"getMachineConfiguration: GET /machine-config -> 200: MachineConfiguration.json: body must NOT have additional properties"; do
		grep -qF -- "$w" <<<"$out" || fail "no '$w' in: $out"
	done
	grep -q 'api schemas: 7 responses checked, 7 failed' <<<"$out" || fail "$out"
	rec GET /vm/config 200 g1 good '{"drives":[],"machine-config":{"vcpu_count":1,"mem_size_mib":64}}'
	rec GET / 200 g2 good '{"id":"x","state":"Paused","vmm_version":"1","app_name":"Ember"}'
	rec PUT /drives/a 204 g3 good ''
	rec GET /nope 400 g4 good '{"fault_message":"Invalid request method and/or path: GET /nope."}'
	out=$(NODE_PATH=$np node "$sdir/check.js" "$d/good") || fail "good answers failed: $out"
	grep -q 'api schemas: 4 responses checked, 0 failed' <<<"$out" || fail "$out"
}
