# SPDX-License-Identifier: GPL-2.0-or-later
"""Which lines of a block of log a scan must read: one pass for many needles.

A big kernel log is read in blocks of whole lines (see
:func:`balloon_oom.readers.stream.scan_stream`).  For each block,
:meth:`Prefilter.scan` gives the starts of the lines holding one of the
scanner's needles (``needles``) and of those holding one of the ``boot``
needles, and the number of lines in the block.  A line whose message is
opaque to a byte search (``journalctl -o json`` writes a message that is not
valid UTF-8 as an array of numbers) counts as a needle line.

The needles are data, given by the caller.  With the ``hyperscan`` package
(Intel's Hyperscan; ``pip install 'balloon-oom[fast]'``) every needle is
found in one native pass over the block, which releases the GIL: inside
:meth:`Prefilter.overlapped` that pass runs on a helper thread while the
calling thread counts the block's lines (with NumPy, also in ``[fast]``,
once a log is big), so the two passes take the time of one on two cores.
Without Hyperscan one ``bytes.find`` pass per needle is made.  Both engines give the same lines (the tests run them against each
other on the real logs and on random mixes).

>>> pf = Prefilter([b"oom", b"Killed process"], [b"Memory: "], engine="python")
>>> block = b"[ 1.0] a\\n[ 2.0] x invoked oom-killer\\n[ 3.0] Memory: 1K/2K available\\n"
>>> pf.scan(block)
BlockHits(needles=[9], boot=[37], lines=3)
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

__all__ = ["BlockHits", "OPAQUE_MARKERS", "Prefilter", "native_available"]

#: Lines whose message bytes a search cannot see: ``journalctl -o json``
#: prints a MESSAGE that is not valid UTF-8 as a list of byte values.
OPAQUE_MARKERS = (b'"MESSAGE":[', b'"MESSAGE" : [')

#: A block smaller than this is scanned on the calling thread: handing it to
#: the helper costs more than the overlap gains.
OVERLAP_MIN = 256 * 1024
#: The helper thread's part of a block: it starts at SHARE_START, moves by
#: SHARE_STEP after each block, and stays above SHARE_MIN (Prefilter.overlapped).
SHARE_START = 0.75
SHARE_STEP = 0.02
SHARE_MIN = 0.3
#: Lines are counted by NumPy (when it imports) past this many bytes of a stream.
NUMPY_AFTER = 8 * 1024 * 1024


#: A block of log: ``bytes``, or a ``bytearray`` read into and scanned up to an end.
Block = Union[bytes, bytearray]


class BlockHits(NamedTuple):
    """Line starts (offsets into the block, ascending, no repeats)."""

    #: Lines holding a needle, or an opaque message (:data:`OPAQUE_MARKERS`).
    needles: List[int]
    #: Lines holding a boot needle.
    boot: List[int]
    #: ``\\n`` in the block: its lines, the block being whole lines.
    lines: int


def _line_starts(block: Block, ends: Sequence[int]) -> List[int]:
    """Starts of the lines holding the bytes just before each offset of ``ends``."""
    rfind = block.rfind
    return sorted({rfind(b"\n", 0, e - 1) + 1 for e in ends})


def _hits(block: Block, ends: Sequence[Sequence[int]], lines: int) -> BlockHits:
    """The :class:`BlockHits` of an engine's needle and boot-needle ``ends``."""
    needle_ends, boot_ends = ends
    return BlockHits(_line_starts(block, needle_ends), _line_starts(block, boot_ends), lines)


class _PythonEngine:
    """``bytes.find`` once per needle, jumping to the next line after each hit."""

    name = "python"

    def __init__(self, groups: Sequence[Sequence[bytes]]) -> None:
        self._groups = [tuple(g) for g in groups]

    def ends(self, block: Block, end: int) -> List[List[int]]:
        """Per group, the offsets just past each needle found in ``block[:end]``
        (one per line and needle)."""
        out = []
        find = block.find
        for group in self._groups:
            ends: List[int] = []
            for needle in group:
                i = find(needle, 0, end)
                while i >= 0:
                    ends.append(i + len(needle))
                    nl = find(b"\n", i, end)
                    if nl < 0:
                        break
                    i = find(needle, nl + 1, end)
            out.append(ends)
        return out


def _on_match(ident: int, start: int, end: int, flags: int, context) -> None:
    context.append((ident, end))


def _literal(needle: bytes) -> bytes:
    """``needle`` as a Hyperscan (PCRE) pattern matching exactly it."""
    return b"".join(b"\\x%02x" % c for c in needle)


class _HyperscanEngine:
    """Every needle of every group in one Hyperscan pass (a database of
    literals only: a pattern anchored on a frequent byte such as ``\\n`` would
    stop its literal matcher at every line)."""

    name = "hyperscan"

    def __init__(self, groups: Sequence[Sequence[bytes]]) -> None:
        import hyperscan  # type: ignore

        patterns: List[bytes] = []
        self._group_of: List[int] = []
        for g, group in enumerate(groups):
            for needle in group:
                patterns.append(_literal(needle))
                self._group_of.append(g)
        self._ngroups = len(groups)
        # Compiled here, so that a CPU Hyperscan cannot run on fails at once.
        self._hs = hyperscan
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=patterns, ids=list(range(len(patterns))),
                         elements=len(patterns), flags=[0] * len(patterns))

    def matches(self, block: Block, end: int, start: int = 0, scratch=None) -> list:
        """``(pattern id, end offset)`` of every match in ``block[start:end]``
        (whole lines); releases the GIL while it scans (but for the few match
        callbacks).  One scan at a time per ``scratch`` (None: the database's)."""
        found: list = []
        data = block if start == 0 and end == len(block) else memoryview(block)[start:end]
        self._db.scan(data, match_event_handler=_on_match, context=found, scratch=scratch)
        if start:
            found = [(ident, at + start) for ident, at in found]
        return found

    def scratch(self):
        """Scratch space for a second thread's scans."""
        return self._hs.Scratch(self._db)

    def ends(self, block: Block, end: int, found: Optional[list] = None) -> List[List[int]]:
        out: List[List[int]] = [[] for _ in range(self._ngroups)]
        group_of = self._group_of
        for ident, at in self.matches(block, end) if found is None else found:
            out[group_of[ident]].append(at)
        return out


class _Helper:
    """One helper thread running the native pass of one block at a time.

    :meth:`start` returns once the helper is inside the native call (it has
    released the GIL, or is about to), so the caller's own pass that follows
    (``bytes.count``, which holds the GIL throughout) runs beside it and does
    not hold it off."""

    def __init__(self, work: Callable[[Block, int], list]) -> None:
        self._work = work
        self._go = threading.Semaphore(0)
        self._started = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._block: Optional[Block] = None
        self._end = 0
        self._result: list = []
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="balloon-oom prefilter",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            block = self._block
            if block is None:
                return
            self._started.release()
            try:
                self._result = self._work(block, self._end)
            except BaseException as e:  # handed to the caller, raised there
                self._error = e
            self._done.release()

    def start(self, block: Block, end: int) -> None:
        self._block, self._end, self._error = block, end, None
        self._go.release()
        self._started.acquire()

    def result(self) -> Tuple[list, bool]:
        """The matches, and whether the helper was still scanning when asked."""
        waited = not self._done.acquire(blocking=False)
        if waited:
            self._done.acquire()
        self._block = None
        if self._error is not None:
            raise self._error
        return self._result, waited

    def stop(self) -> None:
        self._block = None
        self._go.release()
        self._thread.join()


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

    def scan(self, block: Block, end: Optional[int] = None) -> BlockHits:
        """The hits of ``block[:end]`` (whole ``\\n``-terminated lines; all of
        ``block`` when ``end`` is None), on this thread."""
        end = len(block) if end is None else end
        return _hits(block, self.engine.ends(block, end),  # type: ignore[attr-defined]
                     block.count(b"\n", 0, end))

    @contextlib.contextmanager
    def overlapped(self, threads: bool = True
                   ) -> Iterator[Callable[[Block, int], Callable[[], BlockHits]]]:
        """``submit(block, end)``, which starts the native pass over ``block[:end]`` on a
        helper thread, counts its lines, and returns a function giving its
        :class:`BlockHits` (the same as :meth:`scan`'s); what the caller does
        before asking (reading the next block) runs beside the native pass.
        One block at a time: ask for a block's hits before submitting the
        next.  The thread lives only inside the ``with``: a process forked
        outside it (the fleet forks one per report) inherits no thread.  Without
        ``threads`` (no spare CPU), with the Python engine, or for a block
        under :data:`OVERLAP_MIN`, the hits are found at once, on this thread."""
        engine = self.engine
        helper: Optional[_Helper] = None
        counter = _LineCounter()
        threads = threads and isinstance(engine, _HyperscanEngine)
        share = [SHARE_START]  # of each block, the helper's part
        mine: list = [None]  # this thread's Hyperscan scratch

        def submit(block: Block, end: int) -> Callable[[], BlockHits]:
            nonlocal helper
            if not threads or end < OVERLAP_MIN:
                hits = _hits(block, engine.ends(block, end),  # type: ignore[attr-defined]
                             counter(block, end))
                return lambda: hits
            if helper is None:
                helper, mine[0] = _Helper(engine.matches), engine.scratch()
            # The helper scans the lines before ``mid``, this thread counts the
            # block's lines and scans the rest; ``share`` moves so that neither
            # waits for the other (the line count is cheap with NumPy, not without).
            mid = block.rfind(b"\n", 0, int(end * share[0])) + 1
            helper.start(block, mid)
            lines = counter(block, end)
            rest = engine.matches(block, end, mid, mine[0])

            def hits() -> BlockHits:
                found, waited = helper.result()  # type: ignore[union-attr]
                share[0] = (max(SHARE_MIN, share[0] - SHARE_STEP) if waited
                            else min(1.0, share[0] + SHARE_STEP))
                return _hits(block, engine.ends(block, end, found + rest), lines)
            return hits

        try:
            yield submit
        finally:
            if helper is not None:
                helper.stop()


class _LineCounter:
    """``block.count(b"\\n")``, by NumPy once a stream has gone past
    :data:`NUMPY_AFTER` bytes and NumPy imports (``balloon-oom[fast]``):
    ``bytes.count`` reads ~1 GB/s here, NumPy's compare-and-count ~4 GB/s,
    and its import (~0.1 s) is paid only by a big log."""

    def __init__(self) -> None:
        self._seen = 0
        self._np = None
        self._out = None  # one bool array, reused: a fresh one per block costs page faults

    def __call__(self, block: Block, end: int) -> int:
        if self._np is None:
            self._seen += end
            if self._seen <= NUMPY_AFTER:
                return block.count(b"\n", 0, end)
            self._np = load_numpy()
        if self._np is False:
            return block.count(b"\n", 0, end)
        np = self._np
        if self._out is None or len(self._out) < end:
            self._out = np.empty(end, dtype=bool)
        out = self._out[:end]
        np.equal(np.frombuffer(block, np.uint8, count=end), 10, out=out)
        return int(np.count_nonzero(out))


def cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_numpy():
    """The ``numpy`` module, or False when it does not import."""
    # Only its compare and count are used: no BLAS thread pool (set before the
    # first import, which starts it; a user's own setting wins).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import numpy
    except Exception:  # ImportError, or a broken install: bytes.count does it
        return False
    return numpy
