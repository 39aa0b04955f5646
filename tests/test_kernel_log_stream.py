"""scan_stream (block prefilter) gives exactly what the line-by-line scan gives."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balloon_oom.model import to_jsonable
from balloon_oom.parsers import kernel_log
from balloon_oom.parsers.kernel_log import scan_log, scan_stream
from balloon_oom.readers.members import iter_lines
from tests import shared as _shared

KVM = (_shared.CAPTURES / "kvm-6.1")
DATA = Path(__file__).parent / "data" / "oom"
REAL_LOGS = sorted(KVM.glob("dmesg-*.txt")) + sorted(KVM.glob("serial-console-*.log")) + \
    sorted(p for p in DATA.glob("*") if p.name != "PROVENANCE.md")
# The published logs (syslog with '#012' joins, quoted-printable, indented
# mail copies, vmcore-dmesg '<N>', dmesg -T): their lines go into the mixes too.
WILD = sorted((_shared.SHARED / "real-logs" / "wild").glob("*.log"))
REAL_LOGS = REAL_LOGS + WILD


def _facts(scan):
    d = to_jsonable(scan)
    return d


def _both(data: bytes, block=None, monkeypatch=None):
    by_line = scan_log(iter_lines(io.BytesIO(data)), "log")
    by_block = scan_stream(io.BytesIO(data), "log")
    return _facts(by_line), _facts(by_block)


@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_real_logs_identical(path):
    a, b = _both(path.read_bytes())
    assert a == b
    assert a["lines"] > 0


def test_real_log_repeated_across_blocks_identical(monkeypatch):
    monkeypatch.setattr(kernel_log, "_BLOCK", 4096)
    data = b"".join(p.read_bytes() for p in REAL_LOGS if p.suffix in (".txt", ".log")) * 3
    a, b = _both(data)
    assert a == b
    assert len(b["events"]) >= 6


def _lines():
    real = [ln for p in REAL_LOGS for ln in p.read_bytes().splitlines()]
    return st.lists(st.sampled_from(real) | st.binary(max_size=40), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(_lines(), st.sampled_from([b"\n", b"\r\n"]), st.integers(64, 5000))
def test_random_mixes_identical(lines, eol, block):
    kernel_log._BLOCK = block
    try:
        a, b = _both(eol.join(lines) + eol)
    finally:
        kernel_log._BLOCK = 1024 * 1024
    assert a == b
