"""readers.stream.scan_stream (block prefilter) gives exactly what the line-by-line scan gives."""

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balloon_oom.model import to_jsonable
from balloon_oom.parsers.kernel_log import KernelLogScanner, scan_log
from balloon_oom.readers import prefilter, stream
from balloon_oom.readers.members import iter_lines
from balloon_oom.readers.stream import scan_stream
from tests import shared as _shared

KVM = (_shared.CAPTURES / "kvm-6.1")
DATA = Path(__file__).parent / "data" / "oom"
WILD = _shared.SHARED / "real-logs" / "wild"
REAL_LOGS = sorted(KVM.glob("dmesg-*.txt")) + sorted(KVM.glob("serial-console-*.log")) + \
    sorted(p for p in DATA.glob("*") if p.name != "PROVENANCE.md")
# The published logs (syslog with '#012' joins, quoted-printable, indented
# mail copies, vmcore-dmesg '<N>', dmesg -T): their lines go into the mixes too.
REAL_LOGS = REAL_LOGS + sorted(WILD.glob("*.log"))
# "threads": Hyperscan on the helper thread from the first byte, the lines
# counted by NumPy when it imports (Prefilter.overlapped; a real log is too
# small to reach either threshold).
ENGINES = ["python"] + (["hyperscan", "threads"] if prefilter.native_available() else [])


def _facts(scan):
    d = to_jsonable(scan)
    return d


def _scan_stream(stream_, engine="auto"):
    if engine != "threads":
        return scan_stream(stream_, "log", engine=engine)
    saved = prefilter.OVERLAP_MIN, prefilter.NUMPY_AFTER
    prefilter.OVERLAP_MIN = prefilter.NUMPY_AFTER = 0
    try:
        return scan_stream(stream_, "log", engine="hyperscan")
    finally:
        prefilter.OVERLAP_MIN, prefilter.NUMPY_AFTER = saved


def _both(data: bytes, engine="auto"):
    by_line = scan_log(iter_lines(io.BytesIO(data)), "log")
    by_block = _scan_stream(io.BytesIO(data), engine)
    return _facts(by_line), _facts(by_block)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_real_logs_identical(path, engine):
    a, b = _both(path.read_bytes(), engine)
    assert a == b
    assert a["lines"] > 0


# --- damaged copies of the real logs: the damage pastes and mailers do --------------------------

def _hard_wrap(data: bytes, width: int) -> bytes:
    out = []
    for line in data.split(b"\n"):
        while len(line) > width:
            cut = line.rfind(b" ", 0, width)
            cut = width if cut <= 0 else cut
            out.append(line[:cut])
            line = line[cut:].lstrip(b" ")
        out.append(line)
    return b"\n".join(out)


def _quoted_printable(data: bytes) -> bytes:
    out = []
    for line in data.split(b"\n"):
        line = line.replace(b"=", b"=3D")
        while len(line) > 76:
            out.append(line[:75] + b"=")
            line = line[75:]
        out.append(line)
    return b"\n".join(out)


def _rsyslog_joins(data: bytes) -> bytes:
    """Every three lines made one, joined by ``#012`` (rsyslog's escaped newline)."""
    lines = data.split(b"\n")
    return b"\n".join(b"#012".join(lines[i:i + 3]) for i in range(0, len(lines), 3))


def _journal_json(data: bytes) -> bytes:
    out = []
    for i, line in enumerate(data.split(b"\n")):
        msg = json.dumps(line.decode("utf-8", "replace"))
        if i % 7 == 3:  # journalctl -o json: a message that is not UTF-8 is a byte list
            msg = json.dumps(list(line))
        out.append(b'{"__CURSOR":"s=%d","_BOOT_ID":"b","_TRANSPORT":"kernel","MESSAGE":%s}'
                   % (i, msg.encode()))
    return b"\n".join(out)


def _indented_quoted(data: bytes) -> bytes:
    return b"\n".join((b"> " if i % 2 else b"  ") + line
                      for i, line in enumerate(data.split(b"\n")))


DAMAGE = {"wrap72": lambda d: _hard_wrap(d, 72), "wrap76": lambda d: _hard_wrap(d, 76),
          "wrap80": lambda d: _hard_wrap(d, 80), "qp": _quoted_printable,
          "rsyslog012": _rsyslog_joins, "json": _journal_json, "indent": _indented_quoted}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_real_logs_identical(damage, engine, monkeypatch):
    """Small blocks, so damage meets block boundaries too."""
    monkeypatch.setattr(stream, "_BLOCK", 8192)
    for path in REAL_LOGS:
        a, b = _both(DAMAGE[damage](path.read_bytes()), engine)
        assert a == b, path.name


class _Recorder(KernelLogScanner):
    def __init__(self, source):
        super().__init__(source)
        self.fed = []

    def feed(self, line):
        self.fed.append(bytes(line))
        super().feed(line)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_wrapped_kill_line_reaches_the_scanner_whole(engine, monkeypatch):
    """A kill line hard-wrapped after ``Killed``: its first half waits for its
    continuation, so the line after it is fed too (the continuation holds no
    needle) and the kill is found, at the line it starts on; the noise around
    it is counted, not fed.  Wrapped inside ``Kil|led`` the first half cannot
    wait (neither scan joins it): only the half with a needle is fed."""
    noise = b"".join(b"Nov 26 05:27:%02d vm sshd[%d]: session closed\n" % (i % 60, i)
                     for i in range(3000))
    rest = b"process 537 (login) total-vm:27584kB, anon-rss:860kB, file-rss:0kB, shmem-rss:0kB"
    for kill, joined in (((b"Nov 26 05:28:00 vm kernel: Out of memory: Killed", rest), True),
                         ((b"Nov 26 05:28:00 vm kernel: Out of memory: Kil", b"led " + rest), False)):
        data = noise + b"\n".join(kill) + b"\n" + noise
        recorders = []
        monkeypatch.setattr(stream, "KernelLogScanner",
                            lambda source: recorders.append(_Recorder(source)) or recorders[-1])
        scan = _scan_stream(io.BytesIO(data), engine)
        fed = recorders[0].fed
        assert (kill[1] in fed) is joined
        if joined:
            assert list(kill) == fed[fed.index(kill[0]):fed.index(kill[0]) + 2]
        assert [(e.victim.pid, e.line) for e in scan.events if e.victim] == \
            ([(537, 3001)] if joined else [])
        assert len(fed) < 20  # the noise is counted, not fed
        assert scan.lines == 6002
        monkeypatch.undo()
        assert _facts(scan) == _facts(scan_log(iter_lines(io.BytesIO(data)), "log"))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("block", [4096, 1 << 20])
def test_real_log_repeated_across_blocks_identical(monkeypatch, block, engine):
    """Small blocks, and full-size ones (the buffers _blocks reads into in turn)."""
    monkeypatch.setattr(stream, "_BLOCK", block)
    data = b"".join(p.read_bytes() for p in REAL_LOGS if p.suffix in (".txt", ".log")) * 4
    assert len(data) > 2 * block
    a, b = _both(data, engine)
    assert a == b
    assert len(b["events"]) >= 8


class _ReadOnly(io.RawIOBase):
    """A stream with ``read`` only (no ``readinto``), returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, size=-1):
        return self._f.read(min(size, 3000) if size and size > 0 else size)

    readinto = None


@pytest.mark.parametrize("engine", ENGINES)
def test_stream_without_readinto_and_short_reads_identical(monkeypatch, engine):
    monkeypatch.setattr(stream, "_BLOCK", 8192)
    data = b"".join(p.read_bytes() for p in REAL_LOGS if p.suffix in (".txt", ".log"))
    want = _facts(scan_log(iter_lines(io.BytesIO(data)), "log"))
    assert _facts(_scan_stream(_ReadOnly(data), engine)) == want


@pytest.mark.parametrize("engine", ENGINES)
def test_lines_longer_than_a_block(monkeypatch, engine):
    """A partial line nearly a block long starts the next block (the buffers
    hold a block and a partial line); a line over max_line takes the exact path."""
    monkeypatch.setattr(stream, "_BLOCK", 4096)
    kill = (b"[  238.324946] Out of memory: Killed process 537 (login) total-vm:27584kB, "
            b"anon-rss:860kB, file-rss:0kB, shmem-rss:0kB\n")
    for data in (b"x\n" + b"y" * 4000 + b"\n" + kill,
                 b"a" * 4095 + b"\n" + b"b" * 5000 + b"\n" + kill,
                 kill + b"z" * 70000 + b"\n" + kill):
        a, b = _both(data, engine)
        assert a == b
        assert [e["victim"]["pid"] for e in b["events"]] == [537] * data.count(kill)


def _lines():
    real = [ln for p in REAL_LOGS for ln in p.read_bytes().splitlines()]
    return st.lists(st.sampled_from(real) | st.binary(max_size=40), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(_lines(), st.sampled_from([b"\n", b"\r\n"]), st.integers(64, 5000))
def test_random_mixes_identical(lines, eol, block):
    saved, stream._BLOCK = stream._BLOCK, block
    try:
        a, b = _both(eol.join(lines) + eol, "python")
        for engine in ENGINES[1:]:
            assert _both(eol.join(lines) + eol, engine) == (a, b)
    finally:
        stream._BLOCK = saved
    assert a == b


def test_warm_builds_the_prefilter_once_and_loads_numpy(monkeypatch):
    """The fleet's parent warms up before forking: its children reuse the
    compiled prefilter and the imported NumPy instead of each building them."""
    import sys

    monkeypatch.setattr(stream, "_PREFILTERS", {})
    monkeypatch.delenv("BALLOON_OOM_PREFILTER", raising=False)
    stream.warm()
    assert len(stream._PREFILTERS) == 1
    built = stream._prefilter()
    stream.warm()
    assert stream._prefilter() is built and len(stream._PREFILTERS) == 1
    assert ("numpy" in sys.modules) == bool(prefilter.load_numpy())
