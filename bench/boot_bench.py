#!/usr/bin/env python3
"""Start-up benchmark: Ember vs QEMU's microvm machine, same guest, same run.

For each VMM, N runs of a PVH guest that prints one line on COM1 and resets:
  first output  time from spawning the VMM to the first console byte
                (the guest is running: start-up cost of the VMM, plus, for
                QEMU, its firmware);
  exit          time from spawning to the process' exit after the reset;
  peak RSS      the process' maximum resident set (wait4), minus the guest
                RAM the guest touched (counted by Ember with mincore; the
                same guest touches the same pages under QEMU, whose firmware
                pages are counted against QEMU).
Prints a table with medians and p90s.
"""
import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = None
    out = b""
    fd = p.stdout.fileno()
    while True:
        r, _, _ = select.select([fd], [], [], 30)
        if not r:
            p.kill()
            raise RuntimeError(f"{cmd[0]}: no output in 30 s")
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - t0
        out += chunk
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stdout.close()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or b"EMBER-BENCH guest running" not in out:
        raise RuntimeError(f"{cmd[0]}: exit {code}, output {out!r}, stderr {err}")
    return first, t_exit, ru.ru_maxrss, err


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--accel", default="kvm")
    args = ap.parse_args()

    cfg = f"/tmp/ember-bench-{os.getpid()}.json"
    with open(cfg, "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "%s", "boot_args": ""},'
                ' "machine-config": {"vcpu_count": 1, "mem_size_mib": %d}}'
                % (os.path.abspath(args.guest), args.mem))
    vmms = {
        "ember": [args.ember, "--no-api", "--config-file", cfg, "--accel", args.accel,
                  "--level", "Debug"],
        "qemu microvm": ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", args.accel,
                         "-m", str(args.mem), "-nographic", "-nodefaults", "-no-reboot",
                         "-serial", "stdio", "-device", "i8042", "-kernel", args.guest],
    }
    results = {name: [] for name in vmms}
    touched_kib = 0
    # Interleave the VMMs so that machine noise hits both alike.
    for _ in range(args.runs):
        for name, cmd in vmms.items():
            first, t_exit, rss, err = run_once(cmd)
            results[name].append((first, t_exit, rss))
            m = re.search(r"guest memory resident at exit: (\d+) KiB", err)
            if m:
                touched_kib = int(m.group(1))
    os.unlink(cfg)

    print(f"\nStart-up, {args.runs} runs each, {args.accel}, {args.mem} MiB, guest {os.path.basename(args.guest)}"
          f" (touches {touched_kib} KiB of guest RAM)")
    hdr = f"{'VMM':<14}{'first output p50':>18}{'p90':>10}{'exit p50':>12}{'p90':>10}{'peak RSS - guest':>20}"
    print(hdr)
    print("-" * len(hdr))
    for name, rs in results.items():
        firsts = [r[0] * 1000 for r in rs]
        exits = [r[1] * 1000 for r in rs]
        rss = statistics.median(r[2] for r in rs) - touched_kib
        print(f"{name:<14}{statistics.median(firsts):>15.1f} ms{pct(firsts, 90):>7.1f} ms"
              f"{statistics.median(exits):>9.1f} ms{pct(exits, 90):>7.1f} ms{rss / 1024:>16.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
