#!/usr/bin/env bash
# Control-API benchmark, Ember's REST API next to QEMU's QMP socket, from
# the same run:
#   - request latency: N requests on one kept-alive connection, p50/p99
#     (Ember: GET /machine-config; QEMU: query-status), after warm-up;
#   - start-up: process spawned -> first answer on its socket, median of R.
# QEMU runs as `qemu-system-x86_64 -M microvm,acpi=off -S` (no guest runs
# on either side: this measures the control plane only).
#
# Usage: bench/api_bench.sh [EMBER] [N] [R]   (defaults: build/ember 5000 10)
set -eu
EMBER=${1:-build/ember}
N=${2:-5000}
R=${3:-10}
QEMU=${QEMU:-qemu-system-x86_64}
[ -x "$EMBER" ] || { echo "api_bench: $EMBER not built (make)"; exit 1; }
command -v "$QEMU" >/dev/null || { echo "api_bench: $QEMU not found (make deps)"; exit 1; }

exec python3 - "$EMBER" "$QEMU" "$N" "$R" <<'PY'
import os, socket, statistics, subprocess, sys, tempfile, time

ember, qemu, n, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tmp = tempfile.mkdtemp(prefix="ember-apibench.")

def connect(path, deadline):
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.0005)

class Http:
    """HTTP/1.1 on one kept-alive connection."""
    def __init__(self, sock):
        self.s, self.buf = sock, b""
    def get(self, path):
        self.s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(self.buf) < length:
            self.buf += self.s.recv(65536)
        body, self.buf = self.buf[:length], self.buf[length:]
        assert head.startswith(b"HTTP/1.1 200"), head
        return body

class Qmp:
    def __init__(self, sock):
        self.f = sock.makefile("rwb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")
    def cmd(self, name):
        self.f.write(b'{"execute": "%s"}\n' % name.encode())
        self.f.flush()
        while True:
            line = self.f.readline()
            if b'"return"' in line or b'"error"' in line:
                assert b'"return"' in line, line
                return line

def start_ember(sock):
    return subprocess.Popen([ember, "--api-sock", sock], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def start_qemu(sock):
    return subprocess.Popen([qemu, "-M", "microvm,acpi=off", "-qmp", "unix:%s,server,nowait" % sock,
                             "-S", "-nographic"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def stop(p):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

def startup(kind):
    times = []
    for i in range(runs):
        sock = os.path.join(tmp, "%s-%d.sock" % (kind, i))
        t0 = time.monotonic()
        p = (start_ember if kind == "ember" else start_qemu)(sock)
        try:
            s = connect(sock, t0 + 20)
            if kind == "ember":
                Http(s).get("/")
            else:
                Qmp(s).cmd("query-status")
            times.append((time.monotonic() - t0) * 1000)
            s.close()
        finally:
            stop(p)
    return statistics.median(times)

def latency(kind):
    sock = os.path.join(tmp, "%s-lat.sock" % kind)
    p = (start_ember if kind == "ember" else start_qemu)(sock)
    try:
        s = connect(sock, time.monotonic() + 20)
        if kind == "ember":
            c = Http(s)
            req = lambda: c.get("/machine-config")
        else:
            c = Qmp(s)
            req = lambda: c.cmd("query-status")
        for _ in range(min(200, n)):
            req()
        lat = []
        for _ in range(n):
            t = time.perf_counter_ns()
            req()
            lat.append((time.perf_counter_ns() - t) / 1000)
        s.close()
    finally:
        stop(p)
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1]

rows = {}
for kind in ("ember", "qemu"):
    p50, p99, worst = latency(kind)
    rows[kind] = (p50, p99, worst, startup(kind))

print("Control API: %d requests on one connection; start-up median of %d runs" % (n, runs))
print("%-34s %12s %12s" % ("", "Ember (REST)", "QEMU (QMP)"))
labels = ("request latency p50 (us)", "request latency p99 (us)", "request latency max (us)",
          "start -> socket answers (ms)")
for i, label in enumerate(labels):
    print("%-34s %12.1f %12.1f" % (label, rows["ember"][i], rows["qemu"][i]))
print("(Ember: GET /machine-config; QEMU: query-status; QEMU -M microvm,acpi=off -S)")
PY
