#!/usr/bin/env python3
"""Writes the seeds of fuzz_virtio_guest (tests/fuzz/seeds/virtio_guest/):
for each device, a driver that sets it up and sends well-formed requests,
so mutations start deep in the request paths. The input format is the
one fuzz_virtio_guest.c describes; keep the two in step."""
import os
import struct
import sys

BLK, NET, VSOCK, RNG = range(4)
NEXT, WRITE = 1, 2
RING_BASE_PAGE = 0x100  # queue q's rings at (0x100 + 0x80 * q) * 64


class Script:
    def __init__(self, kind, opts=0):
        self.b = bytearray([kind + 4 * opts]) + struct.pack("<H", 0)

    def op(self, code, fmt="", *args):
        self.b += bytes([code]) + struct.pack("<" + fmt, *args)
        return self

    def init(self, nr_queues, sizelog=4, sel=0):
        self.op(4, "B", sel)
        for q in range(nr_queues):
            self.b += struct.pack("<BH", sizelog, RING_BASE_PAGE + 0x80 * q)
        return self

    def poke(self, at, data):
        for i in range(0, len(data), 255):
            chunk = data[i:i + 255]
            self.op(5, "IB", at + i, len(chunk))
            self.b += chunk
        return self

    def desc(self, q, i, addr, length, flags=0, nxt=0):
        return self.op(6, "BH", q, i).raw(struct.pack("<QIHH", addr, length, flags, nxt))

    def post(self, q, head):
        return self.op(7, "BH", q, head)

    def notify(self, q):
        return self.op(3, "B", q)

    def host(self, *args):
        self.b += bytes([9]) + bytes(args)
        return self

    def raw(self, data):
        self.b += data
        return self

    def pump(self, n=8):
        return self.op(10, "B", n)

    def ack(self):
        return self.op(11)

    def snapshot(self):
        return self.op(129, "B", 0)

    def reset(self):
        return self.op(12)


def blk():
    s = Script(BLK, opts=2).init(1, sizelog=5)  # Writeback: flushes are real
    reqs = [(0, 0, 1024), (1, 2, 512), (4, 0, 0), (8, 0, 20), (11, 0, 0), (13, 0, 0)]
    d = 0
    for n, (typ, sector, length) in enumerate(reqs):
        hdr, data, status = 0x20000 + n * 0x1000, 0x30000 + n * 0x1000, 0x40000 + n * 16
        s.poke(hdr, struct.pack("<IIQ", typ, 0, sector))
        head = d
        s.desc(0, d, hdr, 16, NEXT, d + 1)
        d += 1
        if typ in (11, 13):  # one discard / write-zeroes segment
            s.poke(data, struct.pack("<QII", 8, 8, 0))
            length = 16
        if length:
            s.desc(0, d, data, length, NEXT | (WRITE if typ in (0, 8) else 0), d + 1)
            d += 1
        s.desc(0, d, status, 1, WRITE)
        d += 1
        s.post(0, head)
    s.notify(0).ack().snapshot().notify(0)
    return s.b


def net():
    s = Script(NET, opts=1).init(2, sizelog=5)
    for i in range(18):  # mergeable buffers: room for a 64 KiB GSO frame
        s.desc(0, i, 0x20000 + i * 0x1000, 4096, WRITE).post(0, i)
    s.notify(0)
    s.poke(0x40000, bytes(12) + b"\xff" * 6 + b"\x06\x00\xac\x10\x00\x02\x88\xb5" + bytes(50))
    s.desc(1, 0, 0x40000, 12, NEXT, 1).desc(1, 1, 0x4000c, 64).post(1, 0).notify(1)
    s.host(0, 60, 0, *([0] * 12))  # a 60-byte frame from the TAP
    s.host(1)  # the host reads what the guest sent
    s.ack().snapshot().host(0, 100, 0, *([0] * 12))
    return s.b


def vsock_pkt(op, src, dst, length=0, flags=0):
    return struct.pack("<QQIIIHHIII", 3, 2, src, dst, length, 1, op, flags, 65536, 0)


def vsock():
    s = Script(VSOCK).init(3)
    for i in range(8):
        s.desc(0, i, 0x20000 + i * 0x1000, 4096, WRITE).post(0, i)
    s.notify(0)
    pkts = [vsock_pkt(1, 1000, 52), vsock_pkt(5, 1000, 52, 5) + b"hello",
            vsock_pkt(7, 1000, 52), vsock_pkt(4, 1000, 52, 0, 3), vsock_pkt(1, 1001, 99)]
    for i, p in enumerate(pkts):
        s.poke(0x40000 + i * 0x100, p)
        s.desc(1, i, 0x40000 + i * 0x100, len(p)).post(1, i).notify(1)
        if i == 0:
            s.host(3, 0)  # the host accepts the guest's connection
            s.host(1, 0, 16, 0)  # and sends it 16 bytes
    s.host(24, 1, 0xd2, 0x04, 0, 0)  # a host connect: "CONNECT 1234"
    s.pump()
    # The guest accepts it (our local ports start at 2^30), both talk, it ends.
    pkts = [vsock_pkt(2, 1234, 1 << 30), vsock_pkt(5, 1234, 1 << 30, 3) + b"abc",
            vsock_pkt(6, 1234, 1 << 30), vsock_pkt(4, 1234, 1 << 30, 0, 1)]
    for i, p in enumerate(pkts, start=8):
        s.poke(0x40000 + i * 0x100, p)
        s.desc(1, i, 0x40000 + i * 0x100, len(p)).post(1, i).notify(1)
        if i == 9:
            s.host(1, 1, 100, 0)  # 100 bytes from the host
    s.host(4, 1)  # the host reads "OK ..." and the data
    s.pump().ack().snapshot().notify(0)
    return s.b


def rng():
    s = Script(RNG).init(1)
    s.desc(0, 0, 0x20000, 64, WRITE).post(0, 0)
    s.desc(0, 1, 0x21000, 16, NEXT, 2).desc(0, 2, 0x22000, 4096, WRITE).post(0, 1)
    s.notify(0).ack().snapshot().reset().init(1).notify(0)
    return s.b


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "seeds", "virtio_guest")
    os.makedirs(out, exist_ok=True)
    for name, data in (("blk", blk()), ("net", net()), ("vsock", vsock()), ("rng", rng())):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
