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

from balloon_oom.parsers.oom import _INVOKED, _KILLED, _SELECTED

__all__ = ["could_continue", "join_continuation", "qp_decode"]

_PANIC = re.compile(
    r"^Kernel panic - not syncing: (?:Out of memory(?:: (?:system-wide|compulsory) "
    r"panic_on_oom is enabled| and no killable processes\.\.\.)|System is deadlocked on memory)"
)
_CPU_LINE = re.compile(r"^(?:CPU: \d+ (?:UID: \d+ )?PID: \d+ Comm: |Pid: \d+, comm: )")
_RELEASE_TAIL = re.compile(r"^(?:(?:Kdump: loaded |Not tainted|Tainted:)[^#]*)?\S+ #\d+")
_HAS_RELEASE = re.compile(r"\S+ #\d+")
# Per-node and per-zone lines: "Node 0 DMA32 free:…kB min:…kB … present:…kB managed:…kB".
_KV_HEAD = re.compile(r"^(?:Node \d+ )?[A-Za-z]\w*(?: free:| active_anon:)")
_KV_LINE = re.compile(
    r"^(?:Node \d+ )?(?:[A-Za-z]\w* )?(?:\s*(?:[A-Za-z_()]+:\s?-?\d+(?:[kK]B)?|all_unreclaimable\? (?:yes|no)))+\s*$"
)
_FRAME_ADDR_ONLY = re.compile(r"^\s*(?:\[<?[0-9a-fA-F]+>?\]\s*)+\??\s*$")
_FRAME_REST = re.compile(r"^(?:\?\s+)?[A-Za-z_$][\w$.]*\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+")
_CONSTRAINT_REST = re.compile(r"^[\w/.,=:()@\-]+$")
_MATCHED = (
    (_KILLED, "match"),
    (_SELECTED, "match"),
    (_INVOKED, "search"),
    (_PANIC, "match"),
)


def _end(rx, how: str, text: str) -> int:
    m = rx.match(text) if how == "match" else rx.search(text)
    return m.end() if m else -1


def could_continue(text: str) -> bool:
    """Cheap: might a continuation line complete ``text``?"""
    s = text.strip()
    if not s:
        return True
    if "Killed process" in s or "Kill process" in s or "invoked oom" in s or \
            s.startswith(("Kernel panic", "oom-kill:")):
        return True
    if _CPU_LINE.match(s) and not _HAS_RELEASE.search(s):
        return True
    return bool(_KV_HEAD.match(s) or _FRAME_ADDR_ONLY.match(s))


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
    for rx, how in _MATCHED:
        alone = _end(rx, how, s)
        if alone == len(s):
            continue
        for sep in (" ", ""):
            joined = s + sep + tail
            if _end(rx, how, joined) > len(s) + len(sep):
                return head + sep + tail
    if s.startswith("oom-kill:") and _CONSTRAINT_REST.match(tail) and "=" in tail:
        return head + tail
    if _CPU_LINE.match(s) and not _HAS_RELEASE.search(s) and _RELEASE_TAIL.match(tail):
        return head + " " + tail
    if _KV_HEAD.match(s) and _KV_LINE.match(s + " " + tail):
        return head + " " + tail
    if _FRAME_ADDR_ONLY.match(s) and _FRAME_REST.match(tail):
        return head + " " + tail
    return None


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
