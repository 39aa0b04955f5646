"""Virtuozzo's ``/sys/kernel/debug/virtio-balloon`` (upstream has no such file).

Shapes accepted:

* Virtuozzo vzkernel (documented in its feature description)::

      InflatedTotal: 0 kB
      InflatedFree: 0 kB

  ``InflatedTotal`` is non-zero without DEFLATE_ON_OOM (memory subtracted
  from MemTotal), ``InflatedFree`` with it (memory counted as used).  Some
  patch versions print a negative number; the sign is kept.
* Atanasov's unmerged V6 patch: ``inflated: %lld kB`` (negative when
  DEFLATE_ON_OOM is *not* negotiated).
* His V1–V4 patches: ``%-22s: …`` rows ``page_size``, ``ballooned_pages``,
  ``total_pages``, ``current_pages`` (kept in :attr:`VirtioDebugfs.other_ints`).

>>> d = parse_virtio_debugfs("InflatedTotal: 262144 kB\\nInflatedFree: 0 kB\\n", "virtio-balloon")
>>> d.inflated_total_kb, d.inflated_free_kb, d.inflated_kb, d.memtotal_reduced
(262144, 0, 262144, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence
from balloon_oom.parsers.rows import colon_rows

__all__ = ["VirtioDebugfs", "parse_virtio_debugfs"]

_KB = re.compile(r"^(-?\d+)\s*kB$")
_INT = re.compile(r"^-?\d+$")


@dataclass
class VirtioDebugfs:
    inflated_total_kb: Optional[int] = None
    inflated_free_kb: Optional[int] = None
    #: V6 patch ``inflated:`` row (signed).
    inflated_v6_kb: Optional[int] = None
    other_ints: Dict[str, int] = field(default_factory=dict)
    other: Dict[str, str] = field(default_factory=dict)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def inflated_kb(self) -> Optional[int]:
        """Balloon size in kB (absolute value), whichever row carries it."""
        if self.inflated_total_kb is not None or self.inflated_free_kb is not None:
            return max(abs(self.inflated_total_kb or 0), abs(self.inflated_free_kb or 0))
        if self.inflated_v6_kb is not None:
            return abs(self.inflated_v6_kb)
        return None

    @property
    def memtotal_reduced(self) -> Optional[bool]:
        """True/False when the rows tell the accounting mode; None when they cannot.

        An empty balloon (all zero) does not tell.
        """
        total, free = self.inflated_total_kb or 0, self.inflated_free_kb or 0
        if total and not free:
            return True
        if free and not total:
            return False
        if not total and not free and self.inflated_v6_kb:
            return self.inflated_v6_kb < 0
        return None


def parse_virtio_debugfs(text: str, path: str) -> VirtioDebugfs:
    """Parse the virtio-balloon debugfs file (Virtuozzo, V6 and V1–V4 shapes)."""
    result = VirtioDebugfs()
    rows = 0
    for row in colon_rows(text, path):
        lineno, key, value, line = row.lineno, row.key, row.value, row.text
        ev = Evidence(path, line=lineno, text=line)
        rows += 1
        attr = {"InflatedTotal": "inflated_total_kb", "InflatedFree": "inflated_free_kb", "inflated": "inflated_v6_kb"}.get(
            key
        )
        if attr:
            m = _KB.match(value)
            if not m:
                raise ParseError(path, lineno, f"{key} is not 'N kB': {value!r}")
            setattr(result, attr, int(m.group(1)))
            result.evidence[attr] = ev
        elif _INT.match(value):
            result.other_ints[key] = int(value)
            result.evidence[f"other.{key}"] = ev
        else:
            result.other[key] = value
            result.evidence[f"other.{key}"] = ev
    if rows == 0:
        raise ParseError(path, None, "empty virtio-balloon debugfs file")
    return result
