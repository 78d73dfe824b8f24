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

# Several vCPUs run on one host thread on the software CPU: an AP's fatal
# exit must still be reported as that AP's, with its registers.
baremetal_aptriplefault() { # ACCEL
	need_accel "$1"
	local out="$TEST_TMP/aptriplefault-$1.out" rc=0
	write_config "$TEST_TMP/aptriplefault-$1.json" "$GUESTS/aptriplefault.elf" "" 64 2
	timeout 20 "$EMBER" --no-api --config-file "$TEST_TMP/aptriplefault-$1.json" --accel "$1" \
		</dev/null >"$out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "exit code $rc, want an error: $(cat "$out")"
	grep -q "starting the APs" "$out" || fail "guest did not start: $(cat "$out")"
	# A triple fault; nested KVM here fails to emulate the real-mode UD2
	# first (an internal error): either way, vCPU 1's, with its RIP.
	grep -Eq "vCPU 1: (triple fault|KVM internal error).* at RIP 0x0*6," "$out" ||
		fail "the fault is not reported as vCPU 1's: $(cat "$out")"
	! grep -q "vCPU 0: " "$out" || fail "reported as the BSP's: $(cat "$out")"
}

baremetal_rtc() { # ACCEL: the CMOS clock tells the host's UTC time, in BCD and binary
	need_accel "$1"
	local before after out="$TEST_TMP/rtc-$1.out" mode line t
	before=$(date -u +%s)
	run_guest "$1" rtc || fail "ember exited with $?: $(cat "$out")"
	after=$(date -u +%s)
	grep -q "EMBER-TEST-OK rtc" "$out" || fail "no OK line: $(cat "$out")"
	for mode in bcd bin; do
		line=$(sed -n "s/.*EMBER-TEST rtc $mode=\([0-9-]* [0-9:]*\).*/\1/p" "$out")
		[ -n "$line" ] || fail "no $mode time: $(cat "$out")"
		t=$(date -u -d "$line" +%s) || fail "$mode time '$line' is no date"
		echo "$mode: guest $line UTC, host $(date -u -d "@$before" '+%F %T')"
		[ "$t" -ge "$before" ] && [ "$t" -le "$after" ] ||
			fail "$mode time $line is not between $(date -u -d "@$before") and $(date -u -d "@$after")"
	done
}

# KVM's wall clock, which a Linux guest with kvmclock reads instead of the
# RTC: KVM computes it from the host's CLOCK_REALTIME less the VM's
# kvmclock, so a fresh VM must see the host's time.
test_baremetal_kvmclock_kvm() {
	need_accel kvm
	local before after t out="$TEST_TMP/kvmclock-kvm.out"
	before=$(date -u +%s)
	run_guest kvm kvmclock || fail "ember exited with $?: $(cat "$out")"
	after=$(date -u +%s)
	grep -q "EMBER-TEST-OK kvmclock" "$out" || fail "no OK line: $(cat "$out")"
	t=$(sed -n 's/.*EMBER-TEST kvmclock wall=\([0-9]*\).*/\1/p' "$out")
	echo "guest $t, host $before..$after"
	[ -n "$t" ] && [ "$t" -ge "$before" ] && [ "$t" -le "$after" ] ||
		fail "kvmclock wall time $t is not between $before and $after"
}

baremetal_panic() { # ACCEL: a guest's pvpanic write ends ember with 3, before its reset can say 0
	need_accel "$1"
	local rc=0 out="$TEST_TMP/panic-$1.out" m="$TEST_TMP/panic-$1.metrics"
	run_guest "$1" panic --metrics-path "$m" || rc=$?
	[ "$rc" -eq 3 ] || fail "exit code $rc, want 3 (guest panic): $(cat "$out")"
	grep -q "writing PANICKED" "$out" || fail "guest did not start: $(cat "$out")"
	[ "$(grep -c "guest kernel panicked" "$out")" -eq 1 ] || fail "want one panic line: $(cat "$out")"
	tail -n 1 "$m" | grep -q '"ember_pvpanic":{"panic_count":1,' || fail "metrics: $(tail -n 1 "$m")"
}

# Guests on several vCPUs: they find them in the MP table and start the APs
# with INIT-SIPI-SIPI. A backend that runs fewer vCPUs says so at start:
# the test is skipped with its reason.
baremetal_smp() { # ACCEL GUEST VCPUS: prints "EMBER-TEST-OK GUEST cpus=VCPUS"
	need_accel "$1"
	local out="$TEST_TMP/$2$3-$1.out" rc=0
	write_config "$TEST_TMP/$2$3-$1.json" "$GUESTS/$2.elf" "" 64 "$3"
	timeout 60 "$EMBER" --no-api --config-file "$TEST_TMP/$2$3-$1.json" --accel "$1" \
		</dev/null >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && grep -q "vcpu_count $3: .* runs at most" "$out"; then
		grep -o "vcpu_count $3: .*" "$out" | head -n 1
		exit 77
	fi
	[ "$rc" -eq 0 ] || fail "exit $rc: $(cat "$out")"
	grep -q "EMBER-TEST-OK $2 cpus=$3\$" "$out" || fail "$(cat "$out")"
}

for accel in kvm tcg; do
	for n in 1 2 4 8; do
		eval "test_baremetal_smp_${n}_$accel() { baremetal_smp $accel smp $n; }"
		eval "test_baremetal_hammer_${n}_$accel() { baremetal_smp $accel hammer $n; }"
	done
	eval "test_baremetal_rtc_$accel() { baremetal_rtc $accel; }"
	eval "test_baremetal_panic_$accel() { baremetal_panic $accel; }"
	for g in hello pagefault debugregs lapictimer x2apic tscdeadline nmi; do
		eval "test_baremetal_${g}_$accel() { baremetal_ok $accel $g; }"
	done
	eval "test_baremetal_boottimer_$accel() { baremetal_boottimer $accel; }"
	eval "test_baremetal_triplefault_$accel() { baremetal_triplefault $accel; }"
	eval "test_baremetal_aptriplefault_$accel() { baremetal_aptriplefault $accel; }"
done

# SYSENTER, SYSEXIT, SYSCALL by the vendor CPUID.0 names
# (tests/guests/sysenter.S): this host's KVM natively (only what its
# nested instruction emulator can run: "sysenter=cpl0"), the software CPU
# with its own AuthenticAMD (#UD in long mode) and with the Intel-vendor
# template (SYSENTER/SYSEXIT from and to 64-bit and compatibility mode).
SYSENTER_INTEL_TEMPLATE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/cpu-templates/software-cpu-intel.json

baremetal_sysenter() { # ACCEL NAME WANT ARGS [TEMPLATE]
	need_accel "$1"
	local cfg=$TEST_TMP/$2.json out=$TEST_TMP/$2.out tmpl=""
	[ -z "${5:-}" ] || tmpl=", \"cpu-config\": \"$5\""
	cat >"$cfg" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUESTS/sysenter.elf", "boot_args": "$4" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 }$tmpl
}
JSON
	timeout 20 "$EMBER" --no-api --config-file "$cfg" --accel "$1" </dev/null >"$out" 2>&1 ||
		fail "ember exited with $?: $(cat "$out")"
	grep -q "EMBER-TEST-OK sysenter $3\$" "$out" || fail "want 'EMBER-TEST-OK sysenter $3': $(cat "$out")"
}

test_baremetal_sysenter_kvm() {
	local want=amd
	! grep -q GenuineIntel /proc/cpuinfo || want=intel
	baremetal_sysenter kvm sysenter-kvm "$want" sysenter=cpl0
}
test_baremetal_sysenter_tcg() { baremetal_sysenter tcg sysenter-tcg amd ""; }
test_baremetal_sysenter_tcg_cpl0() { baremetal_sysenter tcg sysenter-tcg-cpl0 amd sysenter=cpl0; }
test_baremetal_sysenter_intel_tcg() {
	baremetal_sysenter tcg sysenter-intel-tcg intel "" "$SYSENTER_INTEL_TEMPLATE"
}
test_baremetal_sysenter_intel_tcg_cpl0() {
	baremetal_sysenter tcg sysenter-intel-tcg-cpl0 intel sysenter=cpl0 "$SYSENTER_INTEL_TEMPLATE"
}

# A guest asking the PIT for divisor 1 gets KVM's 200 us floor: the
# software CPU's timer thread wakes at most 5000 times a second (unclamped:
# as often as the host's timer slack lets it: 13000 here, 30% of a CPU).
test_baremetal_pit_divisor_1_tcg() {
	need_accel tcg
	local out=$TEST_TMP/pit1.out i
	write_config "$TEST_TMP/pit1.json" "$GUESTS/pit1.elf"
	"$EMBER" --no-api --config-file "$TEST_TMP/pit1.json" --accel tcg --level Info \
		</dev/null >"$out" 2>&1 &
	local pid=$!
	for i in $(seq 100); do
		grep -q "pit1: running" "$out" && break
		sleep 0.1
	done
	grep -q "pit1: running" "$out" || fail "guest did not start: $(cat "$out")"
	python3 - "$pid" <<'PY' || fail "timer thread too busy"
import os, sys, time
pid = sys.argv[1]

def timer():
    """The timer thread's sleeps so far and its CPU seconds."""
    for t in os.listdir(f"/proc/{pid}/task"):
        stat = open(f"/proc/{pid}/task/{t}/stat").read()
        if stat[stat.index("(") + 1:stat.rindex(")")] != "tcg-timer":
            continue
        f = stat[stat.rindex(")") + 2:].split()
        cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        for line in open(f"/proc/{pid}/task/{t}/status"):
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1]), cpu
    sys.exit("no tcg-timer thread")

(w0, c0), t0 = timer(), time.monotonic()
time.sleep(2)
(w1, c1), t1 = timer(), time.monotonic()
rate, share = (w1 - w0) / (t1 - t0), (c1 - c0) / (t1 - t0)
print(f"timer thread: {rate:.0f} wake-ups/s, {share:.0%} of a CPU")
assert rate <= 5500 and share < 0.5, (rate, share)
PY
	grep -q "PIT period of 839 ns is limited to 200000 ns" "$out" || fail "no clamp line: $(cat "$out")"
	local rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ] || fail "exit $rc: $(cat "$out")"
}
