# Linux guests on the software CPU: vmlinux (PVH entry) and bzImage (64-bit
# boot protocol) each boot the project's initramfs, run a test script from
# an overlay, and end ember with code 0 through `reboot -f`.

LINUX_GUEST=${LINUX_GUEST:-build/guest}

linux_boot() { # KERNEL [TEMPLATE VENDOR]: boots it on TCG with a scripted check
	need_accel tcg
	local g=$LINUX_GUEST d="$TEST_TMP/linux-$1${3:+-$3}" tmpl="" vendor=${3:-AuthenticAMD}
	[ -z "${2:-}" ] || tmpl=", \"cpu-config\": \"$2\""
	[ -f "$g/$1" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/$1 missing: make guest"
	mkdir -p "$d"
	cat >"$d/check.sh" <<'SH'
#!/bin/sh
# In the guest: facts the host checks from the console.
echo "LINUX-CHECK cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "LINUX-CHECK mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
echo "LINUX-CHECK cmdline=$(cat /proc/cmdline)"
echo "LINUX-CHECK sum=$(echo ember | md5sum | cut -c1-8)"
grep -q hypervisor /proc/cpuinfo && echo "LINUX-CHECK hypervisor"
echo "LINUX-CHECK vendor=$(sed -n 's/^vendor_id[^:]*: //p' /proc/cpuinfo | head -n 1)"
echo "LINUX-CHECK done"
SH
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/check.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/$1", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1 ember.test=1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 192 }$tmpl
}
JSON
	local rc=0
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg </dev/null \
		>"$d/console" 2>&1 || rc=$?
	cat "$d/console"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
	grep -q "EMBER-GUEST-READY" "$d/console" || fail "init not reached"
	grep -q "LINUX-CHECK cpus=1" "$d/console" || fail "cpu count"
	local kb
	kb=$(sed -n 's/.*LINUX-CHECK mem_kb=\([0-9]*\).*/\1/p' "$d/console")
	[ -n "$kb" ] && [ "$kb" -gt 150000 ] && [ "$kb" -le 196608 ] || fail "MemTotal $kb kB for 192 MiB"
	grep -q "LINUX-CHECK cmdline=.*ember.test=1" "$d/console" || fail "command line not passed"
	grep -q "LINUX-CHECK sum=$(echo ember | md5sum | cut -c1-8)" "$d/console" || fail "user space computes wrong"
	grep -q "LINUX-CHECK hypervisor" "$d/console" || fail "no hypervisor bit in CPUID"
	grep -q "LINUX-CHECK vendor=$vendor" "$d/console" || fail "vendor: want $vendor"
	grep -q "LINUX-CHECK done" "$d/console" || fail "script did not finish"
	grep -q "reboot: Restarting system" "$d/console" || fail "no reboot"
	! grep -Eq "Kernel panic|BUG:|Oops|WARNING:" "$d/console" || fail "kernel trouble in the log"
}

test_linux_vmlinux_tcg() { linux_boot vmlinux; }
test_linux_bzimage_tcg() { linux_boot bzImage; }
# The software CPU showing GenuineIntel (docs/cpu-templates.md): Linux
# takes its Intel paths (and SYSENTER for 32-bit processes, which our
# kernel, without IA32_EMULATION, has none of).
test_linux_intel_vendor_tcg() {
	linux_boot vmlinux "$PWD/docs/cpu-templates/software-cpu-intel.json" GenuineIntel
}

# The guest's clock comes from the CMOS RTC (the software CPU offers no
# kvmclock): `date` is the host's UTC time from the first boot, the RTC
# driver reads it (hwclock) and sets it (the SET-bit sequence), and the
# kernel log has no RTC complaint.
test_linux_rtc_tcg() {
	need_accel tcg
	local g=$LINUX_GUEST d="$TEST_TMP/linux-rtc"
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	mkdir -p "$d"
	cat >"$d/rtc.sh" <<'SH'
#!/bin/sh
echo "RTC-CHECK date=$(date -u +%s)"
[ -e /dev/rtc0 ] && echo "RTC-CHECK hwclock=$(hwclock -r -u)"
date -u -s "2001-02-03 04:05:06" >/dev/null && hwclock -w -u && sleep 2 &&
	echo "RTC-CHECK set=$(hwclock -r -u)"
echo "RTC-CHECK done"
SH
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/rtc.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
JSON
	local rc=0 before after t
	before=$(date -u +%s)
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg </dev/null \
		>"$d/console" 2>&1 || rc=$?
	after=$(date -u +%s)
	cat "$d/console"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
	grep -q "RTC-CHECK done" "$d/console" || fail "script did not finish"
	t=$(sed -n 's/.*RTC-CHECK date=\([0-9]*\).*/\1/p' "$d/console")
	[ -n "$t" ] && [ "$t" -ge "$before" ] && [ "$t" -le "$after" ] ||
		fail "guest date $t is not between $before and $after"
	# The RTC driver's own reading (rtc-cmos through mc146818_get_time).
	local today
	today=$(date -u -d "@$before" '+%b %e')
	grep -q "RTC-CHECK hwclock=.* $today ..:..:.. $(date -u -d "@$before" +%Y)" "$d/console" ||
		fail "hwclock does not read today ($today)"
	grep -Eq "RTC-CHECK set=Sat Feb  3 04:05:0[6-9] 2001" "$d/console" ||
		fail "the RTC did not keep the time the guest set"
	! grep -Eiq "Unable to read current time from RTC|Persistent clock returned invalid|rtc.*(broken|failed|invalid|error)" \
		"$d/console" || fail "the kernel complains about the RTC"
}

# A guest kernel's panic, told through pvpanic, ends ember with exit code 3
# even with panic=1 reboot=k (the notification comes before the reset).
# The Linux 6.1 driver binds the ISA device only through ACPI: Ember's
# DSDT announces "QEMU0001" at port 0x505.
test_linux_panic_tcg() {
	need_accel tcg
	local g=$LINUX_GUEST d="$TEST_TMP/linux-panic"
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	grep -q "^CONFIG_PVPANIC_MMIO=y" "$g/config" || fail "guest kernel without CONFIG_PVPANIC_MMIO"
	mkdir -p "$d"
	# rdinit=/bin/false: init exits at once, and the kernel panics.
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$g/initramfs.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=1 rdinit=/bin/false" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
JSON
	local rc=0
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg \
		--metrics-path "$d/metrics" </dev/null >"$d/console" 2>&1 || rc=$?
	cat "$d/console"
	grep -q "Kernel panic - not syncing" "$d/console" || fail "the guest did not panic"
	[ "$rc" -eq 3 ] || fail "exit code $rc, want 3 (guest panic)"
	[ "$(grep -c "guest kernel panicked" "$d/console")" -eq 1 ] || fail "want one panic line"
	tail -n 1 "$d/metrics" | grep -q '"ember_pvpanic":{"panic_count":1,' ||
		fail "metrics: $(tail -n 1 "$d/metrics")"
}

# The atomic hammer in guest user space: a thread pinned to each online
# CPU adds to one counter 200000 times with lock xadd and 200000 times
# with a lock cmpxchg loop; the total is exact only if both are atomic
# across vCPUs. Run by the guest's init after the check script.
smp_hammer_src() {
	cat <<'C'
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#define ROUNDS 200000
static volatile long counter, sink;
static pthread_barrier_t start;

static void *hammer(void *arg)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((int)(long)arg, &set);
	long seen = 0;
	int pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
	pthread_barrier_wait(&start);
	if (!pinned)
		return (void *)1;
	for (int i = 0; i < ROUNDS; i++) {
		/* The old value used: lock xadd, not lock add. */
		seen += __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
		long old = __atomic_load_n(&counter, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&counter, &old, old + 1, 0, __ATOMIC_SEQ_CST,
						    __ATOMIC_RELAXED)) /* lock cmpxchg */
			;
	}
	sink += seen;
	return NULL;
}

int main(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t t[64];
	if (n < 1 || n > 64)
		return 1;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	long bad = 0;
	for (long i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	printf("SMP-CHECK hammer threads=%ld total=%ld want=%ld\n", n - bad, counter, n * 2L * ROUNDS);
	return 0;
}
C
}

# Linux on several software vCPUs (round-robin on one host thread, local
# APICs, INIT-SIPI-SIPI): every CPU online, a parallel workload finishes on
# all of them, a virtio drive's data arrives (I/O APIC), and none of the
# complaints of an APIC-less platform is in the log.
linux_smp() { # VCPUS
	need_accel tcg
	local g=$LINUX_GUEST d="$TEST_TMP/linux-smp$1" last=$(($1 - 1))
	[ -f "$g/vmlinux" ] && [ -f "$g/initramfs.cpio.gz" ] || fail "$g/vmlinux missing: make guest"
	mkdir -p "$d"
	cat >"$d/check.sh" <<'SH'
#!/bin/sh
echo "SMP-CHECK online=$(cat /sys/devices/system/cpu/online)"
n=$(grep -c ^processor /proc/cpuinfo)
i=0
while [ $i -lt $n ]; do
	(taskset -c $i sh -c 'k=0; while [ $k -lt 20000 ]; do k=$((k+1)); done; echo "SMP-CHECK worker on $(cut -d" " -f39 /proc/self/stat)"' || echo "SMP-CHECK worker $i failed") &
	i=$((i+1))
done
wait
echo "SMP-CHECK vda=$(dd if=/dev/vda bs=8 count=1 2>/dev/null)"
echo "SMP-CHECK clockevent=$(cat /sys/devices/system/clockevents/clockevent0/current_device)"
echo "SMP-CHECK done"
SH
	smp_hammer_src >"$d/hammer.c"
	gcc -O2 -static -pthread -o "$d/hammer" "$d/hammer.c" || fail "hammer did not build"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/check.sh" "$d/hammer"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	{ printf 'EMBERSMP'; head -c $((64 * 1024 - 8)) /dev/zero; } >"$d/a.img"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1 pci=off" },
  "machine-config": { "vcpu_count": $1, "mem_size_mib": 192 },
  "drives": [ { "drive_id": "a", "path_on_host": "$d/a.img", "is_root_device": false, "is_read_only": true } ]
}
JSON
	local rc=0
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg </dev/null \
		>"$d/console" 2>&1 || rc=$?
	cat "$d/console"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
	grep -Eq "SMP-CHECK online=0-$last([^0-9]|\$)" "$d/console" || fail "not every CPU online"
	grep -q "smp: Brought up 1 node, $1 CPUs" "$d/console" || fail "APs not brought up"
	local c
	for c in $(seq 0 "$last"); do
		grep -Eq "SMP-CHECK worker on $c([^0-9]|\$)" "$d/console" || fail "no worker finished on CPU $c"
	done
	grep -q "SMP-CHECK vda=EMBERSMP" "$d/console" || fail "virtio drive's data (interrupts?)"
	grep -q "SMP-CHECK done" "$d/console" || fail "script did not finish"
	local want=$(($1 * 2 * 200000))
	grep -q "SMP-CHECK hammer threads=$1 total=$want want=$want" "$d/console" ||
		fail "the atomic hammer's total is wrong (or it did not run on $1 CPUs)"
	! grep -Eq "No local APIC present|APIC disabled by BIOS|SMP disabled|not listed by the BIOS" \
		"$d/console" || fail "an APIC/SMP complaint in the log"
	# The vCPUs are cores of one package with an invariant TSC: the APs
	# take the BSP's delay-loop calibration instead of measuring their own.
	! grep -q "calibrate_delay_direct() failed" "$d/console" || fail "an AP calibrated its delay loop"
	grep -q "SMP-CHECK clockevent=lapic-deadline" "$d/console" ||
		fail "the local APIC's TSC-deadline timer is not the clock event device"
	grep -q "TSC deadline timer available" "$d/console" || fail "no TSC deadline timer"
	! grep -Eq "Kernel panic|BUG:|Oops|WARNING:" "$d/console" || fail "kernel trouble in the log"
}

test_linux_smp_2_tcg() { linux_smp 2; }
test_linux_smp_4_tcg() { linux_smp 4; }
