#!/usr/bin/env python3
"""One microVM, described once, as an Ember or a QEMU microvm command line.

The distro-kernel tests (tests/distro/) and benchmark (bench/distro_bench.py)
build both VMMs' commands here, so that both get the same kernel, initrd,
kernel parameters, memory, vCPUs and devices:

  Ember   `ember --no-api --config-file WORKDIR/NAME.json --accel ACCEL`;
          it announces its virtio-mmio devices on the command line
          (virtio_mmio.device=), and, once it has them, in ACPI.
  QEMU    `-M microvm` with its default acpi=on (the distro kernel finds
          the virtio-mmio devices in the DSDT, _HID LNRO0005), an i8042
          for reboot=k, -no-reboot so that the guest's reset ends it.

As a program it prints the command, one argument per line (NUL-separated
with -0), for the shell tests.
"""
import argparse
import json
import os
import sys


def add_args(ap):
    ap.add_argument("--vmm", choices=("ember", "qemu"), required=True)
    ap.add_argument("--ember", default="build/ember")
    ap.add_argument("--qemu", default=os.environ.get("QEMU", "qemu-system-x86_64"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd")
    ap.add_argument("--append", default="")
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--drive", action="append", default=[],
                    help="PATH[:ro], in order (the first is /dev/vda)")
    ap.add_argument("--root", action="store_true", help="the first drive is the root device")
    ap.add_argument("--tap", help="a TAP device for a virtio-net device")
    ap.add_argument("--mac", default="06:00:ac:10:00:02")
    ap.add_argument("--vsock", help="Ember: the vsock's Unix socket; QEMU: needs /dev/vhost-vsock")
    ap.add_argument("--rng", action="store_true")
    ap.add_argument("--cpu-config", help="Ember: a CPU template file (docs/cpu-templates.md)")
    ap.add_argument("--workdir", required=True, help="where the Ember config file goes")
    ap.add_argument("--name", default="vm")


def drives(a):
    for i, spec in enumerate(a.drive):
        path, _, flag = spec.partition(":")
        yield i, os.path.abspath(path), flag == "ro"


def ember_cmd(a):
    cfg = {
        "boot-source": {"kernel_image_path": os.path.abspath(a.kernel), "boot_args": a.append},
        "machine-config": {"vcpu_count": a.vcpus, "mem_size_mib": a.mem},
        "drives": [{"drive_id": f"drive{i}", "path_on_host": path,
                    "is_root_device": a.root and i == 0, "is_read_only": ro}
                   for i, path, ro in drives(a)],
    }
    if a.initrd:
        cfg["boot-source"]["initrd_path"] = os.path.abspath(a.initrd)
    if a.tap:
        cfg["network-interfaces"] = [{"iface_id": "eth0", "host_dev_name": a.tap, "guest_mac": a.mac}]
    if a.vsock:
        cfg["vsock"] = {"guest_cid": 3, "uds_path": os.path.abspath(a.vsock)}
    if a.rng:
        cfg["entropy"] = {}
    if a.cpu_config:
        cfg["cpu-config"] = os.path.abspath(a.cpu_config)
    path = os.path.join(a.workdir, a.name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return [a.ember, "--no-api", "--config-file", path, "--accel", a.accel]


def qemu_cmd(a):
    cmd = [a.qemu, "-M", "microvm", "-accel", a.accel, "-m", str(a.mem), "-smp", str(a.vcpus),
           "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio", "-device", "i8042",
           "-kernel", os.path.abspath(a.kernel)]
    if a.initrd:
        cmd += ["-initrd", os.path.abspath(a.initrd)]
    if a.append:
        cmd += ["-append", a.append]
    for i, path, ro in drives(a):
        cmd += ["-drive", f"id=drive{i},file={path},format=raw,if=none" + (",readonly=on" if ro else ""),
                "-device", f"virtio-blk-device,drive=drive{i}"]
    if a.tap:
        cmd += ["-netdev", f"tap,id=net0,ifname={a.tap},script=no,downscript=no",
                "-device", f"virtio-net-device,netdev=net0,mac={a.mac}"]
    if a.vsock:
        cmd += ["-device", "vhost-vsock-device,guest-cid=3"]
    if a.rng:
        cmd += ["-device", "virtio-rng-device"]
    return cmd


def command(a):
    return ember_cmd(a) if a.vmm == "ember" else qemu_cmd(a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_args(ap)
    ap.add_argument("-0", dest="nul", action="store_true", help="NUL-separated")
    a = ap.parse_args()
    sep = "\0" if a.nul else "\n"
    sys.stdout.write("".join(arg + sep for arg in command(a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
