#!/usr/bin/env python3
"""Start-up benchmark: Ember vs QEMU's microvm machine, same guest, same run.

Each VMM boots the same kernel RUNS times, interleaved so machine noise hits
both alike. Measured from spawning the VMM process:
  first output  the first console byte (the guest is running; for QEMU this
                includes its firmware);
  marker        the console line that says the guest reached its goal
                (bare-metal: its only line; Linux: EMBER-GUEST-READY, i.e.
                init is running);
  exit          the process' exit after the guest's reset;
  CPU           user + system time of the VMM process;
  peak RSS      the process' maximum resident set (wait4) minus the guest RAM
                the guest touched (counted by Ember with mincore; the same
                guest touches about the same pages under QEMU).
"""
import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time


def run_once(cmd, marker, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = seen = None
    out = b""
    fd = p.stdout.fileno()
    while True:
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            p.kill()
            raise RuntimeError(f"{cmd[0]}: no output in {timeout} s")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.monotonic() - t0
        if first is None:
            first = now
        out += chunk
        if seen is None and marker in out:
            seen = now
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stdout.close()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or seen is None:
        raise RuntimeError(f"{cmd[0]}: exit {code}, marker seen: {seen is not None}\n"
                           f"{out[-2000:].decode(errors='replace')}\n{err[-2000:]}")
    return first, seen, t_exit, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, err


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd")
    ap.add_argument("--append", default="")
    ap.add_argument("--marker", default="EMBER-BENCH guest running")
    ap.add_argument("--title", default="")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--accel", default="kvm")
    args = ap.parse_args()

    kernel = os.path.abspath(args.kernel)
    initrd = os.path.abspath(args.initrd) if args.initrd else None
    cfg = f"/tmp/ember-bench-{os.getpid()}.json"
    with open(cfg, "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "%s", %s"boot_args": "%s"},'
                ' "machine-config": {"vcpu_count": 1, "mem_size_mib": %d}}'
                % (kernel, f'"initrd_path": "{initrd}", ' if initrd else "", args.append,
                   args.mem))
    qemu = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", args.accel,
            "-m", str(args.mem), "-nographic", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-device", "i8042", "-kernel", kernel]
    if initrd:
        qemu += ["-initrd", initrd]
    if args.append:
        qemu += ["-append", args.append]
    vmms = {
        "ember": [args.ember, "--no-api", "--config-file", cfg, "--accel", args.accel,
                  "--level", "Debug"],
        "qemu microvm": qemu,
    }
    results = {name: [] for name in vmms}
    touched_kib = 0
    try:
        for _ in range(args.runs):
            for name, cmd in vmms.items():
                first, seen, t_exit, cpu, rss, err = run_once(cmd, args.marker.encode(), 60)
                results[name].append((first, seen, t_exit, cpu, rss))
                m = re.search(r"guest memory resident at exit: (\d+) KiB", err)
                if m:
                    touched_kib = int(m.group(1))
    finally:
        os.unlink(cfg)

    print(f"\n{args.title or 'Start-up'}: {args.runs} runs each, {args.accel}, {args.mem} MiB, "
          f"{os.path.basename(kernel)}{' + ' + os.path.basename(initrd) if initrd else ''}; "
          f"guest touched {touched_kib} KiB of RAM; times in ms, p50 (p90)")
    hdr = (f"{'VMM':<14}{'first output':>16}{'marker':>18}{'exit':>18}{'CPU':>18}"
           f"{'peak RSS - guest':>19}")
    print(hdr)
    print("-" * len(hdr))
    for name, rs in results.items():
        cols = []
        for i in range(4):
            xs = [r[i] * 1000 for r in rs]
            cols.append(f"{statistics.median(xs):>9.1f} ({pct(xs, 90):>6.1f})")
        rss = statistics.median(r[4] for r in rs) - touched_kib
        print(f"{name:<14}" + "".join(f"{c:>18}" for c in cols) + f"{rss / 1024:>15.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
