# SPDX-License-Identifier: GPL-2.0-or-later
"""Guests whose kernel log is only in a journald journal or in kdump's /var/crash."""

from __future__ import annotations

import os
import re
import subprocess
from typing import List, Optional

from tests.sosroots.fakeroot import KVM, FakeRoot, read
from tests.sosroots.virtio import kvm

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


def journal_only(root: FakeRoot, journal_dir: str = "var/log/journal") -> FakeRoot:
    """The KVM deflate-off guest with its balloon inflated now, an OOM in the previous boot,
    and no kernel log but the journal."""
    kvm(root, "deflate-off", "after-inflate")
    os.unlink(os.path.join(root.path, "var/log/dmesg"))
    del root.provenance["var/log/dmesg"]
    root.description += ("; journald only (no /var/log/dmesg): the previous boot's journal "
                         "holds the OOM report")
    oom = read(os.path.join(KVM, "dmesg-oom-report-deflate-off.txt")).splitlines()
    boot = read(os.path.join(KVM, "dmesg-deflate-off.txt")).splitlines()
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


def kdump(root: FakeRoot) -> FakeRoot:
    """The KVM deflate-off guest, inflated now, whose previous boot's OOM kdump saved."""
    kvm(root, "deflate-off", "after-inflate")
    root.description += "; kdump saved the previous boot's log (OOM) under /var/crash"
    root.copy(f"{KDUMP_DIR}/vmcore-dmesg.txt", os.path.join(KVM, "dmesg-deflate-off.txt"),
              "real capture kvm-6.1/dmesg-deflate-off.txt (the guest's whole log with the OOM) "
              "placed where kexec-tools' vmcore-dmesg writes it; same '[ time] text' lines")
    lines = read(os.path.join(KVM, "dmesg-deflate-off.txt")).splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "invoked oom-killer" in line)
    stamp = KDUMP_TOOLS_DIR.rsplit("/", 1)[1]
    root.text(f"{KDUMP_TOOLS_DIR}/dmesg.{stamp}", "".join(lines[:cut]),
              "real capture kvm-6.1/dmesg-deflate-off.txt cut before its first 'invoked "
              "oom-killer' line, placed where Debian's kdump-tools writes dmesg.STAMP (an "
              "older crash without OOM)")
    return root


