# SPDX-License-Identifier: GPL-2.0-or-later
"""Which lines of a block of log a scan must read: one pass for many needles.

A big kernel log is read in blocks of whole lines (see
:func:`balloon_oom.readers.stream.scan_stream`).  For each block,
:meth:`Prefilter.scan` gives the starts of

* the lines holding one of the scanner's needles (``needles``), and of
  the lines holding one of the ``boot`` needles, each kind found in one pass;
* the lines that may *continue* the line before them
  (:func:`continued_lines`): a hard wrap or a quoted-printable soft break
  can split a needle in two, and a line split that way starts with none of
  the prefixes a log line starts with;
* the lines whose message is opaque to a byte search: ``journalctl -o json``
  writes a message that is not valid UTF-8 as an array of numbers.

The needles are data, given by the caller.  With the ``hyperscan`` package
(Intel's Hyperscan; ``pip install 'balloon-oom[fast]'``) every needle is
found in one native pass over the block; without it one ``bytes.find`` pass
per needle is made.  Both engines give the same lines (the tests run them
against each other on the real logs and on random mixes).

>>> pf = Prefilter([b"oom", b"Killed process"], [b"Memory: "], engine="python")
>>> block = b"[ 1.0] a\\n[ 2.0] x invoked oom-killer\\n[ 3.0] Memory: 1K/2K available\\nwrapped\\n"
>>> h = pf.scan(block)
>>> h.needles, h.boot, h.continued
([9], [37], [68])
>>> block[68:75]
b'wrapped'
"""

from __future__ import annotations

import re
from typing import List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "BlockHits",
    "OPAQUE_MARKERS",
    "STAMP_TAIL",
    "Prefilter",
    "continued_lines",
    "native_available",
]

#: What a line that opens a log line starts with (else it may continue the
#: line before): a printk time or ``dmesg -T`` stamp or a serial console's
#: ``[  OK  ]``; a JSON object (``journalctl -o json``); a ``<N>`` console
#: level (vmcore-dmesg); a journal ``-- Boot … --`` marker; a syslog/journal
#: ``Mon DD`` stamp; a journal export field ``NAME=``; an ISO date; or
#: nothing at all (an empty line).
_NEW_LINE = (rb"\r?\n|[\[{]|<[0-9]|-- |[A-Z][a-z]{2} [ 0-9][0-9] |[A-Z_][A-Z0-9_]*=|"
             rb"[0-9]{4}-[0-9]")
_CONTINUED = re.compile(rb"\n(?!" + _NEW_LINE + rb")")
_NEW_LINE_AT = re.compile(_NEW_LINE)

#: Lines whose message bytes a search cannot see: ``journalctl -o json``
#: prints a MESSAGE that is not valid UTF-8 as a list of byte values.
OPAQUE_MARKERS = (b'"MESSAGE":[', b'"MESSAGE" : [')


#: A printk time stamp ends this way (``.micros]``): a block without it has no
#: stamped line.  Only the native engine looks (in the same pass).
STAMP_TAIL = rb"\.[0-9\x80-\xff]+\]"


class BlockHits(NamedTuple):
    """Line starts (offsets into the block, ascending, no repeats)."""

    #: Lines holding a needle, or an opaque message (:data:`OPAQUE_MARKERS`).
    needles: List[int]
    #: Lines holding a boot needle.
    boot: List[int]
    #: Lines that may continue the line before them (:func:`continued_lines`);
    #: None when not asked for.
    continued: Optional[List[int]]
    #: False when the block certainly holds no printk time stamp
    #: (:data:`STAMP_TAIL`); True when it may.
    maybe_stamped: bool = True
    #: Lines in the block, when the engine counted them on the way (else None).
    lines: Optional[int] = None


def continued_lines(block: bytes) -> List[int]:
    """Starts of the lines of ``block`` (whole lines) that may continue the
    line before them: those starting with no log-line prefix.  The first
    line of the block is never one (nothing before it is known).

    One ``re`` pass: measured faster here than Hyperscan, whose literal
    matcher stops at every newline for a pattern anchored on one.

    >>> continued_lines(b"Nov 26 05:27:25 vm kernel: Out of memory: Killed\\nprocess 1 (a)\\n\\n[ 1.0] x\\n")
    [49]
    """
    last = len(block) - 1
    return [m.start() + 1 for m in _CONTINUED.finditer(block) if m.start() < last]


def _line_starts(block: bytes, ends: Sequence[int]) -> List[int]:
    """Starts of the lines holding the bytes just before each offset of ``ends``."""
    rfind = block.rfind
    return sorted({rfind(b"\n", 0, e - 1) + 1 for e in ends})


class _PythonEngine:
    """``bytes.find`` once per needle, jumping to the next line after each hit."""

    name = "python"

    def __init__(self, groups: Sequence[Sequence[bytes]]) -> None:
        self._groups = [tuple(g) for g in groups]

    def ends(self, block: bytes, continuations: bool = True
             ) -> Tuple[List[List[int]], Optional[List[int]], bool, Optional[int]]:
        out = []
        find = block.find
        for group in self._groups:
            ends: List[int] = []
            for needle in group:
                i = find(needle)
                while i >= 0:
                    ends.append(i + len(needle))
                    nl = find(b"\n", i)
                    if nl < 0:
                        break
                    i = find(needle, nl + 1)
            out.append(ends)
        return out, continued_lines(block) if continuations else None, True, None


def _on_match(ident: int, start: int, end: int, flags: int, context) -> None:
    context[ident].append(end)


def _literal(needle: bytes) -> bytes:
    """``needle`` as a Hyperscan (PCRE) pattern matching exactly it."""
    return b"".join(b"\\x%02x" % c for c in needle)


class _HyperscanEngine:
    """Every needle of every group, :data:`STAMP_TAIL` (first match only) and
    the lines not starting with the byte most lines start with, in one
    Hyperscan pass.

    That byte ``c`` (the first of the block's last line) also gives the
    line count without a per-byte count of newlines: one
    ``bytes.count(b"\\n" + c)`` (which skips) plus the lines found not
    starting with ``c``.  Those few lines are checked against the log-line
    prefixes one by one; the ``c`` lines are new log lines when ``c`` is a
    bracket, or when as many start with the last line's whole prefix
    (``Nov 26 ``); else :func:`continued_lines` decides, as the Python engine.
    """

    name = "hyperscan"

    def __init__(self, groups: Sequence[Sequence[bytes]]) -> None:
        import hyperscan  # type: ignore

        self._hs = hyperscan
        self._patterns: List[bytes] = []
        self._group_of: List[int] = []
        for g, group in enumerate(groups):
            for needle in group:
                self._patterns.append(_literal(needle))
                self._group_of.append(g)
        self._ngroups = len(groups)
        self._stamp = len(self._patterns)
        self._other = self._stamp + 1
        self._dbs: dict = {}
        # Fail here, not on the first block, if Hyperscan cannot run; the
        # databases (one per first byte, ~13 ms each) are built when needed.
        probe = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        probe.compile(expressions=[b"x"], ids=[0], elements=1, flags=[0])

    def _db(self, first: bytes):
        db = self._dbs.get(first)
        if db is None:
            hs = self._hs
            patterns = self._patterns + [STAMP_TAIL, b"\\n[^" + _literal(first) + b"]"]
            flags = [0] * self._stamp + [hs.HS_FLAG_SINGLEMATCH, 0]
            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            db.compile(expressions=patterns, ids=list(range(len(patterns))),
                       elements=len(patterns), flags=flags)
            if len(self._dbs) > 16:
                self._dbs.clear()
            self._dbs[first] = db
        return db

    def ends(self, block: bytes, continuations: bool = True
             ) -> Tuple[List[List[int]], Optional[List[int]], bool, Optional[int]]:
        last = block.rfind(b"\n", 0, len(block) - 1) + 1
        first = block[last:last + 1]
        if first in (b"", b"\n", b"\r"):  # "\n\n" overlaps itself: count() would miss some
            first = b"["
        per_pattern: List[List[int]] = [[] for _ in range(self._other + 1)]
        self._db(first).scan(block, match_event_handler=_on_match, context=per_pattern)
        out: List[List[int]] = [[] for _ in range(self._ngroups)]
        for ident in range(self._stamp):
            if per_pattern[ident]:
                out[self._group_of[ident]].extend(per_pattern[ident])
        others = [e - 1 for e in per_pattern[self._other]]
        with_first = block.count(b"\n" + first)
        lines = 1 + with_first + len(others)
        if not continuations:
            return out, None, bool(per_pattern[self._stamp]), lines
        match = _NEW_LINE_AT.match
        continued = [s for s in others if not match(block, s)]
        if with_first and first not in (b"[", b"{"):
            head = match(block, last)
            if head is None or not head.group() or \
                    block.count(b"\n" + head.group()) != with_first:
                continued = continued_lines(block)
        return out, continued, bool(per_pattern[self._stamp]), lines


def native_available() -> bool:
    """The ``hyperscan`` package imports (and works on this CPU)."""
    try:
        _HyperscanEngine([[b"x"]])
    except Exception:  # ImportError, or hyperscan.error on a CPU without SSSE3
        return False
    return True


class Prefilter:
    """Finds the lines of a block that hold ``needles`` or ``boot`` needles.

    ``engine``: ``"auto"`` (Hyperscan when it imports, else Python),
    ``"hyperscan"`` or ``"python"``.
    """

    def __init__(self, needles: Sequence[bytes], boot: Sequence[bytes] = (),
                 engine: str = "auto") -> None:
        for needle in list(needles) + list(boot):
            if not needle or b"\n" in needle:
                raise ValueError(f"needle {needle!r}: must be non-empty, without a newline")
        groups = [tuple(needles) + OPAQUE_MARKERS, tuple(boot)]
        self.engine: Optional[object] = None
        if engine in ("auto", "hyperscan"):
            try:
                self.engine = _HyperscanEngine(groups)
            except Exception:
                if engine == "hyperscan":
                    raise
        if self.engine is None:
            self.engine = _PythonEngine(groups)

    @property
    def engine_name(self) -> str:
        return self.engine.name  # type: ignore[attr-defined]

    def scan(self, block: bytes, continuations: bool = True) -> BlockHits:
        """The hits of ``block`` (whole ``\\n``-terminated lines); without
        ``continuations`` (their check is a pass of its own) ``continued`` is None."""
        (needle_ends, boot_ends), continued, stamped, lines = \
            self.engine.ends(block, continuations)  # type: ignore[attr-defined]
        return BlockHits(_line_starts(block, needle_ends), _line_starts(block, boot_ends),
                         continued, stamped, lines)
