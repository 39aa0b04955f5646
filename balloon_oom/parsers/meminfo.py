"""``/proc/meminfo``: every row, in kB (``HugePages_*`` are counts).

``fs/proc/meminfo.c`` prints ``show_val_kb(m, "MemTotal:       ", …)`` rows
(``"%8lu kB"``) plus a few unit-less ``HugePages_*`` counts.  Since v6.15 a
``Balloon:`` row (``NR_BALLOON_PAGES``: balloon_compaction users, hv and xen)
sits before the HugePages rows.

>>> m = parse_meminfo("MemTotal:         206272 kB\\nHugePages_Total:       0\\n", "proc/meminfo")
>>> m.values["MemTotal"], m.units["MemTotal"], m.units["HugePages_Total"]
(206272, 'kB', None)
>>> str(m.evidence["MemTotal"])
'proc/meminfo:1: MemTotal:         206272 kB'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence

__all__ = ["Meminfo", "parse_meminfo"]

_ROW = re.compile(r"^([^:\s][^:]*):\s*(-?\d+)(?:\s+(kB))?\s*$")


@dataclass
class Meminfo:
    #: Row name -> value (kB for ``kB`` rows, a count otherwise).
    values: Dict[str, int] = field(default_factory=dict)
    #: Row name -> ``"kB"`` or None (unit-less count).
    units: Dict[str, Optional[str]] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    def get(self, name: str) -> Optional[int]:
        return self.values.get(name)


def parse_meminfo(text: str, path: str) -> Meminfo:
    """Parse /proc/meminfo; raise ParseError on a row that is not ``Name: N [kB]``."""
    result = Meminfo()
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        m = _ROW.match(line.strip())
        if not m:
            raise ParseError(path, lineno, f"not a 'Name: N kB' row: {line.strip()!r}")
        name = m.group(1).strip()
        if name in result.values:
            raise ParseError(path, lineno, f"{name} appears twice")
        result.values[name] = int(m.group(2))
        result.units[name] = m.group(3)
        result.evidence[name] = Evidence(path, line=lineno, text=line.strip())
    if not result.values:
        raise ParseError(path, None, "empty meminfo file")
    return result
