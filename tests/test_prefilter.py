# SPDX-License-Identifier: GPL-2.0-or-later
"""The block prefilter: the native and the Python engine find the same lines
and count the same lines, on the calling thread and on the helper thread."""

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balloon_oom.parsers.kernel_log import ALWAYS_NEEDLES, BOOT_NEEDLES
from balloon_oom.readers import prefilter
from balloon_oom.readers.prefilter import Prefilter
from tests import shared as _shared

DATA = Path(__file__).parent / "data" / "oom"
WILD = _shared.SHARED / "real-logs" / "wild"
REAL_LOGS = (sorted((_shared.CAPTURES / "kvm-6.1").glob("dmesg-*.txt"))
             + sorted(p for p in DATA.glob("*.txt"))
             + sorted(WILD.glob("*.log")))

native = pytest.mark.skipif(not prefilter.native_available(),
                            reason="the hyperscan package is not installed (balloon-oom[fast])")


def _lines_by_hand(block: bytes, needles) -> list:
    """Starts of the lines holding a needle, by a plain per-line loop."""
    out, pos = [], 0
    for line in block.split(b"\n")[:-1]:
        if any(n in line for n in needles):
            out.append(pos)
        pos += len(line) + 1
    return out


def _engines():
    py = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine="python")
    hs = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine="hyperscan")
    return py, hs


def _whole_lines(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


@pytest.mark.skipif(not REAL_LOGS, reason="no real logs")
def test_python_engine_finds_every_needle_line_on_real_logs():
    py = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine="python")
    for path in REAL_LOGS:
        block = _whole_lines(path.read_bytes())
        hits = py.scan(block)
        assert hits.needles == _lines_by_hand(block, ALWAYS_NEEDLES + prefilter.OPAQUE_MARKERS)
        assert hits.boot == _lines_by_hand(block, BOOT_NEEDLES)
    # the real logs do hold needles: this is not a comparison of empty lists
    assert sum(len(py.scan(_whole_lines(p.read_bytes())).needles) for p in REAL_LOGS) > 100


@native
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_engines_agree_on_real_logs(path):
    py, hs = _engines()
    block = _whole_lines(path.read_bytes())
    a, b = py.scan(block), hs.scan(block)
    assert a == b
    assert b.lines == block.count(b"\n")


@native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([ln for p in REAL_LOGS for ln in p.read_bytes().splitlines()])
                | st.binary(max_size=60), min_size=1, max_size=200))
def test_engines_agree_on_random_mixes(parts):
    py, hs = _engines()
    block = b"\n".join(p if isinstance(p, bytes) else b"" for p in parts) + b"\n"
    a, b = py.scan(block), hs.scan(block)
    assert a == b
    assert b.lines == block.count(b"\n")
    assert _overlapped(hs, [block]) == [a]


def _overlapped(pf, blocks, end_pad=0):
    """``Prefilter.overlapped`` from the first byte (helper thread, NumPy
    count when it imports), each block in a bytearray with ``end_pad``
    bytes of junk after its end."""
    saved = prefilter.OVERLAP_MIN, prefilter.NUMPY_AFTER
    prefilter.OVERLAP_MIN = prefilter.NUMPY_AFTER = 0
    try:
        with pf.overlapped() as submit:
            out = []
            for block in blocks:
                buf = bytearray(block + b"Killed process\n" * end_pad)
                out.append(submit(buf, len(block))())
            return out
    finally:
        prefilter.OVERLAP_MIN, prefilter.NUMPY_AFTER = saved


@pytest.mark.skipif(not REAL_LOGS, reason="no real logs")
@pytest.mark.parametrize("engine", ["python"] + (["hyperscan"] if prefilter.native_available()
                                                 else []))
def test_overlapped_equals_scan_on_real_logs(engine):
    """The helper thread's hits and the counted lines equal the plain scan's,
    and nothing past ``end`` of a reused buffer is read."""
    pf = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine=engine)
    blocks = [_whole_lines(p.read_bytes()) for p in REAL_LOGS]
    assert _overlapped(pf, blocks, end_pad=3) == [pf.scan(b) for b in blocks]
    buf = bytearray(blocks[0] + b"[ 9.0] Killed process 1 (x)\n")
    assert pf.scan(buf, len(blocks[0])) == pf.scan(blocks[0])


@native
@pytest.mark.parametrize("share", [0.0, 0.3, 0.75, 1.0])
def test_any_split_between_the_threads_finds_the_same(share, monkeypatch):
    """Whatever part of each block the helper scans (none, some, all), the
    hits are the plain scan's."""
    monkeypatch.setattr(prefilter, "SHARE_START", share)
    monkeypatch.setattr(prefilter, "SHARE_STEP", 0.0)
    _, hs = _engines()
    blocks = [_whole_lines(p.read_bytes()) for p in REAL_LOGS]
    assert _overlapped(hs, blocks, end_pad=2) == [hs.scan(b) for b in blocks]


@native
def test_helper_thread_error_reaches_the_caller_and_the_thread_ends():
    import threading

    class Broken:
        def scan(self, *args, **kwargs):
            raise OSError("scan failed")

    _, hs = _engines()
    saved = prefilter.OVERLAP_MIN
    prefilter.OVERLAP_MIN = 0
    try:
        with pytest.raises(OSError, match="scan failed"):
            with hs.overlapped() as submit:
                line = b"[ 1.0] Killed process 1 (x)\n"
                assert submit(line, len(line))().needles == [0]
                hs.engine._db = Broken()
                submit(line, len(line))()
    finally:
        prefilter.OVERLAP_MIN = saved
    assert not [t for t in threading.enumerate() if t.name == "balloon-oom prefilter"]


def test_line_counter_numpy_and_bytes_count_agree():
    counter = prefilter._LineCounter()
    saved = prefilter.NUMPY_AFTER
    prefilter.NUMPY_AFTER = 0
    try:
        for block in (b"", b"\n", b"a\nb\n\n", bytes(range(256)) * 50, b"\n" * 70000):
            buf = bytearray(block + b"\n\n\n")
            assert counter(buf, len(block)) == block.count(b"\n")
    finally:
        prefilter.NUMPY_AFTER = saved


def test_needles_are_data():
    pf = Prefilter([b"zebra"], [], engine="python")
    assert pf.scan(b"a\nthe zebra\nb\n").needles == [2]
    with pytest.raises(ValueError):
        Prefilter([b"two\nlines"], engine="python")


def test_random_blocks_by_hand():
    """The Python engine against a per-line loop on seeded random text."""
    rng = random.Random(3)
    words = [b"oom", b"zoom", b"Killed", b"process", b"Killed process", b"alloon", b"Memory: ",
             b"[ 1.0]", b"x", b"Nov 26 05:27:25 h kernel:", b" ", b"virtio_mem", b"Freeing "]
    pf = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine="python")
    for _ in range(200):
        block = b"\n".join(b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 6)))
                           for _ in range(rng.randrange(1, 40))) + b"\n"
        hits = pf.scan(block)
        assert hits.needles == _lines_by_hand(block, ALWAYS_NEEDLES + prefilter.OPAQUE_MARKERS)
        assert hits.boot == _lines_by_hand(block, BOOT_NEEDLES)
        assert hits.lines == block.count(b"\n")
