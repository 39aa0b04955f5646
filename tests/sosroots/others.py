# SPDX-License-Identifier: GPL-2.0-or-later
"""A Xen guest (hand-made) and a root of balloon files sos cannot read as files."""

from __future__ import annotations

import os

from tests.sosroots.fakeroot import FakeRoot


def xen(root: FakeRoot) -> FakeRoot:
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

def unreadable(root: FakeRoot) -> FakeRoot:
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


