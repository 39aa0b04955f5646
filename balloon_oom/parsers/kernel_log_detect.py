# SPDX-License-Identifier: GPL-2.0-or-later
"""Is this text a kernel log?  :func:`looks_like_kernel_log`, the test the
readers use to accept a text file."""

from __future__ import annotations

import re
from typing import Iterable, Union

from balloon_oom.parsers.journal import json_record
from balloon_oom.parsers.logkinds import _SIGNATURES, LINUX_VERSION
from balloon_oom.parsers.logline import decode_line, split_prefix, strip_paste
from balloon_oom.parsers.oom import is_invoked, parse_constraint, parse_invoked, parse_kill, parse_panic
from balloon_oom.parsers.oom import parse_selected

__all__ = ["looks_like_kernel_log"]

_STRICT_STAMP = re.compile(r"\[\s*\d+\.\d{6}\]")
_YEAR = re.compile(r"\d{4}")


def _is_kernel_message(text: str) -> bool:
    """An unprefixed line that is one of the kernel messages this tool reads."""
    s = text.strip()
    return bool(
        (is_invoked(s) and parse_invoked(s))
        or ("Killed process" in s and parse_kill(s))
        or parse_selected(s) or parse_panic(s)
        or LINUX_VERSION.match(s)
        or (s.startswith("oom-kill:") and parse_constraint(s))
        or any(rx.search(s) for _kind, rx in _SIGNATURES)
    )


def looks_like_kernel_log(lines: Iterable[Union[bytes, str]], max_lines: int = 5000) -> bool:
    """True when at least one of the first ``max_lines`` lines is a kernel message.

    A kernel message is a line with a printk stamp (``[  123.456789]``), a
    console level (``<4>``), a ``dmesg -T`` clock with a year, a syslog or
    journal ``kernel:`` header, a journal JSON or export record from the
    kernel, or, without any prefix, one of the messages this tool parses (an
    OOM report's head or kill line, ``Linux version``, a balloon driver's
    message).  Paste damage (indentation, ``> `` quoting) is allowed.  A
    README, a CSV, JSON that is not a journal record, another program's
    syslog lines: False.

    >>> looks_like_kernel_log(["# Title", "", "Some text, with: colons [1.5]"])
    False
    >>> looks_like_kernel_log(["> [  238.324946] Out of memory: Killed process 537 (login) total-vm:27584kB, anon-rss:860kB, file-rss:0kB"])
    True
    """
    export_start = False
    for i, line in enumerate(lines):
        if i >= max_lines:
            break
        raw = decode_line(line)
        if raw.startswith("__CURSOR="):
            export_start = True
            continue
        if export_start and raw in ("_TRANSPORT=kernel", "SYSLOG_IDENTIFIER=kernel"):
            return True
        if raw[:1] == "{":
            records = json_record(raw)
            if records is not None:
                if any(ll.kernel for ll in records):
                    return True
                continue
        ll = split_prefix(raw)
        if not ll.kernel or not ll.text.strip():
            continue
        body = strip_paste(raw)
        if ll.monotonic is not None:
            if _STRICT_STAMP.search(body[:40]):
                return True
        elif ll.wallclock is not None:
            if " kernel:" in body[:80] or (body.startswith("[") and _YEAR.search(ll.wallclock)):
                return True
        elif ll.prefixed and body.startswith("<"):
            return True
        if _is_kernel_message(ll.text):
            return True
    return False
