#!/usr/bin/env python3
"""Start-up benchmark: Ember vs QEMU's microvm machine, same guest, same run.

Each VMM boots the same kernel with the same parameters and memory RUNS
times per vCPU count; every run boots each configuration once, the order
rotating from run to run, so machine noise hits all alike. Measured from
spawning the VMM process:
  first output  the first console byte (the guest is running; for QEMU this
                includes its firmware);
  marker        the console line that says the guest reached its goal
                (bare-metal: its only line; Linux: EMBER-GUEST-READY, i.e.
                init is running);
  exit          the process' exit after the guest's reset;
  CPU           user + system time of the VMM process;
  threads       the VMM's host threads when the marker came (QEMU's
                multi-threaded TCG runs one thread per vCPU);
  peak RSS      the process' maximum resident set (wait4) minus the guest RAM
                the guest touched (counted by Ember with mincore; the same
                guest touches about the same pages under QEMU).
ratio = Ember's p50 / that QEMU's p50 (below 1: Ember is faster), for the
marker and for CPU.

--qemu-tcg-threads single,default boots QEMU twice per run: with
-accel tcg,thread=single (one host thread runs every vCPU in turn, as
Ember's software CPU does) and with QEMU's default (multi-threaded TCG for
an x86 guest on an x86 host). --check-cpus fails the benchmark unless the
kernel says it brought up every vCPU ("smp: Brought up 1 node, N CPUs").
"""
import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time

CPUS_UP = re.compile(rb"smp: Brought up \d+ nodes?, (\d+) CPUs?")


class BenchError(Exception):
    pass


def threads_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_once(cmd, marker, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = seen = None
    threads = 0
    out = b""
    fd = p.stdout.fileno()
    while True:
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            p.kill()
            p.wait()
            raise BenchError(f"{cmd[0]}: no output in {timeout} s\n"
                             f"{out[-2000:].decode(errors='replace')}")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.monotonic() - t0
        if first is None:
            first = now
        out += chunk
        if seen is None and marker in out:
            seen = now
            threads = threads_of(p.pid)
    _, status, ru = os.wait4(p.pid, 0)
    t_exit = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stdout.close()
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or seen is None:
        raise BenchError(f"{' '.join(cmd)}: exit {code}, marker seen: {seen is not None}\n"
                         f"{out[-2000:].decode(errors='replace')}\n{err[-2000:]}")
    return (first, seen, t_exit, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, threads), out, err


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
    ap.add_argument("--vcpus", default="1", help="vCPU counts, comma-separated (1,4)")
    ap.add_argument("--qemu-tcg-threads", default="",
                    help="QEMU TCG threading variants, comma-separated: single, multi, default")
    ap.add_argument("--check-cpus", action="store_true",
                    help="fail unless the kernel brought up every vCPU")
    args = ap.parse_args()

    kernel = os.path.abspath(args.kernel)
    initrd = os.path.abspath(args.initrd) if args.initrd else None
    counts = [int(n) for n in args.vcpus.split(",")]
    variants = [v for v in args.qemu_tcg_threads.split(",") if v] or ["default"]
    if args.accel != "tcg" and variants != ["default"]:
        ap.error("--qemu-tcg-threads needs --accel tcg")

    cfgs, configs = [], []   # configs: (vcpus, name, command)
    for n in counts:
        cfg = f"/tmp/ember-bench-{os.getpid()}-{n}.json"
        cfgs.append(cfg)
        with open(cfg, "w") as f:
            f.write('{"boot-source": {"kernel_image_path": "%s", %s"boot_args": "%s"},'
                    ' "machine-config": {"vcpu_count": %d, "mem_size_mib": %d}}'
                    % (kernel, f'"initrd_path": "{initrd}", ' if initrd else "", args.append,
                       n, args.mem))
        configs.append((n, "ember", [args.ember, "--no-api", "--config-file", cfg,
                                     "--accel", args.accel, "--level", "Debug"]))
        for v in variants:
            accel = args.accel if v == "default" else f"{args.accel},thread={v}"
            qemu = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", accel,
                    "-smp", str(n), "-m", str(args.mem), "-nographic", "-nodefaults",
                    "-no-reboot", "-serial", "stdio", "-device", "i8042", "-kernel", kernel]
            if initrd:
                qemu += ["-initrd", initrd]
            if args.append:
                qemu += ["-append", args.append]
            name = "qemu" if variants == ["default"] else \
                {"single": "qemu 1 thread", "multi": "qemu mttcg"}.get(v, "qemu default")
            configs.append((n, name, qemu))

    results = {(n, name): [] for n, name, _ in configs}
    touched_kib = {}
    try:
        for run in range(args.runs):
            k = run % len(configs)
            for n, name, cmd in configs[k:] + configs[:k]:
                r, out, err = run_once(cmd, args.marker.encode(), 60)
                if args.check_cpus:
                    m = CPUS_UP.search(out)
                    up = int(m.group(1)) if m else 0
                    if up != n:
                        raise BenchError(f"{name}, {n} vCPUs: the kernel brought up {up} CPUs"
                                         f"{'' if m else ' (no smp: Brought up line)'}\n"
                                         f"{out[-1500:].decode(errors='replace')}")
                results[(n, name)].append(r)
                m = re.search(r"guest memory resident at exit: (\d+) KiB", err)
                if m:
                    touched_kib[n] = int(m.group(1))
    except BenchError as e:
        print(f"\nboot_bench: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        for cfg in cfgs:
            os.unlink(cfg)

    print(f"\n{args.title or 'Start-up'}: {args.runs} runs each, interleaved, {args.accel}, "
          f"{args.mem} MiB, {os.path.basename(kernel)}"
          f"{' + ' + os.path.basename(initrd) if initrd else ''}; times in ms, p50 (p90); "
          f"ratio = Ember p50 / this row's p50")
    if args.check_cpus:
        print("every boot's kernel brought up all its vCPUs (smp: Brought up 1 node, N CPUs)")
    hdr = (f"{'VMM':<22}{'first output':>16}{'marker':>18}{'exit':>18}{'CPU':>18}"
           f"{'threads':>8}{'peak RSS - guest':>19}{'ratio marker':>14}{'ratio CPU':>11}")
    print(hdr)
    print("-" * len(hdr))
    for n in counts:
        ember = results[(n, "ember")]
        e_marker = statistics.median(r[1] for r in ember)
        e_cpu = statistics.median(r[3] for r in ember)
        for (m, name), rs in results.items():
            if m != n:
                continue
            cols = []
            for i in range(4):
                xs = [r[i] * 1000 for r in rs]
                cols.append(f"{statistics.median(xs):>9.1f} ({pct(xs, 90):>6.1f})")
            rss = statistics.median(r[4] for r in rs) - touched_kib.get(n, 0)
            threads = statistics.median(r[5] for r in rs)
            ratios = "" if name == "ember" else (
                f"{e_marker / statistics.median(r[1] for r in rs):>14.2f}"
                f"{e_cpu / statistics.median(r[3] for r in rs):>11.2f}")
            label = f"{name}, {n} vCPU{'s' if n > 1 else ''}"
            print(f"{label:<22}" + "".join(f"{c:>18}" for c in cols) + f"{threads:>8.0f}"
                  f"{rss / 1024:>15.1f} MiB" + ratios)
    if "single" in variants:
        print("Ember's software CPU runs its vCPUs round-robin on one host thread (its other "
              "vCPU threads stay parked), as QEMU does with thread=single; QEMU's default for "
              "an x86 guest on an x86 host is multi-threaded TCG, one host thread per vCPU "
              f"(this host has {os.cpu_count()} CPUs).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
