"""Collaborative Memory Management: s390 sysctls and the pseries sysfs attributes.

s390 (``arch/s390/mm/cmm.c``): ``/proc/sys/vm/cmm_pages`` and
``cmm_timed_pages`` (``proc_doulongvec_minmax``: one number, 4 KiB pages) and
``cmm_timeout`` (``"%ld %ld\\n"``: pages, seconds).

pseries (``arch/powerpc/platforms/pseries/cmm.c``):
``/sys/devices/system/cmm/cmm0/loaned_kb``, ``loaned_target_kb`` and
``oom_freed_kb``, each ``"%lu\\n"`` in KiB.

>>> parse_cmm_value("65536\\n", "proc/sys/vm/cmm_pages").value
65536
>>> t = parse_cmm_timeout("256 3600\\n", "proc/sys/vm/cmm_timeout")
>>> t.pages, t.seconds
(256, 3600)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence

__all__ = ["CmmTimeout", "CmmValue", "parse_cmm_timeout", "parse_cmm_value"]


@dataclass
class CmmValue:
    """One number (pages for s390 sysctls, KiB for pseries ``*_kb``)."""

    value: int
    evidence: Evidence


@dataclass
class CmmTimeout:
    pages: int
    seconds: int
    evidence: Evidence


def _one_line(text: str, path: str) -> Tuple[int, str]:
    lines: List[Tuple[int, str]] = [(i, ln.strip()) for i, ln in enumerate(text.split("\n"), 1) if ln.strip()]
    if not lines:
        raise ParseError(path, None, "empty file")
    if len(lines) > 1:
        raise ParseError(path, lines[1][0], "expected one line, found more")
    return lines[0]


def parse_cmm_value(text: str, path: str) -> CmmValue:
    """``cmm_pages``, ``cmm_timed_pages``, ``loaned_kb``, ``loaned_target_kb``, ``oom_freed_kb``."""
    lineno, line = _one_line(text, path)
    if not (line.isascii() and line.isdigit()):
        raise ParseError(path, lineno, f"not an unsigned number: {line!r}")
    return CmmValue(int(line), Evidence(path, line=lineno, text=line))


def parse_cmm_timeout(text: str, path: str) -> CmmTimeout:
    """``/proc/sys/vm/cmm_timeout``: ``pages seconds``."""
    lineno, line = _one_line(text, path)
    parts = line.split()
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ParseError(path, lineno, f"expected 'pages seconds', got {line!r}")
    return CmmTimeout(int(parts[0]), int(parts[1]), Evidence(path, line=lineno, text=line))
