# SPDX-License-Identifier: GPL-2.0-or-later
"""The virtio guests: KVM 6.1 (deflate-on-oom off, on), Firecracker 6.18; a QEMU guest without one."""

from __future__ import annotations

import os

from tests.sosroots.fakeroot import (DEFAULT_VIRTIO_DEVICE, FIRECRACKER, KVM, VIRTIO_DRV,
                                      FakeRoot, read, virtio_device_path)



def _virtio_device(root: FakeRoot, features_capture: str, *, device: str = "0x0005",
                   vendor: str = "0x1af4", status: str = "0x0000000f",
                   id_how: str, status_how: str) -> None:
    """``virtio0`` bound to virtio_balloon: the link and the device's files."""
    dev = "sys/" + virtio_device_path()
    root.copy(dev + "/features", features_capture)
    root.text(dev + "/device", device + "\n", id_how)
    root.text(dev + "/vendor", vendor + "\n", id_how)
    root.text(dev + "/status", status + "\n", status_how)
    depth = VIRTIO_DRV.count("/")  # sys/bus/virtio/drivers/virtio_balloon -> 4 ups from the link
    root.link(f"{VIRTIO_DRV}/virtio0", "../" * depth + virtio_device_path(),
              "symbolic link as the kernel makes it; PCI slot = the build host's own "
              "virtio balloon slot when it has one (sos 4.0 --sysroot trap), "
              f"else {DEFAULT_VIRTIO_DEVICE}")


_STATUS_HOW = ("hand-made: 0x0000000f (ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK), the value "
               "the build host's own bound virtio balloon shows; not captured in the guest")


def _kvm_vmstat(phase: str, suffix: str) -> str:
    """Firecracker 6.18's full /proc/vmstat with the KVM capture's balloon_* lines."""
    balloon = {}
    for line in read(os.path.join(KVM, f"vmstat-balloon-{phase}-{suffix}.txt")).splitlines():
        name, value = line.split()
        balloon[name] = value
    out = []
    for line in read(os.path.join(FIRECRACKER, "proc-vmstat.txt")).splitlines():
        name = line.split()[0]
        if name == "nr_balloon_pages":
            continue  # v6.15+ only; the 6.1 guest has no such line
        if name in balloon:
            line = f"{name} {balloon.pop(name)}"
        out.append(line)
    if balloon:  # pragma: no cover - the base always has the three events
        raise ValueError(f"base vmstat lacks {sorted(balloon)}")
    return "\n".join(out) + "\n"


#: Uptime printed by the guest's /init at each phase (serial-console-*.log markers).
_KVM_UPTIME = {"after-inflate": "6.32", "after-oom": "9.47"}


def kvm(root: FakeRoot, suffix: str, phase: str) -> FakeRoot:
    on = suffix == "deflate-on"
    root.description = (
        f"QEMU 7.2 (TCG) guest, Debian 6.1.0-56-amd64, 512 MiB, virtio-balloon-pci "
        f"deflate-on-oom={'on' if on else 'off'}, 256 MiB balloon, state {phase}"
    )
    _virtio_device(
        root, os.path.join(KVM, f"features-{phase}-{suffix}.txt"),
        id_how="virtio vendor/device ids of a virtio-balloon-pci device bound to "
               "virtio_balloon (VIRTIO_ID_BALLOON = 5); not captured as files",
        status_how=_STATUS_HOW,
    )
    root.copy("proc/meminfo", os.path.join(KVM, f"meminfo-{phase}-{suffix}.txt"))
    root.text(
        "proc/vmstat", _kvm_vmstat(phase, suffix),
        "edited: firecracker-6.18/proc-vmstat.txt (the full list of a real kernel) with "
        f"balloon_inflate/deflate/migrate replaced by kvm-6.1/vmstat-balloon-{phase}-{suffix}.txt "
        "and nr_balloon_pages (v6.15+) removed; the other counters are the Firecracker guest's",
    )
    root.text("proc/uptime", f"{_KVM_UPTIME[phase]} 0.00\n",
              "uptime from the guest's serial-console marker at that phase; idle time hand-made 0.00")
    root.text("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n",
              "from the 'Linux version' line of kvm-6.1/dmesg-*.txt")
    root.text("sys/class/dmi/id/sys_vendor", "QEMU\n",
              "from the 'DMI: QEMU Standard PC (i440FX + PIIX, 1996)' line of kvm-6.1/dmesg-*.txt")
    root.text("sys/class/dmi/id/product_name", "Standard PC (i440FX + PIIX, 1996)\n",
              "from the 'DMI:' line of kvm-6.1/dmesg-*.txt")
    for name in read(os.path.join(KVM, f"ls-debugfs-{phase}-{suffix}.txt")).split():
        os.makedirs(os.path.join(root.path, "sys/kernel/debug", name), exist_ok=True)
    root.provenance["sys/kernel/debug/"] = (
        f"debugfs mounted: empty entries named as in kvm-6.1/ls-debugfs-{phase}-{suffix}.txt "
        "(6.1 has no virtio-balloon debugfs file)")
    dmesg = read(os.path.join(KVM, f"dmesg-{suffix}.txt"))
    if phase == "after-oom":
        root.text("var/log/dmesg", dmesg, f"real capture kvm-6.1/dmesg-{suffix}.txt, unedited")
    else:
        lines = dmesg.splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if "invoked oom-killer" in line)
        root.text("var/log/dmesg", "".join(lines[:cut]),
                  f"real capture kvm-6.1/dmesg-{suffix}.txt cut before the first "
                  "'invoked oom-killer' line (the log as it was before the OOM)")
    return root



def firecracker(root: FakeRoot, *, virtio_bus: bool = True) -> FakeRoot:
    root.description = "Firecracker guest, Linux 6.18.44-fc-v657, 24 GiB, empty virtio balloon"
    if virtio_bus:
        _virtio_device(
            root, os.path.join(FIRECRACKER, "virtio0-features.txt"),
            id_how="", status_how=_STATUS_HOW,
        )
        dev = "sys/" + virtio_device_path()
        root.copy(dev + "/device", os.path.join(FIRECRACKER, "virtio0-device.txt"))
        root.copy(dev + "/vendor", os.path.join(FIRECRACKER, "virtio0-vendor.txt"))
    root.copy("proc/meminfo", os.path.join(FIRECRACKER, "proc-meminfo.txt"))
    root.copy("proc/vmstat", os.path.join(FIRECRACKER, "proc-vmstat.txt"))
    root.copy("proc/zoneinfo", os.path.join(FIRECRACKER, "proc-zoneinfo.txt"))
    root.copy("proc/sys/kernel/osrelease", os.path.join(FIRECRACKER, "uname-r.txt"),
              "real capture firecracker-6.18/uname-r.txt (uname -r), unedited")
    root.copy("var/log/dmesg", os.path.join(FIRECRACKER, "dmesg-excerpt.txt"),
              "real capture firecracker-6.18/dmesg-excerpt.txt (boot excerpt), unedited")
    if virtio_bus:
        root.mkdir("sys/kernel/debug", "debugfs not mounted (as in the capture): empty directory")
    return root



def no_balloon(root: FakeRoot) -> FakeRoot:
    root.description = "QEMU guest without any balloon device or driver"
    root.copy("proc/meminfo", os.path.join(KVM, "meminfo-before-deflate-off.txt"),
              "real capture kvm-6.1/meminfo-before-deflate-off.txt (the guest before "
              "inflation; this root has no balloon device)")
    root.text("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n",
              "from the 'Linux version' line of kvm-6.1/dmesg-*.txt")
    root.text("sys/class/dmi/id/sys_vendor", "QEMU\n", "from the 'DMI:' line of kvm-6.1/dmesg-*.txt")
    root.text("sys/class/dmi/id/product_name", "Standard PC (i440FX + PIIX, 1996)\n",
              "from the 'DMI:' line of kvm-6.1/dmesg-*.txt")
    root.mkdir("sys/kernel/debug", "debugfs not mounted: empty directory")
    return root


