# Bare-metal guests, one list, run on every backend this ember has.

baremetal_ok() { # ACCEL GUEST: boots, prints its OK line, ends with code 0
	need_accel "$1"
	run_guest "$1" "$2" || fail "ember exited with $? on $1"$'\n'"$(cat "$TEST_TMP/$2-$1.out")"
	grep -q "EMBER-TEST-OK $2" "$TEST_TMP/$2-$1.out" || fail "no OK line: $(cat "$TEST_TMP/$2-$1.out")"
}

baremetal_boottimer() { # ACCEL
	need_accel "$1"
	run_guest "$1" boottimer --boot-timer --level Info || fail "ember exited with $?"
	local out="$TEST_TMP/boottimer-$1.out"
	grep -q "EMBER-TEST-OK boottimer" "$out" || fail "no OK line: $(cat "$out")"
	grep -Eq "Guest-boot-time = +[0-9]+ us [0-9]+ ms, +[0-9]+ CPU us [0-9]+ CPU ms" "$out" ||
		fail "no boot-time line: $(cat "$out")"
}

baremetal_triplefault() { # ACCEL: a dying guest ends ember with an error naming RIP and bytes
	need_accel "$1"
	local rc=0
	run_guest "$1" triplefault || rc=$?
	local out="$TEST_TMP/triplefault-$1.out"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "exit code $rc, want an error: $(cat "$out")"
	grep -q "about to fault" "$out" || fail "guest did not start: $(cat "$out")"
	grep -Eq "vCPU 0: .* at RIP 0x0*10[0-9a-f]{4}, code bytes: .*0f 0b" "$out" ||
		fail "no fatal-exit report naming RIP and ud2: $(cat "$out")"
}

for accel in kvm tcg; do
	for g in hello pagefault debugregs; do
		eval "test_baremetal_${g}_$accel() { baremetal_ok $accel $g; }"
	done
	eval "test_baremetal_boottimer_$accel() { baremetal_boottimer $accel; }"
	eval "test_baremetal_triplefault_$accel() { baremetal_triplefault $accel; }"
done
