# SPDX-License-Identifier: GPL-2.0-or-later
"""Seeds and mutations shared by the fuzz tests (``tests/test_fuzz_*.py``).

Inputs are byte- and line-level mutations of real samples (the captures in
``/work/shared/real-captures``, the public OOM excerpts in ``tests/data/oom``,
and texts rendered from the kernel's own format strings by
:mod:`tests.sosroots` where no capture exists), plus random text.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from hypothesis import strategies as st

from tests import sosroots

KVM = Path(sosroots.KVM)
FC = Path(sosroots.FIRECRACKER)
OOM_DATA = Path(__file__).parent / "data" / "oom"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


LOG_SEEDS = [
    read(KVM / "dmesg-oom-report-deflate-off.txt"),
    read(KVM / "dmesg-deflate-on.txt"),
    read(FC / "dmesg-excerpt.txt"),
] + [read(p) for p in sorted(OOM_DATA.glob("*.txt"))]


# --- mutations ------------------------------------------------------------------------------

#: Characters that trip parsers: Unicode digits that are not decimal ("²"),
#: other scripts' decimals, line separators str.splitlines() knows, NUL, BOM.
ODD = ["²", "١٢", "\u2028", "\x85", "\x0b", "\x0c", "\x00", "\ufeff", "\ufffd", "\r", "\t",
       "-", "+", "0x", "0X1f", ":", " : ", "(", ")", " kB", " pages", "???", "%", "//",
       "99999999999999999999999999999999", "-1", "nan", "1e9", "١", "𝟗"]

_small_text = st.one_of(st.sampled_from(ODD), st.text(max_size=12))
_small_bytes = st.one_of(st.sampled_from([s.encode() for s in ODD]),
                         st.binary(max_size=12),
                         st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r\n", b"\n\n"]))


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    """Flip, insert, delete, duplicate a range, or truncate."""
    op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "truncate"]))
    n = len(data)
    i = draw(st.integers(0, n))
    j = draw(st.integers(i, min(n, i + 256)))
    if op == "flip" and n:
        i = min(i, n - 1)
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if op == "insert":
        return data[:i] + draw(_small_bytes) + data[i:]
    if op == "delete":
        return data[:i] + data[j:]
    if op == "dup":
        return data[:j] + data[i:j] + data[j:]
    return data[:i]


@st.composite
def line_mutation(draw, text: str) -> str:
    """Delete, duplicate, swap lines; put odd tokens into a line; insert a line."""
    lines = text.split("\n")
    op = draw(st.sampled_from(["delete", "dup", "swap", "token", "insert", "long"]))
    i = draw(st.integers(0, len(lines) - 1))
    if op == "delete":
        del lines[i]
    elif op == "dup":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "token":
        line = lines[i]
        k = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 20))
        lines[i] = line[:k] + draw(_small_text) + line[k + cut:]
    elif op == "insert":
        lines.insert(i, draw(_small_text))
    else:
        lines[i] = lines[i] + "x" * draw(st.sampled_from([1000, 70_000]))
    return "\n".join(lines)


@st.composite
def mutated(draw, seeds: List[str]) -> str:
    """A seed after 1-6 byte or line mutations, decoded as the readers decode files."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            text = draw(byte_mutation(text.encode("utf-8"))).decode("utf-8", "replace")
        else:
            text = draw(line_mutation(text))
    return text


def file_input(seeds: List[str]):
    return st.one_of(mutated(seeds), st.text(max_size=200),
                     st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")))
