# SPDX-License-Identifier: GPL-2.0-or-later
"""``journalctl -o json`` and ``-o export`` records as kernel log lines.

``-o json`` is one JSON object per line; ``-o export`` is ``KEY=value``
lines, one record per blank-line-separated block, where a field holding
binary data or a newline is written as ``KEY\\n``, a 64-bit little-endian
length, the bytes and ``\\n`` (systemd's JOURNAL_EXPORT_FORMATS.md).  Only
kernel records (``_TRANSPORT=kernel`` or ``SYSLOG_IDENTIFIER=kernel``) are
kernel messages; ``MESSAGE`` may hold several lines.  Times:
``_SOURCE_MONOTONIC_TIMESTAMP`` (µs, the printk time; else
``__MONOTONIC_TIMESTAMP``) and ``__REALTIME_TIMESTAMP`` (µs since the epoch,
given as UTC ISO 8601); ``_BOOT_ID`` tells boots apart.

>>> recs = json_record('{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1589498244000000","_BOOT_ID":"b1",'
...     '"_TRANSPORT":"kernel","_SOURCE_MONOTONIC_TIMESTAMP":"238338585","MESSAGE":"hog invoked oom-killer: x"}')
>>> recs[0].text, recs[0].monotonic, recs[0].wallclock, recs[0].boot_id
('hog invoked oom-killer: x', 238.338585, '2020-05-14T23:17:24.000000+00:00', 'b1')
"""

from __future__ import annotations

import datetime
import json
import re
import struct
from typing import Dict, List, Optional, Union

from balloon_oom.parsers.logline import LogLine

__all__ = ["ExportRecord", "is_export_start", "json_record", "record_lines"]

_FIELD_NAME = re.compile(rb"^[A-Z0-9_]{1,64}$")


def _usec(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value) -> Optional[str]:
    """A field's value as text: JSON gives a string, a byte array or null."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return None


def record_lines(fields: Dict[str, object]) -> List[LogLine]:
    """The kernel log lines of one journal record (empty when not kernel)."""
    transport = _text(fields.get("_TRANSPORT"))
    ident = _text(fields.get("SYSLOG_IDENTIFIER"))
    kernel = transport == "kernel" or ident == "kernel"
    message = _text(fields.get("MESSAGE"))
    if message is None:
        return []
    mono = _usec(_text(fields.get("_SOURCE_MONOTONIC_TIMESTAMP")))
    if mono is None:
        mono = _usec(_text(fields.get("__MONOTONIC_TIMESTAMP")))
    real = _usec(_text(fields.get("__REALTIME_TIMESTAMP")))
    wall = None
    if real is not None:
        try:
            wall = datetime.datetime.fromtimestamp(real / 1e6, datetime.timezone.utc).isoformat(
                timespec="microseconds")
        except (OverflowError, OSError, ValueError):
            wall = None
    boot_id = _text(fields.get("_BOOT_ID"))
    return [LogLine(part, mono / 1e6 if mono is not None else None, wall, kernel, boot_id=boot_id)
            for part in message.rstrip("\n").split("\n")]


def json_record(text: str) -> Optional[List[LogLine]]:
    """The lines of one ``journalctl -o json`` line; None if it is not one.

    A JSON object is a journal record when it has ``MESSAGE`` and a
    ``__CURSOR`` or ``__REALTIME_TIMESTAMP``.
    """
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        return None
    try:
        obj = json.loads(s)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "MESSAGE" not in obj or not (
            "__CURSOR" in obj or "__REALTIME_TIMESTAMP" in obj):
        return None
    return record_lines(obj)


def is_export_start(line: bytes) -> bool:
    """The first line of an export record (journalctl writes ``__CURSOR=`` first)."""
    return line.startswith(b"__CURSOR=")


class ExportRecord:
    """One ``-o export`` record, fed a physical line at a time.

    :meth:`feed` returns False once the record has ended (its blank line);
    :meth:`lines` gives its kernel lines.
    """

    def __init__(self) -> None:
        self.fields: Dict[str, object] = {}
        self._binary: Optional[str] = None
        self._buf = b""

    def feed(self, line: Union[bytes, str]) -> bool:
        if isinstance(line, str):
            line = line.encode("utf-8", errors="replace")
        if line.endswith(b"\n"):
            line = line[:-1]
        if self._binary is not None:
            self._buf = self._buf + b"\n" + line if self._buf or self._started else line
            self._started = True
            if len(self._buf) >= 8:
                (size,) = struct.unpack("<Q", self._buf[:8])
                if len(self._buf) >= 8 + size:
                    self.fields[self._binary] = self._buf[8:8 + size]
                    self._binary = None
                    self._buf = b""
            return True
        line = line.rstrip(b"\r")
        if not line:
            return False
        key, sep, value = line.partition(b"=")
        if sep:
            self.fields[key.decode("ascii", errors="replace")] = value.decode(
                "utf-8", errors="replace")
        elif _FIELD_NAME.match(line):
            self._binary = line.decode("ascii")
            self._buf = b""
            self._started = False
        return True

    def lines(self) -> List[LogLine]:
        return record_lines(self.fields)
