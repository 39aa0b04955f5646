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

#: Read whole (each capped at :data:`SMALL_FILE_CAP` bytes).
SMALL_FILES: Tuple[str, ...] = (
    # balloon drivers
    "sys/kernel/debug/vmmemctl",
    "proc/vmmemctl",
    "sys/kernel/debug/hv-balloon",
    "sys/kernel/debug/virtio-balloon",
    "sys/kernel/debug/virtio/*/device_features",
    "sys/bus/virtio/drivers/virtio_balloon/*",
    "sys/bus/virtio/devices/*",
    "sys/devices/*virtio[0-9]*/features",
    "sys/devices/*virtio[0-9]*/device",
    "sys/devices/*virtio[0-9]*/vendor",
    "sys/devices/*virtio[0-9]*/status",
    "sys/module/virtio_balloon/parameters/*",
    "sys/module/vmw_balloon/parameters/*",
    "sys/module/hv_balloon/parameters/*",
    "sys/devices/system/xen_memory/xen_memory0/*",
    "proc/xen/balloon",
    "proc/sys/vm/cmm_*",
    "sys/devices/system/cmm/cmm0/*",
    "sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_*",
    "sos_commands/vmware/vmware-toolbox-cmd_stat_balloon",
    "sos_commands/balloon/*",
    "sos_strings/balloon/*",
    "sys/bus/virtio/drivers/virtio_mem/*",
    "sys/module/virtio_mem/parameters/*",
    "proc/iomem",
    # memory
    "proc/meminfo",
    "proc/vmstat",
    "proc/zoneinfo",
    # host facts
    "proc/uptime",
    "proc/sys/kernel/osrelease",
    "proc/version",
    "proc/modules",
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
    "sys/class/dmi/id/sys_vendor",
    "sys/class/dmi/id/product_name",
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
