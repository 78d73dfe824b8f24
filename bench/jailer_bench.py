#!/usr/bin/env python3
"""What the jailer costs at start-up: ember-jailer start -> the jailed VMM's
API socket answering, against `ember --api-sock` alone, same run.

Each run starts, interleaved so machine noise hits all alike:
  ember alone    ember --api-sock SOCK
  jailed         ember-jailer --id ... --exec-file EMBER --uid U --gid G
                 --chroot-base-dir TMP -- --api-sock api.sock
  +new-pid-ns    the same with --new-pid-ns (the VMM is pid 1 of its own
                 pid namespace; the jailer's parent exits)
  +cgroup        the same with --parent-cgroup ... --cgroup pids.max=1000 (v1:
                 moving a process into a v1 cgroup waits for an RCU grace
                 period, the bulk of this line's extra)
and measures from spawning the process to the first answer to GET / on its
socket (no guest runs: this is the control plane's start). Then the VMM is
ended (SIGTERM), the jail and cgroup removed. Needs root (the jailer does).
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def answered(path, deadline):
    """Polls until GET / on the Unix socket gets a status line."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return time.monotonic()
        except OSError:
            pass
        finally:
            s.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path}: no answer")
        time.sleep(0.0002)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def cgroup_v1(controller):
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and controller in opts.split(","):
                return mnt
    return None


def wait_gone(pid, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--jailer", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--uid", type=int, default=123)
    ap.add_argument("--gid", type=int, default=123)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("jailer benchmark: skipped, the jailer needs root")
        return 0

    ember = os.path.realpath(args.ember)
    name = os.path.basename(ember)
    tmp = tempfile.mkdtemp(prefix="ember-jailbench.")
    base = os.path.join(tmp, "base")
    os.mkdir(base)
    pids = cgroup_v1("pids")
    parent = f"ember-bench-{os.getpid()}"
    kinds = ["ember alone", "jailed", "+new-pid-ns"] + (["+cgroup"] if pids else [])
    times = {k: [] for k in kinds}
    devnull = subprocess.DEVNULL

    def jailer_cmd(vid, extra):
        return [args.jailer, "--id", vid, "--exec-file", ember, "--uid", str(args.uid),
                "--gid", str(args.gid), "--chroot-base-dir", base] + extra + \
               ["--", "--api-sock", "api.sock"]

    try:
        for i in range(args.runs):
            for kind in kinds:
                vid = f"bench-{i}-{kinds.index(kind)}"
                root = os.path.join(base, name, vid, "root")
                if kind == "ember alone":
                    sock = os.path.join(tmp, f"alone-{i}.sock")
                    cmd = [ember, "--api-sock", sock]
                elif kind == "jailed":
                    sock = os.path.join(root, "api.sock")
                    cmd = jailer_cmd(vid, [])
                elif kind == "+new-pid-ns":
                    sock = os.path.join(root, "api.sock")
                    cmd = jailer_cmd(vid, ["--new-pid-ns"])
                else:
                    sock = os.path.join(root, "api.sock")
                    cmd = jailer_cmd(vid, ["--parent-cgroup", parent, "--cgroup", "pids.max=1000"])
                t0 = time.monotonic()
                p = subprocess.Popen(cmd, stdin=devnull, stdout=devnull, stderr=devnull)
                t1 = answered(sock, t0 + 10)
                times[kind].append((t1 - t0) * 1000)
                if kind == "+new-pid-ns":
                    p.wait(10)  # the jailer's parent exits once the VMM is forked
                    with open(os.path.join(root, name + ".pid")) as f:
                        vmm = int(f.read())
                    os.kill(vmm, signal.SIGTERM)
                    wait_gone(vmm)
                else:
                    p.send_signal(signal.SIGTERM)
                    p.wait(10)
                if kind == "+cgroup":
                    d = os.path.join(pids, parent, vid)
                    for _ in range(200):
                        try:
                            os.rmdir(d)
                            break
                        except OSError:
                            time.sleep(0.005)
                shutil.rmtree(os.path.join(base, name, vid), ignore_errors=True)
    finally:
        if pids:
            try:
                os.rmdir(os.path.join(pids, parent))
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nJailer start-up: {args.runs} runs each, spawn -> GET / answered on the API "
          f"socket, no guest; times in ms")
    hdr = f"{'':<16}{'p50':>9}{'p90':>9}{'min':>9}{'p50 - alone':>14}"
    print(hdr)
    print("-" * len(hdr))
    alone = statistics.median(times["ember alone"])
    for kind in kinds:
        xs = times[kind]
        med = statistics.median(xs)
        extra = f"{med - alone:>+14.2f}" if kind != "ember alone" else f"{'':>14}"
        print(f"{kind:<16}{med:>9.2f}{pct(xs, 90):>9.2f}{min(xs):>9.2f}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
