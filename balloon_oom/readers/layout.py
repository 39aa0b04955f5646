"""Where things live inside a sosreport (and, the same paths, on a live guest).

The spec layer, in insights-core's sense: report-relative path patterns
(:func:`fnmatch.fnmatchcase`, so ``*`` also crosses ``/``).  Small files are
read whole into :class:`~balloon_oom.readers.files.ReportFiles`; kernel logs
are streamed line by line through the log scanner.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Optional, Tuple

from ..drivers import READ_PATHS

#: Files of the guest the analyzer reads besides the balloon drivers' own, the same on a
#: live guest (:data:`~balloon_oom.readers.live.LIVE_GLOBS`) and in a report.
GUEST_FILES: Tuple[str, ...] = (
    # memory
    "proc/meminfo",
    "proc/vmstat",
    "proc/zoneinfo",
    # host facts
    "proc/uptime",
    "proc/sys/kernel/osrelease",
    "proc/version",
    "proc/modules",
    "sys/class/dmi/id/sys_vendor",
    "sys/class/dmi/id/product_name",
)

#: Read whole (each capped at :data:`SMALL_FILE_CAP` bytes): every balloon driver's report
#: paths (:data:`balloon_oom.drivers.READ_PATHS`), :data:`GUEST_FILES`, then what only a
#: report has.
SMALL_FILES: Tuple[str, ...] = READ_PATHS + GUEST_FILES + (
    "sos_commands/kernel/uname_-a",
    "sos_commands/kernel/lsmod",
    "sos_commands/general/uptime",
    "sos_commands/host/uptime",
    "sos_commands/date/date*",
    "etc/localtime",
    "etc/timezone",
    "sos_commands/systemd/timedatectl*",
    "hostname",
    "etc/hostname",
    "sos_commands/host/hostname*",
    "sos_commands/general/hostname*",
    "sos_commands/hardware/dmidecode",
    "sos_reports/manifest.json",
    # which guest (fleet mode: two inputs of one guest)
    "proc/sys/kernel/random/boot_id",
    "proc/sys/kernel/hostname",
    "etc/hostname",
    "sos_commands/host/hostname",
    "hostname",
    "version.txt",
    "uname",
    "uptime",
    "date",
)

#: Streamed through the kernel-log scanner.
LOG_FILES: Tuple[str, ...] = (
    "sos_commands/kernel/dmesg",
    "sos_commands/kernel/dmesg_-T",
    "sos_commands/balloon/dmesg*",
    # the balloon plugin's journal: journalctl -k -b 0 / -b -1 / all boots
    "sos_commands/balloon/journalctl_-k*",
    "sos_commands/logs/journalctl_--no-pager*",
    "var/log/dmesg",
    "var/log/dmesg.[0-9]",
    "var/log/messages",
    "var/log/messages-[0-9]*",
    "var/log/messages.[0-9]",
    "var/log/syslog",
    "var/log/syslog.[0-9]",
    "var/log/kern.log",
    "var/log/kern.log.[0-9]",
    "var/crash/*/vmcore-dmesg.txt",
    "var/crash/*/dmesg.[0-9]*",  # Debian's kdump-tools: dmesg.YYYYMMDDHHMM
)

#: Largest small file read (bytes); beyond it the file is cut and a warning given.
SMALL_FILE_CAP = 8 * 1024 * 1024

#: Logs preferred first when the same OOM report appears in several of them.
LOG_PREFERENCE: Tuple[str, ...] = (
    "var/crash/",
    "sos_commands/kernel/dmesg",
    "sos_commands/balloon/dmesg",
    "var/log/dmesg",
    "sos_commands/balloon/journalctl",
    "sos_commands/logs/journalctl",
    "var/log/kern.log",
    "var/log/messages",
    "var/log/syslog",
)

_COMPRESSED = re.compile(r"\.(gz|xz|bz2)$")


def _matches(path: str, patterns: Tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def classify(path: str) -> Optional[str]:
    """``"small"``, ``"log"`` or ``None`` for a report-relative path.

    >>> classify("proc/meminfo"), classify("sos_commands/kernel/dmesg"), classify("etc/passwd")
    ('small', 'log', None)
    """
    if _matches(path, LOG_FILES) or (
        _COMPRESSED.search(path) and _matches(_COMPRESSED.sub("", path), LOG_FILES)
    ):
        return "log"
    if _matches(path, SMALL_FILES):
        return "small"
    return None


def log_rank(path: str) -> int:
    """Lower is preferred (see :data:`LOG_PREFERENCE`)."""
    for i, prefix in enumerate(LOG_PREFERENCE):
        if path.startswith(prefix):
            return i
    return len(LOG_PREFERENCE)
