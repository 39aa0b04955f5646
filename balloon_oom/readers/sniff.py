# SPDX-License-Identifier: GPL-2.0-or-later
"""What a byte stream is, from its first bytes: detection by content, not by name.

:func:`kind_of` names the container or format (compression, tar, zip, ELF,
supportconfig text, kernel log text) from the head of a file or stream;
:func:`looks_like_kernel_log` is the text rule: at least one line parses as a
kernel message.  A line counts when, with paste damage (indentation, ``> ``
quoting) taken off, :func:`~balloon_oom.parsers.logline.split_prefix` finds a
kernel prefix (printk time, console level, ``dmesg -T`` clock, syslog or
journal ``kernel:``), or the message is one only the kernel prints (an OOM
report's head or kill line, the boot banner), or it is a ``journalctl -o
json``/``-o export`` record of the kernel transport.

>>> looks_like_kernel_log(["hello", "  [  238.338585] systemd invoked oom-killer: gfp_mask=0x0"])
True
>>> looks_like_kernel_log(["Nov 26 05:27:25 vm systemd[1]: Started foo.", "plain words"])
False
>>> kind_of(b"\\x1f\\x8b\\x08\\x00"), kind_of(b"PK\\x03\\x04"), kind_of(b"#==[ Command ]===#\\n")
('gzip', 'zip', 'supportconfig')
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from ..parsers.logline import decode_line, split_prefix

__all__ = ["SNIFF_BYTES", "COMPRESSIONS", "kind_of", "compression_of", "looks_like_kernel_log",
           "describe_not_log"]

#: Bytes of a text input looked at to decide whether it is a kernel log.
SNIFF_BYTES = 4 * 1024 * 1024

#: Magic -> compression name (single-file compressors; tarballs are these too).
COMPRESSIONS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)

_QUOTE = re.compile(r"^(?:\s*>)+ ?")
#: Messages only the kernel prints (with or without any prefix).
_KERNEL_MESSAGE = re.compile(
    r"invoked oom-killer: |^Out of memory: Kill(?:ed)? process \d+ |"
    r"Memory cgroup out of memory: Kill(?:ed)? process \d+ |^Kernel panic - not syncing: |"
    r"^Linux version \S+ \(|^oom-kill:constraint=|^Out of memory and no killable processes")
_JSON_KERNEL = re.compile(r'"_TRANSPORT"\s*:\s*"kernel"|"SYSLOG_IDENTIFIER"\s*:\s*"kernel"')
_EXPORT_KERNEL = ("_TRANSPORT=kernel", "SYSLOG_IDENTIFIER=kernel")
_PRINTK_PREFIX = re.compile(r"^(?:<\d{1,3}>)?\[\s*\d+\.\d+\]|^<\d{1,3}>\S")


def compression_of(head: bytes) -> Optional[str]:
    for magic, name in COMPRESSIONS:
        if head.startswith(magic):
            return name
    return None


def kind_of(head: bytes) -> str:
    """``gzip|xz|bzip2|zstd|tar|zip|elf|supportconfig|text|binary|empty``."""
    if not head:
        return "empty"
    comp = compression_of(head)
    if comp:
        return comp
    if head[257:262] == b"ustar" or (len(head) >= 512 and not head[:512].strip(b"\x00")):
        return "tar"  # a member header, or the end-of-archive zero block of an empty tar
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head.startswith((b"KDUMP   ", b"makedumpfile")):
        return "vmcore"
    if head.lstrip().startswith(b"#==["):
        return "supportconfig"
    sample = head[:65536]
    if b"\x00" in sample.replace(b"\x00\x00", b"") or _mostly_binary(sample):
        return "binary"
    return "text"


def _mostly_binary(sample: bytes) -> bool:
    text = sample.decode("utf-8", "replace")
    bad = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\t\n\r\f\v\x1b"))
    return bad > len(text) // 10


def is_kernel_line(raw: str) -> bool:
    """One decoded line: a kernel message (see the module docstring)."""
    line = _QUOTE.sub("", raw).strip()
    if not line:
        return False
    if line.startswith("{"):
        return _JSON_KERNEL.search(line) is not None
    if line in _EXPORT_KERNEL:
        return True
    ll = split_prefix(line)
    if not ll.kernel:
        return False
    if ll.monotonic is not None or _PRINTK_PREFIX.match(line):
        return True
    if ll.wallclock is not None and ll.text != line:
        # syslog/journal "kernel:" (split_prefix says kernel only for that
        # ident) or a dmesg -T clock followed by a message.
        return bool(ll.text.strip())
    return _KERNEL_MESSAGE.search(ll.text.strip()) is not None


def looks_like_kernel_log(lines: Iterable[str]) -> bool:
    """At least one of ``lines`` is a kernel message."""
    return any(is_kernel_line(decode_line(line)) for line in lines)


def head_lines(head: bytes) -> Iterable[str]:
    """The whole lines of a head (the last, possibly cut, line dropped if more follow)."""
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) >= SNIFF_BYTES and lines:
        lines.pop()
    return lines


def describe_not_log(head: bytes) -> str:
    """What a refused input looks like, in a few words."""
    kind = kind_of(head)
    if kind == "empty":
        return "it is empty"
    if kind == "elf":
        return "an ELF file that is not a core dump"
    if kind == "binary":
        return "binary data of no known format"
    return "text with no kernel log line"
