# Linux guests on the software CPU: vmlinux (PVH entry) and bzImage (64-bit
# boot protocol) each boot the project's initramfs, run a test script from
# an overlay, and end ember with code 0 through `reboot -f`.

LINUX_GUEST=${LINUX_GUEST:-build/guest}

linux_boot() { # KERNEL: boots it on TCG with a scripted check
	need_accel tcg
	local g=$LINUX_GUEST d="$TEST_TMP/linux-$1"
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
echo "LINUX-CHECK done"
SH
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/check.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/$1", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "console=ttyS0 reboot=k panic=-1 ember.test=1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 192 }
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
	grep -q "LINUX-CHECK done" "$d/console" || fail "script did not finish"
	grep -q "reboot: Restarting system" "$d/console" || fail "no reboot"
	! grep -Eq "Kernel panic|BUG:|Oops|WARNING:" "$d/console" || fail "kernel trouble in the log"
}

test_linux_vmlinux_tcg() { linux_boot vmlinux; }
test_linux_bzimage_tcg() { linux_boot bzImage; }
