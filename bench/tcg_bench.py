#!/usr/bin/env python3
"""Guest user-space speed on the software CPU: Ember's TCG backend vs QEMU's
TCG (microvm), same kernel and initramfs, same run, boots interleaved.

The guest runs bench/guests/cpubench.sh (packed with the static
bench/guests/cpubench.c by guest/mkoverlay.sh); every figure is timed inside
the guest with CLOCK_MONOTONIC:
  loop    a tight integer loop (multiply-add, one block chained to itself);
          also the timer interrupts the guest took per second meanwhile
  call    direct call/ret to a leaf function
  icall   indirect calls through a table, two alternating targets
  memcpy  1 MiB memcpy between two buffers
  fork    fork + exec of a static binary + wait
  awk     busybox awk, a string-and-arithmetic loop
  gzip    busybox gzip of a few MiB of generated text to /dev/null
Each kernel runs REPS times per boot; the p50 is over all repetitions of
all boots of a VMM. ratio = Ember p50 / QEMU p50 (< 1: Ember is faster).

CPUID: Ember's software CPU has a fixed table (runtime/backend/tcg/cpuid.c:
qemu64's signature, AuthenticAMD, SSE3 SSSE3 SSE4.1 SSE4.2 CX16, no AVX or
XSAVE); QEMU gets -cpu qemu64 with the same additions, so glibc picks the same
memcpy and the kernel the same code paths in both.
"""
import argparse
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# qemu64 plus what Ember's table adds (SSSE3, SSE4.1, SSE4.2) less what it
# lacks (SVM, ABM): the guest sees the same instruction sets.
QEMU_CPU = "qemu64,+ssse3,+sse4.1,+sse4.2,-svm,-abm"
KERNELS = ["loop", "call", "icall", "memcpy", "fork", "awk", "gzip"]
SIZES = {"LOOP": 100000000, "CALL": 20000000, "ICALL": 10000000, "MEMCPY": 200,
         "FORK": 30, "AWK": 100000, "TEXT_MIB": 2}


def run_vm(cmd, log, timeout):
    """Runs one VM to its end; returns ({kernel: [ns...]}, errors, rc)."""
    t0 = time.monotonic()
    with open(log + ".stderr", "wb") as errf:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf)
    out, fd = b"", p.stdout.fileno()
    while True:
        left = timeout - (time.monotonic() - t0)
        r, _, _ = select.select([fd], [], [], max(left, 0))
        if not r:
            p.kill()
            out += b"\n[tcg_bench: killed after %d s]\n" % timeout
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    rc = p.wait()
    p.stdout.close()
    with open(log, "wb") as f:
        f.write(out)
    res, errors = {}, []
    text = out.decode(errors="replace")
    for m in re.finditer(r"CPUBENCH (\S+) (\S+)=(\d+|\S+)", text):
        name, key, val = m.groups()
        if key in ("ns", "hz"):
            res.setdefault(name, []).append(int(val))
        else:
            errors.append(f"{name} {key}={val}")
    if "CPUBENCH end" not in text:
        errors.append(f"no end marker (rc {rc}, see {log})")
    return res, errors, rc


def host_tsc_khz(work):
    """The host's TSC rate as Ember measured it for its guest (Ember boots
    first in every pair), so that QEMU's guest uses the same clocksource:
    both TCGs read the host's TSC for RDTSC."""
    for name in sorted(os.listdir(work)):
        if name.startswith("ember-") and name.endswith(".console"):
            with open(os.path.join(work, name), errors="replace") as f:
                m = re.search(r"tsc_early_khz=(\d+)", f.read())
            if m:
                return m.group(1)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="console=ttyS0 reboot=k panic=-1")
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--runs", type=int, default=2, help="boots per VMM, interleaved")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per boot")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    ap.add_argument("--workdir", help="keep the overlay and console logs here")
    ap.add_argument("--timeout", type=int, default=300, help="per VM")
    ap.add_argument("--only", help="run one VMM: ember or qemu (for profiling)")
    args = ap.parse_args()

    # The TSC as clocksource in both guests (microsecond timing; the
    # jiffies fallback has 4 ms steps), without the watchdog that would
    # judge it against a timer tick the software CPUs deliver late.
    args.append += " tsc=reliable"
    work = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="ember-tcgbench-"))
    os.makedirs(work, exist_ok=True)
    kernel, initrd = os.path.abspath(args.kernel), os.path.abspath(args.initrd)
    subprocess.run(["gcc", "-static", "-O2", "-o", f"{work}/cpubench",
                    f"{HERE}/guests/cpubench.c"], check=True)
    with open(f"{HERE}/guests/cpubench.sh") as f:
        script = f.read()
    subst = {k: max(1, int(v * args.scale)) if k != "TEXT_MIB" else v for k, v in SIZES.items()}
    subst["REPS"] = args.reps
    for k, v in subst.items():
        script = script.replace(f"@{k}@", str(v))
    with open(f"{work}/cpubench.sh", "w") as f:
        f.write(script)
    subprocess.run(["bash", os.path.join(HERE, "..", "guest", "mkoverlay.sh"),
                    f"{work}/overlay.cpio.gz", f"{work}/cpubench.sh", f"{work}/cpubench"],
                   check=True)
    with open(f"{work}/initrd.cpio.gz", "wb") as out:
        for part in (initrd, f"{work}/overlay.cpio.gz"):
            with open(part, "rb") as f:
                out.write(f.read())
    initrd = f"{work}/initrd.cpio.gz"

    cfg = {"boot-source": {"kernel_image_path": kernel, "initrd_path": initrd,
                           "boot_args": args.append},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": args.mem}}
    with open(f"{work}/ember.json", "w") as f:
        json.dump(cfg, f, indent=1)
    vmms = {
        "Ember": [args.ember, "--no-api", "--config-file", f"{work}/ember.json", "--accel", "tcg"],
        "QEMU": ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", "tcg",
                 "-cpu", QEMU_CPU, "-smp", "1", "-m", str(args.mem), "-device", "i8042",
                 "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio",
                 "-kernel", kernel, "-initrd", initrd, "-append", args.append],
    }
    if args.only:
        vmms = {k: v for k, v in vmms.items() if k.lower() == args.only.lower()}
    res = {name: {} for name in vmms}
    failed = []
    for run, (name, cmd) in [(i, v) for i in range(args.runs) for v in vmms.items()]:
        tag = f"{name.lower()}-{run + 1}"
        khz = host_tsc_khz(work)
        if name == "QEMU" and khz:
            cmd = cmd[:-1] + [cmd[-1] + f" tsc_early_khz={khz}"]
        r, errors, rc = run_vm(cmd, f"{work}/{tag}.console", args.timeout)
        for k, v in r.items():
            res[name].setdefault(k, []).extend(v)
        failed += [f"{tag}: {e}" for e in errors]

    print(f"\nGuest user space on the software CPU: Ember --accel tcg vs QEMU -accel tcg "
          f"(microvm, -cpu {QEMU_CPU})")
    print(f"{args.runs} boots per VMM, interleaved, {args.reps} repetitions each; "
          f"p50 of all, in ms (timed in the guest)")
    names = list(vmms)
    print(f"{'benchmark':<10}" + "".join(f"{n + ' p50':>14}" for n in names) +
          ("   ratio Ember/QEMU" if len(names) == 2 else ""))
    bad = 0
    for k in KERNELS:
        p50 = [statistics.median(res[n][k]) / 1e6 if res[n].get(k) else None for n in names]
        row = f"{k:<10}" + "".join(f"{p:>14.1f}" if p is not None else f"{'n/a':>14}" for p in p50)
        if len(names) == 2:
            if None in p50:
                row += f"{'n/a':>20}"
                bad += 1
            else:
                row += f"{p50[0] / p50[1]:>20.2f}"
        print(row)
    hz = [f"{n} {statistics.median(res[n]['loop-timer-hz']):.0f}" for n in names
          if res[n].get("loop-timer-hz")]
    if hz:
        print("timer interrupts taken per second during the loop (p50; the guest's HZ is the "
              "target): " + ", ".join(hz))
    for f in failed:
        print(f"error: {f}")
    print(f"console logs: {work}")
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
