# Snapshots over the API, on a bare-metal guest that counts in a register
# and in memory (tests/guests/counter.S): pause, create, kill the VMM,
# load in a new process, and the count goes on from where it stopped.
# Uses api_start/api/wait_for from t_api.sh.

SNAP_GUEST_CFG='"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true'

# The last complete count line of FILE, as a number.
last_count() {
	local hex
	hex=$(grep -ao 'EMBER-TEST count [0-9a-f]\{16\}$' "$1" | tail -n 1 | awk '{print $3}')
	[ -n "$hex" ] || fail "no count in $1: $(tail -n 5 "$1")"
	echo $((16#$hex))
}

# The first complete count line of FILE, as a number.
first_count() {
	local hex
	hex=$(grep -ao 'EMBER-TEST count [0-9a-f]\{16\}$' "$1" | head -n 1 | awk '{print $3}')
	[ -n "$hex" ] || fail "no count in $1: $(tail -n 5 "$1")"
	echo $((16#$hex))
}

# snap_boot NAME ACCEL: an API ember running the counter guest.
snap_boot() {
	api_start "$1"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/counter.elf\"}"
	api 204 PUT /machine-config "{$SNAP_GUEST_CFG, \"accel\": \"$2\"}"
	api 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "EMBER-TEST count 0000000000000003" "$API_OUT" 300
}

# snap_take TYPE STATE MEM: pause (if running) and snapshot.
snap_take() {
	api 204 PUT /snapshot/create \
		"{\"snapshot_type\": \"$1\", \"snapshot_path\": \"$2\", \"mem_file_path\": \"$3\"}"
}

# snap_load_resumed NAME STATE MEM [BACKEND]: a new ember that loads and resumes.
snap_load_resumed() {
	api_start "$1"
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$2\", \"mem_backend\": {\"backend_type\": \"${4:-File}\", \"backend_path\": \"$3\"}, \"resume_vm\": true}"
	api 200 GET /
	body_has '"state":"Running"'
}

# expect_continues BEFORE FILE: FILE's counts go on from BEFORE (the line
# being printed at the pause may finish first), never from the start.
expect_continues() {
	local before=$1 out=$2 first
	wait_for "EMBER-TEST count" "$out" 300
	first=$(first_count "$out")
	[ "$first" -gt "$before" ] && [ "$first" -le $((before + 2)) ] ||
		fail "restored count starts at $first, want $((before + 1)) or so: $(head -n 5 "$out")"
	! grep -aq "counter: running\|MISMATCH" "$out" || fail "the guest restarted or lost its count: $(head -n 5 "$out")"
}

snapshot_counter() { # ACCEL
	local accel=$1 d=$TEST_TMP/snap-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapc1-$accel" "$accel"
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$d/s\", \"mem_file_path\": \"$d/m\"}"
	body_has 'it is Running'
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	kill -KILL "$API_PID"
	wait "$API_PID" 2>/dev/null || true
	rm -f "$API_SOCK"

	api_start "snapc2-$accel"
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}}"
	api 200 GET /
	body_has '"state":"Paused"'
	api 200 GET /vm/config
	body_has "counter.elf"
	body_has '"track_dirty_pages":false'
	api 400 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/counter.elf\"}"
	api 204 PATCH /vm '{"state": "Resumed"}'
	expect_continues "$before" "$API_OUT"
	# Snapshot the restored VM over the files it was restored from (its
	# memory is still mapped from that file): the old file is replaced, not
	# truncated under the mapping, and the new one restores.
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	before=$(last_count "$API_OUT")
	api 204 PATCH /vm '{"state": "Resumed"}'
	wait_for "EMBER-TEST count $(printf '%016x' $((before + 2)))" "$API_OUT" 300
	api_stop
	snap_load_resumed "snapc3-$accel" "$d/state" "$d/mem"
	expect_continues "$before" "$API_OUT"
	api_stop
}

snapshot_bad_files() { # ACCEL: refused clearly; the VMM goes on and a good load works
	local accel=$1 d=$TEST_TMP/snapbad-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapb1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	api_stop

	head -c 100 "$d/state" >"$d/truncated"
	cp "$d/state" "$d/flipped"
	printf '\xff' | dd of="$d/flipped" bs=1 seek=200 conv=notrunc status=none
	head -c 4096 "$d/mem" >"$d/shortmem"
	echo "not a snapshot" >"$d/garbage"
	api_start "snapb2-$accel"
	local f
	for f in truncated flipped garbage nonexistent; do
		api 400 PUT /snapshot/load "{\"snapshot_path\": \"$d/$f\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}}"
		body_has "$d/$f"
		api 200 GET /
		body_has '"state":"Not started"'
	done
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/shortmem\"}}"
	body_has 'shorter than'
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}, \"resume_vm\": true}"
	api 200 GET /
	body_has '"state":"Running"'
	api_stop

	api_start "snapb3-$accel"
	api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/counter.elf\"}"
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_file_path\": \"$d/mem\"}"
	body_has 'after configuring boot-specific resources'
	api_stop
}

snapshot_diff_rebase() { # ACCEL: Full, then Diff; the Diff rebased onto the Full restores
	local accel=$1 d=$TEST_TMP/snapdiff-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapd1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/full.state" "$d/full.mem"
	api 204 PATCH /vm '{"state": "Resumed"}'
	local mid
	mid=$(last_count "$API_OUT")
	wait_for "EMBER-TEST count $(printf '%016x' $((mid + 3)))" "$API_OUT" 300
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Diff "$d/diff.state" "$d/diff.mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	# The diff holds only what changed: far less than the guest's memory.
	local diff_kib full_kib
	diff_kib=$(du -k "$d/diff.mem" | cut -f1)
	full_kib=$(du -k "$d/full.mem" | cut -f1)
	[ "$diff_kib" -lt 1024 ] || fail "Diff memory file holds ${diff_kib} KiB"
	[ "$full_kib" -gt 0 ] || fail "Full memory file is empty"
	cp "$d/full.mem" "$d/merged.mem"
	"$SNAPSHOT_EDITOR" edit-memory rebase --memory-path "$d/merged.mem" --diff-path "$d/diff.mem" ||
		fail "rebase failed"
	snap_load_resumed "snapd2-$accel" "$d/diff.state" "$d/merged.mem"
	expect_continues "$before" "$API_OUT"
	api_stop
	api_start "snapd3-$accel"
	api 400 PUT /snapshot/create "{\"snapshot_path\": \"$d/x\", \"mem_file_path\": \"$d/y\"}"
	api_stop
}

snapshot_clones() { # ACCEL: three VMMs restored from one snapshot at once
	local accel=$1 d=$TEST_TMP/snapclone-$1 i pids=() socks=() outs=()
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapk-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	for i in 1 2 3; do
		snap_load_resumed "snapk$i-$accel" "$d/state" "$d/mem"
		pids+=("$API_PID")
		socks+=("$API_SOCK")
		outs+=("$API_OUT")
	done
	for i in 0 1 2; do
		expect_continues "$before" "${outs[$i]}"
		API_PID=${pids[$i]} API_SOCK=${socks[$i]} API_OUT=${outs[$i]}
		api_stop
	done
}

snapshot_uffd() { # ACCEL: the Uffd memory backend with ember-uffd-handler
	local accel=$1 d=$TEST_TMP/snapuffd-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapu1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	"$UFFD_HANDLER" "$d/uffd.sock" "$d/mem" >"$d/handler.out" 2>&1 &
	local handler=$! i
	for i in $(seq 50); do [ -S "$d/uffd.sock" ] && break; sleep 0.1; done
	snap_load_resumed "snapu2-$accel" "$d/state" "$d/uffd.sock" Uffd
	expect_continues "$before" "$API_OUT"
	api_stop
	# The handler ends when its VMM is gone.
	local rc=0
	for i in $(seq 50); do kill -0 "$handler" 2>/dev/null || break; sleep 0.1; done
	wait "$handler" || rc=$?
	[ "$rc" -eq 0 ] || fail "ember-uffd-handler exited with $rc: $(cat "$d/handler.out")"
}

snapshot_config_file() { # ACCEL: restore at start-up from a config file's snapshot-load
	local accel=$1 d=$TEST_TMP/snapcfg-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapf1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	cat >"$d/restore.json" <<JSON
{
  "snapshot-load": { "snapshot_path": "$d/state",
                     "mem_backend": { "backend_type": "File", "backend_path": "$d/mem" },
                     "resume_vm": true },
  "logger": { "level": "Info" }
}
JSON
	timeout -k 5 10 "$EMBER" --no-api --config-file "$d/restore.json" </dev/null >"$d/out" 2>&1 || true
	expect_continues "$before" "$d/out"
	grep -q "snapshot $d/state loaded" "$d/out" || fail "no load line: $(head -n 5 "$d/out")"
	# Anything but logger and metrics beside it is refused, naming it.
	cat >"$d/bad.json" <<JSON
{ "snapshot-load": { "snapshot_path": "$d/state", "mem_file_path": "$d/mem" },
  "boot-source": { "kernel_image_path": "$GUESTS/counter.elf" } }
JSON
	local rc=0
	"$EMBER" --no-api --config-file "$d/bad.json" </dev/null >"$d/bad.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "a config with boot-source and snapshot-load was accepted"
	grep -q '"boot-source" cannot come with "snapshot-load"' "$d/bad.out" || fail "$(cat "$d/bad.out")"
}

snapshot_clock_realtime() { # ACCEL: a load with clock_realtime after a gap; the count goes on
	local accel=$1 d=$TEST_TMP/snaprt-$1
	need_accel "$accel"
	mkdir -p "$d"
	snap_boot "snapr1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	sleep 0.3
	api_start "snapr2-$accel"
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}, \"resume_vm\": true, \"clock_realtime\": true}"
	expect_continues "$before" "$API_OUT"
	api_stop
}

snapshot_older_devices() { # ACCEL: a snapshot from before the RTC, pvpanic and ACPI PM devices
	local accel=$1 d=$TEST_TMP/snapold-$1 edit
	need_accel "$accel"
	mkdir -p "$d"
	edit=$(dirname "${BASH_SOURCE[0]}")/../tools/snapsections.py
	snap_boot "snapo1-$accel" "$accel"
	api 204 PATCH /vm '{"state": "Paused"}'
	snap_take Full "$d/state" "$d/mem"
	local before
	before=$(last_count "$API_OUT")
	api_stop
	python3 "$edit" "$d/state" "$d/old.state" drop dev/ember_rtc drop dev/ember_pvpanic \
		drop dev/acpi_pm || fail "snapsections"
	python3 "$edit" "$d/state" "$d/nouart.state" drop dev/uart || fail "snapsections"
	api_start "snapo2-$accel"
	# A device snapshots always had is still required.
	api 400 PUT /snapshot/load "{\"snapshot_path\": \"$d/nouart.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}}"
	body_has 'no dev/uart section'
	api 204 PUT /snapshot/load "{\"snapshot_path\": \"$d/old.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$d/mem\"}, \"resume_vm\": true}"
	expect_continues "$before" "$API_OUT"
	grep -q "no dev/ember_rtc section (an older Ember's snapshot): ember_rtc starts as at power-on" \
		"$API_OUT" || fail "the missing section is not logged: $(tail -n 5 "$API_OUT")"
	api_stop
}

for accel in kvm tcg; do
	for t in counter bad_files diff_rebase clones uffd config_file clock_realtime older_devices; do
		eval "test_snapshot_${t}_$accel() { snapshot_$t $accel; }"
	done
done
