# (b) Debian 12 with systemd on a virtio drive (root=/dev/vda), booted by
# the stock kernel through the distro initramfs: multi-user.target reached
# with no failed unit and today's date (the marker line of
# ember-distro-report.service), then the guest ends the VM and the VMM
# exits 0; the filesystem is clean afterwards.

# How the guest ends the VM (ember.distro_end=): both VMMs end on an ACPI
# poweroff (\_S5).
EMBER_DISTRO_END=poweroff
QEMU_DISTRO_END=poweroff
# Whether Ember's software CPU runs more than one vCPU. When it does, set
# 1 and the 2-vCPU test runs.
EMBER_TCG_SMP=1

# debian_boot VMM VCPUS END
debian_boot() {
	local vmm=$1 vcpus=$2 end=$3 name="debian-$1-$2"
	local img="$TEST_TMP/$name.ext4" rc=0 out="$TEST_TMP/$name.out"
	cp --sparse=always "$DISTRO/rootfs.ext4" "$img"
	# (Ember adds no second root= to a command line that has one.)
	distro_boot "$vmm" "$name" 600 --mem 512 --vcpus "$vcpus" --drive "$img" --root \
		--append "$(distro_args) root=/dev/vda rw ember.distro_end=$end" || rc=$?
	echo "--- console ($vmm exit $rc) ---"
	cat "$out"
	echo "---"
	grep -q "Run /init as init process" "$out" || fail "the stock kernel did not reach /init ($vmm exit $rc)"
	if grep -q "DISTRO-INIT: root device .* did not appear" "$out"; then
		fail "no root drive: the stock kernel found no virtio device: $(why_no_virtio_boot "$out")"
	fi
	local marker
	# Not anchored: a getty on the console may print its prompt first.
	marker=$(grep -ao "EMBER-DISTRO-UP .*" "$out" | tr -d '\r' | head -n 1)
	[ -n "$marker" ] || fail "systemd did not reach multi-user.target ($vmm exit $rc)"
	local failed date today
	failed=$(echo "$marker" | sed -n 's/.* failed=\([0-9]*\).*/\1/p')
	date=$(echo "$marker" | sed -n 's/.* date=\([0-9-]*\).*/\1/p')
	today=$(date -u +%F)
	[ "$failed" = 0 ] || fail "$failed failed units: $(grep -ao 'EMBER-DISTRO-FAILED .*' "$out" | cut -d' ' -f2 | tr '\n' ' ')"
	[ "$date" = "$today" ] ||
		fail "the guest's date is $date, not $today: its clock comes from the CMOS RTC, which the VMM must provide"
	[ "$rc" -eq 0 ] || fail "$vmm exited with $rc after the guest's $end (must be 0)"
	e2fsck -fn "$img" >"$TEST_TMP/$name.fsck" 2>&1 ||
		fail "the root filesystem is not clean after the $end: $(tail -n 5 "$TEST_TMP/$name.fsck")"
}

# The initramfs reports how many virtio devices it saw; the ACPI facts
# come from the kernel's log here (no check ran).
why_no_virtio_boot() { # OUT
	if grep -q "ACPI: RSDP" "$1"; then
		echo "the kernel has ACPI tables but no virtio-mmio device bound (the DSDT needs one _HID LNRO0005 device per virtio-mmio window)"
	else
		echo "the VMM gave the guest no ACPI tables; Debian's kernel ignores virtio_mmio.device= and finds virtio-mmio devices only as ACPI devices with _HID LNRO0005"
	fi
}

test_qemu_debian_systemd_boot() { need_qemu; debian_boot qemu 1 "$QEMU_DISTRO_END"; }
test_ember_debian_systemd_boot() { need_ember_tcg; debian_boot ember 1 "$EMBER_DISTRO_END"; }
test_ember_debian_systemd_boot_2vcpus() {
	need_ember_tcg
	if [ "$EMBER_TCG_SMP" != 1 ]; then
		echo "Ember's software CPU runs one vCPU only (no SMP yet): set EMBER_TCG_SMP=1 in tests/distro/t_debian_systemd.sh when it does"
		exit 77
	fi
	debian_boot ember 2 "$EMBER_DISTRO_END"
}
