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
from typing import Any, BinaryIO, Callable, Dict, Iterator, Optional, Tuple

from balloon_oom.parsers.kernel_log import KernelLogScanner, LogScan
from balloon_oom.parsers.logkinds import ALWAYS_NEEDLES, BOOT_NEEDLES, BOOT_WINDOW
from balloon_oom.readers.containers import Chained
from balloon_oom.readers.decompressors import busy_cpus
from balloon_oom.readers.members import iter_lines
from balloon_oom.readers.prefilter import Block, BlockHits, Prefilter, cpus, load_numpy

__all__ = ["scan_stream", "warm"]

_BLOCK = 1024 * 1024
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


def warm() -> None:
    """Build the prefilter and import NumPy now: a process that forks one
    child per report (the fleet) does it once, not in every child."""
    _prefilter()
    load_numpy()


def _feed_block(scanner: KernelLogScanner, block: Block, end: int, base: int,
                boot_until: int, max_line: int, hits: BlockHits) -> int:
    """Feed the lines of ``block[:end]`` (whole ``\\n``-terminated lines)
    that can matter; count the others.  ``base`` is the stream offset of
    ``block``; returns the new end of the boot window.

    Fed: the lines holding a needle, boot-needle lines inside the boot
    window, and every line while
    :attr:`~balloon_oom.parsers.kernel_log.KernelLogScanner.in_report` (an
    OOM report or a journal export record is open, or a line waits for its
    continuation).  No other line needs the scanner: a line only waits for a
    continuation (a hard wrap, a quoted-printable soft break, a needle split
    in two) when it holds a needle itself, and then the lines after it are
    fed until it is whole; so a skipped line holds no needle and continues
    nothing the scanner kept.
    """
    cands = hits.needles
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
                # To the end: the block's line count says how many, no count pass.
                n = hits.lines - done if nxt == end else count(b"\n", pos, nxt)
                scanner.skip(n)
                done += n
                pos = nxt
                if pos >= end:
                    break
        nl = find(b"\n", pos, end)
        line = bytes(block[pos:min(nl, pos + max_line)])
        if b"Linux version" in line:
            boot_until = max(boot_until, base + nl + BOOT_WINDOW)
        scanner.feed(line)
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
    ``hyperscan`` package is there, beside the block's line count;
    ``engine`` chooses); only the lines :func:`_feed_block` names are
    parsed, the others only counted.  A block with NUL bytes or a lone CR is
    fed line by line; a line longer than ``max_line`` is cut, as
    :func:`balloon_oom.readers.members.iter_lines` does.
    """
    scanner = KernelLogScanner(source)
    # The helper thread only on a CPU nothing else of ours keeps busy: beside a
    # decompressor child on two CPUs it would slow the decompressor, the floor.
    threads = cpus() > 1 + busy_cpus()
    with _prefilter(engine).overlapped(threads) as submit:
        # Block k's native pass runs while block k+1 is read (Prefilter.overlapped);
        # _blocks reads into two buffers in turn, so block k stays whole meanwhile.
        pending: Optional[Tuple[Block, int, int, Callable[[], BlockHits]]] = None
        boot_until = BOOT_WINDOW
        offset = 0
        for block, end in _blocks(stream, max_line):
            if pending is not None:
                boot_until = _feed_block(scanner, *pending[:3], boot_until, max_line,
                                         pending[3]())
                pending = None
            if isinstance(block, Iterator):
                for line in block:
                    scanner.feed(line)
            else:
                pending = (block, end, offset, submit(block, end))
            offset += end
        if pending is not None:
            _feed_block(scanner, *pending[:3], boot_until, max_line, pending[3]())
    return scanner.close()


def _blocks(stream: BinaryIO, max_line: int) -> Iterator[Tuple[Any, int]]:
    """``(buffer, end)`` for each block of whole lines of ``stream``
    (``buffer[:end]``; valid until the next block but one is asked for), or
    ``(lines, size)`` for lines that must be fed one by one: a block with NUL
    bytes or a lone CR, the unterminated last line, and, after a line longer
    than ``max_line``, the rest of the stream (the exact slow path).

    Read into two buffers in turn (``readinto``): a fresh ``bytes`` per read,
    and another to join it to the previous read's partial line, cost more
    in page faults than the copies themselves."""
    size = _BLOCK
    # A block starts with the previous read's partial line: shorter than a read
    # (it followed a newline), or than max_line (else the slow path takes over).
    capacity = size + max(size, max_line)
    bufs = [bytearray(capacity), None]  # the second once the first holds a block
    readinto = getattr(stream, "readinto", None)
    tail = b""
    turn = 0
    while True:
        buf = bufs[turn]
        if buf is None:
            buf = bufs[turn] = bytearray(capacity)
        start = len(tail)
        buf[:start] = tail
        if readinto is not None:
            n = readinto(memoryview(buf)[start:start + size]) or 0
        else:
            chunk = stream.read(size)
            n = len(chunk)
            buf[start:start + n] = chunk
        if not n:
            break
        end = start + n
        cut = buf.rfind(b"\n", start, end) + 1
        if not cut:
            tail = bytes(buf[:end])
            if len(tail) > max_line:
                yield iter_lines(Chained(tail, stream, close_stream=False), max_line), 0
                return
            continue
        tail = bytes(buf[cut:end])
        if buf.find(b"\x00", 0, cut) >= 0 or (buf.find(b"\r", 0, cut) >= 0 and
                                                buf.count(b"\r", 0, cut) !=
                                                buf.count(b"\r\n", 0, cut)):
            yield iter_lines(io.BytesIO(bytes(buf[:cut])), max_line), cut
        else:
            yield buf, cut
            turn ^= 1
    if tail:
        yield iter_lines(io.BytesIO(tail), max_line), len(tail)
