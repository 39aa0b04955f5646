"""Where things live inside a sosreport (and, the same paths, on a live guest).

The spec layer, in insights-core's sense: report-relative path patterns
(:func:`fnmatch.fnmatchcase`, so ``*`` also crosses ``/``).  Small files are
read whole into :class:`~balloon_oom.readers.files.ReportFiles`; kernel logs
are streamed line by line through the log scanner.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
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

@dataclass(frozen=True)
class LogSpec:
    """One kernel-log location of a report, declared once.

    ``pattern``: report-relative (compressed copies ``.gz``/``.xz``/``.bz2`` match too);
    ``rank``: lower is preferred when the same OOM report is in several logs;
    ``boot``: ``"current"`` (the boot the report was collected in), ``"previous"`` (a boot
    before it) or ``"any"`` (a file spanning boots; its rotated copies are older).
    """

    pattern: str
    rank: int
    boot: str

    @property
    def head(self) -> str:
        """The pattern up to its first wildcard: a source starting with it is this log."""
        return re.split(r"[*?\[]", self.pattern, maxsplit=1)[0]


#: Every kernel log a report may hold, streamed through the kernel-log scanner.
LOGS: Tuple[LogSpec, ...] = (
    LogSpec("var/crash/*/vmcore-dmesg.txt", 0, "previous"),   # kexec-tools' kdump
    LogSpec("var/crash/*/dmesg.[0-9]*", 0, "previous"),       # Debian's kdump-tools: dmesg.YYYYMMDDHHMM
    LogSpec("sos_commands/kernel/dmesg", 1, "current"),
    LogSpec("sos_commands/kernel/dmesg_-T", 1, "current"),
    LogSpec("sos_commands/balloon/dmesg*", 2, "current"),
    LogSpec("var/log/dmesg", 3, "any"),
    LogSpec("var/log/dmesg.[0-9]", 3, "any"),
    # the balloon plugin's journal: journalctl -k -b 0 / -b -1 / all boots
    LogSpec("sos_commands/balloon/journalctl_-k_-b_0*", 4, "current"),
    LogSpec("sos_commands/balloon/journalctl_-k_-b_-1*", 4, "previous"),
    LogSpec("sos_commands/balloon/journalctl_-k_all_boots*", 4, "any"),
    LogSpec("sos_commands/logs/journalctl_--no-pager*", 5, "any"),
    LogSpec("var/log/kern.log", 6, "any"),
    LogSpec("var/log/kern.log.[0-9]", 6, "any"),
    LogSpec("var/log/messages", 7, "any"),
    LogSpec("var/log/messages-[0-9]*", 7, "any"),
    LogSpec("var/log/messages.[0-9]", 7, "any"),
    LogSpec("var/log/syslog", 8, "any"),
    LogSpec("var/log/syslog.[0-9]", 8, "any"),
)

#: Streamed through the kernel-log scanner.
LOG_FILES: Tuple[str, ...] = tuple(spec.pattern for spec in LOGS)

#: Largest small file read (bytes); beyond it the file is cut and a warning given.
SMALL_FILE_CAP = 8 * 1024 * 1024

#: Log heads preferred first when the same OOM report appears in several of them.
LOG_PREFERENCE: Tuple[str, ...] = tuple(dict.fromkeys(spec.head for spec in sorted(LOGS, key=lambda s: s.rank)))
#: Sources of the boot the report was collected in, and of boots before it (``live:dmesg``
#: and ``vmcore:`` are sources that are no report file).
CURRENT_BOOT_LOGS: Tuple[str, ...] = tuple(
    dict.fromkeys([spec.head for spec in LOGS if spec.boot == "current"] + ["live:dmesg", "vmcore:"]))
PAST_BOOT_LOGS: Tuple[str, ...] = tuple(dict.fromkeys(spec.head for spec in LOGS if spec.boot == "previous"))
_UNRANKED = max(spec.rank for spec in LOGS) + 1

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
    """Lower is preferred (see :attr:`LogSpec.rank`).

    >>> log_rank("var/crash/127.0.0.1-2026-11-25/vmcore-dmesg.txt"), log_rank("var/log/messages-20261125.gz")
    (0, 7)
    >>> log_rank("live:dmesg")
    9
    """
    return min((spec.rank for spec in LOGS if path.startswith(spec.head)), default=_UNRANKED)
