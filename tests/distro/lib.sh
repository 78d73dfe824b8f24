# Helpers of the distro-kernel suite (sourced by run.sh).

# Kernel parameters every boot gets, on both VMMs. reboot=k: the guest's
# reset goes through the i8042, which ends Ember and (-no-reboot) QEMU;
# panic=-1 makes a panic that same reset. tsc_early_khz: under TCG Linux
# cannot calibrate the TSC, and in QEMU microvm's hardware-reduced ACPI it
# has no PIT to fall back to either (the boot stalls in calibrate_delay).
distro_args() {
	echo "console=ttyS0 reboot=k panic=-1 tsc_early_khz=$DISTRO_TSC_KHZ"
}

# distro_boot VMM NAME TIMEOUT [vmcmd.py options...]: boots one VM with
# the stock kernel and the distro initramfs, console and log into
# $TEST_TMP/NAME.out; returns the VMM's exit status (124: timeout). With
# --tap IFACE the VMM runs in a network namespace of its own that holds
# that TAP as 172.16.0.1/24 (skipped without unshare or /dev/net/tun).
distro_boot() {
	local vmm=$1 name=$2 limit=$3
	shift 3
	local cmd=() wrap=() a prev=
	for a in "$@"; do
		if [ "$prev" = --tap ]; then
			wrap=(unshare -n sh -c "ip link set lo up && ip tuntap add dev $a mode tap &&
				ip addr add 172.16.0.1/24 dev $a && ip link set $a up && exec \"\$0\" \"\$@\"")
		fi
		prev=$a
	done
	mapfile -d '' cmd < <(python3 "$(dirname "${BASH_SOURCE[0]}")/vmcmd.py" -0 --vmm "$vmm" \
		--ember "$EMBER" --kernel "$DISTRO/vmlinuz" --initrd "$DISTRO/initramfs.cpio.gz" \
		--workdir "$TEST_TMP" --name "$name" "$@")
	[ ${#cmd[@]} -gt 0 ] || fail "vmcmd.py gave no command"
	echo "+ ${wrap[*]} ${cmd[*]}"
	"${wrap[@]}" timeout -k 10 "$limit" "${cmd[@]}" </dev/null >"$TEST_TMP/$name.out" 2>&1
}

# Whether this host can give a VM a TAP in a namespace of its own.
can_tap() { unshare -n true 2>/dev/null && [ -w /dev/net/tun ]; }

need_qemu() {
	command -v "${QEMU:-qemu-system-x86_64}" >/dev/null || { echo "no qemu-system-x86_64 (make deps)"; exit 77; }
}

need_ember_tcg() {
	case " $("$EMBER" --version | sed -n 's/.*backends: \([a-z ]*\).*/\1/p') " in
	*" tcg "*) ;;
	*) echo "this ember has no software CPU (tcg) built in"; exit 77 ;;
	esac
}

# What the stock kernel could find, from the check's lines: the reason a
# VMM's devices are missing, in words.
why_no_virtio() { # OUT
	local out=$1 tables lnro
	tables=$(sed -n 's/.*DISTRO-CHECK: acpi tables: *\(.*\)/\1/p' "$out" | tr -d '\r')
	lnro=$(sed -n 's/.*DISTRO-CHECK: acpi LNRO0005 devices: \([0-9]*\).*/\1/p' "$out")
	if [ -z "$tables" ]; then
		echo "the VMM gave the guest no ACPI tables; Debian's kernel ignores virtio_mmio.device= (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set) and finds virtio-mmio devices only as ACPI devices with _HID LNRO0005 in the DSDT"
	elif [ "${lnro:-0}" = 0 ]; then
		echo "ACPI tables ($tables) but no LNRO0005 device in them: the DSDT must list each virtio-mmio device (_HID LNRO0005, its MMIO window and interrupt in _CRS)"
	else
		echo "$lnro LNRO0005 ACPI devices, but virtio_mmio bound none (their _CRS or the devices' registers are wrong; see the console)"
	fi
}

bg_reap() {
	local pids
	pids=$(jobs -pr)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

fail() {
	echo "FAIL: $*"
	exit 1
}
