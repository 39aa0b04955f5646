# SPDX-License-Identifier: GPL-2.0-or-later
"""The byte-stream engine: a kernel log scanned block by block.

:func:`scan_stream` gives what :func:`~balloon_oom.parsers.kernel_log.scan_log`
gives over the same lines, parsing only the lines that can matter: each
block of whole lines is searched once for the needles of
:mod:`balloon_oom.parsers.logkinds` (:class:`~.prefilter.Prefilter`), the
lines around the hits and inside open OOM reports are fed to the
:class:`~balloon_oom.parsers.kernel_log.KernelLogScanner`, the rest counted.
"""

from __future__ import annotations

import io
import os
import re
from typing import BinaryIO, Dict

from balloon_oom.parsers.kernel_log import KernelLogScanner, LogScan
from balloon_oom.parsers.logkinds import ALWAYS_NEEDLES, BOOT_NEEDLES, BOOT_WINDOW
from balloon_oom.readers.containers import Chained
from balloon_oom.readers.members import iter_lines
from balloon_oom.readers.prefilter import BlockHits, Prefilter

__all__ = ["scan_stream"]

_BLOCK = 1024 * 1024
#: Every line :func:`split_prefix` gives a monotonic time holds a match (the
#: bytes of ``[ seconds.micros]``, with the Unicode spaces and digits a
#: decoded ``\s``/``\d`` also takes: ASCII 0x1c-0x1f and any UTF-8 byte).
_MONOTONIC_HINT = re.compile(rb"\[[\t\x0b\x0c\r \x1c-\x1f\x80-\xff]*[0-9\x80-\xff]+"
                             rb"\.[0-9\x80-\xff]+\]")
#: The last stamped line of a block is looked for in a window this big at
#: its end, then in windows four times bigger each.
_STAMP_WINDOW = 8192

_PREFILTERS: Dict[tuple, "Prefilter"] = {}


def _prefilter(engine: str = "auto") -> "Prefilter":
    """The block prefilter for the needles as they are now (built once).
    ``$BALLOON_OOM_PREFILTER`` (``python`` or ``hyperscan``) overrides
    ``auto``: the benchmark measures both engines that way."""
    if engine == "auto":
        engine = os.environ.get("BALLOON_OOM_PREFILTER", "auto")
    key = (ALWAYS_NEEDLES, BOOT_NEEDLES, engine)
    pf = _PREFILTERS.get(key)
    if pf is None:
        pf = _PREFILTERS[key] = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine=engine)
    return pf


def _feed_block(scanner: KernelLogScanner, block: bytes, base: int, boot_until: int,
                max_line: int, hits: "BlockHits") -> int:
    """Feed the lines of ``block`` (whole ``\\n``-terminated lines) that can
    matter; count the others.  ``base`` is the stream offset of ``block``;
    returns the new end of the boot window.

    Fed: the lines holding a needle, the block's first and last lines,
    boot-needle lines inside the boot window, and every line while
    :attr:`~balloon_oom.parsers.kernel_log.KernelLogScanner.in_report` (an
    OOM report or a journal export record is open, or a line waits for its
    continuation).  No other line needs the scanner: a line only waits for a
    continuation (a hard wrap, a quoted-printable soft break, a needle split
    in two) when it holds a needle itself, and then the lines after it are
    fed until it is whole; so a skipped line holds no needle and continues
    nothing the scanner kept.
    """
    end = len(block)
    last = block.rfind(b"\n", 0, end - 1) + 1
    wanted = set(hits.needles)
    wanted.add(0)
    wanted.add(last)
    cands = sorted(wanted)
    boots = hits.boot
    ncands, nboots = len(cands), len(boots)
    ci = bi = 0
    pos = 0
    done = 0  # lines of the block skipped or fed so far
    count, find = block.count, block.find
    while pos < end:
        if not scanner.in_report:
            while ci < ncands and cands[ci] < pos:
                ci += 1
            nxt = cands[ci] if ci < ncands else end
            while bi < nboots and boots[bi] < pos:
                bi += 1
            if bi < nboots and boots[bi] < nxt and base + boots[bi] < boot_until:
                nxt = boots[bi]
            if nxt > pos:
                # Up to the last line: the engine's line count says how many, no count pass.
                n = (hits.lines - done - 1 if nxt == last and hits.lines is not None
                     else count(b"\n", pos, nxt))
                scanner.skip(n)
                done += n
                pos = nxt
                if pos >= end:
                    break
        nl = find(b"\n", pos)
        line = block[pos:nl]
        if b"Linux version" in line:
            boot_until = max(boot_until, base + nl + BOOT_WINDOW)
        scanner.feed(line[:max_line])
        done += 1
        pos = nl + 1
    return boot_until


def scan_stream(stream: BinaryIO, source: str, max_line: int = 64 * 1024,
                engine: str = "auto") -> LogScan:
    """Scan a binary stream, parsing only the lines that can matter.

    The same events, boot facts and line numbers as :func:`scan_log` over
    the stream's lines, much faster: each 1 MiB block is searched in one
    pass for :data:`ALWAYS_NEEDLES` and :data:`BOOT_NEEDLES`
    (:class:`~balloon_oom.readers.prefilter.Prefilter`, native when the
    ``hyperscan`` package is there; ``engine`` chooses); only the lines
    :func:`_feed_block` names are parsed, the others only counted.  A block
    with NUL bytes or a lone CR is fed line by line; a line longer than
    ``max_line`` is cut, as :func:`balloon_oom.readers.members.iter_lines` does.
    """
    prefilter = _prefilter(engine)
    scanner = KernelLogScanner(source)
    tail = b""
    offset = 0
    boot_until = BOOT_WINDOW
    while True:
        chunk = stream.read(_BLOCK)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            tail += chunk
            if len(tail) > max_line:  # a line longer than a block: the exact slow path
                for line in iter_lines(Chained(tail, stream, close_stream=False), max_line):
                    scanner.feed(line)
                return scanner.close()
            continue
        if cut + 1 == len(chunk):
            block = tail + chunk if tail else chunk
        else:  # one copy: the start of the next line goes to the tail
            block = b"".join((tail, memoryview(chunk)[:cut + 1]))
        tail = chunk[cut + 1:]
        if b"\x00" in block or (b"\r" in block and
                                 block.count(b"\r") != block.count(b"\r\n")):
            for line in iter_lines(io.BytesIO(block), max_line):
                scanner.feed(line)
        else:
            hits = prefilter.scan(block, continuations=False)
            boot_until = _feed_block(scanner, block, offset, boot_until, max_line, hits)
            if not hits.maybe_stamped:
                offset += len(block)
                continue
        _last_timestamp(scanner, block, max_line)
        offset += len(block)
    if tail:
        for line in iter_lines(io.BytesIO(tail), max_line):
            scanner.feed(line)
    return scanner.close()


def _last_timestamp(scanner: KernelLogScanner, block: bytes, max_line: int) -> None:
    """``last_monotonic`` as the line-by-line scan leaves it: from the last
    line of ``block`` that carries a timestamp.  Looked for backwards, in
    growing windows, among the lines :data:`_MONOTONIC_HINT` matches: one
    small window when the log is stamped (dmesg, syslog), one regex pass over
    the block when it is not (journal), never a per-line pass."""
    end = len(block)
    if scanner.export_open:
        # The line scan reads no stamp inside a journal export record: look
        # only before the line that opened the one still open (none in this
        # block: the whole block is inside it).
        opened = block.rfind(b"\n__CURSOR=")
        if opened < 0:
            return
        end = opened + 1
    window = _STAMP_WINDOW
    rfind, find = block.rfind, block.find
    while end > 0:
        start = rfind(b"\n", 0, end - window) + 1 if end > window else 0
        seen = -1
        for m in reversed(list(_MONOTONIC_HINT.finditer(block, start, end))):
            line_start = rfind(b"\n", 0, m.start()) + 1
            if line_start == seen:
                continue
            seen = line_start
            if scanner.note_timestamp(block[line_start:find(b"\n", line_start)][:max_line]):
                return
        end = start
        window *= 4
