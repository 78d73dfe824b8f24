#!/usr/bin/env python3
"""Checks the one-way rule of docs/architecture.md on every #include "..."
line of Ember's sources: a folder includes only itself and the layers below
it, so no include cycle can form between folders.

Prints each violation (file:line, what it includes, what that folder may
include) and a closing "layers: N files, M violations" line; exits 1 on any.
"""
import os
import re
import sys

# Folder -> the folders its files may include besides their own. A folder
# not named here belongs to the nearest named parent (runtime/backend/tcg/qemu
# is part of runtime/backend/tcg).
BASE = "runtime/base"
CONFIG = "config"
BACKEND = "runtime/backend"
LOWER = [BASE, CONFIG, BACKEND]
LAYERS = {
    BASE: [],
    CONFIG: [BASE],
    BACKEND: [BASE, CONFIG],
    "runtime/backend/kvm": LOWER,
    "runtime/backend/tcg": LOWER,
    # The ACPI tables and the AML encoder: pure builders over a buffer.
    "runtime/boot/acpi": [],
    "runtime/boot": LOWER + ["runtime/boot/acpi"],
    "runtime/devices": LOWER,
    # MMDS: the metadata store and its guest-side network end, used by the
    # net device (virtio) and the controller alike.
    "mmds": [BASE],
    "virtio": LOWER + ["mmds"],
    "snapshots": LOWER,
    "runtime/vm": LOWER + ["runtime/boot", "runtime/devices", "virtio", "snapshots", "mmds"],
    "runtime/control": LOWER + ["runtime/vm", "snapshots", "mmds"],
    # The API sees the contract header only (it carries config/ types).
    "api": [BASE, "runtime/control/action.h"],
    "jailer": [BASE],
    # The seccomp lists, their file format and compiler: only main.c
    # includes them; threads reach their filter through runtime/base/seccomp.h.
    "runtime/seccomp": [BASE],
}
# The only loose file: it ties everything together.
TOP = {"runtime/main.c"}
SOURCE_DIRS = ["runtime", "config", "virtio", "snapshots", "api", "jailer", "mmds"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    best = None
    for folder in LAYERS:
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return best


def allowed(src_layer, target):
    if layer_of(target) == src_layer:
        return True
    for a in LAYERS[src_layer]:
        if target == a or target.startswith(a + "/"):
            return True
    return False


def sources(root):
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    nfiles = 0
    bad = []
    for path in sorted(sources(root)):
        nfiles += 1
        layer = layer_of(path)
        if path not in TOP and layer is None:
            bad.append(f"{path}: in no layer (add its folder to tests/check_layers.py)")
            continue
        with open(os.path.join(root, path), encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if not os.path.exists(os.path.join(root, target)):
                    bad.append(f"{path}:{lineno}: includes \"{target}\", which does not exist")
                elif path not in TOP and not allowed(layer, target):
                    may = ", ".join(LAYERS[layer]) or "nothing else"
                    bad.append(f"{path}:{lineno}: includes \"{target}\"; "
                               f"{layer}/ may include only itself and {may}")
    for b in bad:
        print(b)
    print(f"layers: {nfiles} files, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
