"""Report files -> :class:`~balloon_oom.model.MemoryFigures` (meminfo, vmstat, zoneinfo).

The boot ``Memory:`` line comes from the kernel log scanner; the caller sets
``MemoryFigures.boot``.  Every filled field has an ``evidence`` entry keyed by
its field name (``mem_total_kb``, ``balloon_inflate``, ...).
"""

from __future__ import annotations

from typing import List, Tuple

from .model import MemoryFigures
from .parsers import parse_or_warn
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

    for path, parser, missing, dump, fields in (
            (MEMINFO, parse_meminfo, "MemTotal/MemFree are unknown", "meminfo", _MEMINFO_FIELDS),
            (VMSTAT, parse_vmstat, "balloon_inflate/balloon_deflate are unknown", "vmstat",
             tuple((name, name) for name in _VMSTAT_FIELDS))):
        found = files.get(path)
        if found is None:
            warnings.append(f"{path} is not in the report: {missing}")
            continue
        parsed = parse_or_warn(found, parser, warnings)
        if parsed is None:
            continue
        setattr(figures, dump, dict(parsed.values))
        for row, attr in fields:
            if row in parsed.values:
                setattr(figures, attr, parsed.values[row])
                figures.evidence[attr] = parsed.evidence[row]

    parsed_zi = parse_or_warn(files.get(ZONEINFO), parse_zoneinfo, warnings)
    if parsed_zi is not None:
        figures.zones = [z.to_model() for z in parsed_zi.zones]
        if parsed_zi.zones:
            first = parsed_zi.zones[0].evidence.get("header")
            if first is not None:
                figures.evidence["zones"] = first
    return figures, warnings
