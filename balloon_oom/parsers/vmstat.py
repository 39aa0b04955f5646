"""``/proc/vmstat``: every ``name value`` row.

Balloon rows (``mm/vmstat.c``): ``balloon_inflate``, ``balloon_deflate``
(``CONFIG_MEMORY_BALLOON``), ``balloon_migrate`` (``CONFIG_BALLOON_COMPACTION``)
are events counted in guest pages since boot; ``nr_balloon_pages`` (v6.15+)
is the current number of ballooned pages.  A ``grep balloon /proc/vmstat``
excerpt parses the same way.

>>> v = parse_vmstat("balloon_inflate 65536\\nballoon_deflate 0\\n", "proc/vmstat")
>>> v.values["balloon_inflate"] - v.values["balloon_deflate"], v.evidence["balloon_inflate"].line
(65536, 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence

__all__ = ["BALLOON_KEYS", "Vmstat", "parse_vmstat"]

BALLOON_KEYS = ("balloon_inflate", "balloon_deflate", "balloon_migrate", "nr_balloon_pages")

_ROW = re.compile(r"^([A-Za-z0-9_]+)\s+(-?\d+)$")


@dataclass
class Vmstat:
    values: Dict[str, int] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    def get(self, name: str) -> Optional[int]:
        return self.values.get(name)


def parse_vmstat(text: str, path: str) -> Vmstat:
    """Parse /proc/vmstat; raise ParseError on a row that is not ``name N``."""
    result = Vmstat()
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        m = _ROW.match(line)
        if not m:
            raise ParseError(path, lineno, f"not a 'name value' row: {line!r}")
        name = m.group(1)
        if name in result.values:
            raise ParseError(path, lineno, f"{name} appears twice")
        result.values[name] = int(m.group(2))
        result.evidence[name] = Evidence(path, line=lineno, text=line)
    if not result.values:
        raise ParseError(path, None, "empty vmstat file")
    return result
