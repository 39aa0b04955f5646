"""Hyper-V balloon: debugfs ``/sys/kernel/debug/hv-balloon``.

The file exists since Linux kernel commit d180e0a1be6c ("Drivers: hv: Create
debugfs file with hyper-v balloon usage information") (in v6.0).  Upstream rows are
``"%-22s: …"`` (``drivers/hv/hv_balloon.c`` ``hv_balloon_debug_show()``)::

    host_version          : 2.0
    capabilities          : enabled hot_add
    state                 : 1 (Initialized)
    page_size             : 4096
    pages_added           : 0
    pages_onlined         : 0
    pages_ballooned       : 0
    total_pages_committed : 977790
    max_dynamic_page_count: 268435456

The Virtuozzo feature document spells three keys differently
(``pages_ballooned_out``, ``vm_pages_commited``, ``total_pages_commited``)
and puts ``// comments`` after values and on lines of their own; both are
accepted.  Counters are 4 KiB guest pages.

>>> hv = parse_hv_balloon("state : 2 (Balloon Up)\\npages_ballooned : 512\\n", "hv-balloon")
>>> hv.state, hv.state_name, hv.pages_ballooned, hv.page_size
(2, 'Balloon Up', 512, 4096)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence
from balloon_oom.parsers.rows import colon_rows

__all__ = ["HvBalloonDebugfs", "STATE_NAMES", "parse_hv_balloon"]

#: enum hv_dm_state as printed by the show function.
STATE_NAMES: Dict[int, str] = {
    0: "Initializing",
    1: "Initialized",
    2: "Balloon Up",
    3: "Balloon Down",
    4: "Hot Add",
    5: "Error",
}

#: Accepted spellings -> attribute.
_INT_KEYS: Dict[str, str] = {
    "page_size": "page_size",
    "pages_added": "pages_added",
    "pages_onlined": "pages_onlined",
    "pages_ballooned": "pages_ballooned",
    "pages_ballooned_out": "pages_ballooned",  # Virtuozzo doc
    "total_pages_committed": "total_pages_committed",
    "total_pages_commited": "total_pages_committed",  # Virtuozzo doc
    "vm_pages_commited": "vm_pages_committed",  # Virtuozzo doc only
    "vm_pages_committed": "vm_pages_committed",
    "max_dynamic_page_count": "max_dynamic_page_count",
}

_STATE = re.compile(r"^(\d+)(?:\s*\((.*)\))?$")
_VERSION = re.compile(r"^\d+\.\d+$")


@dataclass
class HvBalloonDebugfs:
    """One read of the hv-balloon debugfs file (counters in 4 KiB pages)."""

    host_version: Optional[str] = None
    capabilities: List[str] = field(default_factory=list)
    state: Optional[int] = None
    state_name: Optional[str] = None
    #: ``page_size`` row; 4096 (HV_HYP_PAGE_SIZE) if the row is missing.
    page_size: int = 4096
    pages_added: Optional[int] = None
    pages_onlined: Optional[int] = None
    pages_ballooned: Optional[int] = None
    total_pages_committed: Optional[int] = None
    vm_pages_committed: Optional[int] = None
    max_dynamic_page_count: Optional[int] = None
    #: ``upstream`` or ``virtuozzo-doc`` (which spelling of pages_ballooned).
    spelling: str = "upstream"
    other: Dict[str, str] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def ballooned_bytes(self) -> Optional[int]:
        if self.pages_ballooned is None:
            return None
        return self.pages_ballooned * self.page_size


def parse_hv_balloon(text: str, path: str) -> HvBalloonDebugfs:
    """Parse the hv-balloon debugfs file (upstream and Virtuozzo-doc spellings)."""
    result = HvBalloonDebugfs()
    rows = 0
    for row in colon_rows(text, path, comment="//"):
        lineno, key, value = row.lineno, row.key, row.value
        ev = Evidence(path, line=lineno, text=row.text)
        rows += 1
        if key in _INT_KEYS:
            if not (value.isascii() and value.isdigit()):
                raise ParseError(path, lineno, f"{key} is not a number: {value!r}")
            attr = _INT_KEYS[key]
            setattr(result, attr, int(value))
            result.evidence[attr] = ev
            if key in ("pages_ballooned_out", "total_pages_commited", "vm_pages_commited"):
                result.spelling = "virtuozzo-doc"
        elif key == "state":
            m = _STATE.match(value)
            if not m:
                raise ParseError(path, lineno, f"state is not 'N (Name)': {value!r}")
            result.state = int(m.group(1))
            result.state_name = m.group(2) if m.group(2) is not None else STATE_NAMES.get(result.state)
            result.evidence["state"] = ev
        elif key == "host_version":
            if not _VERSION.match(value):
                raise ParseError(path, lineno, f"host_version is not 'major.minor': {value!r}")
            result.host_version = value
            result.evidence["host_version"] = ev
        elif key == "capabilities":
            result.capabilities = value.split()
            result.evidence["capabilities"] = ev
        else:
            result.other[key] = value
            result.evidence[f"other.{key}"] = ev
    if rows == 0:
        raise ParseError(path, None, "empty hv-balloon file")
    if result.pages_ballooned is None and result.state is None:
        raise ParseError(path, None, "no pages_ballooned or state row: not an hv-balloon file")
    return result
