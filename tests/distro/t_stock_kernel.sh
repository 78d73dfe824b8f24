# (a) Debian's stock kernel and the busybox initramfs (no root filesystem):
# it must load the virtio modules and find every device the VMM was given
# — three drives (sizes, read-only flag and first bytes compared), the
# net device (pinging the host's end of a TAP), vsock, the rng — then the
# guest's reset must end the VMM with status 0. The QEMU run checks the
# harness itself (same kernel, initramfs, devices, parameters).

# stock_kernel_check VMM: boots and compares; fails with what is missing.
stock_kernel_check() {
	local vmm=$1 d="$TEST_TMP/stock-$1"
	mkdir -p "$d"
	# Drive n: n MiB, labelled EMBER-DRIVE-n; the second is read-only.
	local n opts=() ro
	for n in 1 2 3; do
		{ printf 'EMBER-DRIVE-%d' "$n"; head -c $((n * 1048576 - 13)) /dev/zero; } >"$d/drive$n.img"
		ro=
		[ "$n" != 2 ] || ro=:ro
		opts+=(--drive "$d/drive$n.img$ro")
	done
	local net=0 vsock=0
	if can_tap; then
		opts+=(--tap dt0)
		net=1
	fi
	# QEMU's vsock is vhost-vsock: it needs the host's vhost_vsock module.
	if [ "$vmm" = ember ]; then
		opts+=(--vsock "$d/v.sock")
		vsock=1
	elif [ -w /dev/vhost-vsock ]; then
		opts+=(--vsock "$d/v.sock")
		vsock=1
	fi
	local rc=0 out="$TEST_TMP/stock-$vmm.out"
	distro_boot "$vmm" "stock-$vmm" 180 --mem 256 --rng "${opts[@]}" \
		--append "$(distro_args) distro.ping=172.16.0.1" || rc=$?
	echo "--- console ($vmm exit $rc) ---"
	cat "$out"
	echo "---"
	grep -q "Run /init as init process" "$out" || fail "the stock kernel did not reach /init ($vmm exit $rc)"
	grep -q "DISTRO-CHECK: end" "$out" || fail "the initramfs check did not finish ($vmm exit $rc)"
	local found
	found=$(sed -n 's/.*DISTRO-CHECK: virtio devices: \([0-9]*\).*/\1/p' "$out")
	[ "${found:-0}" != 0 ] || fail "the stock kernel found no virtio device: $(why_no_virtio "$out")"
	local missing=()
	for n in 1 2 3; do
		local ro=0
		[ "$n" = 2 ] && ro=1
		grep -Eq "DISTRO-CHECK: drive vd[a-z] sectors $((n * 2048)) ro $ro label EMBER-DRIVE-$n\b" "$out" ||
			missing+=("drive $n ($n MiB, ro=$ro, EMBER-DRIVE-$n)")
	done
	if [ "$net" = 1 ]; then
		grep -q "DISTRO-CHECK: net eth0 mac 06:00:ac:10:00:02" "$out" || missing+=("net device eth0")
		grep -q "DISTRO-CHECK: net ping 172.16.0.1 ok" "$out" || missing+=("ping over the TAP")
	else
		echo "(net not checked: no network namespace or /dev/net/tun here)"
	fi
	if [ "$vsock" = 1 ]; then
		grep -q "DISTRO-CHECK: vsock virtio[0-9]* bound" "$out" || missing+=("vsock")
	else
		echo "(vsock not checked on $vmm: no /dev/vhost-vsock on this host)"
	fi
	grep -q "DISTRO-CHECK: rng virtio_rng.0 read ok" "$out" || missing+=("virtio-rng")
	[ ${#missing[@]} -eq 0 ] || fail "found $found virtio devices, but missing: $(IFS=,; echo "${missing[*]}")"
	[ "$rc" -eq 0 ] || fail "$vmm exited with $rc after the check (the guest's reboot must end it with 0)"
}

test_qemu_stock_kernel_finds_devices() { need_qemu; stock_kernel_check qemu; }
test_ember_stock_kernel_finds_devices() { need_ember_tcg; stock_kernel_check ember; }
