#!/usr/bin/env python3
"""Debian 12 boot benchmark: Ember's software CPU vs QEMU's microvm, same run.

Both VMMs boot Debian's stock cloud kernel, the distro initramfs (it loads
the virtio modules and hands over to the root drive) and a fresh copy of
the Debian 12 root filesystem (systemd) on a virtio drive, with the same
kernel parameters, 1 vCPU and --mem MiB, RUNS times, interleaved (the
order alternates). QEMU is `-M microvm` with its default ACPI on (that is
how the stock kernel finds the virtio-mmio devices), both on TCG. The VM
descriptions come from tests/distro/vmcmd.py, as in `make test-distro`.
Measured from spawning the VMM process:
  first output  the first console byte (QEMU: the bzImage's real-mode setup
                code's "Probing EDD" line, printed through QEMU's firmware
                before the kernel is even decompressed; Ember enters the
                kernel by the 64-bit boot protocol, so the setup code never
                runs and its first byte is the kernel's own console);
  kernel        the kernel's first console line, "Linux version" (the same
                point for both: the decompressed kernel's console is up);
  /init         the kernel's "Run /init as init process";
  multi-user    the marker line ember-distro-report.service prints once
                multi-user.target is reached (EMBER-DISTRO-UP);
  exit          the process' exit, after the guest's reboot (reboot=k);
  CPU           user + system time of the VMM process.
A VMM that does not reach the marker is reported with the reason (the
guest's console tells), and not booted again.
"""
import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "distro"))
import vmcmd  # noqa: E402

MARKER = b"EMBER-DISTRO-UP "
INIT = b"Run /init as init process"
KERNEL = b"Linux version "


def run_once(cmd, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    first = t_kernel = t_init = t_marker = None
    out = b""
    fd = p.stdout.fileno()
    deadline = t0 + timeout
    while True:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not r:
            p.kill()
            p.wait()
            p.stdout.close()
            return None, out, f"no exit in {timeout} s"
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.monotonic() - t0
        if first is None:
            first = now
        out += chunk
        if t_kernel is None and KERNEL in out:
            t_kernel = now
        if t_init is None and INIT in out:
            t_init = now
        if t_marker is None and MARKER in out:
            t_marker = now
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic() - t0
    p.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    if t_marker is None:
        return None, out, f"exit {code} without reaching multi-user.target"
    line = out[out.index(MARKER):].split(b"\n", 1)[0].decode(errors="replace").strip()
    if " failed=0 " not in line + " ":
        return None, out, f"failed units: {line}"
    if code != 0:
        return None, out, f"exit {code} after the marker"
    return (first, t_kernel, t_init, t_marker, t_exit, ru.ru_utime + ru.ru_stime), out, None


def why(out):
    """The reason a boot went wrong, from the guest's console."""
    for line in out.decode(errors="replace").splitlines():
        if "DISTRO-INIT: root device" in line:
            return (line.strip() + " (the stock kernel finds virtio-mmio devices only through "
                    "ACPI, _HID LNRO0005; not measured yet: needs ACPI)")
    return out[-300:].decode(errors="replace").strip().replace("\n", " | ")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--distro", required=True, help="make distro's output (build/distro)")
    ap.add_argument("--tsc-khz", required=True, type=int, help="tsc_early_khz= for both")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()

    append = (f"console=ttyS0 reboot=k panic=-1 tsc_early_khz={a.tsc_khz} "
              "root=/dev/vda rw ember.distro_end=reboot")
    work = tempfile.mkdtemp(prefix="ember-distro-bench.")
    names = ["ember", "qemu microvm"]
    results = {n: [] for n in names}
    failed = {}
    try:
        for run in range(a.runs):
            order = names if run % 2 == 0 else names[::-1]
            for name in order:
                if name in failed:
                    continue
                img = os.path.join(work, "rootfs.ext4")
                subprocess.run(["cp", "--sparse=always", os.path.join(a.distro, "rootfs.ext4"), img],
                               check=True)
                ns = argparse.Namespace(
                    vmm="ember" if name == "ember" else "qemu", ember=os.path.abspath(a.ember),
                    qemu=os.environ.get("QEMU", "qemu-system-x86_64"), accel="tcg",
                    kernel=os.path.join(a.distro, "vmlinuz"),
                    initrd=os.path.join(a.distro, "initramfs.cpio.gz"), append=append, mem=a.mem,
                    vcpus=1, drive=[img], root=True, tap=None, mac=None, vsock=None, rng=False,
                    workdir=work, name="vm")
                r, out, err = run_once(vmcmd.command(ns), a.timeout)
                with open(os.path.join(work, f"{name.split()[0]}-{run}.console"), "wb") as f:
                    f.write(out)
                if r is None:
                    failed[name] = f"{err}: {why(out)}"
                    print(f"distro_bench: {name}: {failed[name]}", file=sys.stderr)
                else:
                    results[name].append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nDebian 12 (systemd) boot to multi-user.target on TCG: {a.runs} runs each, "
          f"1 vCPU, {a.mem} MiB, Debian's stock kernel + busybox initramfs, root on virtio-blk; "
          f"times in ms, p50 (p90)")
    hdr = f"{'VMM':<14}" + "".join(f"{h:>18}" for h in
                                    ("first output", "kernel", "/init", "multi-user", "exit",
                                     "CPU"))
    print(hdr)
    print("-" * len(hdr))
    for name in names:
        rs = results[name]
        if not rs:
            print(f"{name:<14}  not measured: {failed.get(name, 'no run')}")
            continue
        cols = []
        for i in range(6):
            xs = [r[i] * 1000 for r in rs if r[i] is not None]
            cols.append(f"{statistics.median(xs):>9.1f} ({pct(xs, 90):>6.1f})" if xs else "n/a")
        print(f"{name:<14}" + "".join(f"{c:>18}" for c in cols)
              + (f"   ({len(rs)} of {a.runs}; then: {failed[name]})" if name in failed else ""))
    return 1 if len(failed) == len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
