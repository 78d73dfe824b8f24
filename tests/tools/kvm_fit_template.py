#!/usr/bin/env python3
"""kvm_fit_template.py IN OUT: writes the CPU template IN (Firecracker's
custom format) with modifiers added that clear, on the software CPU, the
feature bits this host's KVM does not list in KVM_GET_SUPPORTED_CPUID
(CPUID.1:ECX/EDX, 0x80000001:ECX/EDX, 0x80000007:EDX; the bits Ember's KVM
backend adds itself or that describe topology are left alone), so that a
VM booted on the software CPU under OUT restores on this host's KVM
(docs/cpu-templates.md). Bits IN already sets keep IN's modifier."""
import fcntl
import json
import os
import struct
import sys

KVM_GET_SUPPORTED_CPUID = 0xC008AE05
MAX_ENTRIES = 256
ENTRY_SIZE = 40
REGS = ("eax", "ebx", "ecx", "edx")
# (leaf, register): bits never cleared. 1:ECX hypervisor and TSC-deadline
# (Ember's KVM backend adds them), 1:EDX HTT and 0x80000001:ECX CmpLegacy
# (topology, not compared across backends).
KEEP = {(1, "ecx"): (1 << 31) | (1 << 24), (1, "edx"): 1 << 28, (0x80000001, "ecx"): 1 << 1}
FITTED = ((1, "ecx"), (1, "edx"), (0x80000001, "ecx"), (0x80000001, "edx"), (0x80000007, "edx"))


def supported():
    buf = bytearray(struct.pack("II", MAX_ENTRIES, 0) + bytes(ENTRY_SIZE * MAX_ENTRIES))
    fd = os.open("/dev/kvm", os.O_RDWR)
    try:
        fcntl.ioctl(fd, KVM_GET_SUPPORTED_CPUID, buf)
    finally:
        os.close(fd)
    nent = struct.unpack_from("I", buf, 0)[0]
    out = {}
    for i in range(nent):
        f, idx, _flags, *regs = struct.unpack_from("IIIIIII", buf, 8 + ENTRY_SIZE * i)
        if idx == 0:
            out[f] = dict(zip(REGS, regs))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tmpl = json.load(open(sys.argv[1]))
    sup = supported()
    mods = tmpl.setdefault("cpuid_modifiers", [])
    for leaf, reg in FITTED:
        have = sup.get(leaf, {}).get(reg, 0) | KEEP.get((leaf, reg), 0)
        entry = next((m for m in mods if int(m["leaf"], 16) == leaf and int(m["subleaf"], 16) == 0), None)
        if entry is None:
            entry = {"leaf": hex(leaf), "subleaf": "0x0", "flags": 0, "modifiers": []}
            mods.append(entry)
        mod = next((m for m in entry["modifiers"] if m["register"] == reg), None)
        if mod is None:
            mod = {"register": reg, "bitmap": "0b" + "x" * 32}
            entry["modifiers"].append(mod)
        bits = list(mod["bitmap"][2:])
        for b in range(32):
            if bits[31 - b] == "x" and not (have >> b) & 1:
                bits[31 - b] = "0"
        mod["bitmap"] = "0b" + "".join(bits)
    json.dump(tmpl, open(sys.argv[2], "w"), indent=2)


if __name__ == "__main__":
    main()
