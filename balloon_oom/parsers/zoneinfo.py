"""``/proc/zoneinfo``: per ``Node N, zone X`` block, the page counts that matter.

``mm/vmstat.c`` ``zoneinfo_show_print()`` prints, per zone::

    Node 0, zone    DMA32
      pages free     772854
            boost    0          (5.x+)
            min      6565
            low      8206
            high     9847
            promo    11488      (6.x, memory tiering)
            spanned  1044480
            present  782336
            managed  772917
            cma      0
            protection: (0, 0, 4736, 4736, 4736)
          nr_free_pages 772854
          ...

The first zone of each node also carries a ``per-node stats`` block; those
``name value`` rows are kept in :attr:`ZoneInfo.node_stats`.  Per-CPU
``pagesets`` rows are skipped.  All numbers are pages.

``present - managed`` is what the kernel counts as reserved; a balloon
driver that calls ``adjust_managed_page_count(-1)`` widens it.

>>> z = parse_zoneinfo("Node 0, zone   Normal\\n  pages free     5\\n        present  10\\n        managed  8\\n", "proc/zoneinfo")
>>> z.zones[0].zone, z.zones[0].present, z.zones[0].managed, z.zones[0].free
('Normal', 10, 8, 5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence, Zone

__all__ = ["ZoneInfo", "Zoneinfo", "parse_zoneinfo"]

_HEADER = re.compile(r"^Node\s+(\d+),\s*zone\s+(\S+)\s*$")
_PAGES_FREE = re.compile(r"^pages\s+free\s+(\d+)$")
_NAME_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s+(-?\d+)$")
_FIELDS = ("min", "low", "high", "spanned", "present", "managed")


@dataclass
class ZoneInfo:
    node: int
    zone: str
    free: Optional[int] = None
    min: Optional[int] = None
    low: Optional[int] = None
    high: Optional[int] = None
    spanned: Optional[int] = None
    present: Optional[int] = None
    managed: Optional[int] = None
    #: Other ``name value`` rows of the zone (``boost``, ``nr_free_pages``, ...).
    stats: Dict[str, int] = field(default_factory=dict)
    #: The ``per-node stats`` rows printed under this zone (first zone of a node).
    node_stats: Dict[str, int] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def reserved(self) -> Optional[int]:
        """``present - managed`` (pages), as ``show_mem`` counts "pages reserved"."""
        if self.present is None or self.managed is None:
            return None
        return self.present - self.managed

    def to_model(self) -> Zone:
        return Zone(
            node=self.node,
            zone=self.zone,
            present_pages=self.present,
            managed_pages=self.managed,
            spanned_pages=self.spanned,
            free_pages=self.free,
        )


@dataclass
class Zoneinfo:
    zones: List[ZoneInfo] = field(default_factory=list)

    def totals(self) -> Dict[str, int]:
        """Sums over zones of present, managed, spanned and free pages (known values only)."""
        out: Dict[str, int] = {}
        for name in ("present", "managed", "spanned", "free"):
            vals = [getattr(z, name) for z in self.zones if getattr(z, name) is not None]
            if vals:
                out[name] = sum(vals)
        return out


def parse_zoneinfo(text: str, path: str) -> Zoneinfo:
    """Parse /proc/zoneinfo (tolerates per-CPU and protection rows of any kernel)."""
    result = Zoneinfo()
    current: Optional[ZoneInfo] = None
    in_node_stats = False
    in_pagesets = False
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped:
            continue
        header = _HEADER.match(stripped)
        if header:
            current = ZoneInfo(node=int(header.group(1)), zone=header.group(2))
            current.evidence["header"] = Evidence(path, line=lineno, text=stripped)
            result.zones.append(current)
            in_node_stats = in_pagesets = False
            continue
        if current is None:
            raise ParseError(path, lineno, f"text before the first 'Node N, zone X' header: {stripped!r}")
        ev = Evidence(path, line=lineno, text=stripped)
        if stripped == "per-node stats":
            in_node_stats = True
            continue
        if stripped == "pagesets":
            in_node_stats, in_pagesets = False, True
            continue
        free = _PAGES_FREE.match(stripped)
        if free:
            in_node_stats = in_pagesets = False
            current.free = int(free.group(1))
            current.evidence["free"] = ev
            continue
        if in_pagesets:
            # cpu: N / count: / high: / batch: / vm stats threshold: rows;
            # the block ends at node_unreclaimable/start_pfn (printed with ':').
            continue
        nv = _NAME_VALUE.match(stripped)
        if nv:
            name, value = nv.group(1), int(nv.group(2))
            if in_node_stats:
                current.node_stats[name] = value
            elif name in _FIELDS:
                setattr(current, name, value)
                current.evidence[name] = ev
            else:
                current.stats[name] = value
            continue
        # "protection: (0, 3019, ...)", "node_unreclaimable:  0", "start_pfn: 1"
        if ":" in stripped:
            continue
        raise ParseError(path, lineno, f"unexpected zoneinfo row: {stripped!r}")
    if not result.zones:
        raise ParseError(path, None, "no 'Node N, zone X' header: not a zoneinfo file")
    return result
