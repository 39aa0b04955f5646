# SPDX-License-Identifier: GPL-2.0-or-later
"""The block prefilter: the native and the Python engine find the same lines,
and the lines a damaged log splits a needle across are both found."""

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balloon_oom.parsers.kernel_log import ALWAYS_NEEDLES, BOOT_NEEDLES
from balloon_oom.readers import prefilter
from balloon_oom.readers.prefilter import Prefilter, continued_lines
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
    assert (a.needles, a.boot, a.continued) == (b.needles, b.boot, b.continued)
    assert b.lines == block.count(b"\n")


@native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([ln for p in REAL_LOGS for ln in p.read_bytes().splitlines()])
                | st.binary(max_size=60), min_size=1, max_size=200))
def test_engines_agree_on_random_mixes(parts):
    py, hs = _engines()
    block = b"\n".join(p if isinstance(p, bytes) else b"" for p in parts) + b"\n"
    a, b = py.scan(block), hs.scan(block)
    assert (a.needles, a.boot, a.continued) == (b.needles, b.boot, b.continued)
    assert b.lines == block.count(b"\n")


@native
def test_native_stamp_hint_never_misses_a_stamp():
    _, hs = _engines()
    assert hs.scan(b"[   12.345678] x\n").maybe_stamped
    assert hs.scan(b"Nov 26 05:27:25 vm kernel: [\xd9\xa3.\xd9\xa3] x\n").maybe_stamped
    assert not hs.scan(b"Nov 26 05:27:25 vm sshd[123]: from 10.1.2.3 port 22\n").maybe_stamped


@native
@pytest.mark.parametrize("block", [
    b"Nov 26 00:00:01 h a: x\nNov 26 00:00:02 h a: y\nNot a stamp\nNov 26 00:00:03 h a: z\n",
    b"Nov 26 23:59:59 h a: x\nNov 27 00:00:00 h a: y\nNov 27 00:00:01 h a: z\n",
    b"[ 1.0] a\n\n\n[ 2.0] b\n\n", b"\n\n\n", b"x\r\n\r\n\r\n", b"MESSAGE=a\nMEMORY=b\nM\n",
])
def test_native_continuations_and_line_count_on_edge_blocks(block):
    py, hs = _engines()
    a, b = py.scan(block), hs.scan(block)
    assert a.continued == b.continued
    assert b.lines == block.count(b"\n")


def test_needles_are_data():
    pf = Prefilter([b"zebra"], [], engine="python")
    assert pf.scan(b"a\nthe zebra\nb\n").needles == [2]
    with pytest.raises(ValueError):
        Prefilter([b"two\nlines"], engine="python")


# --- damage -----------------------------------------------------------------------------------

def test_continuations_of_a_hard_wrap_and_a_quoted_printable_break():
    wrapped = (b"[  238.324946] Out of memory: Killed\n"
               b"process 537 (login) total-vm:27584kB\n"
               b"[  331.839393] hv_balloon: Balloon request will be partially fulfilled. (65=\n"
               b"875 32768 54728) Balloon floor reached.\n"
               b"  [  238.338585] systemd invoked oom-killer: gfp_mask=0x100cca\n"
               b"> quoted\n")
    starts = continued_lines(wrapped)
    lines = [wrapped[s:wrapped.index(b"\n", s)] for s in starts]
    assert lines == [b"process 537 (login) total-vm:27584kB",
                     b"875 32768 54728) Balloon floor reached.",
                     b"  [  238.338585] systemd invoked oom-killer: gfp_mask=0x100cca",
                     b"> quoted"]


@pytest.mark.parametrize("line", [
    b"[    8.355603] hog invoked oom-killer: x", b"<4>[ 1.0] x", b"[Thu Nov 26 05:27:25 2026] x",
    b"Nov 26 05:27:25 vm kernel: x", b"Nov  6 05:27:25 vm kernel: x",
    b"2026-11-26T05:27:25.123456+00:00 vm kernel: x", b"-- Boot 0123abcd --",
    b'{"MESSAGE":"x"}', b"MESSAGE=x", b"_BOOT_ID=x", b"",
])
def test_log_line_starts_are_not_continuations(line):
    assert continued_lines(b"first\n" + line + b"\n") == []


def test_every_split_of_every_needle_is_found():
    """Wrap a kill line at each byte of each needle: a line of the pair is a hit
    or a continuation, so both halves reach the scanner."""
    pf = Prefilter(ALWAYS_NEEDLES, BOOT_NEEDLES, engine="python")
    # ``__CURSOR=`` opens a journal export record: it only ever stands at the start
    # of a line (column 0), where no hard wrap can split it.
    for needle in [n for n in ALWAYS_NEEDLES + BOOT_NEEDLES if n != b"__CURSOR="]:
        text = b"[  238.324946] Out of memory: x " + needle + b" y"
        at = text.index(needle)
        for k in range(1, len(needle)):
            for brk in (b"\n", b"=\n", b" \n", b"\n  ", b"\n> "):
                block = b"[ 1.0] before\n" + text[:at + k] + brk + text[at + k:] + b"\n[ 2.0] after\n"
                second = block.index(b"\n", 14) + 1
                assert second in pf.scan(block).continued, (needle, k, brk)


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
        starts = [m.start() + 1 for m in re.finditer(rb"\n", block)][:-1]
        assert set(hits.continued) <= set(starts)
