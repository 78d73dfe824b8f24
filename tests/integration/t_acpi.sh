# ACPI: the tables Ember writes, as iasl, a bare-metal guest and Linux read
# them; and the acpi=off path, where devices come on the command line.

ACPI_GUEST=${ACPI_GUEST:-build/guest}

# The disassembler takes every table without an error or a warning, for
# both platforms, with the most virtio devices and vCPUs. (This iasl cannot
# read a binary RSDP, which has no standard header: the unit tests and the
# bare-metal guest check that one.)
test_acpi_iasl_disassembles() {
	command -v iasl >/dev/null || fail "iasl missing (Debian acpica-tools: make deps)"
	[ -x "${ACPI_DUMP:-}" ] || fail "ACPI_DUMP must name build/tests/acpi-dump"
	local kind d f n=0
	for kind in apic pic; do
		d="$TEST_TMP/acpi-iasl-$kind"
		mkdir -p "$d"
		"$ACPI_DUMP" "$d" "$kind" 19 32 >"$d/files" || fail "acpi-dump $kind"
		while read -r f; do
			[ "$(basename "$f")" != rsdp.dat ] || continue
			(cd "$d" && iasl -d "$(basename "$f")") >"$f.log" 2>&1 ||
				fail "iasl -d $f: $(cat "$f.log")"
			! grep -Eiq "error|warning" "$f.log" || fail "iasl -d $f: $(cat "$f.log")"
			! grep -Eiq "error|warning|invalid" "${f%.dat}.dsl" || fail "${f%.dat}.dsl: $(grep -Ei 'error|warning|invalid' "${f%.dat}.dsl")"
			n=$((n + 1))
		done <"$d/files"
	done
	# apic: XSDT FACP DSDT APIC; pic: XSDT FACP DSDT FACS.
	[ "$n" -eq 8 ] || fail "$n tables disassembled, want 8"
	grep -c 'Device (V0' "$TEST_TMP/acpi-iasl-apic/dsdt.dsl" | grep -qx 19 || fail "19 virtio devices in the DSDT"
	grep -q 'Hardware Reduced (V5) : 1' "$TEST_TMP/acpi-iasl-apic/facp.dsl" || fail "apic FADT not hardware-reduced"
	grep -q 'Hardware Reduced (V5) : 0' "$TEST_TMP/acpi-iasl-pic/facp.dsl" || fail "pic FADT hardware-reduced"
	echo "$n tables disassembled cleanly"
}

# The bare-metal guest's table list: "ACPI-TABLES: XSDT FACP ..." sorted.
acpi_baremetal_tables() { # ACCEL VCPUS
	need_accel "$1"
	local cfg="$TEST_TMP/acpi-$1.json" out="$TEST_TMP/acpi-$1.out"
	write_config "$cfg" "$GUESTS/acpi.elf" "" 64 "$2"
	timeout 20 "$EMBER" --no-api --config-file "$cfg" --accel "$1" </dev/null >"$out" 2>&1 ||
		fail "ember exited with $? on $1: $(cat "$out")"
	grep -q "EMBER-TEST-OK acpi" "$out" || fail "no OK line: $(cat "$out")"
	sed -n 's/.*ACPI-TABLES: //p' "$out" | tr ' ' '\n' | grep . | sort | tr '\n' ' '
}

# KVM's in-kernel irqchip: a MADT, a hardware-reduced FADT (no FACS).
test_acpi_baremetal_kvm() {
	local got
	got=$(acpi_baremetal_tables kvm 2)
	[ "$got" = "APIC DSDT FACP XSDT " ] || fail "tables on kvm: $got"
}

# The software CPU has local APICs and an I/O APIC too (runtime/backend/tcg/
# lapic.c, ioapic.c): the same tables as KVM.
test_acpi_baremetal_tcg() {
	local got
	got=$(acpi_baremetal_tables tcg 1)
	[ "$got" = "APIC DSDT FACP XSDT " ] || fail "tables on tcg: $got"
}

# Boots Linux on TCG with two drives, vsock and entropy; the guest reports
# what it found, then runs LAST (default: nothing, init reboots). Leaves
# the console in $d/console.
acpi_linux_boot() { # NAME BOOT_ARGS [LAST]
	need_accel tcg
	local g=$ACPI_GUEST
	d="$TEST_TMP/acpi-linux-$1"
	for f in vmlinux initramfs.cpio.gz; do
		[ -f "$g/$f" ] || fail "$g/$f missing: make guest"
	done
	mkdir -p "$d"
	cat >"$d/check.sh" <<'SH'
#!/bin/sh
n() { ls -d "$@" 2>/dev/null | wc -l; }
echo "ACPI-CHECK lnro=$(n /sys/bus/platform/devices/LNRO0005:*)"
echo "ACPI-CHECK bound=$(n /sys/bus/platform/drivers/virtio-mmio/LNRO0005:* /sys/bus/platform/drivers/virtio-mmio/virtio-mmio.*)"
echo "ACPI-CHECK virtio=$(n /sys/bus/virtio/devices/*)"
echo "ACPI-CHECK vd=$(n /sys/block/vd*)"
echo "ACPI-CHECK pnp=$(cat /sys/bus/pnp/devices/*/id 2>/dev/null | sort | tr '\n' ' ')"
echo "ACPI-CHECK pvpanic=$(n /sys/bus/platform/drivers/pvpanic-mmio/QEMU0001:*)"
echo "ACPI-CHECK rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null)"
echo "ACPI-CHECK irqs=$(grep -c virtio /proc/interrupts)"
head -c 16 /dev/hwrng | wc -c | sed 's/^/ACPI-CHECK rng_bytes=/'
dd if=/dev/vdb bs=8 count=1 2>/dev/null | sed 's/^/ACPI-CHECK vdb=/'; echo
echo "ACPI-CHECK cmdline=$(cat /proc/cmdline)"
echo "ACPI-CHECK done"
SH
	[ -z "${3:-}" ] || echo "$3" >>"$d/check.sh"
	bash guest/mkoverlay.sh "$d/overlay.cpio.gz" "$d/check.sh"
	cat "$g/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	{ printf 'EMBERDA!'; head -c $((64 * 1024 - 8)) /dev/zero; } >"$d/a.img"
	{ printf 'EMBERDB!'; head -c $((64 * 1024 - 8)) /dev/zero; } >"$d/b.img"
	cat >"$d/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$g/vmlinux", "initrd_path": "$d/initrd.cpio.gz",
                   "boot_args": "$2" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 192 },
  "drives": [
    { "drive_id": "a", "path_on_host": "$d/a.img", "is_root_device": false, "is_read_only": true },
    { "drive_id": "b", "path_on_host": "$d/b.img", "is_root_device": false, "is_read_only": true }
  ],
  "vsock": { "guest_cid": 3, "uds_path": "$d/v.sock" },
  "entropy": {}
}
JSON
	local rc=0
	timeout -k 5 120 "$EMBER" --no-api --config-file "$d/vm.json" --accel tcg --level Info \
		</dev/null >"$d/console" 2>&1 || rc=$?
	cat "$d/console"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
	grep -q "ACPI-CHECK done" "$d/console" || fail "script did not finish"
	grep -q "ACPI-CHECK virtio=4" "$d/console" || fail "not all 4 virtio devices found"
	grep -q "ACPI-CHECK bound=4" "$d/console" || fail "virtio-mmio did not bind 4 devices"
	grep -q "ACPI-CHECK vd=2" "$d/console" || fail "two drives"
	grep -q "ACPI-CHECK vdb=EMBERDB!" "$d/console" || fail "second drive's data (interrupts?)"
	grep -q "ACPI-CHECK rng_bytes=16" "$d/console" || fail "entropy device"
	grep -q "ACPI-CHECK irqs=4" "$d/console" || fail "4 virtio interrupt lines"
	! grep -Eq "Kernel panic|BUG:|Oops|WARNING:|ACPI Error|ACPI BIOS Error|ACPI Warning" "$d/console" ||
		fail "kernel or ACPI trouble in the log"
}

# Linux on the software CPU finds every virtio device through the DSDT, and
# finds the same tables the bare-metal guest finds on the same platform.
test_acpi_linux_tcg() {
	local d
	acpi_linux_boot acpi "console=ttyS0 reboot=k panic=-1 pci=off" "poweroff -f"
	grep -q "ACPI-CHECK lnro=4" "$d/console" || fail "4 LNRO0005 platform devices"
	grep -qi "ACPI-CHECK pnp=PNP0303 PNP0501 PNP0B00 " "$d/console" ||
		fail "the i8042, COM1 and the RTC as PNP devices"
	grep -q "ACPI-CHECK pvpanic=1" "$d/console" || fail "pvpanic (QEMU0001) not bound"
	grep -q "ACPI-CHECK rtc=rtc_cmos" "$d/console" || fail "no rtc_cmos"
	# The guest powered off through \_S5 and the hardware-reduced sleep
	# control register: without them Linux halts and ember would wait until
	# the timeout.
	grep -q "reboot: Power down" "$d/console" || fail "the guest did not power off"
	grep -q "guest powered off (ACPI S5)" "$d/console" || fail "ember's line for a poweroff"
	! grep -q "ACPI-CHECK cmdline=.*virtio_mmio.device" "$d/console" ||
		fail "devices announced twice (command line too)"
	grep -q "ACPI: Using IOAPIC for interrupt routing" "$d/console" || fail "I/O APIC routing"
	grep -q "IOAPIC\[0\]: apic_id 1, version 17, address 0xfec00000, GSI 0-23" "$d/console" ||
		fail "the MADT's I/O APIC"
	! grep -Eq "No local APIC present|APIC disabled by BIOS|SMP disabled|boot CPU.*not listed by the BIOS" \
		"$d/console" || fail "an APIC complaint in the log"
	local linux bare
	linux=$(sed -n 's/.*ACPI: \([A-Z]\{4\}\) 0x[0-9A-F]\{16\}.*/\1/p' "$d/console" | grep -vx RSDP |
		sort -u | tr '\n' ' ')
	bare=$(acpi_baremetal_tables tcg 1)
	[ -n "$linux" ] && [ "$linux" = "$bare" ] || fail "Linux found [$linux], the bare-metal guest [$bare]"
	echo "Linux and the bare-metal guest on tcg: $linux"
}

# acpi=off: no tables used, the command line announces each device once.
test_acpi_off_cmdline_tcg() {
	local d
	acpi_linux_boot off "console=ttyS0 reboot=k panic=-1 pci=off acpi=off"
	grep -q "ACPI-CHECK lnro=0" "$d/console" || fail "LNRO0005 devices with acpi=off"
	[ "$(grep -o 'virtio_mmio.device=4K@0x[0-9a-f]*:[0-9]*' "$d/console" | grep -c .)" -ge 4 ] ||
		fail "no virtio_mmio.device= parameters"
	grep -q "ACPI-CHECK cmdline=.*virtio_mmio.device=4K@0xd0003000:9" "$d/console" || fail "4th device on the command line (IRQ 8 is the RTC's)"
	! grep -q "ACPI: XSDT" "$d/console" || fail "the kernel read ACPI tables"
	grep -q "ACPI: off (acpi=off), devices on the command line" "$d/console" || fail "ember's log line"
}
