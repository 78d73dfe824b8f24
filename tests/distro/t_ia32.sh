# 32-bit processes under Debian's stock kernel (IA32_EMULATION) on the
# software CPU: tests/distro/vsyscall32.S makes its system calls through
# the vDSO's __kernel_vsyscall, which the kernel patches to SYSENTER on an
# Intel CPU and to SYSCALL on an AMD one (docs/platform.md, "The software
# CPU's fast system calls"). With its own AuthenticAMD the software CPU
# must take SYSCALL from compatibility mode; shown GenuineIntel
# (docs/cpu-templates/software-cpu-intel.json), SYSENTER and SYSEXIT.

# ia32_check NAME WANT [TEMPLATE]: the program says it got through by WANT.
ia32_check() {
	local name=$1 want=$2 tmpl=${3:-} d="$TEST_TMP/$1"
	command -v as >/dev/null && command -v ld >/dev/null || { echo "no binutils"; exit 77; }
	mkdir -p "$d/root"
	cpp -P "$(dirname "${BASH_SOURCE[0]}")/vsyscall32.S" >"$d/v.s"
	as --32 -o "$d/v.o" "$d/v.s" || fail "as --32"
	ld -m elf_i386 -static -o "$d/root/ia32" "$d/v.o" || fail "ld -m elf_i386"
	# The distro /init runs /check without root=: ours replaces it.
	cat >"$d/root/check" <<'SH'
#!/bin/sh
echo "IA32-CHECK vendor=$(sed -n 's/^vendor_id[^:]*: //p' /proc/cpuinfo | head -n 1)"
/ia32
echo "IA32-CHECK exit=$?"
SH
	chmod 0755 "$d/root/check" "$d/root/ia32"
	(cd "$d/root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner=0:0) | gzip >"$d/overlay.cpio.gz"
	cat "$DISTRO/initramfs.cpio.gz" "$d/overlay.cpio.gz" >"$d/initrd.cpio.gz"
	local opts=(--initrd "$d/initrd.cpio.gz") rc=0 out="$TEST_TMP/$name.out"
	[ -z "$tmpl" ] || opts+=(--cpu-config "$tmpl")
	distro_boot ember "$name" 180 --mem 256 "${opts[@]}" --append "$(distro_args)" || rc=$?
	echo "--- console (exit $rc) ---"
	cat "$out"
	echo "---"
	grep -q "IA32-VSYSCALL ok via $want" "$out" || fail "no 'IA32-VSYSCALL ok via $want' (ember exit $rc)"
	grep -q "IA32-CHECK exit=0" "$out" || fail "the 32-bit program did not exit 0"
	[ "$rc" -eq 0 ] || fail "ember exited with $rc"
}

test_ember_ia32_syscall_amd() {
	need_ember_tcg
	ia32_check ia32-amd syscall
}

test_ember_ia32_sysenter_intel() {
	need_ember_tcg
	ia32_check ia32-intel sysenter \
		"$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/cpu-templates/software-cpu-intel.json"
}
