# SPDX-License-Identifier: GPL-2.0-or-later
"""VMware guests (hand-made vmmemctl of both driver generations, vmware-toolbox-cmd)."""

from __future__ import annotations

import os
import shutil

from tests.sosroots.fakeroot import FakeRoot

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


def vmware_new(root: FakeRoot, *, debugfs: bool = True) -> FakeRoot:
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


def vmware_old(root: FakeRoot) -> FakeRoot:
    root.description = "VMware guest (hand-made), RHEL 7 kernel, 512 MiB ballooned (131072 pages)"
    how = "hand-made: no VMware capture exists"
    root.text("sys/kernel/debug/vmmemctl", vmmemctl_old(131072, 131072),
              how + "; written with the v4.18-and-older format strings "
                    "(drivers/misc/vmw_balloon.c of v4.18 and older)")
    root.text("proc/sys/kernel/osrelease", "3.10.0-1160.el7.x86_64\n", how)
    _vmware_common(root, how, "VMware Virtual Platform")
    return root


def vmware_tools(root: FakeRoot) -> FakeRoot:
    """vmware-new plus a ``vmware-toolbox-cmd`` that sos runs chrooted in the root."""
    vmware_new(root)
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

