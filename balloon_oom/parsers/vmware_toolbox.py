"""``vmware-toolbox-cmd stat …`` output as sos's vmware plugin stores it.

sos runs ``vmware-toolbox-cmd stat raw`` (the list of stat names) and then
``stat raw text <name>`` for each, stored as
``sos_commands/vmware/vmware-toolbox-cmd_stat_raw_text_<name>``.

open-vm-tools (``toolbox/toolboxcmd-stat.c`` ``StatGetRaw()``) only prints the
buffer ``VMGuestLib_StatGet("text", "<name>")`` returns; the rows are made by
the host.  The Guest SDK documents the text encoding as ``name = value`` rows
(``size.tx = 38137``) and says units are carried only by the xml/json/yaml
encodings, so **a text row has no unit**: this parser keeps values as printed
and never guesses one.

``vmware-toolbox-cmd stat balloon`` prints ``VMGuestLib_GetMemBalloonedMB()``
as ``"%u MB"`` (older open-vm-tools printed ``"%u MHz"`` for the same MB
value, a copy-paste slip in ``Stat_GetMemoryBallooned``); both are accepted.

>>> s = parse_stat_raw_text("session = 4004861987670969122\\nprovider =\\n", "x")
>>> s.values["session"], s.ints["session"], s.values["provider"]
('4004861987670969122', 4004861987670969122, '')
>>> parse_stat_balloon("512 MB\\n", "x").mb
512
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from balloon_oom.errors import ParseError
from balloon_oom.model import Evidence

__all__ = ["BALLOON_KEYS", "StatBalloon", "ToolboxStat", "parse_stat_balloon", "parse_stat_raw_text"]

#: Row names that may carry the ballooned amount in ``stat raw text resources``.
BALLOON_KEYS = ("mem.ballooned", "mem.balloon", "guest.mem.ballooned")

_FAILED = re.compile(r"^(Failed to .*|OpenHandle failed.*|UpdateInfo failed.*)$")
_INT = re.compile(r"^-?\d+$")
_BALLOON = re.compile(r"^(\d+)\s*(MB|MHz)$")


@dataclass
class ToolboxStat:
    """``name = value`` rows of one ``stat raw text`` answer."""

    values: Dict[str, str] = field(default_factory=dict)
    #: The rows whose value is an integer.
    ints: Dict[str, int] = field(default_factory=dict)
    #: Rows without ``=`` (the ``stat raw`` list of stat names).
    names: List[str] = field(default_factory=list)
    evidence: Dict[str, Evidence] = field(default_factory=dict)

    @property
    def ballooned(self) -> Optional[int]:
        """The first :data:`BALLOON_KEYS` row, as printed (unit not stated)."""
        for key in BALLOON_KEYS:
            if key in self.ints:
                return self.ints[key]
        return None

    @property
    def ballooned_key(self) -> Optional[str]:
        return next((k for k in BALLOON_KEYS if k in self.ints), None)


def _check_failed(line: str, path: str, lineno: int) -> None:
    if _FAILED.match(line):
        raise ParseError(path, lineno, f"vmware-toolbox-cmd failed: {line}")


def parse_stat_raw_text(text: str, path: str) -> ToolboxStat:
    """Parse ``stat raw`` / ``stat raw text <name>`` output."""
    result = ToolboxStat()
    rows = 0
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if not line:
            continue
        _check_failed(line, path, lineno)
        rows += 1
        if "=" in line:
            name, _, value = line.partition("=")
            name, value = name.strip(), value.strip()
            if not name:
                raise ParseError(path, lineno, f"row without a name: {line!r}")
            result.values[name] = value
            if _INT.match(value):
                result.ints[name] = int(value)
            result.evidence[name] = Evidence(path, line=lineno, text=line)
        else:
            result.names.append(line)
    if rows == 0:
        raise ParseError(path, None, "empty vmware-toolbox-cmd output")
    return result


@dataclass
class StatBalloon:
    mb: int
    evidence: Evidence

    @property
    def bytes(self) -> int:
        return self.mb * 1024 * 1024


def parse_stat_balloon(text: str, path: str) -> StatBalloon:
    """Parse ``vmware-toolbox-cmd stat balloon``: ``N MB``."""
    lines = [(i, ln.strip()) for i, ln in enumerate(text.split("\n"), 1) if ln.strip()]
    if not lines:
        raise ParseError(path, None, "empty vmware-toolbox-cmd output")
    lineno, line = lines[0]
    _check_failed(line, path, lineno)
    m = _BALLOON.match(line)
    if not m:
        raise ParseError(path, lineno, f"expected 'N MB', got {line!r}")
    return StatBalloon(int(m.group(1)), Evidence(path, line=lineno, text=line))
