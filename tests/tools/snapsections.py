#!/usr/bin/env python3
"""snapsections.py IN OUT [drop NAME | version NAME V | cut NAME LEN]...: rewrites an Ember
snapshot state file (docs/snapshots.md, "State file layout") with sections
dropped, their version changed or their payload cut short, the header and CRC-64/XZ made right, so a
test can build the snapshot an older Ember or a foreign tool would write."""
import struct
import sys


def crc64_xz(data):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xC96C5795D7870F42 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: snapsections.py IN OUT [drop NAME | version NAME V | cut NAME LEN]...")
    data = open(argv[1], "rb").read()
    magic, fmt, arch, count, reserved, body_len = struct.unpack_from("<8sIIIIQ", data, 0)
    if magic != b"EMBERSNP" or len(data) != 32 + body_len + 8:
        sys.exit("not an Ember snapshot state file")
    sections, off = [], 32
    for _ in range(count):
        name_len, version, size = struct.unpack_from("<HHI", data, off)
        name = data[off + 8:off + 8 + name_len].decode("ascii")
        payload = data[off + 8 + name_len:off + 8 + name_len + size]
        sections.append([name, version, payload])
        off = (off + 8 + name_len + size + 7) // 8 * 8
    ops = argv[3:]
    while ops:
        if ops[0] == "drop":
            sections = [s for s in sections if s[0] != ops[1]]
            ops = ops[2:]
        elif ops[0] == "version":
            for s in sections:
                if s[0] == ops[1]:
                    s[1] = int(ops[2])
            ops = ops[3:]
        elif ops[0] == "cut":
            for s in sections:
                if s[0] == ops[1]:
                    s[2] = s[2][:int(ops[2])]
            ops = ops[3:]
        else:
            sys.exit("unknown operation " + ops[0])
    body = b""
    for name, version, payload in sections:
        part = struct.pack("<HHI", len(name), version, len(payload)) + name.encode() + payload
        body += part + b"\0" * (-len(part) % 8)
    head = struct.pack("<8sIIIIQ", magic, fmt, arch, len(sections), reserved, len(body))
    out = head + body
    open(argv[2], "wb").write(out + struct.pack("<Q", crc64_xz(out)))


if __name__ == "__main__":
    main(sys.argv)
