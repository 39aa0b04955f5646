# SPDX-License-Identifier: GPL-2.0-or-later
"""Rejoin kernel messages a paste split in two; undo quoted-printable.

A mail client or an editor that wraps at 72-80 columns moves the end of a
long message onto a line of its own, without the log prefix.  Such a
continuation is joined to the message before it only when that message is
one of the OOM report's lines and the join parses further than the message
alone did (conservative: a kill line that parses in full is never joined).

>>> join_continuation("Out of memory: Killed process 537 (login) total-vm:27584kB,",
...                   "anon-rss:860kB, file-rss:0kB, shmem-rss:0kB")
'Out of memory: Killed process 537 (login) total-vm:27584kB, anon-rss:860kB, file-rss:0kB, shmem-rss:0kB'
>>> join_continuation("Out of memory: Killed process 537 (login) total-vm:27584kB, anon-rss:860kB, "
...                   "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:60kB oom_score_adj:0", "oom_reaper: x") is None
True
"""

from __future__ import annotations

import re
from typing import Optional

from balloon_oom.parsers.oom import (
    _INVOKED,
    _KILLED,
    _MEMCG_USAGE,
    _OOM_GROUP,
    _SELECTED,
    _TASK_HEADER,
    _TASK_IN,
    parse_release,
    parse_trigger,
)

__all__ = ["could_continue", "join_continuation", "qp_decode"]

_PANIC = re.compile(
    r"^Kernel panic - not syncing: (?:Out of memory(?:: (?:system-wide|compulsory) "
    r"panic_on_oom is enabled| and no killable processes\.\.\.)|System is deadlocked on memory)"
)
_CPU_LINE = re.compile(r"^(?:CPU: \d+ (?:UID: \d+ )?PID: \d+ Comm: |Pid: \d+, comm: )")
_LINUX_VERSION_CUT = re.compile(r"^Linux version \S+$")
_HAS_RELEASE = re.compile(r"\S+ #\d+")
# Per-node and per-zone lines: "Node 0 DMA32 free:…kB min:…kB … present:…kB managed:…kB".
_KV_HEAD = re.compile(r"^(?:Node \d+ (?:[A-Za-z]\w* free:|active_anon:)|[A-Za-z]\w* free:)")
# Task table: a row cut before its name, the header cut before "name".
_ROW_REST = re.compile(r"^(?:-?\d+\s+)*\S+$")
_HEADER_START = re.compile(r"^\[\s*pid\s*\]")
_ROW_NUMBERS = re.compile(r"^\[\s*\d+\](?:\s+-?\d+)+$")
_KV = re.compile(r"^[A-Za-z_()]+:-?\d+(?:[kK]B)?$")
_KV_FRAGMENT = re.compile(r"^[\w()?:]+$")
_FRAME_ADDR_ONLY = re.compile(r"^\s*(?:(?:\[<?[0-9a-fA-F]+>?\]\s*)+\??|\?)\s*$")
_FRAME_REST = re.compile(r"^(?:\?\s+)?[A-Za-z_$][\w$.]*\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+")
_CONSTRAINT_REST = re.compile(r"^[\w/.,=:()@\-]+$")
# (regex, how, starter): a message that starts like one of these lines (the
# starter) takes a continuation the regex then reads further into; if the
# regex does not match it at all, it is cut and takes the next continuation
# whatever it is (a line wrapped more than once has parts that match nothing
# alone).
_MATCHED = (
    (_KILLED, "match", lambda s: "Killed process" in s or s.endswith(": Killed")),
    (_SELECTED, "match", lambda s: "Kill process" in s or s.endswith(": Kill")),
    (_INVOKED, "search", lambda s: "invoked oom" in s or s.endswith(" invoked")),
    (_PANIC, "match", lambda s: s.startswith(("Kernel panic - not syncing: Out of memory",
                                                "Kernel panic - not syncing: System is"))),
    (_TASK_IN, "match", lambda s: s == "Task in" or s.startswith("Task in ")),
    (_MEMCG_USAGE, "match", lambda s: s.startswith("memory: usage")),
    (_TASK_HEADER, "match", lambda s: _HEADER_START.match(s) is not None),
    (_OOM_GROUP, "match", lambda s: s == "Tasks in" or s.startswith("Tasks in ")),
)
#: A joined message longer than this is not a kernel message (printk's limit).
_MAX_JOINED = 2048


def _end(rx, how: str, text: str) -> int:
    m = rx.match(text) if how == "match" else rx.search(text)
    return m.end() if m else -1


# could_continue() runs on every line of a report: one regex pass decides
# most lines (a frame, a task row, a Mem-Info pair line match nothing here).
_MAYBE_CUT = re.compile(
    r"Killed process|Kill process|invoked oom|: Kill(?:ed)?$| invoked$|ainted"
    r"|^(?:Kernel panic|oom-kill:|Tasks? in|memory: usage|Linux version \S+$"
    r"|CPU: |Pid: |Node \d+ |[A-Za-z]\w* free:|\[\s*(?:pid\s*\]|\d+\](?:\s+-?\d+)+$|<)|\?\s*$)"
)


def could_continue(text: str) -> bool:
    """Cheap: might a continuation line complete ``text``?"""
    s = text.strip()
    if not s:
        return True
    m = _MAYBE_CUT.search(s)
    if m is None:
        return False
    if s.startswith(("CPU: ", "Pid: ")) or "ainted" in s:
        if not _HAS_RELEASE.search(s):
            return True
    if "Kill" in s or "invoked" in s or s.startswith(
            ("Kernel panic", "oom-kill:", "Tasks in", "Task in", "memory: usage")):
        return True
    return bool(_LINUX_VERSION_CUT.match(s) or _KV_HEAD.match(s) or _FRAME_ADDR_ONLY.match(s)
                or _ROW_NUMBERS.match(s) or _HEADER_START.match(s))


def join_continuation(first: str, cont: str) -> Optional[str]:
    """``first`` and its continuation ``cont`` as one message, or None.

    ``first`` is a message (prefix off), ``cont`` the next line, which had
    no log prefix.  An empty ``first`` (a prefix alone on its line) takes
    ``cont`` whole.
    """
    head = first.rstrip()
    tail = cont.strip()
    if not tail:
        return None
    if not head.strip():
        return first + tail
    s = head.strip()
    if len(s) + len(tail) > _MAX_JOINED:
        return None
    for rx, how, starter in _MATCHED:
        if not starter(s):
            continue
        alone = _end(rx, how, s)
        if alone == len(s):
            continue
        for sep in (" ", ""):
            joined = s + sep + tail
            if _end(rx, how, joined) > len(s) + len(sep):
                return head + sep + tail
        if alone < 0:
            return head + " " + tail
    if s.startswith("oom-kill:") and _CONSTRAINT_REST.match(tail) and "=" in tail:
        return head + tail
    if s.startswith(("CPU: ", "Pid: ")) and not _HAS_RELEASE.search(s):
        joined = s + " " + tail
        if (parse_trigger(s) is None and parse_trigger(joined) is not None) or (
                _CPU_LINE.match(s) and parse_release(joined) is not None):
            return head + " " + tail
    if "ainted" in s and parse_release(s) is None and parse_release(s + " " + tail):
        return head + " " + tail
    if _LINUX_VERSION_CUT.match(s) and tail.startswith("("):
        return head + " " + tail
    if _KV_HEAD.match(s) and _kv_continuation(s, tail):
        return head + " " + tail
    if _ROW_NUMBERS.match(s) and _ROW_REST.match(tail):
        return head + " " + tail
    if _FRAME_ADDR_ONLY.match(s) and _FRAME_REST.match(tail):
        return head + " " + tail
    return None


def _kv_continuation(first: str, tail: str) -> bool:
    """``tail`` is more ``key:NkB`` pairs of the per-node/zone line ``first``
    (its last token may be a fragment: a poster cut the line)."""
    tokens = tail.split()
    if first.endswith(":") and tokens and re.match(r"^\d+[kK]?B?$", tokens[0]):
        tokens = tokens[1:]  # "shmem_thp:" / "0kB …": the wrap took the space after the colon
    for i, tok in enumerate(tokens):
        if _KV.match(tok) or tok in ("all_unreclaimable?", "yes", "no"):
            continue
        if i == len(tokens) - 1 and _KV_FRAGMENT.match(tok):
            continue
        if tok.endswith(":") and i + 1 < len(tokens) and re.match(r"^\d+[kK]?B?$", tokens[i + 1]):
            continue  # "shmem_thp: 0kB"
        if re.match(r"^\d+[kK]?B?$", tok) and i and tokens[i - 1].endswith(":"):
            continue
        return False
    return bool(tokens)


_QP_ESCAPE = re.compile(r"=([0-9A-F]{2})")


def qp_decode(text: str) -> str:
    """Undo quoted-printable ``=XX`` escapes, only in text that has ``=3D``.

    A kernel line has ``=`` followed by hex digits of its own (``pid=61910``),
    so escapes are decoded only where the encoder's ``=3D`` shows the text is
    quoted-printable.

    >>> qp_decode("gfp_mask=3D0x100cca(GFP_HIGHUSER_MOVABLE), order=3D0,=20")
    'gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, '
    >>> qp_decode("task=git,pid=61910,uid=0")
    'task=git,pid=61910,uid=0'
    """
    if "=3D" not in text:
        return text
    raw = _QP_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if int(m.group(1), 16) < 0x80
                         else "\x00" + m.group(1), text)
    if "\x00" not in raw:
        return raw
    # Non-ASCII bytes: decode the escaped UTF-8 sequences as bytes.
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == "\x00":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out += raw[i].encode("utf-8")
            i += 1
    return out.decode("utf-8", errors="replace")
