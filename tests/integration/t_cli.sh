# The command line and config file as a user meets them: one-line errors,
# exit codes, and the accelerator choice.

test_cli_version_names_backends() {
	"$EMBER" --version | grep -Eq '^ember [0-9.]+ \(backends: kvm' || fail "$("$EMBER" --version)"
}

test_cli_help_lists_flags() {
	local out
	out=$("$EMBER" --help)
	for f in --api-sock --config-file --no-api --id --log-path --level --boot-timer --accel; do
		grep -q -- "$f" <<<"$out" || fail "help lacks $f"
	done
}

test_cli_unknown_flag_is_an_error() {
	local rc=0
	"$EMBER" --frobnicate 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "exit code 0"
	grep -q -- "--frobnicate" "$TEST_TMP/err" || fail "error does not name the flag: $(cat "$TEST_TMP/err")"
}

# config_error JSON FRAGMENT: ember must refuse the file in one line naming FRAGMENT.
config_error() {
	local cfg="$TEST_TMP/bad-$RANDOM.json" rc=0
	printf '%s' "$1" >"$cfg"
	"$EMBER" --no-api --config-file "$cfg" --accel kvm </dev/null >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "accepted: $1"
	[ "$(wc -l <"$TEST_TMP/err")" -eq 1 ] || fail "want one line, got: $(cat "$TEST_TMP/err")"
	grep -q -- "$2" "$TEST_TMP/err" || fail "error does not mention '$2': $(cat "$TEST_TMP/err")"
}

test_config_unknown_field_named() {
	config_error '{"boot-source":{"kernel_image_path":"/x"},"machine-config":{"vcpus":2}}' '"vcpus"'
}

test_config_bad_type_named() {
	config_error '{"boot-source":{"kernel_image_path":"/x"},"machine-config":{"vcpu_count":"two","mem_size_mib":64}}' 'vcpu_count'
}

test_config_out_of_range() {
	config_error '{"boot-source":{"kernel_image_path":"/x"},"machine-config":{"vcpu_count":33,"mem_size_mib":64}}' 'vcpu_count'
}

test_config_malformed_json() {
	config_error '{"boot-source": {' 'line'
}

test_config_unsupported_section() {
	config_error '{"boot-source":{"kernel_image_path":"/x"},"balloon":{"amount_mib":1,"deflate_on_oom":false}}' 'not supported yet'
}

test_config_missing_file() {
	local rc=0
	"$EMBER" --no-api --config-file "$TEST_TMP/nope.json" 2>"$TEST_TMP/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "exit code 0"
	grep -q "nope.json" "$TEST_TMP/err" || fail "$(cat "$TEST_TMP/err")"
}

test_config_missing_kernel_named() {
	config_error "{\"boot-source\":{\"kernel_image_path\":\"$TEST_TMP/no-kernel\"}}" 'no-kernel'
}

test_config_truncated_kernel() {
	head -c 100 "$GUESTS/hello.elf" >"$TEST_TMP/trunc.elf"
	config_error "{\"boot-source\":{\"kernel_image_path\":\"$TEST_TMP/trunc.elf\"}}" 'truncated'
}

test_config_not_a_kernel() {
	printf 'just text, not a kernel\n%.0s' $(seq 100) >"$TEST_TMP/text"
	config_error "{\"boot-source\":{\"kernel_image_path\":\"$TEST_TMP/text\"}}" 'kernel'
}

test_config_cmdline_too_long() {
	local long
	long=$(head -c 70000 /dev/zero | tr '\0' 'a')
	config_error "{\"boot-source\":{\"kernel_image_path\":\"$GUESTS/hello.elf\",\"boot_args\":\"$long\"}}" 'command line'
}

test_config_initrd_too_big() {
	truncate -s 80M "$TEST_TMP/big.initrd"
	config_error "{\"boot-source\":{\"kernel_image_path\":\"$GUESTS/hello.elf\",\"initrd_path\":\"$TEST_TMP/big.initrd\"},\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}" 'initrd'
}

test_accel_auto_explains_choice() {
	# Either KVM passes its self-test and runs the guest, or ember says why
	# not and moves to TCG (which may not be built in yet).
	write_config "$TEST_TMP/auto.json" "$GUESTS/hello.elf"
	local rc=0
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/auto.json" --accel auto --level Info \
		</dev/null >"$TEST_TMP/out" 2>&1 || rc=$?
	if grep -q "KVM passed its self-test" "$TEST_TMP/out"; then
		[ "$rc" -eq 0 ] && grep -q "EMBER-TEST-OK hello" "$TEST_TMP/out" || fail "$(cat "$TEST_TMP/out")"
	else
		grep -q "KVM not usable (self-test guest" "$TEST_TMP/out" || fail "no reason given: $(cat "$TEST_TMP/out")"
	fi
}

test_smp_idle_aps_stop_cleanly() {
	# APs never sent a SIPI sit inside KVM waiting; they must still be
	# kicked and joined when the BSP resets.
	need_accel kvm
	write_config "$TEST_TMP/smp.json" "$GUESTS/hello.elf" "" 64 4
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/smp.json" --accel kvm </dev/null >"$TEST_TMP/out" 2>&1 ||
		fail "exit $?: $(cat "$TEST_TMP/out")"
	grep -q "EMBER-TEST-OK hello" "$TEST_TMP/out" || fail "$(cat "$TEST_TMP/out")"
}

test_memory_above_the_mmio_hole() {
	need_accel kvm
	write_config "$TEST_TMP/big.json" "$GUESTS/hello.elf" "" 4096
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/big.json" --accel kvm </dev/null >"$TEST_TMP/out" 2>&1 ||
		fail "exit $?: $(cat "$TEST_TMP/out")"
	grep -q "EMBER-TEST-OK hello" "$TEST_TMP/out" || fail "$(cat "$TEST_TMP/out")"
}

sigterm_ends() { # ACCEL: SIGTERM ends a running guest within 5 s, exit 143
	need_accel "$1"
	write_config "$TEST_TMP/spin-$1.json" "$GUESTS/spin.elf"
	"$EMBER" --no-api --config-file "$TEST_TMP/spin-$1.json" --accel "$1" </dev/null >"$TEST_TMP/out" 2>&1 &
	local pid=$! rc=0 i
	for i in $(seq 50); do
		grep -q "spin: running" "$TEST_TMP/out" && break
		sleep 0.1
	done
	kill -TERM "$pid"
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "still running 5 s after SIGTERM"; }
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ] || fail "exit $rc after SIGTERM: $(cat "$TEST_TMP/out")"
}

test_sigterm_ends_a_running_guest_kvm() { sigterm_ends kvm; }
test_sigterm_ends_a_running_guest_tcg() { sigterm_ends tcg; }

test_cli_raises_fd_soft_limit() {
	# Under a 1024 soft limit with a higher hard one (the usual login
	# default), ember runs with the hard one and logs the budget.
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=$(cat /proc/sys/fs/nr_open)
	[ "$hard" -gt 1024 ] || { echo "hard fd limit $hard: nothing to raise"; exit 77; }
	local out=$TEST_TMP/fd.out sock=$TEST_TMP/fd.sock i
	(ulimit -Sn 1024 && exec "$EMBER" --api-sock "$sock" --level Info) </dev/null >"$out" 2>&1 &
	local pid=$!
	for i in $(seq 50); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	local soft
	soft=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")
	kill -TERM "$pid"
	wait "$pid" || true
	[ "$soft" = "$hard" ] || fail "soft fd limit $soft, want $hard"
	grep -q "host fd budget: $hard (soft limit was 1024, hard limit $hard)" "$out" ||
		fail "no budget line: $(cat "$out")"
}
