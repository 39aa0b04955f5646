# SPDX-License-Identifier: GPL-2.0-or-later
"""Call-trace frames: x86 ``[<addr>] fn+0x…/0x…``, bare ``fn+0x…/0x…``,
``? `` (unreliable) frames and arm's ``fn from caller+0x…/0x…``; GCC clone
suffixes are dropped.

>>> parse_arm_frame("oom_kill_process from out_of_memory+0x218/0x34c")
'oom_kill_process'
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = [
    "MAX_CALL_TRACE",
    "is_trace_marker",
    "parse_arm_frame",
    "parse_frame",
    "parse_unsure_frame",
]

#: Call-trace frames kept per event.
MAX_CALL_TRACE = 64

_FRAME = re.compile(
    r"^\s*(?:\[<?[0-9a-fA-F]+>?\]\s*)*(?P<unsure>\?\s+)?"
    r"(?P<fn>[A-Za-z_$][\w$.]*)\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+"
)
_CLONE_SUFFIX = re.compile(r"\.(?:cold|part|constprop|isra|lto_priv)(?:\.\d+)*(?=\.|$)")


def parse_frame(text: str) -> Optional[str]:
    """Function name of a reliable call-trace frame; ``None`` otherwise.

    Offsets and GCC clone suffixes (``.cold``, ``.part.0``, ``.constprop.0``)
    are dropped; ``? `` frames (stale stack words) are not frames.

    >>> parse_frame(" [<ffffffff8116ceee>] oom_kill_process+0x24e/0x3b0")
    'oom_kill_process'
    >>> parse_frame(" __alloc_pages_slowpath.constprop.0+0x67f/0xe70")
    '__alloc_pages_slowpath'
    >>> parse_frame(" ? policy_node+0x51/0x70") is None
    True
    """
    m = _FRAME.match(text)
    if not m or m.group("unsure"):
        return None
    return _strip_clone(m.group("fn"))


def parse_unsure_frame(text: str) -> Optional[str]:
    """Function name of a ``? fn+0x…/0x…`` frame (unreliable unwinders)."""
    m = _FRAME.match(text)
    if not m or not m.group("unsure"):
        return None
    return _strip_clone(m.group("fn"))


def _strip_clone(name: str) -> str:
    while True:
        stripped = _CLONE_SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


def is_trace_marker(text: str) -> bool:
    """``Call Trace:`` (x86) or ``Call trace:`` (arm64) opening the frames."""
    return text == "Call Trace:" or text.startswith("Call trace:")


_ARM_HEAD = re.compile(r"[A-Za-z_$][\w$.]*")


def parse_arm_frame(text: str) -> Optional[str]:
    """The function of an arm ``fn from caller+0x…/0x…`` frame (clone suffix dropped)."""
    if " from " not in text:
        return None
    head = text.split(" from ", 1)[0]
    if not _ARM_HEAD.fullmatch(head):
        return None
    return parse_frame(head + "+0x0/0x0") or head
