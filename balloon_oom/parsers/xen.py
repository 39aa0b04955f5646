"""Xen balloon: sysfs ``xen_memory0`` attributes and the old ``/proc/xen/balloon``.

Sysfs (``drivers/xen/xen-balloon.c``), one ``"%lu\\n"``/``"%llu\\n"`` value per
file under ``/sys/devices/system/xen_memory/xen_memory0/``: ``target_kb``
(KiB), ``target`` (**bytes**), ``info/current_kb``, ``info/low_kb``,
``info/high_kb`` (KiB), ``schedule_delay``, ``retry_count``, ... .

``/proc/xen/balloon`` (xenlinux 2.6.18-era ``balloon_read()``)::

    Current allocation:   204800 kB
    Requested target:     204800 kB
    Low-mem balloon:      566784 kB
    High-mem balloon:          0 kB
    Driver pages:           1024 kB
    Xen hard limit:          ??? kB

Older trees omit ``Driver pages`` and print it inside the last row instead:
``Xen hard limit: N kB (inc. M kB driver headroom)``.

>>> p = parse_proc_xen_balloon("Current allocation:   204800 kB\\nLow-mem balloon:      566784 kB\\n", "proc/xen/balloon")
>>> p.current_kb, p.low_kb, p.ballooned_kb
(204800, 566784, 566784)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence
from balloon_oom.parsers.rows import colon_rows

__all__ = ["XenProcBalloon", "XenValue", "parse_proc_xen_balloon", "parse_xen_value"]


@dataclass
class XenValue:
    """A one-number sysfs attribute."""

    value: int
    evidence: Evidence


def parse_xen_value(text: str, path: str) -> XenValue:
    """Parse a one-value ``xen_memory0`` attribute.

    >>> parse_xen_value("1048576\\n", "xen_memory0/target_kb").value
    1048576
    """
    lines = [(i, ln.strip()) for i, ln in enumerate(text.split("\n"), 1) if ln.strip()]
    if not lines:
        raise ParseError(path, None, "empty file")
    if len(lines) > 1:
        raise ParseError(path, lines[1][0], "expected one value, found more lines")
    lineno, line = lines[0]
    if not (line.isascii() and line.isdigit()):
        raise ParseError(path, lineno, f"not an unsigned number: {line!r}")
    return XenValue(int(line), Evidence(path, line=lineno, text=line))


_PROC_KEYS = {
    "Current allocation": "current_kb",
    "Requested target": "target_kb",
    "Low-mem balloon": "low_kb",
    "High-mem balloon": "high_kb",
    "Driver pages": "driver_kb",
}
_KB = re.compile(r"^(\d+)\s*kB$")
_HARD_LIMIT = re.compile(r"^(?:(\d+)|\?\?\?)\s*kB(?:\s*\(inc\.\s*(\d+)\s*kB driver headroom\))?$")


@dataclass
class XenProcBalloon:
    """``/proc/xen/balloon`` (all kB)."""

    current_kb: Optional[int] = None
    target_kb: Optional[int] = None
    low_kb: Optional[int] = None
    high_kb: Optional[int] = None
    driver_kb: Optional[int] = None
    #: None when printed as ``???`` (no hard limit) or absent.
    hard_limit_kb: Optional[int] = None
    other: Dict[str, str] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def ballooned_kb(self) -> Optional[int]:
        if self.low_kb is None and self.high_kb is None:
            return None
        return (self.low_kb or 0) + (self.high_kb or 0)


def parse_proc_xen_balloon(text: str, path: str) -> XenProcBalloon:
    """Parse the old ``/proc/xen/balloon`` (every known layout)."""
    result = XenProcBalloon()
    rows = 0
    for row in colon_rows(text, path):
        lineno, key, value, line = row.lineno, row.key, row.value, row.text
        ev = Evidence(path, line=lineno, text=line)
        rows += 1
        if key in _PROC_KEYS:
            m = _KB.match(value)
            if not m:
                raise ParseError(path, lineno, f"{key} is not 'N kB': {value!r}")
            attr = _PROC_KEYS[key]
            setattr(result, attr, int(m.group(1)))
            result.evidence[attr] = ev
        elif key == "Xen hard limit":
            m = _HARD_LIMIT.match(value)
            if not m:
                raise ParseError(path, lineno, f"Xen hard limit is not 'N kB' or '??? kB': {value!r}")
            if m.group(1) is not None:
                result.hard_limit_kb = int(m.group(1))
            if m.group(2) is not None:
                result.driver_kb = int(m.group(2))
                result.evidence["driver_kb"] = ev
            result.evidence["hard_limit_kb"] = ev
        else:
            result.other[key] = value
            result.evidence[f"other.{key}"] = ev
    if rows == 0:
        raise ParseError(path, None, "empty /proc/xen/balloon")
    if result.current_kb is None and result.ballooned_kb is None:
        raise ParseError(path, None, "no 'Current allocation' or balloon rows: not /proc/xen/balloon")
    return result
