#!/usr/bin/env python3
"""Virtio throughput: Ember vs QEMU's microvm, same guest, same run.

Both VMMs boot the same Linux (vmlinux + initramfs with an overlay made by
guest/mkoverlay.sh holding bench/guests/vbench.sh and the static
bench/guests/vbench.c) with one virtio-blk drive (a raw file, host cache
writeback), vsock and virtio-net to a TAP. Every figure is measured inside
the guest, for SECONDS per phase:
  blk seq write/read  1 MiB requests, O_DIRECT, over the whole drive;
  blk rand read/write 4 KiB requests, O_DIRECT, queue depth 1 -> IOPS;
  vsock               guest -> host stream (64 KiB writes) to a Unix socket
                      listener (Ember's hybrid vsock: CID 2 port P arrives on
                      <uds_path>_P), until the host acks the byte count;
  net                 64-byte UDP datagrams to the host end of the TAP; pps =
                      datagrams the host received / guest send time.
The script runs itself in a network namespace of its own (unshare -n) with
the TAP in it; without one the net row is n/a.
"""
import argparse
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TAP, HOST_IP, GUEST_IP, UDP_PORT, VSOCK_PORT = "vb0", "172.16.0.1", "172.16.0.2", 5001, 5201
NETNS_ENV = "EMBER_VBENCH_NETNS"


def in_own_netns():
    """Re-runs this script under unshare -n (once); True if we are in one."""
    if os.environ.get(NETNS_ENV) == "1":
        return True
    if os.environ.get(NETNS_ENV) == "0":
        return False
    env = dict(os.environ, **{NETNS_ENV: "1"})
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"],
                                                  stderr=subprocess.DEVNULL).returncode == 0:
        os.execvpe("unshare", ["unshare", "-n", sys.executable] + sys.argv, env)
    os.environ[NETNS_ENV] = "0"
    return False


def setup_tap():
    if not os.access("/dev/net/tun", os.W_OK):
        return "no writable /dev/net/tun"
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "tuntap", "add", "dev", TAP, "mode", "tap"],
                ["ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP],
                ["ip", "link", "set", TAP, "up"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            return f"{' '.join(cmd)}: {r.stderr.strip()}"
    return None


class UdpCounter(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind((HOST_IP, UDP_PORT))
        self.s.settimeout(0.2)
        self.pkts = 0
        self.stop = False

    def run(self):
        buf = bytearray(4096)
        while not self.stop:
            try:
                self.s.recv_into(buf)
                self.pkts += 1
            except socket.timeout:
                pass

    def take(self):
        n, self.pkts = self.pkts, 0
        return n


class VsockSink(threading.Thread):
    """The host end of the guest's vsock stream: counts, then acks the count."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(path)
        self.s.listen(4)
        self.received = None

    def run(self):
        try:
            c, _ = self.s.accept()
        except OSError:
            return
        n = 0
        buf = bytearray(1 << 20)
        while True:
            r = c.recv_into(buf)
            if not r:
                break
            n += r
        self.received = n
        c.sendall(str(n).encode())
        c.close()

    def close(self):
        self.s.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def run_vm(cmd, log, timeout):
    """Runs the VMM; returns ({phase: (fields, host_seconds)}, console, rc)."""
    # results["cpu"]: the VMM process' user and system time (wait4).
    t0 = time.monotonic()
    with open(log + ".stderr", "wb") as errf:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf)
    out = b""
    results, started = {}, {}
    fd = p.stdout.fileno()
    pending = b""
    while True:
        left = timeout - (time.monotonic() - t0)
        r, _, _ = select.select([fd], [], [], max(left, 0))
        if not r:
            p.kill()
            out += b"\n[virtio_bench: killed after %d s]\n" % timeout
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.monotonic()
        out += chunk
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            m = re.search(rb"VBENCH (\S+) ?(.*)", line)
            if not m:
                continue
            name, rest = m.group(1).decode(), m.group(2).decode().strip()
            if name == "phase":
                started[rest] = now
                continue
            fields = dict(kv.split("=", 1) for kv in rest.split() if "=" in kv)
            results[name] = (fields, now - started.get(name, now))
    _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    p.returncode = rc
    p.stdout.close()
    results["cpu"] = ({"user": ru.ru_utime, "sys": ru.ru_stime}, 0)
    with open(log, "wb") as f:
        f.write(out)
    return results, out.decode(errors="replace"), rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="console=ttyS0 reboot=k panic=-1")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--seconds", type=float, default=3.0, help="per phase")
    ap.add_argument("--disk-mib", type=int, default=64)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--udp-size", type=int, default=64)
    ap.add_argument("--workdir", help="keep images and console logs here")
    ap.add_argument("--timeout", type=int, default=120, help="per VM")
    ap.add_argument("--runs", type=int, default=1, help="boots per VMM, interleaved; median shown")
    args = ap.parse_args()

    netns = in_own_netns()
    net_why = setup_tap() if netns else "could not make a network namespace (unshare -n)"

    work = args.workdir or tempfile.mkdtemp(prefix="ember-vbench-")
    os.makedirs(work, exist_ok=True)
    work = os.path.abspath(work)
    kernel, initrd = os.path.abspath(args.kernel), os.path.abspath(args.initrd)

    # Guest side: the static program, the script, the overlay.
    subprocess.run(["gcc", "-static", "-O2", "-o", f"{work}/vbench",
                    f"{HERE}/guests/vbench.c"], check=True)
    with open(f"{HERE}/guests/vbench.sh") as f:
        script = f.read()
    for k, v in {"SECONDS": args.seconds, "VSOCK_PORT": VSOCK_PORT, "GUEST_IP": GUEST_IP,
                 "HOST_IP": HOST_IP, "UDP_PORT": UDP_PORT, "UDP_SIZE": args.udp_size}.items():
        script = script.replace(f"@{k}@", str(v))
    with open(f"{work}/vbench.sh", "w") as f:
        f.write(script)
    subprocess.run(["bash", os.path.join(HERE, "..", "guest", "mkoverlay.sh"),
                    f"{work}/overlay.cpio.gz", f"{work}/vbench.sh", f"{work}/vbench"], check=True)
    with open(f"{work}/initrd.cpio.gz", "wb") as out:
        for part in (initrd, f"{work}/overlay.cpio.gz"):
            with open(part, "rb") as f:
                out.write(f.read())
    initrd = f"{work}/initrd.cpio.gz"

    udp = None
    if net_why is None:
        udp = UdpCounter()
        udp.start()

    have_vhost_vsock = os.access("/dev/vhost-vsock", os.R_OK | os.W_OK)
    qemu_vsock_why = None if have_vhost_vsock else "no /dev/vhost-vsock on this host"

    def disk(name):
        path = f"{work}/{name}.img"
        with open(path, "wb") as f:  # allocated, not sparse
            blk = b"\0" * (1 << 20)
            for _ in range(args.disk_mib):
                f.write(blk)
        return path

    vmms = {}
    # Ember
    img = disk("ember")
    uds = f"{work}/v.sock"
    cfg = {
        "boot-source": {"kernel_image_path": kernel, "initrd_path": initrd,
                        "boot_args": args.append},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": args.mem},
        "drives": [{"drive_id": "bench", "path_on_host": img, "is_root_device": False,
                    "is_read_only": False, "cache_type": "Writeback"}],
        "vsock": {"guest_cid": 3, "uds_path": uds},
    }
    if net_why is None:
        cfg["network-interfaces"] = [{"iface_id": "eth0", "host_dev_name": TAP,
                                      "guest_mac": "06:00:ac:10:00:02"}]
    with open(f"{work}/ember.json", "w") as f:
        json.dump(cfg, f, indent=1)
    vmms["Ember"] = ([args.ember, "--no-api", "--config-file", f"{work}/ember.json",
                      "--accel", args.accel], f"{uds}_{VSOCK_PORT}")
    # QEMU microvm
    img = disk("qemu")
    q = ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", args.accel, "-smp", "1",
         "-m", str(args.mem), "-device", "i8042", "-nodefaults", "-nographic", "-no-reboot",
         "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append", args.append,
         "-drive", f"id=d,file={img},format=raw,if=none,cache=writeback",
         "-device", "virtio-blk-device,drive=d"]
    if net_why is None:
        q += ["-netdev", f"tap,id=n,ifname={TAP},script=no,downscript=no",
              "-device", "virtio-net-device,netdev=n,mac=06:00:ac:10:00:02"]
    if have_vhost_vsock:
        q += ["-device", "vhost-vsock-device,guest-cid=3"]
    vmms["QEMU microvm"] = (q, None)

    res, notes = {name: [] for name in vmms}, []
    t_all = time.monotonic()
    for run, (name, (cmd, sink_path)) in [(i, v) for i in range(args.runs) for v in vmms.items()]:
        sink = VsockSink(sink_path) if sink_path else None
        if sink:
            sink.start()
        if udp:
            udp.take()
        tag = f"{name.split()[0].lower()}-{run + 1}"
        r, console, rc = run_vm(cmd, f"{work}/{tag}.console", args.timeout)
        if udp:
            time.sleep(0.2)
            r.setdefault("net-udp-tx", ({}, 0))[0]["host_pkts"] = udp.take()
        if sink:
            sink.close()
            if "vsock-tx" in r and sink.received is not None:
                r["vsock-tx"][0]["sink_bytes"] = sink.received
        res[name].append(r)
        bad = [k for k, (f, _) in r.items() if "error" in f
               and not (k == "vsock-tx" and sink is None and qemu_vsock_why)]
        if rc != 0 or "end" not in r or bad:
            notes.append(f"{name}: exit {rc}, errors in {bad or 'none'}"
                         f"{'' if 'end' in r else ', guest script did not finish'};"
                         f" console: {work}/{tag}.console\n"
                         + "\n".join("    " + l for l in console.splitlines()[-25:]))
    elapsed = time.monotonic() - t_all

    def median(name, key, metric):
        nums = [v for v in (one(r, key, metric) for r in res[name]) if isinstance(v, float)]
        return statistics.median(nums) if nums else None

    def val(name, key, metric):
        vs = [one(r, key, metric) for r in res[name]]
        nums = sorted(v for v in vs if isinstance(v, float))
        if not nums:
            return vs[0] if vs else "n/a"
        fmt = (lambda x: f"{x:.0f}") if metric != "MBps" or nums[-1] >= 1000 else \
            (lambda x: f"{x:.1f}")
        if len(nums) == 1:
            return fmt(nums[0])
        return f"{fmt(statistics.median(nums))} ({fmt(nums[0])}-{fmt(nums[-1])})"

    def one(r, key, metric):
        f, host_s = r.get(key, ({}, 0))
        if "error" in f:
            return "error"
        try:
            ns = int(f["ns"])
            secs = ns / 1e9
        except (KeyError, ValueError):
            return "n/a"
        if metric == "MBps":
            return int(f['bytes']) / secs / 1e6
        if metric == "IOPS":
            return int(f['ops']) / secs
        if metric == "pps":
            return int(f.get('host_pkts', 0)) / secs
        if metric == "sent":
            return int(f['pkts']) / secs
        return "?"

    rows = [("blk seq write, 1 MiB O_DIRECT (MB/s)", "blk-seq-write", "MBps"),
            ("blk seq read, 1 MiB O_DIRECT (MB/s)", "blk-seq-read", "MBps"),
            ("blk rand read, 4 KiB QD1 (IOPS)", "blk-rand-read", "IOPS"),
            ("blk rand write, 4 KiB QD1 (IOPS)", "blk-rand-write", "IOPS"),
            ("vsock guest->host stream (MB/s)", "vsock-tx", "MBps"),
            (f"net UDP {args.udp_size} B, received by host (pps)", "net-udp-tx", "pps"),
            (f"net UDP {args.udp_size} B, sent by guest (pps)", "net-udp-tx", "sent")]
    cols = list(vmms)
    print(f"\nVirtio throughput in the guest: backend {args.accel}, 1 vCPU, {args.mem} MiB, "
          f"{args.seconds:g} s per phase, {args.disk_mib} MiB raw drive (host cache writeback), "
          f"vsock 64 KiB writes, UDP {args.udp_size}-byte payloads; measured inside the guest; "
          + (f"median (min-max) of {args.runs} boots each" if args.runs > 1 else "one boot each"))
    ratio = len(cols) == 2
    hdr = f"{'metric':<44}" + "".join(f"{c:>24}" for c in cols) + \
        (f"{'ratio Ember/QEMU':>18}" if ratio else "")
    print(hdr)
    print("-" * len(hdr))
    for label, key, metric in rows:
        cells = []
        for c in cols:
            if net_why and key == "net-udp-tx":
                cells.append("n/a")
            elif key == "vsock-tx" and c != "Ember" and qemu_vsock_why:
                cells.append("n/a")
            else:
                cells.append(val(c, key, metric))
        row = f"{label:<44}" + "".join(f"{x:>24}" for x in cells)
        if ratio:
            e, q = (median(c, key, metric) if cells[i] not in ("n/a", "error") else None
                    for i, c in enumerate(cols))
            row += f"{e / q:>18.2f}" if e is not None and q else f"{'n/a':>18}"
        print(row)
    print("-" * len(hdr))
    if ratio:
        print("ratio = Ember's median / QEMU's (throughput: above 1, Ember moves more)")
    # Guest clock vs host clock over the phases, as a sanity check of the
    # guest's timekeeping under TCG.
    skew, cpu = [], []
    for c in cols:
        g = sum(int(f["ns"]) / 1e9 for r in res[c] for f, _ in r.values() if "ns" in f)
        h = sum(hs for r in res[c] for f, hs in r.values() if "ns" in f)
        if h:
            skew.append(f"{c} {g:.1f}/{h:.1f} s")
        u = statistics.median(r["cpu"][0]["user"] for r in res[c])
        k = statistics.median(r["cpu"][0]["sys"] for r in res[c])
        cpu.append(f"{c} {u:.1f} user + {k:.1f} sys")
    print("TCG emulates the guest CPU in software: every figure here is bound by guest CPU "
          "emulation, not by the devices or the host I/O path.")
    if skew:
        print("guest/host clock over the timed phases: " + ", ".join(skew))
    print("VMM process CPU per boot (s): " + ", ".join(cpu))
    if qemu_vsock_why:
        print(f"QEMU vsock n/a: vhost-vsock-device needs /dev/vhost-vsock ({qemu_vsock_why}; "
              "the host kernel has no vhost_vsock module).")
    if net_why:
        print(f"net n/a: {net_why}")
    print(f"total {elapsed:.0f} s; console logs in {work}")
    for n in notes:
        print("PROBLEM " + n)
    for fn in ("ember.img", "qemu.img"):  # the drive images go; the console logs stay
        try:
            os.unlink(f"{work}/{fn}")
        except FileNotFoundError:
            pass
    return 1 if notes else 0


if __name__ == "__main__":
    sys.exit(main())
