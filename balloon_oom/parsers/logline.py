"""Kernel log line prefixes: recognise and strip them.

One kernel message reaches a sosreport in many dresses.  This module takes
one raw line and returns the kernel message plus what the prefix told:

==========================  ==================================================
``dmesg``, vmcore-dmesg     ``[  123.456789] msg`` (maybe ``<4>[ …] msg``)
``dmesg -T``                ``[Thu Nov 26 05:27:25 2026] msg``
``dmesg -x``                ``kern  :warn  : [  123.456789] msg``
syslog                      ``Nov 26 05:27:25 host kernel: [  1.2] msg``
RFC 3339 syslog, short-iso  ``2026-11-26T05:27:25.123456+00:00 host kernel: msg``
journal short(-precise)     ``Nov 26 05:27:25[.123456] host kernel: msg``
journal short-monotonic     ``[  123.456789] host kernel: msg``
==========================  ==================================================

Only ``kernel:`` lines of syslog and journal output are kernel messages;
other programs' lines are returned with ``kernel=False``.  A line with no
prefix at all (a serial console, ``dmesg -t``) is taken as a kernel message,
with ``prefixed=False`` (it may be the rest of a hard-wrapped line).

Paste damage in front of a prefix is taken off: indentation and mail
quoting (``> ``, ``>> ``, ``> > ``) before ``[  1.2]``, ``<4>``, a syslog
stamp or a ``dmesg -T`` clock.

>>> split_prefix("  >  > [  238.338585] systemd invoked oom-killer: x").text
'systemd invoked oom-killer: x'

>>> split_prefix("[    8.353952]  active_file:0 inactive_file:0 isolated_file:0")
LogLine(text=' active_file:0 inactive_file:0 isolated_file:0', monotonic=8.353952, wallclock=None, kernel=True)
>>> split_prefix("Nov 26 05:27:25 vm kernel: [    8.352026] hog invoked oom-killer: x")
LogLine(text='hog invoked oom-killer: x', monotonic=8.352026, wallclock='Nov 26 05:27:25', kernel=True)
>>> split_prefix("Nov 26 05:27:25 vm systemd[1]: Started foo.").kernel
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = [
    "MAX_LINE_BYTES",
    "LogLine",
    "decode_line",
    "split_prefix",
    "strip_paste",
]

#: Bytes of one line that are looked at; the rest is ignored.  Every kernel
#: message we parse is far shorter (printk's LOG_LINE_MAX is 1024 - 32).
MAX_LINE_BYTES = 8192


@dataclass(frozen=True)
class LogLine:
    """A kernel log line with its prefix taken off.

    ``text`` keeps the message's own leading space (Mem-Info continuation
    lines start with one); ``kernel`` is False for another program's line.
    """

    text: str
    monotonic: Optional[float] = None
    wallclock: Optional[str] = None
    kernel: bool = True
    #: The line had a log prefix (stamp, ``<N>`` level or syslog header).
    prefixed: bool = field(default=True, repr=False, compare=False)
    #: journal ``_BOOT_ID`` (journal JSON and export records only).
    boot_id: Optional[str] = field(default=None, repr=False, compare=False)


def decode_line(line: Union[bytes, str], limit: int = MAX_LINE_BYTES) -> str:
    """One raw line as text: UTF-8 (bad bytes replaced), no CR/LF, no NUL.

    >>> decode_line(b"[ 1.0] caf\\xe9\\x00 ok\\r\\n")
    '[ 1.0] caf\\ufffd ok'
    """
    # NULs go before the cut, so a run of them cannot hide the message after it.
    if isinstance(line, bytes):
        if b"\x00" in line:
            line = line.replace(b"\x00", b"")
        text = line[:limit].decode("utf-8", errors="replace")
    else:
        if "\x00" in line:
            line = line.replace("\x00", "")
        text = line[:limit]
    return text.rstrip("\r\n")


# ``<4>`` (vmcore-dmesg, /dev/kmsg style) console level.
_LEVEL = re.compile(r"<\d{1,3}>")
# dmesg -x / --decode: "kern  :warn  : ".
_DECODED = re.compile(
    r"(?P<fac>kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|"
    r"local[0-7])\s*:(?P<lvl>emerg|alert|crit|err|warn|notice|info|debug)\s*: ?"
)
# printk time: "[  123.456789] " (the one separating space is eaten).
_MONO = re.compile(r"\[\s*(?P<mono>\d+\.\d+)\] ?")
# dmesg -T: "[Thu Nov 26 05:27:25 2026] " in any locale: a bracket with a clock.
_CTIME = re.compile(r"\[(?P<wall>[^\]\[]{0,20}\d\d:\d\d:\d\d[^\]\[]{0,12})\] ?")
# Syslog / journal "short" and "short-precise" stamps.
_BSD_STAMP = r"[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?"
# RFC 3339 (rsyslog's high-precision format) and journal short-iso(-precise).
_ISO_STAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
# "<stamp> [host] ident[pid]: msg"; the host may be absent (hand-trimmed logs).
_SYSLOG = re.compile(
    r"(?P<wall>" + _BSD_STAMP + "|" + _ISO_STAMP + r") "
    r"(?:(?P<host>[^\s:]\S*(?<!:)) )?(?P<ident>[^\s:\[\]]+)(?:\[\d+\])?: ?"
)
# journal -o short-monotonic: "[  123.456789] host kernel: msg".
_MONO_HOST = re.compile(r"(?P<host>[^\s:]\S*(?<!:)) kernel: ?")


# Mail quoting a paste puts before the line (``> ``, ``>> ``, ``> > ``).
_QUOTE = re.compile(r"[ \t]*>(?:[ \t]*>)*[ \t]?")
_PREFIX_START = re.compile(r"\[\s*\d+\.\d+\]|<\d{1,3}>|\[[^\]\[]{0,20}\d\d:\d\d:\d\d|"
                           + _BSD_STAMP + "|" + _ISO_STAMP)


def strip_paste(raw: str) -> str:
    """``raw`` without the indentation and ``> `` quoting a paste adds.

    Quote marks always go (with the one space after each); indentation only
    when a log prefix follows (an unprefixed continuation keeps its own
    leading space).

    >>> strip_paste("     [    8.35] hog"), strip_paste("> >  active_file:0"), strip_paste("  active_file:0")
    ('[    8.35] hog', ' active_file:0', '  active_file:0')
    """
    q = _QUOTE.match(raw)
    rest = raw[q.end():] if q else raw
    body = rest.lstrip(" \t")
    if body is not rest and _PREFIX_START.match(body):
        return body
    return rest


def split_prefix(raw: str) -> LogLine:
    """Take the log prefix off one decoded line (see the module table)."""
    text = strip_paste(raw) if raw[:1] in (" ", "\t", ">") else raw
    m = _SYSLOG.match(text)
    if m:
        kernel = m.group("ident") == "kernel"
        wall = m.group("wall")
        text = text[m.end():]
        mono = None
        if kernel:
            mm = _MONO.match(text)
            if mm:
                mono = float(mm.group("mono"))
                text = text[mm.end():]
        return LogLine(text, mono, wall, kernel)

    kernel = True
    lm = _LEVEL.match(text)
    if lm:
        text = text[lm.end():]
    dm = _DECODED.match(text)
    if dm:
        kernel = dm.group("fac") == "kern"
        text = text[dm.end():]
        lm = _LEVEL.match(text)
        if lm:
            text = text[lm.end():]
    mm = _MONO.match(text)
    if mm:
        mono = float(mm.group("mono"))
        text = text[mm.end():]
        hm = _MONO_HOST.match(text)
        if hm:
            text = text[hm.end():]
        return LogLine(text, mono, None, kernel)
    cm = _CTIME.match(text)
    if cm:
        return LogLine(text[cm.end():], None, cm.group("wall"), kernel)
    return LogLine(text, None, None, kernel, prefixed=lm is not None or dm is not None)
