#!/usr/bin/env python3
"""Snapshot benchmark: Ember vs QEMU's microvm, same guest, same run.

The guest is the project's Linux (vmlinux + initramfs + an overlay made by
guest/mkoverlay.sh holding bench/guests/tick.sh, which prints "TICK n"
every ~10 ms after init: the function is ready and waiting), with the same
kernel, initramfs and kernel parameters on both VMMs. For each guest size
(--mems), RUNS times, Ember and QEMU interleaved (the order alternates):

  cold boot   process spawned -> the first tick (TICK 1); the guest then
              ticks for a while (--warm ticks) before its snapshot.
  create      Ember: PATCH /vm Paused, then PUT /snapshot/create Full,
              each request -> response; the memory file's apparent size
              and its size on disk (du). QEMU: QMP `stop`, then `migrate`
              to "exec:cat > FILE" until `query-migrate` says completed;
              the file's size; and the fsync of the file afterwards
              (Ember's create includes its fdatasync, cat's file is not
              synced).
  restore     Ember, pre-started: a fresh `ember --api-sock` that already
              answers GET /; PUT /snapshot/load (File backend, resume_vm)
              request -> response, and request -> the guest's first new
              tick. Ember at start-up: `ember --no-api --config-file` with
              a "snapshot-load" section, spawn -> first new tick.
              QEMU: `-incoming "exec:cat FILE"`, spawn -> first new tick
              (QEMU cannot be started before the file is named on its
              command line); and `-incoming defer` with QMP up, then
              `migrate-incoming`: request -> RESUME event (running), and
              request -> first new tick, the fair match for a pre-started
              Ember.
  clones      --clones restores from one snapshot (the last run's) running
              at once: sums of RSS, PSS and private memory over the VMM
              processes (/proc/PID/smaps_rollup), --settle seconds after
              the last clone ticked. Ember uses the File backend, so its
              clones share the memory file's page cache.

A first new tick is one numbered above the last tick before the snapshot
(at most 2 above: the guest goes on from where it stopped). After a
restore the guest also waits out the rest of the usleep it was in, and
TCG translates the guest's code afresh (its translation cache is not in
any snapshot), on both VMMs.

Then (unless --no-breakdown) where Ember's load time goes: the same
pre-started load, --breakdown-runs times per size, under `perf record`
clocked with CLOCK_MONOTONIC like this script, in three passes: uprobes on
the VMM thread's load path (--no-inherit: perf copying its events into
each new thread would make every pthread_create cost a millisecond);
uprobes on unicorn's tb_gen_code and page-fault tracepoints, to count
what the vCPU does between resume and its first console write; and
cpu-clock samples (10 kHz) of the vCPU thread in that window. Needs root,
perf and uprobes; otherwise it says why and skips. The probes are
removed at the end. --breakdown-only: one Ember snapshot per size, then
only this.
"""
import argparse
import bisect
import collections
import ctypes
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
TICK_RE = re.compile(rb"\s*TICK (\d+)\s*")
UNICORN = "libunicorn.so.2"

PROCS = []  # every VMM still running, for the cleanup
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child: SIGKILL when this script dies, even by SIGKILL."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ms(xs):
    """p50 (p90) in ms of a list of seconds, or n/a."""
    xs = [x * 1000 for x in xs if x is not None]
    if not xs:
        return "n/a"
    return f"{statistics.median(xs):.1f} ({pct(xs, 90):.1f})"


def mib(n):
    return f"{n / (1 << 20):.1f} MiB"


class Vm:
    """A VMM process in its own process group; its console (stdout) is
    read by a thread that timestamps every tick line as it arrives."""

    def __init__(self, name, cmd, logdir):
        self.name = name
        self.err_path = os.path.join(logdir, name + ".stderr")
        self.errf = open(self.err_path, "wb")
        self.cond = threading.Condition()
        self.ticks = []  # (host time, n)
        self.out = bytearray()
        self.eof = False
        self.t_spawn = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self.errf, start_new_session=True,
                                  preexec_fn=die_with_parent)
        PROCS.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.p.stdout.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            now = time.monotonic()
            with self.cond:
                if not chunk:
                    self.eof = True
                    self.cond.notify_all()
                    return
                if len(self.out) < (4 << 20):
                    self.out += chunk
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    m = TICK_RE.fullmatch(line)
                    if m:
                        self.ticks.append((now, int(m.group(1))))
                self.cond.notify_all()

    def failure(self, what):
        try:
            with open(self.err_path, "rb") as f:
                err = f.read()[-1500:].decode(errors="replace")
        except OSError:
            err = ""
        con = bytes(self.out[-1500:]).decode(errors="replace")
        return RuntimeError(f"{self.name}: {what}\n--- console (end):\n{con}\n--- stderr (end):\n{err}")

    def wait_tick(self, after=0, timeout=120):
        """(host time, n) of the first tick numbered above `after`."""
        deadline = time.monotonic() + timeout
        i = 0
        with self.cond:
            while True:
                while i < len(self.ticks):
                    if self.ticks[i][1] > after:
                        return self.ticks[i]
                    i += 1
                if self.eof:
                    raise self.failure(f"exited (status {self.p.poll()}) before a tick above {after}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.failure(f"no tick above {after} in {timeout} s")
                self.cond.wait(min(left, 1.0))

    def last_tick(self):
        with self.cond:
            return self.ticks[-1][1] if self.ticks else 0

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.wait()
        self.reader.join(5)
        self.p.stdout.close()
        self.errf.close()
        if self in PROCS:
            PROCS.remove(self)


def cleanup_procs():
    for vm in list(PROCS):
        try:
            vm.kill()
        except Exception as e:  # go on killing the others
            print(f"snapshot_bench: cleanup of {vm.name}: {e}", file=sys.stderr)


def connect_unix(path, timeout):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.settimeout(timeout)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"nobody answers on {path} after {timeout} s")
            time.sleep(0.001)


class Api:
    """Ember's REST API: HTTP/1.1 on one kept-alive connection."""

    def __init__(self, path, timeout=30):
        self.s = connect_unix(path, timeout)
        self.buf = b""

    def request(self, method, path, body=None, want=None):
        data = json.dumps(body).encode() if body is not None else b""
        req = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
               + ("Content-Type: application/json\r\n" if body is not None else "")
               + f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        t0 = time.monotonic()
        self.s.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError(f"{method} {path}: the API closed the connection")
            self.buf += chunk
        t1 = time.monotonic()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(self.buf) < length:
            self.buf += self.s.recv(65536)
        rbody, self.buf = self.buf[:length], self.buf[length:]
        if want is not None and status != want:
            raise RuntimeError(f"{method} {path}: {status} {rbody.decode(errors='replace')}")
        return status, rbody, t0, t1

    def close(self):
        self.s.close()


class Qmp:
    """QEMU's QMP: commands and the events that come between answers."""

    def __init__(self, path, timeout=60):
        self.s = connect_unix(path, timeout)
        self.f = self.s.makefile("rb")
        self.events = []  # (host time, message)
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        return json.loads(line), time.monotonic()

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        t0 = time.monotonic()
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m, t = self._read()
            if "event" in m:
                self.events.append((t, m))
            elif "error" in m:
                raise RuntimeError(f"QMP {name}: {m['error']}")
            else:
                return m.get("return"), t0, t

    def wait_event(self, name):
        while True:
            for t, m in self.events:
                if m["event"] == name:
                    return t, m
            m, t = self._read()
            if "event" in m:
                self.events.append((t, m))

    def close(self):
        self.f.close()
        self.s.close()


def smaps_rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Bench:
    def __init__(self, args, work):
        self.a = args
        self.work = work
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs)
        self.kernel = os.path.abspath(args.kernel)
        self.initrd = os.path.join(work, "initrd.cpio.gz")
        self.ember = os.path.abspath(args.ember)

    def prepare_guest(self):
        subprocess.run(["bash", os.path.join(HERE, "..", "guest", "mkoverlay.sh"),
                        f"{self.work}/overlay.cpio.gz", os.path.join(HERE, "guests", "tick.sh")],
                       check=True)
        with open(self.initrd, "wb") as out:
            for part in (os.path.abspath(self.a.initrd), f"{self.work}/overlay.cpio.gz"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)

    def vm(self, name, cmd):
        return Vm(name, cmd, self.logs)

    # ---- Ember ----

    def ember_config(self, mem):
        path = f"{self.work}/ember-{mem}.json"
        with open(path, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": self.kernel,
                                       "initrd_path": self.initrd,
                                       "boot_args": self.a.append},
                       "machine-config": {"vcpu_count": 1, "mem_size_mib": mem,
                                          "accel": self.a.accel}}, f)
        return path

    @staticmethod
    def load_body(snap):
        return {"snapshot_path": snap["state"],
                "mem_backend": {"backend_type": "File", "backend_path": snap["mem"]},
                "resume_vm": True}

    def ember_prestarted(self, name, sock):
        """A fresh ember --api-sock that answers GET / (before any clock)."""
        vm = self.vm(name, [self.ember, "--api-sock", sock])
        try:
            api = Api(sock)
            api.request("GET", "/", want=200)
        except Exception:
            vm.kill()
            raise
        return vm, api

    def ember_round(self, mem, run):
        r = {}
        d = f"{self.work}/ember-{mem}-{run}"
        os.makedirs(d)
        snap = {"state": f"{d}/vm.state", "mem": f"{d}/vm.mem"}
        sock = f"{d}/boot.sock"
        vm = self.vm(f"ember-{mem}-{run}-boot",
                     [self.ember, "--api-sock", sock, "--config-file", self.ember_config(mem)])
        try:
            t, _ = vm.wait_tick(0, self.a.timeout)
            r["cold"] = t - vm.t_spawn
            vm.wait_tick(self.a.warm - 1, self.a.timeout)
            api = Api(sock)
            _, _, t0, t1 = api.request("PATCH", "/vm", {"state": "Paused"}, want=204)
            r["pause"] = t1 - t0
            _, _, t0, t1 = api.request("PUT", "/snapshot/create",
                                       {"snapshot_type": "Full", "snapshot_path": snap["state"],
                                        "mem_file_path": snap["mem"]}, want=204)
            r["create"] = t1 - t0
            api.close()
            time.sleep(0.05)  # the reader has every tick made before the pause
            snap["last"] = vm.last_tick()
        finally:
            vm.kill()
        st = os.stat(snap["mem"])
        r["apparent"], r["disk"] = st.st_size, st.st_blocks * 512
        r["state_bytes"] = os.stat(snap["state"]).st_size

        # Pre-started, PUT /snapshot/load.
        vm, api = self.ember_prestarted(f"ember-{mem}-{run}-load", f"{d}/load.sock")
        try:
            _, _, t0, t1 = api.request("PUT", "/snapshot/load", self.load_body(snap), want=204)
            t2, n = vm.wait_tick(snap["last"], self.a.timeout)
            self.check_goes_on(vm, snap, n)
            r["load_resp"], r["load_tick"] = t1 - t0, t2 - t0
            api.close()
        finally:
            vm.kill()

        # At start-up, from a config file.
        cfg = f"{d}/restore.json"
        with open(cfg, "w") as f:
            json.dump({"snapshot-load": self.load_body(snap)}, f)
        vm = self.vm(f"ember-{mem}-{run}-startup", [self.ember, "--no-api", "--config-file", cfg])
        try:
            t2, n = vm.wait_tick(snap["last"], self.a.timeout)
            self.check_goes_on(vm, snap, n)
            r["startup_tick"] = t2 - vm.t_spawn
        finally:
            vm.kill()
        return r, snap

    def check_goes_on(self, vm, snap, n):
        if n > snap["last"] + 2:
            raise vm.failure(f"restored guest printed tick {n}, the snapshot stopped at "
                             f"{snap['last']}")
        vm.wait_tick(n, self.a.timeout)  # and it keeps running

    # ---- QEMU ----

    def qemu_cmd(self, mem):
        # store-global-state=off: the source is stopped before the
        # migration, and with the global state on, the destination would
        # stay paused after loading (Ember's resume_vm: true is the match).
        return [QEMU, "-M", "microvm,acpi=off", "-accel", self.a.accel, "-smp", "1",
                "-m", str(mem), "-nodefaults", "-nographic", "-no-reboot", "-serial", "stdio",
                "-device", "i8042", "-kernel", self.kernel, "-initrd", self.initrd,
                "-append", self.a.append, "-global", "migration.store-global-state=off"]

    def qemu_round(self, mem, run):
        r = {}
        d = f"{self.work}/qemu-{mem}-{run}"
        os.makedirs(d)
        snap = {"file": f"{d}/vm.mig"}
        qsock = f"{d}/boot.qmp"
        vm = self.vm(f"qemu-{mem}-{run}-boot",
                     self.qemu_cmd(mem) + ["-qmp", f"unix:{qsock},server=on,wait=off"])
        try:
            t, _ = vm.wait_tick(0, self.a.timeout)
            r["cold"] = t - vm.t_spawn
            vm.wait_tick(self.a.warm - 1, self.a.timeout)
            q = Qmp(qsock)
            # QEMU 7.2 throttles migration to 128 MiB/s by default: unthrottle.
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30})
            _, t0, t1 = q.cmd("stop")
            r["pause"] = t1 - t0
            _, t0, _ = q.cmd("migrate", uri=f"exec:cat > {snap['file']}")
            while True:
                st, _, t = q.cmd("query-migrate")
                if st.get("status") == "completed":
                    break
                if st.get("status") in ("failed", "cancelled"):
                    raise vm.failure(f"migration {st.get('status')}: {st}")
                time.sleep(0.0002)
            r["create"] = t - t0
            deadline = time.monotonic() + 30
            while children(vm.p.pid):  # cat has written everything
                if time.monotonic() > deadline:
                    raise vm.failure("the migration's cat did not finish")
                time.sleep(0.001)
            t0 = time.monotonic()
            fd = os.open(snap["file"], os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            r["fsync"] = time.monotonic() - t0
            q.close()
            snap["last"] = vm.last_tick()
        finally:
            vm.kill()
        st = os.stat(snap["file"])
        r["apparent"], r["disk"] = st.st_size, st.st_blocks * 512

        # -incoming "exec:cat FILE", from spawn.
        vm = self.vm(f"qemu-{mem}-{run}-incoming",
                     self.qemu_cmd(mem) + ["-incoming", f"exec:cat {snap['file']}"])
        try:
            t2, n = vm.wait_tick(snap["last"], self.a.timeout)
            self.check_goes_on(vm, snap, n)
            r["incoming_tick"] = t2 - vm.t_spawn
        finally:
            vm.kill()

        # -incoming defer, QMP up, then migrate-incoming.
        qsock = f"{d}/defer.qmp"
        vm = self.vm(f"qemu-{mem}-{run}-defer", self.qemu_cmd(mem) + [
            "-qmp", f"unix:{qsock},server=on,wait=off", "-incoming", "defer"])
        try:
            q = Qmp(qsock)
            q.cmd("query-status")
            _, t0, _ = q.cmd("migrate-incoming", uri=f"exec:cat {snap['file']}")
            t1, _ = q.wait_event("RESUME")
            t2, n = vm.wait_tick(snap["last"], self.a.timeout)
            self.check_goes_on(vm, snap, n)
            r["defer_running"], r["defer_tick"] = t1 - t0, t2 - t0
            q.close()
        finally:
            vm.kill()
        return r, snap

    # ---- clones ----

    def ember_clones(self, mem, snap):
        vms = []
        try:
            apis = []
            for i in range(self.a.clones):
                vm, api = self.ember_prestarted(f"ember-{mem}-clone{i}",
                                                f"{self.work}/clone-{mem}-{i}.sock")
                vms.append(vm)
                apis.append(api)
            for api in apis:
                api.request("PUT", "/snapshot/load", self.load_body(snap), want=204)
                api.close()
            return self.measure_clones(vms, snap)
        finally:
            for vm in vms:
                vm.kill()

    def qemu_clones(self, mem, snap):
        vms = []
        try:
            for i in range(self.a.clones):
                vms.append(self.vm(f"qemu-{mem}-clone{i}", self.qemu_cmd(mem) + [
                    "-incoming", f"exec:cat {snap['file']}"]))
            return self.measure_clones(vms, snap)
        finally:
            for vm in vms:
                vm.kill()

    def measure_clones(self, vms, snap):
        for vm in vms:
            t, n = vm.wait_tick(snap["last"], self.a.timeout * 3)
            if n > snap["last"] + 2:
                raise vm.failure(f"clone printed tick {n} first, the snapshot stopped at "
                                 f"{snap['last']}")
        time.sleep(self.a.settle)
        before = [vm.last_tick() for vm in vms]
        tot = collections.Counter()
        for vm in vms:
            for k, v in smaps_rollup(vm.p.pid).items():
                tot[k] += v
        time.sleep(0.3)
        running = sum(1 for vm, b in zip(vms, before) if vm.last_tick() > b)
        return tot, running

    # ---- the whole run ----

    def run(self):
        a = self.a
        self.prepare_guest()
        if a.breakdown_only:  # one Ember snapshot per size, then the breakdown
            snaps = {("ember", mem): self.ember_round(mem, 0)[1] for mem in a.mems}
            Breakdown(self, snaps).run()
            return
        res = {(v, m): [] for m in a.mems for v in ("ember", "qemu")}
        snaps, clones = {}, {}
        for mem in a.mems:
            for run in range(a.runs):
                order = ("ember", "qemu") if run % 2 == 0 else ("qemu", "ember")
                for v in order:
                    r, snap = (self.ember_round if v == "ember" else self.qemu_round)(mem, run)
                    res[(v, mem)].append(r)
                    old = snaps.get((v, mem))
                    snaps[(v, mem)] = snap
                    if old:  # keep only the newest snapshot of each
                        shutil.rmtree(os.path.dirname(old.get("state") or old["file"]))
                print(f"  {mem} MiB run {run + 1}/{a.runs} done", file=sys.stderr, flush=True)
            if a.clones:
                clones[("ember", mem)] = self.ember_clones(mem, snaps[("ember", mem)])
                clones[("qemu", mem)] = self.qemu_clones(mem, snaps[("qemu", mem)])
                print(f"  {mem} MiB clones done", file=sys.stderr, flush=True)
        self.report(res, clones)
        if not a.no_breakdown:
            Breakdown(self, snaps).run()

    def report(self, res, clones):
        a = self.a
        load = os.getloadavg()
        head = (f"{a.runs} runs each, Ember and QEMU interleaved; {a.accel}, 1 vCPU; guest: "
                f"{os.path.basename(self.kernel)} + initramfs + tick overlay; times in ms, "
                f"p50 (p90); host load average {load[0]:.1f} on {os.cpu_count()} CPUs "
                f"(shared with another worker: expect noise)")

        def table(title, cols, rows, notes, what=None):
            print(f"\n{title}: {what or head}")
            w0 = max(len(r[0]) for r in rows) + 2
            ws = [max(len(c), *(len(r[i + 1]) for r in rows)) + 2 for i, c in enumerate(cols)]
            hdr = f"{'':<{w0}}" + "".join(f"{c:>{w}}" for c, w in zip(cols, ws))
            print(hdr)
            print("-" * len(hdr))
            for r in rows:
                print(f"{r[0]:<{w0}}" + "".join(f"{x:>{w}}" for x, w in zip(r[1:], ws)))
            for n in notes:
                print(n)

        def col(v, mem, key):
            return [r.get(key) for r in res[(v, mem)]]

        # 1. create
        rows = []
        for mem in a.mems:
            e, q = res[("ember", mem)], res[("qemu", mem)]
            rows.append((f"Ember {mem} MiB", ms(col("ember", mem, "pause")),
                         ms(col("ember", mem, "create")),
                         ms([x["pause"] + x["create"] for x in e]), "in create",
                         mib(statistics.median(x["apparent"] for x in e)),
                         mib(statistics.median(x["disk"] for x in e))))
            rows.append((f"QEMU {mem} MiB", ms(col("qemu", mem, "pause")),
                         ms(col("qemu", mem, "create")),
                         ms([x["pause"] + x["create"] for x in q]), ms(col("qemu", mem, "fsync")),
                         mib(statistics.median(x["apparent"] for x in q)),
                         mib(statistics.median(x["disk"] for x in q))))
        table("Snapshot create",
              ["pause", "create / migrate", "total", "+ fsync", "file size", "on disk (du)"],
              rows,
              ["Ember: PATCH /vm Paused, then PUT /snapshot/create Full (request -> response; "
               "it writes only the non-zero pages, sparse, and fdatasyncs).",
               "QEMU: QMP stop, then migrate \"exec:cat > FILE\" until query-migrate says "
               "completed (max-bandwidth raised to 100 GiB/s;",
               "  QEMU 7.2 throttles to 128 MiB/s); zero pages are a flag in the stream; "
               "'+ fsync': fsync of the file once cat is done (not part of the migration)."])

        # 2. restore
        rows = []
        for mem in a.mems:
            e, q = res[("ember", mem)], res[("qemu", mem)]
            rows.append((f"Ember {mem} MiB, pre-started + PUT /snapshot/load", "request",
                         ms(col("ember", mem, "load_resp")), ms(col("ember", mem, "load_tick")),
                         ms([x["load_tick"] - x["load_resp"] for x in e])))
            rows.append((f"Ember {mem} MiB, --config-file snapshot-load", "spawn", "",
                         ms(col("ember", mem, "startup_tick")), ""))
            rows.append((f"QEMU {mem} MiB, -incoming exec:cat FILE", "spawn", "",
                         ms(col("qemu", mem, "incoming_tick")), ""))
            rows.append((f"QEMU {mem} MiB, -incoming defer + migrate-incoming", "request",
                         ms(col("qemu", mem, "defer_running")), ms(col("qemu", mem, "defer_tick")),
                         ms([x["defer_tick"] - x["defer_running"] for x in q])))
        table("Snapshot restore to a running guest",
              ["clock from", "-> running (answer)", "-> first new tick", "running -> tick"], rows,
              ["'-> running': Ember's 204 to the load (resume_vm: true, the vCPU is started); "
               "QEMU's RESUME event.",
               "QEMU cannot be started before the file is known (-incoming names it), so its "
               "exec:cat row counts process start-up;",
               "  -incoming defer + migrate-incoming with QMP already up is the match for a "
               "pre-started Ember. Page cache warm (the files were just written).",
               "'running -> tick': the guest's own way back to its first output: the rest of "
               "its usleep, and TCG translating its code afresh",
               "  (neither VMM's snapshot holds translations); Ember's guest also faults its "
               "pages in from the memory file.",
               f"Target (issue 9): Ember restore to a running guest <= 3 ms for 128 MiB, "
               f"independent of memory size."])

        # 3. restore vs cold boot
        rows = []
        for mem in a.mems:
            for v, name, rkey, skey in (("ember", "Ember", "load_tick", "startup_tick"),
                                        ("qemu", "QEMU", "defer_tick", "incoming_tick")):
                cold = statistics.median(col(v, mem, "cold"))
                pre = statistics.median(col(v, mem, rkey))
                spawn = statistics.median(col(v, mem, skey))
                rows.append((f"{name} {mem} MiB", ms(col(v, mem, "cold")), ms(col(v, mem, skey)),
                             ms(col(v, mem, rkey)), f"{cold / spawn:.1f}x / {cold / pre:.1f}x"))
        table("Restore vs cold boot, to the guest's first tick",
              ["cold boot (spawn)", "restore (spawn)", "restore (pre-started)",
               "speed-up spawn / pre"], rows,
              ["cold boot: process spawn -> TICK 1 (kernel boot, init, the tick script); "
               "restore (spawn): Ember --config-file snapshot-load, QEMU -incoming exec:cat;",
               "restore (pre-started): request -> first new tick (Ember PUT /snapshot/load, "
               "QEMU migrate-incoming after -incoming defer)."])

        # 4. clones
        if clones:
            rows = []
            for mem in a.mems:
                for v, name in (("ember", "Ember (File backend)"), ("qemu", "QEMU -incoming")):
                    tot, running = clones[(v, mem)]
                    n = a.clones
                    rows.append((f"{name} {mem} MiB", f"{running}/{n}", mib(tot["Rss"]),
                                 mib(tot["Pss"]), mib(tot.get("Pss_Anon", 0)),
                                 mib(tot.get("Pss_File", 0)),
                                 mib(tot["Private_Clean"] + tot["Private_Dirty"]),
                                 mib(tot["Pss"] / n)))
            table(f"Memory of {a.clones} clones restored from one snapshot, running at once",
                  ["ticking", "sum RSS", "sum PSS", "PSS anon", "PSS file", "sum private",
                   "PSS per clone"], rows,
                  [f"/proc/PID/smaps_rollup of each VMM process, {a.settle:g} s after the last "
                   "clone's first tick; 'ticking': clones whose guest printed a tick in the "
                   "0.3 s after the reading.",
                   "Ember maps the memory file MAP_PRIVATE: guest pages come in on first touch "
                   "and are shared page cache (PSS file);",
                   "QEMU reads the whole stream into each clone's anonymous memory."],
                  what=f"one set per VMM and size, from the last run's snapshot; {a.accel}, "
                       f"1 vCPU; host load average {load[0]:.1f} on {os.cpu_count()} CPUs "
                       f"(shared with another worker)")


def console_write(event, rest):
    """A write(2) to fd 1: Ember's UART writes each guest byte to stdout."""
    return event == "syscalls:sys_enter_write" and re.search(r"fd: 0x0*1\b", rest) is not None


class Breakdown:
    """Where Ember's load time goes: uprobes on the load path, then
    cpu-clock samples of the vCPU between resume and the first output."""

    # (probe name, function, binary: "ember", "unicorn" or "libc", with return probe)
    PROBES = [
        ("load", "controller_snapshot_load", "ember", True),
        ("readfile", "snap_read_file", "ember", True),
        ("selftest", "tcg_selftest", "ember", True),
        ("vcpucreate", "tcg_vcpu_create", "ember", True),
        ("unicorninit", "machine_initialize", "unicorn", True),
        ("guestrun", "tcg_vcpu_run", "ember", True),
        ("ucclose", "uc_close", "unicorn", True),
        ("thread", "pthread_create", "libc", True),
        ("config", "vm_snapshot_config", "ember", True),
        ("restore", "vm_restore", "ember", True),
        ("mapfile", "gm_map_file", "ember", True),
        ("machine", "vm_build_machine", "ember", True),
        ("legacy", "vm_build_legacy", "ember", True),
        ("virtio", "vm_virtio_create", "ember", True),
        ("vcpus", "vm_build_vcpus", "ember", True),
        ("cpustate", "tcg_vcpu_restore", "ember", True),
        ("tscrate", "tcg_tsc_rate_matches", "ember", True),
        ("tscmeasure", "measure", "ember", True),
        ("platform", "tcg_platform_restore", "ember", True),
        ("pause", "vm_pause", "ember", True),
        ("start", "vm_start", "ember", True),
        ("resume", "vm_resume", "ember", True),
        ("tbgen", "tb_gen_code_x86_64", "unicorn", False),
    ]

    def __init__(self, bench, snaps):
        self.b = bench
        self.a = bench.a
        self.snaps = snaps
        self.group = f"embersnap{os.getpid()}"
        self.unicorn = self.libc = None

    def why_not(self):
        if os.geteuid() != 0:
            return "not root (uprobes need it)"
        if not shutil.which("perf"):
            return "no perf (Debian: linux-perf)"
        if not (os.path.exists("/sys/kernel/tracing/uprobe_events")
                or os.path.exists("/sys/kernel/debug/tracing/uprobe_events")):
            return "no uprobe_events in tracefs (mount -t tracefs nodev /sys/kernel/tracing)"
        out = subprocess.run(["ldd", self.b.ember], capture_output=True, text=True).stdout
        m = re.search(r"(\S*" + re.escape(UNICORN) + r") => (\S+)", out)
        if not m:
            return f"ember is not linked with {UNICORN}"
        self.unicorn = os.path.realpath(m.group(2))
        m = re.search(r"libc\.so\.6 => (\S+)", out)
        if not m:
            return "cannot find ember's libc"
        self.libc = os.path.realpath(m.group(1))
        return None

    def add_probes(self):
        for name, func, binary, ret in self.PROBES:
            path = {"ember": self.b.ember, "unicorn": self.unicorn, "libc": self.libc}[binary]
            # "e_": a bare "load" is a keyword to perf's event parser
            specs = [f"{self.group}:e_{name}={func}"]
            if ret:
                specs.append(f"{self.group}:e_{name}_ret={func}%return")
            for spec in specs:
                r = subprocess.run(["perf", "probe", "-q", "-x", path, "-a", spec],
                                   capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError(f"perf probe {spec}: {r.stderr.strip()}")

    def unicorn_text(self, maps):
        """Where unicorn's code is mapped, and its exported functions, so
        that a sample in one of its (stripped) static functions can be
        placed after the nearest exported one."""
        self.text = None
        for line in maps.splitlines():
            f = line.split()
            if len(f) >= 6 and f[1].startswith("r-x") and f[5] == self.unicorn:
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                self.text = (lo, hi, int(f[2], 16))
        if self.text and not getattr(self, "syms", None):
            out = subprocess.run(["nm", "-D", "--defined-only", self.unicorn],
                                 capture_output=True, text=True).stdout
            syms = sorted((int(a, 16), n) for a, t, n in
                          (l.split() for l in out.splitlines() if len(l.split()) == 3)
                          if t in "Tt")
            self.syms = ([a for a, _ in syms], [n for _, n in syms])

    def nearest(self, ip):
        if not self.text or not getattr(self, "syms", None):
            return None
        lo, hi, off = self.text
        if not lo <= ip < hi:
            return None
        i = bisect.bisect_right(self.syms[0], ip - lo + off) - 1
        return self.syms[1][i] if i >= 0 else None

    def del_probes(self):
        subprocess.run(["perf", "probe", "-q", "-d", f"{self.group}:*"], capture_output=True)

    def one_load(self, mem, i, events, inherit=True):
        """A pre-started load under perf record: (t0, t1, t2, events, debug log).
        Without inherit only ember's main (VMM) thread is traced: perf then
        does not copy every event into each new thread, which otherwise
        makes pthread_create and join cost a millisecond each."""
        snap = self.snaps[("ember", mem)]
        d = f"{self.b.work}/perf-{mem}-{i}"
        os.makedirs(d, exist_ok=True)
        data, sock = f"{d}/perf.data", f"{d}/api.sock"
        cmd = ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-o", data]
        for e in events:
            cmd += ["-e", e]
        if not inherit:
            cmd.append("--no-inherit")
        cmd += ["--", self.b.ember, "--api-sock", sock, "--level", "Debug"]
        vm = self.b.vm(f"perf-{mem}-{i}", cmd)
        try:
            api = Api(sock)
            api.request("GET", "/", want=200)
            wall0 = time.time()
            _, _, t0, t1 = api.request("PUT", "/snapshot/load", self.b.load_body(snap), want=204)
            t2, _ = vm.wait_tick(snap["last"], self.a.timeout)
            api.close()
            ember = children(vm.p.pid)
            maps = ""
            for pid in ember:
                try:
                    with open(f"/proc/{pid}/maps") as f:
                        maps = f.read()
                except OSError:
                    pass
            self.unicorn_text(maps)
            for pid in ember:  # ember, not perf: perf then writes its file and exits
                os.kill(pid, signal.SIGKILL)
            vm.p.wait(60)
        finally:
            vm.kill()
        out = subprocess.run(["perf", "script", "-i", data, "-F",
                              "tid,time,event,ip,sym,dso,trace"],
                             capture_output=True, text=True).stdout
        with open(vm.err_path, errors="replace") as f:
            debug = [l.rstrip() for l in f if l.startswith("20")]
        shutil.rmtree(d)
        evs = []
        for line in out.splitlines():
            m = re.match(r"\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$", line)
            if m:
                evs.append((int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)))
        return t0, t1, t2, evs, (wall0, debug)

    def run(self):
        why = self.why_not()
        print(f"\nEmber's load time, where it goes (perf uprobes, {self.a.breakdown_runs} loads "
              f"per size, pre-started ember --api-sock --level Debug; ms, p50 (p90)):")
        if why:
            print(f"  n/a: {why}")
            return
        try:
            self.add_probes()
            self.measure()
        finally:
            self.del_probes()

    def measure(self):
        g = self.group
        # (label, from, to, part of the request -> response sum, pass)
        phases = [
            ("request sent -> VMM thread has it (HTTP, API thread hand-off)", "t0", "load", 1, 1),
            ("read + check the state file (snap_read_file)", "readfile", "readfile_ret", 1, 1),
            ("TCG backend self-test, run on every load (tcg_selftest)", "selftest",
             "selftest_ret", 1, 1),
            ("  set-up: 64 KiB memory, backend VM + its timer thread", "selftest",
             "vcpucreate#1", 0, 1),
            ("  a unicorn vCPU (tcg_vcpu_create)", "vcpucreate#1", "vcpucreate_ret#1", 0, 1),
            ("    of it: unicorn's machine + TCG init", "ui#1", "ui_ret#1", 0, 1),
            ("  run the probe guest (tcg_vcpu_run)", "guestrun#1", "guestrun_ret#1", 0, 1),
            ("  tear-down: uc_close, timer thread join, free", "guestrun_ret#1", "selftest_ret",
             0, 1),
            ("configuration from the state file (vm_snapshot_config)", "config", "config_ret",
             1, 1),
            ("map the memory file (gm_map_file)", "mapfile", "mapfile_ret", 1, 1),
            ("backend VM: timer thread, memory slots (vm_build_machine)", "machine",
             "machine_ret", 1, 1),
            ("devices: legacy + virtio (build)", "legacy", "virtio_ret", 1, 1),
            ("the guest's unicorn vCPU (vm_build_vcpus)", "vcpus", "vcpus_ret", 1, 1),
            ("    of it: unicorn's machine + TCG init", "ui#2", "ui_ret#2", 0, 1),
            ("restore vCPU, platform, device state", "vcpus_ret", "pause", 1, 1),
            ("  vCPU registers (tcg_vcpu_restore)", "cpustate", "cpustate_ret", 0, 1),
            ("    of it: host TSC rate check (tcg_tsc_rate_matches)", "tscrate", "tscrate_ret",
             0, 1),
            ("      of it: TSC measurements (tsc.c measure(), busy-wait)", "tscmeasure",
             "tscmeasure_ret", 0, 1),
            ("  platform: PIC, PIT (tcg_platform_restore)", "platform", "platform_ret", 0, 1),
            ("start the vCPU thread (vm_start)", "start", "start_ret", 1, 1),
            ("resume -> response read by the client", "resume", "t1", 1, 1),
            ("other (between the probed steps)", None, None, 0, 1),
            ("TOTAL request -> response", "t0", "t1", 0, 1),
            ("resume -> the vCPU thread runs the guest", "resume", "vcpurun", 0, 3),
            ("vCPU runs -> its first console write (guest output)", "vcpurun", "write", 0, 3),
            ("first console write -> tick line read here", "write", "t2", 0, 3),
            ("TOTAL request -> first new tick", "t0", "t2", 0, 3),
        ]
        main_events = []
        for name, _, _, ret in self.PROBES:
            if name != "tbgen":
                main_events.append(f"{g}:e_{name}")
                if ret:
                    main_events.append(f"{g}:e_{name}_ret__return")
        vcpu_events = [f"{g}:e_load", f"{g}:e_resume", f"{g}:e_guestrun",
                       "syscalls:sys_enter_write"]
        tables = {}
        for mem in self.a.mems:
            rows = collections.defaultdict(list)
            counts = collections.defaultdict(list)
            samples = collections.Counter()
            near = collections.Counter()
            debug_once = None
            for i in range(self.a.breakdown_runs):
                # pass 1: the VMM thread only, every probe but the translator's
                t0, t1, t2, evs, dbg = self.one_load(mem, i, main_events, inherit=False)
                marks = self.marks(evs, t0, t1, t2)
                self.add_rows(rows, phases, marks, 1, t0, t1)
                lo, hi = marks.get("load"), marks.get("load_ret")
                th = [(t, e) for tid, t, e, _ in evs if e.startswith(f"{g}:e_thread")
                      and lo and hi and lo <= t <= hi]
                starts = [t for t, e in th if not e.endswith("__return")]
                ends = [t for t, e in th if e.endswith("__return")]
                counts["threads"].append(len(starts))
                counts["thread_ms"].append(sum(b - a for a, b in zip(starts, ends)))
                if debug_once is None:
                    debug_once = (t0, dbg)
                # pass 2: translations and page faults of the vCPU, resume -> first output
                t0, t1, t2, evs, _ = self.one_load(
                    mem, 100 + i, vcpu_events + [f"{g}:e_tbgen", "exceptions:page_fault_user"])
                mk = self.marks(evs, t0, t1, t2)
                lo, hi, vtid = mk.get("resume"), mk.get("write"), mk.get("vcpu_tid")
                if lo and hi:
                    counts["tb"].append(sum(1 for tid, t, e, _ in evs
                                            if e == f"{g}:e_tbgen" and lo <= t <= hi))
                    counts["pf"].append(sum(1 for tid, t, e, _ in evs
                                            if e == "exceptions:page_fault_user"
                                            and tid == vtid and lo <= t <= hi))
                # pass 3: no translator probe; cpu-clock samples of the vCPU
                t0, t1, t2, evs, _ = self.one_load(
                    mem, 200 + i, vcpu_events + ["cpu-clock/period=100000/"])
                mk = self.marks(evs, t0, t1, t2)
                self.add_rows(rows, phases, mk, 3, t0, t1)
                lo, hi, vtid = mk.get("resume"), mk.get("write"), mk.get("vcpu_tid")
                if lo and hi:
                    counts["sampled_window"].append(hi - lo)
                    for tid, t, e, rest in evs:
                        if e.startswith("cpu-clock") and tid == vtid and lo <= t <= hi:
                            kind = self.classify(rest)
                            samples[kind] += 1
                            if kind.startswith("unicorn: no symbol"):
                                near[self.nearest(int(rest.split()[0], 16))] += 1
            tables[mem] = (rows, counts, samples, debug_once, near)
        self.print_tables(phases, tables)

    @staticmethod
    def add_rows(rows, phases, marks, npass, t0, t1):
        parts = []
        for label, a, b, top, p in phases:
            if p == npass and a in marks and b in marks:
                rows[label].append(marks[b] - marks[a])
                if top:
                    parts.append(marks[b] - marks[a])
        if npass == 1 and len(parts) == sum(p[3] for p in phases):
            rows["other (between the probed steps)"].append(t1 - t0 - sum(parts))

    def marks(self, evs, t0, t1, t2):
        """Named instants of one load: NAME (first hit), NAME#k (k-th hit)."""
        g = self.group + ":"
        m = {"t0": t0, "t1": t1, "t2": t2}
        seen = collections.Counter()
        main = None
        hits = collections.defaultdict(list)
        for tid, t, e, _ in evs:
            if not e.startswith(g) or e == g + "e_tbgen":
                continue
            name = e[len(g) + 2:].replace("__return", "")
            if name == "load" and main is None:
                main = tid
            hits[name].append(t)
            seen[name] += 1
            m.setdefault(name, t)
            m[f"{name}#{seen[name]}"] = t
            if name == "guestrun" and main is not None and tid != main and "vcpurun" not in m:
                m["vcpurun"], m["vcpu_tid"] = t, tid
        # unicorn's machine init inside each tcg_vcpu_create (its probe may
        # fire more than once per call: take the outermost entry and return)
        for k in (1, 2):
            lo, hi = m.get(f"vcpucreate#{k}"), m.get(f"vcpucreate_ret#{k}")
            if lo is None or hi is None:
                continue
            ins = [t for t in hits["unicorninit"] if lo <= t <= hi]
            outs = [t for t in hits["unicorninit_ret"] if lo <= t <= hi]
            if ins and outs:
                m[f"ui#{k}"], m[f"ui_ret#{k}"] = min(ins), max(outs)
        # the vCPU thread's first console write (the UART writes each byte)
        if "vcpurun" in m:
            w = next((t for tid, t, e, rest in evs if console_write(e, rest)
                      and tid == m["vcpu_tid"] and t >= m["vcpurun"]), None)
            if w:
                m["write"] = w
        return m

    @staticmethod
    def classify(rest):
        parts = rest.split(None, 1)
        sym = parts[1] if len(parts) > 1 else ""
        if UNICORN in sym:
            name = sym.split(" (")[0]
            if re.match(r"(tcg_|tb_gen_code|gen_|translator_|disas|liveness|la_|tcg_optimize)", name):
                return "unicorn: translating guest code (tcg_*, gen_*, tb_gen_code)"
            if name == "[unknown]":
                return "unicorn: no symbol (static functions: mostly the translator's)"
            return "unicorn: other (helpers, TB lookup, softmmu, cpu_exec)"
        if "kernel.kallsyms" in sym:
            return "host kernel (page faults on the memory file, scheduling)"
        if "/tmp/perf-" in sym or sym.startswith("[unknown] ([unknown])") or "//anon" in sym:
            return "guest code (TCG-generated)"
        if "/ember)" in sym:
            return "ember (page walk, hooks, devices)"
        return "other (libc, ...)"

    def print_tables(self, phases, tables):
        mems = self.a.mems
        w0 = max(len(p[0]) for p in phases) + 2
        hdr = f"{'':<{w0}}" + "".join(f"{f'{m} MiB':>20}" for m in mems)
        print(hdr)
        print("-" * len(hdr))
        for label, _, _, _, _ in phases:
            print(f"{label:<{w0}}" + "".join(f"{ms(tables[m][0].get(label, [])):>20}"
                                               for m in mems))
        print("-" * len(hdr))
        for key, label in (("threads", "threads created during the load (pthread_create)"),
                           ("thread_ms", "  time inside those pthread_create calls (ms)"),
                           ("tb", "guest code blocks translated, resume -> first output"),
                           ("pf", "vCPU page faults, resume -> first output")):
            cells = []
            for m in mems:
                xs = tables[m][1].get(key, [])
                f = "{:.2f}" if key == "thread_ms" else "{:.0f}"
                cells.append(f.format(statistics.median(xs) * (1000 if key == "thread_ms" else 1))
                             if xs else "n/a")
            print(f"{label:<{w0}}" + "".join(f"{c:>20}" for c in cells))
        print("Up to the response: uprobes on the VMM thread only (perf --no-inherit; each hit "
              "costs a few us). After it: a pass")
        print("with a handful of events and cpu-clock sampling; the counts come from a third "
              "pass with a probe on unicorn's tb_gen_code.")
        for m in mems:
            _, counts, samples, _, near = tables[m]
            tot = sum(samples.values())
            win = counts.get("sampled_window", [])
            busy = tot * 1e-4 / sum(win) if win else 0
            print(f"\n{m} MiB, vCPU thread from resume to its first console write: cpu-clock "
                  f"samples at 10 kHz, {tot} over {len(win)} loads (window p50 {ms(win)} ms; "
                  f"the thread was on a CPU {100 * busy:.0f}% of it):")
            for k, v in samples.most_common():
                print(f"  {100 * v / tot:5.1f}%  {k}")
            if near:
                n = sum(near.values())
                print("         no-symbol samples by the nearest exported function below them: "
                      + ", ".join(f"{k} {100 * v / n:.0f}%" for k, v in near.most_common(6)))
        if tables[mems[0]][3]:
            t0, (wall0, debug) = tables[mems[0]][3]
            print(f"\nember --level Debug during one {mems[0]} MiB load (ms after the request, "
                  "from the log's wall-clock stamps):")
            for line in debug:
                m = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)\.(\d+) (.*)", line)
                if not m:
                    continue
                wall = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp() + int(m.group(2)) / 1e9
                print(f"  {(wall - wall0) * 1000:8.2f}  {m.group(3)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", default="console=ttyS0 reboot=k panic=-1")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mems", default="128,512", help="guest sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warm", type=int, default=50, help="ticks before the snapshot")
    ap.add_argument("--clones", type=int, default=10)
    ap.add_argument("--settle", type=float, default=2.0, help="s before reading clone memory")
    ap.add_argument("--timeout", type=int, default=120, help="s per wait for a tick")
    ap.add_argument("--breakdown-runs", type=int, default=None, help="default: --runs")
    ap.add_argument("--no-breakdown", action="store_true")
    ap.add_argument("--breakdown-only", action="store_true",
                    help="only the breakdown of Ember's load (after one Ember snapshot per size)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.mems = [int(x) for x in args.mems.split(",") if x]
    if args.breakdown_runs is None:
        args.breakdown_runs = args.runs
    if not shutil.which(QEMU):
        print(f"snapshot_bench: {QEMU} not found (make deps)", file=sys.stderr)
        return 1

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    work = tempfile.mkdtemp(prefix="ember-snapbench-")
    t = time.monotonic()
    try:
        Bench(args, work).run()
        print(f"\n(snapshot benchmark: {time.monotonic() - t:.0f} s)")
    finally:
        cleanup_procs()
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
