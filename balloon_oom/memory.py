"""Report files -> :class:`~balloon_oom.model.MemoryFigures` (meminfo, vmstat, zoneinfo).

The boot ``Memory:`` line comes from the kernel log scanner; the caller sets
``MemoryFigures.boot``.  Every filled field has an ``evidence`` entry keyed by
its field name (``mem_total_kb``, ``balloon_inflate``, ...).
"""

from __future__ import annotations

from typing import List, Tuple

from .errors import ParseError
from .model import MemoryFigures
from .parsers.meminfo import parse_meminfo
from .parsers.vmstat import parse_vmstat
from .parsers.zoneinfo import parse_zoneinfo
from .readers.files import ReportFiles

__all__ = ["memory_figures"]

MEMINFO = "proc/meminfo"
VMSTAT = "proc/vmstat"
ZONEINFO = "proc/zoneinfo"

_MEMINFO_FIELDS = (
    ("MemTotal", "mem_total_kb"),
    ("MemFree", "mem_free_kb"),
    ("MemAvailable", "mem_available_kb"),
    ("Balloon", "balloon_kb"),
)
_VMSTAT_FIELDS = ("balloon_inflate", "balloon_deflate", "balloon_migrate", "nr_balloon_pages")


def memory_figures(files: ReportFiles) -> Tuple[MemoryFigures, List[str]]:
    """Fill a MemoryFigures from ``proc/meminfo``, ``proc/vmstat``, ``proc/zoneinfo``.

    Missing or unreadable files give warnings, never exceptions.
    """
    figures = MemoryFigures()
    warnings: List[str] = []

    meminfo = files.get(MEMINFO)
    if meminfo is None:
        warnings.append(f"{MEMINFO} is not in the report: MemTotal/MemFree are unknown")
    else:
        try:
            parsed = parse_meminfo(meminfo.text, meminfo.path)
        except ParseError as exc:
            warnings.append(str(exc))
        else:
            figures.meminfo = dict(parsed.values)
            for row, attr in _MEMINFO_FIELDS:
                if row in parsed.values:
                    setattr(figures, attr, parsed.values[row])
                    figures.evidence[attr] = parsed.evidence[row]

    vmstat = files.get(VMSTAT)
    if vmstat is None:
        warnings.append(f"{VMSTAT} is not in the report: balloon_inflate/balloon_deflate are unknown")
    else:
        try:
            parsed_vm = parse_vmstat(vmstat.text, vmstat.path)
        except ParseError as exc:
            warnings.append(str(exc))
        else:
            figures.vmstat = dict(parsed_vm.values)
            for name in _VMSTAT_FIELDS:
                if name in parsed_vm.values:
                    setattr(figures, name, parsed_vm.values[name])
                    figures.evidence[name] = parsed_vm.evidence[name]

    zoneinfo = files.get(ZONEINFO)
    if zoneinfo is not None:
        try:
            parsed_zi = parse_zoneinfo(zoneinfo.text, zoneinfo.path)
        except ParseError as exc:
            warnings.append(str(exc))
        else:
            figures.zones = [z.to_model() for z in parsed_zi.zones]
            if parsed_zi.zones:
                first = parsed_zi.zones[0].evidence.get("header")
                if first is not None:
                    figures.evidence["zones"] = first
    return figures, warnings
