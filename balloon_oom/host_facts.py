"""Kernel release, hypervisor, collection time and uptime from a report's files.

Each function takes :class:`~balloon_oom.readers.files.ReportFiles` and
returns a model object carrying its evidence; none reads the disk.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Optional, Tuple

from .drivers import HOST_HINTS, HYPERVISOR_LOG_PREFIXES
from .model import Balloon, Evidence, HypervisorInfo, KernelInfo
from .parsers.dmi import DMI_HYPERVISORS, hypervisor_from_dmi
from .readers.files import ReportFiles

#: DMI ``sys_vendor`` / ``product_name`` / dmidecode text → hypervisor.
_DMI_HYPERVISORS: Tuple[Tuple[str, str], ...] = DMI_HYPERVISORS

#: What a balloon driver implies, when nothing better is known.
_DRIVER_HYPERVISOR = HOST_HINTS


def kernel_info(files: ReportFiles,
                from_log: Optional[Tuple[str, Evidence]] = None) -> KernelInfo:
    """Release from ``proc/sys/kernel/osrelease``, ``uname -a``, or the log.

    >>> f = ReportFiles(); f.add("sos_commands/kernel/uname_-a",
    ...     "Linux guest 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 x86_64 GNU/Linux\\n")
    >>> kernel_info(f).release
    '6.1.0-56-amd64'
    """
    osrel = files.get("proc/sys/kernel/osrelease")
    if osrel and osrel.text.strip():
        rel = osrel.text.strip().splitlines()[0]
        return KernelInfo(rel, None, Evidence(osrel.path, line=1, text=rel))
    for name in ("sos_commands/kernel/uname_-a", "uname"):
        uname = files.get(name)
        if uname and uname.text.strip():
            line = uname.text.strip().splitlines()[0]
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "Linux":
                return KernelInfo(parts[2], line, Evidence(uname.path, line=1, text=line))
    version = files.get("proc/version")
    if version:
        m = re.search(r"Linux version (\S+)", version.text)
        if m:
            return KernelInfo(m.group(1), version.text.strip(),
                              Evidence(version.path, line=1, text=version.text.strip()))
    if from_log:
        return KernelInfo(from_log[0], None, from_log[1])
    return KernelInfo()


def _dmi_match(text: str) -> Optional[str]:
    return hypervisor_from_dmi(text)


def _log_basis(evidence: Optional[Evidence]) -> str:
    """How the kernel log named the hypervisor (see LogScan.hypervisor)."""
    text = (evidence.text or "") if evidence is not None else ""
    if "Hardware name: " in text:
        return "kernel log: Hardware name (DMI) of a kernel report"
    if "DMI: " in text:
        return "kernel log: boot DMI line"
    for driver in HYPERVISOR_LOG_PREFIXES:
        if driver in text:
            return (f"kernel log: balloon driver {driver} messages (its protocol is this "
                    "hypervisor's; another host may emulate it, e.g. QEMU's hv-balloon)")
    return "kernel log: Hypervisor detected"


def hypervisor_info(files: ReportFiles,
                    from_log: Optional[Tuple[str, Evidence]],
                    balloons: Iterable[Balloon]) -> HypervisorInfo:
    """The kernel log's ``Hypervisor detected:`` (else its ``Hardware
    name:``/``DMI:`` line), then DMI files, then the balloon driver (the
    report's own, then the one the log's messages name)."""
    by_driver = None
    if from_log:
        basis = _log_basis(from_log[1])
        if not basis.startswith("kernel log: balloon driver"):
            return HypervisorInfo(from_log[0], basis, from_log[1])
        by_driver = HypervisorInfo(from_log[0], basis, from_log[1])
    for name in ("sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name"):
        f = files.get(name)
        if f and f.text.strip():
            hv = _dmi_match(f.text)
            if hv:
                return HypervisorInfo(hv, "DMI", Evidence(f.path, line=1, text=f.text.strip()))
    dmi = files.get("sos_commands/hardware/dmidecode")
    if dmi:
        for i, line in enumerate(dmi.lines(), 1):
            if line.strip().startswith(("Manufacturer:", "Product Name:")):
                hv = _dmi_match(line)
                if hv:
                    return HypervisorInfo(hv, "DMI (dmidecode)",
                                          Evidence(dmi.path, line=i, text=line.strip()))
    for b in balloons:
        return HypervisorInfo(_DRIVER_HYPERVISOR[b.driver], f"balloon driver {b.driver.value}",
                              b.evidence[0] if b.evidence else None)
    return by_driver or HypervisorInfo()


def uptime_seconds(files: ReportFiles) -> Tuple[Optional[float], Optional[Evidence]]:
    """``proc/uptime`` (first number), else ``uptime`` command output.

    >>> f = ReportFiles(); f.add("proc/uptime", "8.91 7.20\\n")
    >>> uptime_seconds(f)[0]
    8.91
    """
    up = files.get("proc/uptime")
    if up and up.text.split():
        try:
            return float(up.text.split()[0]), Evidence(up.path, line=1, text=up.text.strip())
        except ValueError:
            pass
    for name in ("sos_commands/general/uptime", "sos_commands/host/uptime", "uptime"):
        f = files.get(name)
        if not f or not f.text.strip():
            continue
        line = f.text.strip().splitlines()[0]
        secs = _parse_uptime_command(line)
        if secs is not None:
            return secs, Evidence(f.path, line=1, text=line)
    return None, None


def _parse_uptime_command(line: str) -> Optional[float]:
    """`` 10:01:02 up 3 days,  2:03,  1 user, …`` → seconds.

    >>> _parse_uptime_command(" 10:01:02 up 3 days,  2:03,  1 user,  load average: 0.00")
    266580.0
    >>> _parse_uptime_command(" 10:01:02 up 5 min,  0 users")
    300.0
    """
    m = re.search(r"up\s+(.*?),\s+\d+\s+users?", line) or re.search(r"up\s+(.*?),\s+load", line)
    if not m:
        return None
    total = 0.0
    for part in m.group(1).split(","):
        part = part.strip()
        if not part:
            continue
        if re.fullmatch(r"\d+:\d+", part):
            h, mi = part.split(":")
            total += int(h) * 3600 + int(mi) * 60
        elif (d := re.fullmatch(r"(\d+)\s+days?", part)):
            total += int(d.group(1)) * 86400
        elif (mm := re.fullmatch(r"(\d+)\s+min", part)):
            total += int(mm.group(1)) * 60
        else:
            return None
    return total


def collection_time(files: ReportFiles) -> Tuple[Optional[str], Optional[Evidence]]:
    """When the report was made: manifest ``start_time``, else ``date`` output."""
    manifest = files.get("sos_reports/manifest.json")
    if manifest:
        try:
            data = json.loads(manifest.text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("start_time"):
            return str(data["start_time"]), Evidence(manifest.path, field="start_time",
                                                     text=str(data["start_time"]))
    for f in files.glob("sos_commands/balloon/date*") + files.glob("sos_commands/date/date*"):
        if f.text.strip():
            line = f.text.strip().splitlines()[0]
            return line, Evidence(f.path, line=1, text=line)
    return None, None
