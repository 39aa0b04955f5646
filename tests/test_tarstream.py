# SPDX-License-Identifier: GPL-2.0-or-later
"""The tar walker gives what tarfile's streaming mode gives, on every header format."""

import io
import os
import tarfile

import pytest

from balloon_oom.errors import InputError
from balloon_oom.readers import tarstream
from balloon_oom.readers.members import iter_tar_stream

LONG = "sosreport-x/sos_commands/" + "d" * 120 + "/" + "f" * 150


def _archive(fmt):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for i, (name, data) in enumerate([
                ("sosreport-x/proc/meminfo", b"MemTotal: 1 kB\n"),
                ("sosreport-x/var/log/messages", os.urandom(70_000)),
                (LONG, b"long name\n" * 3000),
                ("sosreport-x/etc/h\u00e9llo", b""),
                ("sosreport-x/proc/vmstat", b"x" * 511),
                ("sosreport-x/proc/zoneinfo", b"y" * 512 * 3)]):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = i
            tar.addfile(info, io.BytesIO(data))
        for kind, name, target in ((tarfile.SYMTYPE, "sosreport-x/proc/s", "../etc/" + "t" * 140),
                                   (tarfile.LNKTYPE, "sosreport-x/proc/h", "sosreport-x/proc/vmstat"),
                                   (tarfile.DIRTYPE, "sosreport-x/dir", "")):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


def _with_tarfile(data, read):
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for i, info in enumerate(tar):
            body = tar.extractfile(info).read() if info.isreg() and read(i) else None
            out.append((info.name, info.type, info.linkname, info.size, body))
    return out


def _walked(data, read):
    out = []
    for i, (info, member) in enumerate(tarstream.walk(io.BytesIO(data), "t")):
        body = member.read() if member is not None and read(i) else None
        out.append((info.name, info.type, info.linkname, info.size, body))
    return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("chunk", [512, 1000, 4 << 20])
@pytest.mark.parametrize("read", [lambda i: True, lambda i: i % 2 == 0, lambda i: False])
def test_walk_equals_tarfile(monkeypatch, fmt, chunk, read):
    data = _archive(fmt)
    monkeypatch.setattr(tarstream, "CHUNK", chunk)
    got = _walked(data, read)
    assert got == _with_tarfile(data, read)
    assert LONG in [g[0] for g in got] and len(got) == 9


def _read_into(member, size):
    """A member's bytes through ``readinto`` (as the stream scan reads), ``size`` at a time."""
    out, buf = bytearray(), bytearray(size)
    while True:
        n = member.readinto(buf)
        if not n:
            return bytes(out)
        out += buf[:n]


class _NoReadinto(io.RawIOBase):
    def __init__(self, data):
        self._f = io.BytesIO(data)

    def read(self, size=-1):
        return self._f.read(size)

    readinto = None


@pytest.mark.parametrize("chunk", [512, 1000, 4 << 20])
@pytest.mark.parametrize("size", [1, 700, 4096, 1 << 20])
@pytest.mark.parametrize("raw", [io.BytesIO, _NoReadinto])
def test_readinto_equals_tarfile(monkeypatch, chunk, size, raw):
    """Straight from the stream into the caller's buffer once the block in hand
    is used up, or from what is left of it; headers after it still parse."""
    data = _archive(tarfile.PAX_FORMAT)
    monkeypatch.setattr(tarstream, "CHUNK", chunk)
    got = []
    for i, (info, member) in enumerate(tarstream.walk(raw(data), "t")):
        body = _read_into(member, size) if member is not None and i % 3 != 2 else None
        got.append((info.name, info.type, info.linkname, info.size, body))
    assert got == _with_tarfile(data, lambda i: i % 3 != 2)
    assert sum(len(g[4] or b"") for g in got) > 70_000


def test_ustar_long_name_split_into_prefix():
    out = io.BytesIO()
    name = "sosreport-x/" + "p" * 120 + "/meminfo"
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert _walked(out.getvalue(), lambda i: True) == [(name, tarfile.REGTYPE, "", 3, b"abc")]


def test_member_data_is_the_block_itself_when_it_spans_it(monkeypatch):
    monkeypatch.setattr(tarstream, "CHUNK", 4096)
    data = _archive(tarfile.GNU_FORMAT)
    for info, member in tarstream.walk(io.BytesIO(data), "t"):
        if info.name.endswith("messages"):
            pieces = list(iter(lambda: member.read(1 << 20), b""))
            assert [len(p) for p in pieces[1:-1]] == [4096] * (len(pieces) - 2)
            assert sum(map(len, pieces)) == 70_000


def test_pax_sparse_member_reads_its_holes_as_zeros():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("sosreport-x/var/log/messages")
        info.size = 10
        info.pax_headers = {"GNU.sparse.map": "3,5,9000,5", "GNU.sparse.size": "9100"}
        tar.addfile(info, io.BytesIO(b"hellowrld!"))
    data = out.getvalue()
    expect = _with_tarfile(data, lambda i: True)
    assert expect[0][4] == b"\0" * 3 + b"hello" + b"\0" * 8992 + b"wrld!" + b"\0" * 95
    assert _walked(data, lambda i: True) == expect


@pytest.mark.parametrize("cut", [512 + 100, 1024 + 300, 2048 + 511])
def test_stream_ending_in_a_member_or_its_padding_is_an_error(cut):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, size in (("r/proc/meminfo", 900), ("r/proc/vmstat", 3000)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"z" * size))
    with pytest.raises(InputError, match="archive is truncated or corrupt"):
        for m in iter_tar_stream(io.BytesIO(out.getvalue()[:cut]), "t.tar"):
            if m.path == "proc/meminfo":
                m.open().read()


def test_garbage_after_a_member_ends_the_archive_and_a_bad_first_header_is_refused():
    data = _archive(tarfile.GNU_FORMAT)
    first = 512 + 512  # proc/meminfo's header and its one data block
    tail = b"not a header".ljust(512, b"!")
    assert [m.path for m in iter_tar_stream(io.BytesIO(data[:first] + tail), "t")] == \
        ["proc/meminfo"]
    with pytest.raises(InputError, match="not a readable tar archive"):
        list(iter_tar_stream(io.BytesIO(tail + data), "t"))
    assert list(iter_tar_stream(io.BytesIO(b"\0" * 10240), "t")) == []


def test_a_huge_long_name_header_is_refused_not_read():
    info = tarfile.TarInfo("././@LongLink")
    info.type = tarfile.GNUTYPE_LONGNAME
    info.size = 1 << 40
    header = info.tobuf(tarfile.GNU_FORMAT)
    with pytest.raises(InputError, match="not a readable tar archive"):
        list(iter_tar_stream(io.BytesIO(header + b"a" * 4096), "t"))
