"""VMware balloon: ``/sys/kernel/debug/vmmemctl`` and ``/proc/vmmemctl``.

Three shapes exist (``drivers/misc/vmw_balloon.c``):

* v4.18 and older (and the old out-of-tree ``/proc/vmmemctl``): capability
  rows, ``target: %8d pages``, ``current: %8d pages``, ``rateSleepAlloc: %8d
  pages/sec``, then ``%-20s%8u (%4u failed)`` command rows.
* An intermediate state of Nadav Amit's 2018 rework (0395be3ece11): the same
  head, then ``%-22s: %16lu (%lu failed)`` command rows.
* 4.20/5.0 and later: every row is ``%-22s: %16…``; ``target``/``current``
  lose the `` pages`` suffix; per page size rows are ``%-18s(%s): %16llu``
  (``alloc             (4k):``).

``target`` appears twice in every shape: first the balloon target, then the
GET_TARGET command counter ``N (M failed)``.  ``target``/``current`` count
4 KiB frames (a 2 MiB page counts 512).  Feature detection is by line shape:
a `` pages`` suffix on ``target`` means ``generation == "v1-pages"``, its
absence ``"v2-table"``.

>>> v = parse_vmmemctl(
...     "target:                     65536 pages\\n"
...     "current:                    65024 pages\\n"
...     "target:                         12 (   1 failed)\\n", "proc/vmmemctl")
>>> v.generation, v.target_frames, v.current_frames, v.commands["target"]
('v1-pages', 65536, 65024, (12, 1))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence

__all__ = ["CAPABILITY_NAMES", "Vmmemctl", "capability_names", "parse_vmmemctl"]

#: VMW_BALLOON_* capability bits (drivers/misc/vmw_balloon.c).
CAPABILITY_NAMES: Dict[int, str] = {
    1: "BASIC_CMDS",
    2: "BATCHED_CMDS",
    3: "BATCHED_2M_CMDS",
    4: "SIGNALLED_WAKEUP_CMD",
    5: "64_BIT_TARGET",
}

_COMMAND = re.compile(r"^(-?\d+)\s*\(\s*(\d+)\s+failed\s*\)$")
_PAGES = re.compile(r"^(-?\d+)\s+pages$")
_RATE = re.compile(r"^(-?\d+)(?:\s+pages/sec)?$")
_NUMBER = re.compile(r"^-?\d+$")
_HEX = re.compile(r"^(0x[0-9a-fA-F]+|0)$")


def capability_names(value: int) -> List[str]:
    """Names of the VMW_BALLOON capability bits set in ``value``.

    >>> capability_names(0x3e)
    ['BASIC_CMDS', 'BATCHED_CMDS', 'BATCHED_2M_CMDS', 'SIGNALLED_WAKEUP_CMD', '64_BIT_TARGET']
    """
    out = []
    for bit in range(value.bit_length()):
        if value >> bit & 1:
            out.append(CAPABILITY_NAMES.get(bit, f"bit {bit}"))
    return out


@dataclass
class Vmmemctl:
    """One read of vmmemctl.  ``*_frames`` are 4 KiB units."""

    generation: str
    target_frames: Optional[int] = None
    current_frames: Optional[int] = None
    capabilities: Optional[int] = None
    used_capabilities: Optional[int] = None
    is_resetting: Optional[bool] = None
    #: v1 only: ``rateSleepAlloc`` (pages/sec).
    rate_alloc: Optional[int] = None
    #: Command rows: name -> (count, failed).
    commands: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    #: Plain counters: ``timer``, ``doorbell``, ``alloc(4k)``, ``prim2mAlloc``, ...
    stats: Dict[str, int] = field(default_factory=dict)
    #: Rows this parser does not recognise, kept as printed.
    other: Dict[str, str] = field(default_factory=dict)
    #: Field name (``target_frames``, ``commands.lock``, ...) -> where it was read.
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def stats_zero(self) -> bool:
        """True when every command and counter reads zero.

        Since the 4.20 rework the statistics are only collected after the
        first read of the file (``vmballoon_enable_stats()``), so a first
        read shows all zeros.
        """
        counts = [c for c, f in self.commands.values()] + [f for c, f in self.commands.values()]
        counts += list(self.stats.values())
        return all(v == 0 for v in counts)


def _key(raw: str) -> str:
    # "alloc             (4k)" -> "alloc(4k)"; "balloon capabilities" stays.
    return re.sub(r"\s+\(", "(", raw.strip())


def parse_vmmemctl(text: str, path: str) -> Vmmemctl:
    """Parse any generation of the vmmemctl file (see the module docstring)."""
    result = Vmmemctl(generation="")
    seen_any = False
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if ":" not in line:
            raise ParseError(path, lineno, f"not a 'name: value' row: {line.strip()!r}")
        name, _, value = line.partition(":")
        key = _key(name)
        value = value.strip()
        ev = Evidence(path, line=lineno, text=line.strip())
        seen_any = True

        command = _COMMAND.match(value)
        if command:
            if key in result.commands:
                raise ParseError(path, lineno, f"command {key!r} appears twice")
            result.commands[key] = (int(command.group(1)), int(command.group(2)))
            result.evidence[f"commands.{key}"] = ev
            continue

        if key in ("target", "current"):
            attr = f"{key}_frames"
            if getattr(result, attr) is not None:
                raise ParseError(path, lineno, f"second {key!r} row is not a command counter 'N (M failed)'")
            pages = _PAGES.match(value)
            if pages:
                number, generation = pages.group(1), "v1-pages"
            elif _NUMBER.match(value):
                number, generation = value, "v2-table"
            else:
                raise ParseError(path, lineno, f"{key} is not a number: {value!r}")
            if key == "target" or not result.generation:
                result.generation = generation
            setattr(result, attr, int(number))
            result.evidence[attr] = ev
            continue

        if key in ("balloon capabilities", "used capabilities"):
            if not _HEX.match(value):
                raise ParseError(path, lineno, f"{key} is not a hex number: {value!r}")
            attr = "capabilities" if key == "balloon capabilities" else "used_capabilities"
            setattr(result, attr, int(value, 16) if value.startswith("0x") else 0)
            result.evidence[attr] = ev
            continue

        if key == "is resetting":
            if value not in ("y", "n"):
                raise ParseError(path, lineno, f"is resetting is neither 'y' nor 'n': {value!r}")
            result.is_resetting = value == "y"
            result.evidence["is_resetting"] = ev
            continue

        if key == "rateSleepAlloc":
            rate = _RATE.match(value)
            if not rate:
                raise ParseError(path, lineno, f"rateSleepAlloc is not a rate: {value!r}")
            result.rate_alloc = int(rate.group(1))
            result.evidence["rate_alloc"] = ev
            continue

        if _NUMBER.match(value):
            if key in result.stats:
                raise ParseError(path, lineno, f"counter {key!r} appears twice")
            result.stats[key] = int(value)
            result.evidence[f"stats.{key}"] = ev
            continue

        result.other[key] = value
        result.evidence[f"other.{key}"] = ev

    if not seen_any:
        raise ParseError(path, None, "empty vmmemctl file")
    if result.target_frames is None and result.current_frames is None:
        raise ParseError(path, None, "no 'target'/'current' balloon rows: not a vmmemctl file")
    return result
