"""Fake guest root file systems, built from the real captures, for running sos.

Each builder writes a small tree (``proc/…``, ``sys/…``, ``var/log/…``) that
``sos report --sysroot ROOT`` collects as if it were the guest.  Every file
records where it came from (:attr:`FakeRoot.provenance`): a real capture in
``/work/shared/real-captures`` (``$BALLOON_OOM_CAPTURES``), a capture edited
in a stated way, or — only where no capture exists — hand-made values written
exactly in the kernel's format strings (drivers/misc/vmw_balloon.c, drivers/hv/hv_balloon.c, drivers/xen/xen-balloon.c, the two cmm.c).

>>> import tempfile
>>> root = build("xen", tempfile.mkdtemp())
>>> open(root.path + "/sys/devices/system/xen_memory/xen_memory0/info/low_kb").read()
'524288\\n'

Used by ``tests/test_sos_plugin.py`` and ``samples/generate.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional
from tests import shared as _shared

CAPTURES = os.environ.get("BALLOON_OOM_CAPTURES", str(_shared.CAPTURES))
KVM = os.path.join(CAPTURES, "kvm-6.1")
FIRECRACKER = os.path.join(CAPTURES, "firecracker-6.18")
SEED_DOC = str(_shared.DOCS / "seed-balloon-usage-information-visible-by-guest.txt")

VIRTIO_DRV = "sys/bus/virtio/drivers/virtio_balloon"
#: Used when the build host has no virtio balloon of its own: the slot the
#: Firecracker capture's balloon sits in.
DEFAULT_VIRTIO_DEVICE = "devices/pci0000:00/0000:00:01.0/virtio0"
HOST_VIRTIO_LINK = "/sys/bus/virtio/drivers/virtio_balloon/virtio0"


def virtio_device_path() -> str:
    """``sys``-relative path of the fake ``virtio0`` device directory.

    sos 4.0 under ``--sysroot`` resolves leading symlinks of archive paths
    against the *host's* ``/sys``: a fake link to another PCI
    slot than the host's own balloon makes sos raise FileExistsError.  So
    reuse the host's slot when it has a virtio balloon.
    """
    try:
        target = os.readlink(HOST_VIRTIO_LINK)
    except OSError:
        return DEFAULT_VIRTIO_DEVICE
    parts = [p for p in target.split("/") if p not in ("..", "")]
    return "/".join(parts)


@dataclass
class FakeRoot:
    """A built tree and where each of its files came from."""

    name: str
    path: str
    description: str = ""
    provenance: Dict[str, str] = field(default_factory=dict)

    def _dest(self, rel: str) -> str:
        dest = os.path.join(self.path, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        return dest

    def text(self, rel: str, content: str, how: str) -> None:
        with open(self._dest(rel), "w") as fobj:
            fobj.write(content)
        self.provenance[rel] = how

    def copy(self, rel: str, capture: str, how: str = "") -> None:
        shutil.copyfile(capture, self._dest(rel))
        self.provenance[rel] = how or f"real capture {os.path.relpath(capture, CAPTURES)}, unedited"

    def link(self, rel: str, target: str, how: str) -> None:
        dest = self._dest(rel)
        if os.path.lexists(dest):
            os.unlink(dest)
        os.symlink(target, dest)
        self.provenance[rel] = how

    def mkdir(self, rel: str, how: str) -> None:
        os.makedirs(os.path.join(self.path, rel), exist_ok=True)
        self.provenance[rel + "/"] = how


def _read(path: str) -> str:
    with open(path) as fobj:
        return fobj.read()


# ---------------------------------------------------------------- virtio


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
    for line in _read(os.path.join(KVM, f"vmstat-balloon-{phase}-{suffix}.txt")).splitlines():
        name, value = line.split()
        balloon[name] = value
    out = []
    for line in _read(os.path.join(FIRECRACKER, "proc-vmstat.txt")).splitlines():
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


def _kvm(root: FakeRoot, suffix: str, phase: str) -> FakeRoot:
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
    for name in _read(os.path.join(KVM, f"ls-debugfs-{phase}-{suffix}.txt")).split():
        os.makedirs(os.path.join(root.path, "sys/kernel/debug", name), exist_ok=True)
    root.provenance["sys/kernel/debug/"] = (
        f"debugfs mounted: empty entries named as in kvm-6.1/ls-debugfs-{phase}-{suffix}.txt "
        "(6.1 has no virtio-balloon debugfs file)")
    dmesg = _read(os.path.join(KVM, f"dmesg-{suffix}.txt"))
    if phase == "after-oom":
        root.text("var/log/dmesg", dmesg, f"real capture kvm-6.1/dmesg-{suffix}.txt, unedited")
    else:
        lines = dmesg.splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if "invoked oom-killer" in line)
        root.text("var/log/dmesg", "".join(lines[:cut]),
                  f"real capture kvm-6.1/dmesg-{suffix}.txt cut before the first "
                  "'invoked oom-killer' line (the log as it was before the OOM)")
    return root


# ---------------------------------------------------------------- journald-only guest

#: Where Debian (and Fedora: /usr/lib/systemd) put systemd-journal-remote.
JOURNAL_REMOTE = ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
#: The guest's machine id (its /etc/machine-id) and boot ids: hand-made.
MACHINE_ID = "5e0b1a4f0f9c4c6e9d2a7b3c1e8f6a20"
PREVIOUS_BOOT_ID = "0a6c3f6e2b2d4d0c8e5f1a9b7c3d2e10"
CURRENT_BOOT_ID = "7d1e9c2b4a6f4e8d9c0b1a2f3e4d5c60"
#: Wall-clock time of each boot's kernel start (µs since the epoch): hand-made.
PREVIOUS_BOOT_USEC = 1795651200 * 10**6  # 2026-11-26 00:00:00 UTC
CURRENT_BOOT_USEC = 1795737600 * 10**6  # 2026-11-27 00:00:00 UTC
_DMESG_LINE = re.compile(r"^\[\s*(\d+)\.(\d{6})\] (.*)$")


def journal_remote() -> Optional[str]:
    """systemd-journal-remote's path, or None (Debian: apt-get install systemd-journal-remote)."""
    for path in JOURNAL_REMOTE:
        if os.access(path, os.X_OK):
            return path
    return None


def kernel_export_entries(dmesg_lines: List[str], boot_id: str, boot_usec: int) -> List[str]:
    """Journal export-format entries for dmesg lines, as journald stores kernel messages.

    ``[ 8.352026] text`` becomes an entry with MESSAGE=text, the monotonic
    time 8352026 µs (journald's ``_SOURCE_MONOTONIC_TIMESTAMP`` for kmsg)
    and the wall-clock time ``boot_usec`` + that.

    >>> e = kernel_export_entries(["[    8.352026] hog invoked oom-killer"], "b" * 32, 0)
    >>> [f for f in e[0].splitlines() if f.startswith(("MESSAGE", "__MONO"))]
    ['__MONOTONIC_TIMESTAMP=8352026', 'MESSAGE=hog invoked oom-killer']
    """
    entries = []
    for line in dmesg_lines:
        match = _DMESG_LINE.match(line.rstrip("\n"))
        if not match:
            continue
        mono = int(match.group(1)) * 10**6 + int(match.group(2))
        fields = [
            ("__REALTIME_TIMESTAMP", boot_usec + mono), ("__MONOTONIC_TIMESTAMP", mono),
            ("_BOOT_ID", boot_id), ("_MACHINE_ID", MACHINE_ID), ("_HOSTNAME", "guest"),
            ("_TRANSPORT", "kernel"), ("SYSLOG_FACILITY", 0), ("SYSLOG_IDENTIFIER", "kernel"),
            ("PRIORITY", 6), ("_SOURCE_MONOTONIC_TIMESTAMP", mono), ("MESSAGE", match.group(3)),
        ]
        entries.append("".join(f"{k}={v}\n" for k, v in fields))
    return entries


def write_journal(path: str, entries: List[str]) -> None:
    """A journal file at ``path`` written by systemd-journal-remote from ``entries``."""
    tool = journal_remote()
    if tool is None:
        raise FileNotFoundError("systemd-journal-remote is not installed "
                                "(apt-get install systemd-journal-remote)")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stream = ("\n".join(entries) + "\n").encode()
    subprocess.run([tool, f"--output={path}", "-"], input=stream, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def _journal_only(root: FakeRoot, journal_dir: str = "var/log/journal") -> FakeRoot:
    """The KVM deflate-off guest with its balloon inflated now, an OOM in the previous boot,
    and no kernel log but the journal."""
    _kvm(root, "deflate-off", "after-inflate")
    os.unlink(os.path.join(root.path, "var/log/dmesg"))
    del root.provenance["var/log/dmesg"]
    root.description += ("; journald only (no /var/log/dmesg): the previous boot's journal "
                         "holds the OOM report")
    oom = _read(os.path.join(KVM, "dmesg-oom-report-deflate-off.txt")).splitlines()
    boot = _read(os.path.join(KVM, "dmesg-deflate-off.txt")).splitlines()
    boot = boot[:next(i for i, line in enumerate(boot) if "invoked oom-killer" in line)]
    entries = (kernel_export_entries(oom, PREVIOUS_BOOT_ID, PREVIOUS_BOOT_USEC)
               + kernel_export_entries(boot, CURRENT_BOOT_ID, CURRENT_BOOT_USEC))
    rel = f"{journal_dir}/{MACHINE_ID}/system.journal"
    write_journal(os.path.join(root.path, rel), entries)
    root.provenance[rel] = (
        "written by systemd-journal-remote from a journal export stream: previous boot = the "
        "lines of real capture kvm-6.1/dmesg-oom-report-deflate-off.txt, current boot = "
        "kvm-6.1/dmesg-deflate-off.txt cut before its first 'invoked oom-killer' line; each "
        "line one kernel-transport entry with its dmesg time as monotonic time; boot and "
        "machine ids and the boots' wall-clock start hand-made")
    return root


#: kexec-tools' dump directory name (%HOST-%DATE) and Debian kdump-tools' (%Y%m%d%H%M).
KDUMP_DIR = "var/crash/127.0.0.1-2026-11-26-00:00:09"
KDUMP_TOOLS_DIR = "var/crash/202611250000"


def _kdump(root: FakeRoot) -> FakeRoot:
    """The KVM deflate-off guest, inflated now, whose previous boot's OOM kdump saved."""
    _kvm(root, "deflate-off", "after-inflate")
    root.description += "; kdump saved the previous boot's log (OOM) under /var/crash"
    root.copy(f"{KDUMP_DIR}/vmcore-dmesg.txt", os.path.join(KVM, "dmesg-deflate-off.txt"),
              "real capture kvm-6.1/dmesg-deflate-off.txt (the guest's whole log with the OOM) "
              "placed where kexec-tools' vmcore-dmesg writes it; same '[ time] text' lines")
    lines = _read(os.path.join(KVM, "dmesg-deflate-off.txt")).splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "invoked oom-killer" in line)
    stamp = KDUMP_TOOLS_DIR.rsplit("/", 1)[1]
    root.text(f"{KDUMP_TOOLS_DIR}/dmesg.{stamp}", "".join(lines[:cut]),
              "real capture kvm-6.1/dmesg-deflate-off.txt cut before its first 'invoked "
              "oom-killer' line, placed where Debian's kdump-tools writes dmesg.STAMP (an "
              "older crash without OOM)")
    return root


# ---------------------------------------------------------------- other hypervisors


def _firecracker(root: FakeRoot, *, virtio_bus: bool = True) -> FakeRoot:
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


def _hv_upstream(pages_ballooned: int) -> str:
    """hv-balloon text per hv_balloon.c's show function, hv_balloon_debug_show()."""
    out = "%-22s: %u.%u\n" % ("host_version", 2, 0)
    out += "%-22s:" % "capabilities" + " enabled" + " hot_add" + "\n"
    out += "%-22s: %u" % ("state", 1) + " (%s)\n" % "Initialized"
    out += "%-22s: %d\n" % ("page_size", 4096)
    out += "%-22s: %u\n" % ("pages_added", 0)
    out += "%-22s: %u\n" % ("pages_onlined", 0)
    out += "%-22s: %u\n" % ("pages_ballooned", pages_ballooned)
    # vm_memory_committed() 150000 + ballooned + floor(104 MiB + 440000/8)
    out += "%-22s: %u\n" % ("total_pages_committed", 150000 + pages_ballooned + 26624 + 55000)
    out += "%-22s: %u\n" % ("max_dynamic_page_count", 1048576)
    return out


def _hyperv_common(root: FakeRoot, how: str) -> None:
    root.text("sys/module/hv_balloon/parameters/hot_add", "Y\n", how + " (bool parameter)")
    root.text("sys/module/hv_balloon/parameters/pressure_report_delay", "45\n",
              how + " (driver default)")
    root.text("sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n", how)
    root.text("sys/class/dmi/id/product_name", "Virtual Machine\n", how)
    root.text("proc/uptime", "86400.12 170000.50\n", how)


def _hyperv(root: FakeRoot) -> FakeRoot:
    root.description = "Hyper-V guest (hand-made), 6.1 kernel, 256 MiB ballooned (65536 pages)"
    how = "hand-made: no Hyper-V capture exists"
    root.text("sys/kernel/debug/hv-balloon", _hv_upstream(65536),
              how + "; each line written with the format string of hv_balloon.c's "
                    "hv_balloon_debug_show (drivers/hv/hv_balloon.c), upstream spellings")
    root.text("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n", how)
    _hyperv_common(root, how)
    return root


def _hyperv_virtuozzo(root: FakeRoot) -> FakeRoot:
    root.description = "Hyper-V guest on a Virtuozzo kernel: the seed document's hv-balloon text"
    lines = []
    for line in _read(SEED_DOC).splitlines():
        body = line.lstrip("+").strip()
        if line.startswith("+  ") and " : " in body or body.startswith("max_dynamic_page_count:"):
            lines.append(body.split("//")[0].rstrip())
    sample = lines[:10]
    root.text("sys/kernel/debug/hv-balloon", "\n".join(sample) + "\n",
              "the hv-balloon example of the Virtuozzo feature description "
              "(docs/seed-balloon-usage-information-visible-by-guest.txt), lines as printed "
              "there without the // comments: pages_ballooned_out, vm_pages_commited, "
              "total_pages_commited spellings")
    how = "hand-made: no Hyper-V capture exists"
    root.text("proc/sys/kernel/osrelease", "5.14.0-70.22.1.vz9.17.6\n",
              "hand-made after the vzkernel branch named in the seed document")
    _hyperv_common(root, how)
    return root


_VMW_CMDS = ("start", "target", "lock", "unlock", "guestType", "batchLock", "batchUnlock",
             "2m-lock", "2m-unlock", "doorbellSet")
_VMW_STATS = ("timer", "doorbell", "reset", "shrink", "shrinkFree")
_VMW_PAGE_STATS = ("alloc", "allocFail", "errAlloc", "errFree", "free")


def vmmemctl_new(target: int, current: int, capabilities: int = 0x3E) -> str:
    """vmmemctl as the post-4.20 driver prints it on the *first* read (counters 0).

    Written with the format strings of ``vmballoon_debug_show``
    (drivers/misc/vmw_balloon.c since its v4.20 rework): statistics start at the first read.
    """
    out = "%-22s: %#16x\n" % ("balloon capabilities", 0x3E)
    out += "%-22s: %#16lx\n" % ("used capabilities", capabilities)
    out += "%-22s: %16s\n" % ("is resetting", "n")
    out += "%-22s: %16lu\n" % ("target", target)
    out += "%-22s: %16lu\n" % ("current", current)
    for cmd in _VMW_CMDS:
        out += "%-22s: %16lu (%lu failed)\n" % (cmd, 0, 0)
    for name in _VMW_STATS:
        out += "%-22s: %16lu\n" % (name, 0)
    for name in _VMW_PAGE_STATS:
        for size in ("4k", "2M"):
            out += "%-18s(%s): %16lu\n" % (name, size, 0)
    return out


def vmmemctl_old(target: int, current: int) -> str:
    """vmmemctl as v4.18 and older print it (drivers/misc/vmw_balloon.c of v4.18 and older)."""
    out = ("balloon capabilities:   %#4x\n"
           "used capabilities:      %#4lx\n"
           "is resetting:           %c\n") % (0x1E, 0x1E, "n")
    out += ("target:             %8d pages\n"
            "current:            %8d pages\n") % (target, current)
    out += "rateSleepAlloc:     %8d pages/sec\n" % 2048
    counters = [
        ("timer", 86400, None), ("doorbell", 12, None), ("start", 1, 0), ("guestType", 1, 0),
        ("2m-lock", 0, 0), ("lock", 256, 0), ("2m-unlock", 0, 0), ("unlock", 0, 0),
        ("target", 86400, 0), ("prim2mAlloc", 0, 0), ("primNoSleepAlloc", 131072, 0),
        ("primCanSleepAlloc", 0, 0), ("prim2mFree", 0, None), ("primFree", 0, None),
        ("err2mAlloc", 0, None), ("errAlloc", 0, None), ("err2mFree", 0, None),
        ("errFree", 0, None), ("doorbellSet", 1, None), ("doorbellUnset", 0, None),
    ]
    out += "\n"
    for name, value, failed in counters:
        if failed is None:
            out += "%-20s%8u\n" % (name + ":", value)
        else:
            out += "%-20s%8u (%4u failed)\n" % (name + ":", value, failed)
    return out


def _vmware_common(root: FakeRoot, how: str, product: str) -> None:
    root.text("sys/module/vmw_balloon/parameters/vmwballoon_shrinker_enable", "N\n",
              how + " (bool parameter, driver default false)")
    root.text("sys/class/dmi/id/sys_vendor", "VMware, Inc.\n", how)
    root.text("sys/class/dmi/id/product_name", product + "\n", how)
    root.text("proc/uptime", "3600.50 7000.25\n", how)


def _vmware_new(root: FakeRoot, *, debugfs: bool = True) -> FakeRoot:
    root.description = ("VMware guest (hand-made), RHEL 9 kernel, 512 MiB ballooned "
                        "(131072 frames)" + ("" if debugfs else ", debugfs not mounted"))
    how = "hand-made: no VMware capture exists"
    if debugfs:
        root.text("sys/kernel/debug/vmmemctl", vmmemctl_new(131072, 131072),
                  how + "; written with vmballoon_debug_show's format strings "
                        "(drivers/misc/vmw_balloon.c since its v4.20 rework), first-read state: counters 0")
    else:
        root.mkdir("sys/kernel/debug", "debugfs not mounted: empty directory")
        root.text("proc/modules", "vmw_balloon 28672 0 - Live 0x0000000000000000\n"
                  "vmw_vmci 106496 2 vmw_vsock_vmci_transport, Live 0x0000000000000000\n",
                  how + "; /proc/modules lines as m_show() prints them (name size refcount deps state "
                        "address, the address zeroed for an unprivileged reader)")
    root.text("proc/sys/kernel/osrelease", "5.14.0-362.8.1.el9_3.x86_64\n", how)
    _vmware_common(root, how, "VMware7,1")
    return root


def _vmware_old(root: FakeRoot) -> FakeRoot:
    root.description = "VMware guest (hand-made), RHEL 7 kernel, 512 MiB ballooned (131072 pages)"
    how = "hand-made: no VMware capture exists"
    root.text("sys/kernel/debug/vmmemctl", vmmemctl_old(131072, 131072),
              how + "; written with the v4.18-and-older format strings "
                    "(drivers/misc/vmw_balloon.c of v4.18 and older)")
    root.text("proc/sys/kernel/osrelease", "3.10.0-1160.el7.x86_64\n", how)
    _vmware_common(root, how, "VMware Virtual Platform")
    return root


def _vmware_tools(root: FakeRoot) -> FakeRoot:
    """vmware-new plus a ``vmware-toolbox-cmd`` that sos runs chrooted in the root."""
    _vmware_new(root)
    root.description += "; with a stand-in vmware-toolbox-cmd (busybox sh script)"
    shutil.copyfile("/bin/busybox", root._dest("bin/sh"))
    os.chmod(os.path.join(root.path, "bin/sh"), 0o755)
    root.provenance["bin/sh"] = "Debian's busybox-static, so that sos can chroot and run the script"
    # sos wraps every command in `timeout`, which must exist inside the root
    root.link("usr/bin/timeout", "/bin/sh", "busybox's timeout applet (sos runs `timeout 300s CMD`)")
    script = (
        "#!/bin/sh\n"
        "# stand-in for open-vm-tools' vmware-toolbox-cmd (test only)\n"
        'case "$*" in\n'
        '  "stat balloon") echo "512 MB" ;;\n'
        '  *) echo "stand-in vmware-toolbox-cmd $*" ;;\n'
        "esac\n"
    )
    root.text("usr/bin/vmware-toolbox-cmd", script,
              "hand-made stand-in: `stat balloon` prints '512 MB' (open-vm-tools' "
              "'%u MB' shape, the vmware-new balloon's size); anything else echoes its "
              "arguments")
    os.chmod(os.path.join(root.path, "usr/bin/vmware-toolbox-cmd"), 0o755)
    return root


def _xen(root: FakeRoot) -> FakeRoot:
    root.description = "Xen HVM guest (hand-made), 2 GiB, 512 MiB ballooned out"
    how = "hand-made: no Xen capture exists; '%lu\\n' values as xen-balloon.c prints them"
    base = "sys/devices/system/xen_memory/xen_memory0"
    root.text(f"{base}/target_kb", "1572864\n", how)
    root.text(f"{base}/target", "%d\n" % (1572864 * 1024), how + " (bytes)")
    root.text(f"{base}/schedule_delay", "1\n", how)
    root.text(f"{base}/max_schedule_delay", "32\n", how)
    root.text(f"{base}/retry_count", "1\n", how)
    root.text(f"{base}/max_retry_count", "0\n", how)
    root.text(f"{base}/info/current_kb", "1572864\n", how)
    root.text(f"{base}/info/low_kb", "524288\n", how)
    root.text(f"{base}/info/high_kb", "0\n", how)
    root.text("proc/sys/kernel/osrelease", "5.10.0-26-amd64\n", how)
    root.text("sys/class/dmi/id/sys_vendor", "Xen\n", how)
    root.text("sys/class/dmi/id/product_name", "HVM domU\n", how)
    root.text("proc/uptime", "7200.00 14000.00\n", how)
    return root


def _no_balloon(root: FakeRoot) -> FakeRoot:
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


def _unreadable(root: FakeRoot) -> FakeRoot:
    """Balloon paths sos cannot read as files.

    ``vmmemctl`` is a FIFO (opening it would block), ``hv-balloon`` is a
    directory, Xen ``target_kb`` a dangling link, and ``/proc/vmmemctl`` a
    mode-000 file: unreadable for a process that is not root outside a user
    namespace (the test runs sos as ``nobody`` under ``unshare -r`` for that).
    """
    root.description = "balloon files that cannot be read as regular files"
    how = "hand-made trap"
    os.makedirs(os.path.join(root.path, "sys/kernel/debug"), exist_ok=True)
    os.mkfifo(os.path.join(root.path, "sys/kernel/debug/vmmemctl"))
    root.provenance["sys/kernel/debug/vmmemctl"] = how + ": a FIFO where debugfs has a file"
    root.text("sys/kernel/debug/hv-balloon/README", "a directory, not the debugfs file\n",
              how + ": hv-balloon is a directory")
    root.link("sys/devices/system/xen_memory/xen_memory0/target_kb", "../nowhere/target_kb",
              how + ": dangling symbolic link")
    root.text("proc/vmmemctl", "target: 1 pages\n", how + ": mode 000")
    os.chmod(os.path.join(root.path, "proc/vmmemctl"), 0)
    root.text("proc/sys/kernel/osrelease", "6.1.0-56-amd64\n", how)
    return root


#: name -> (builder, description)
BUILDERS: Dict[str, Callable[[FakeRoot], FakeRoot]] = {
    "kvm-deflate-off-inflated": lambda r: _kvm(r, "deflate-off", "after-inflate"),
    "kvm-deflate-off-after-oom": lambda r: _kvm(r, "deflate-off", "after-oom"),
    "kvm-deflate-on-inflated": lambda r: _kvm(r, "deflate-on", "after-inflate"),
    "kvm-deflate-on-after-oom": lambda r: _kvm(r, "deflate-on", "after-oom"),
    "firecracker-6.18": _firecracker,
    "hyperv": _hyperv,
    "hyperv-virtuozzo": _hyperv_virtuozzo,
    "vmware-new": _vmware_new,
    "vmware-old": _vmware_old,
    "vmware-tools": _vmware_tools,
    "xen": _xen,
    "no-balloon": _no_balloon,
    "debugfs-unmounted": lambda r: _vmware_new(r, debugfs=False),
    "unreadable": _unreadable,
    "no-virtio-bus": lambda r: _firecracker(r, virtio_bus=False),
    "kdump-previous-boot-oom": _kdump,
    "journal-previous-boot-oom": _journal_only,
    "volatile-journal-previous-boot-oom": lambda r: _journal_only(r, "run/log/journal"),
}


def names() -> List[str]:
    return list(BUILDERS)


def build(name: str, parent: str) -> FakeRoot:
    """Build root ``name`` as ``parent/name`` (a fresh directory) and return it."""
    path = os.path.join(parent, name)
    if os.path.lexists(path):
        raise FileExistsError(path)
    os.makedirs(path)
    return BUILDERS[name](FakeRoot(name, path))


def is_mode_000(path: str) -> bool:
    return stat.S_IMODE(os.lstat(path).st_mode) == 0


def captures_available() -> Optional[str]:
    """``None`` when the real captures are there, else why not."""
    for need in (KVM, FIRECRACKER, SEED_DOC):
        if not os.path.exists(need):
            return f"{need} is missing (set BALLOON_OOM_CAPTURES)"
    return None


#: Roots whose journal is made by systemd-journal-remote.
JOURNAL_ROOTS = ("journal-previous-boot-oom", "volatile-journal-previous-boot-oom")


def unavailable(name: str) -> Optional[str]:
    """``None`` when root ``name`` can be built here, else why not."""
    if name in JOURNAL_ROOTS and journal_remote() is None:
        return "systemd-journal-remote is missing (apt-get install systemd-journal-remote)"
    return captures_available()
