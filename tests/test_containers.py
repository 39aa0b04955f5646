# SPDX-License-Identifier: GPL-2.0-or-later
"""readers/containers.py: peeking, decompressing streams, archives in archives."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile

import pytest

from balloon_oom.errors import InputError
from balloon_oom.readers.containers import Chained, decompress, expand, peek
from balloon_oom.readers.members import iter_tar_stream
from tests.shared import SHARED

AWS = SHARED / "real-logs" / "wild" / "fs-aws-ec2-xen-hvm-rhel8.3-messages-4oom.log"


def test_peek_keeps_the_head():
    head, stream = peek(io.BytesIO(b"0123456789"), 4)
    assert head == b"0123"
    assert stream.read(2) == b"01" and stream.read(3) == b"23" and stream.read() == b"456789"
    head, stream = peek(io.BytesIO(b"ab"), 512)
    assert head == b"ab" and stream.read(100) == b"ab" and stream.read(100) == b""


@pytest.mark.parametrize("tool", ["xz", "gzip", "bzip2", "zstd"])
def test_decompress_a_stream(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} missing")
    data = b"[    8.352026] hog invoked oom-killer\n" * 50000
    packed = subprocess.run([tool, "-c"], input=data, capture_output=True, check=True).stdout
    kind = {"xz": "xz", "gzip": "gzip", "bzip2": "bzip2", "zstd": "zstd"}[tool]
    out = decompress(kind, io.BytesIO(packed), "x")
    try:
        assert out.read() == data
    finally:
        out.close()


def test_corrupt_stream_is_one_input_error():
    packed = subprocess.run(["gzip", "-c"], input=b"x" * 100000, capture_output=True,
                            check=True).stdout
    out = decompress("gzip", io.BytesIO(packed[:len(packed) // 2]), "case.tar:attachments/m.gz")
    with pytest.raises(InputError, match="case.tar:attachments/m.gz: truncated or corrupt"):
        out.read()
    out.close()


@pytest.mark.skipif(not AWS.is_file() or shutil.which("zstd") is None,
                    reason="wild logs or zstd missing")
def test_log_in_a_tar_zst_in_a_tar(tmp_path):
    """``case/attachments/logs.tar.zst`` holding ``messages``: found by content, given
    the role of a log, its lines intact."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        tar.add(str(AWS), arcname="logs/messages-customer")
    zst = subprocess.run(["zstd", "-c"], input=inner.getvalue(), capture_output=True,
                         check=True).stdout
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w") as tar:
        info = tarfile.TarInfo("case/attachments/logs.tar.zst")
        info.size = len(zst)
        tar.addfile(info, io.BytesIO(zst))
    outer.seek(0)
    warnings: list = []
    got = []
    for m in expand(iter_tar_stream(outer, "case.tar"), "case.tar", 1, warnings):
        got.append((m.path, m.role, m.open().read() if m.kind == "file" else None))
    assert [(p, r) for p, r, _ in got] == [("messages-customer", "log")]
    assert got[0][2] == AWS.read_bytes() and warnings == []


def test_chained_gives_head_then_stream_and_closes_it_only_when_owned():
    for owned in (True, False):
        rest = io.BytesIO(b"cd\nef")
        chained = Chained(b"ab", rest, close_stream=owned)
        assert chained.read(1) + chained.read(3) + chained.read() == b"abcd\nef"
        chained.close()
        assert rest.closed is owned


@pytest.mark.parametrize("has_readinto", [True, False])
def test_chained_readinto_gives_the_head_then_the_stream(has_readinto):
    class Plain(io.RawIOBase):
        def __init__(self, data):
            self._f = io.BytesIO(data)

        def readable(self):
            return True

        def read(self, size=-1):
            return self._f.read(size)

        if has_readinto:
            def readinto(self, b):
                return self._f.readinto(b)
        else:
            readinto = None

    data = bytes(range(256)) * 40
    chained = Chained(data[:700], Plain(data[700:]))
    out, buf = bytearray(), bytearray(1000)
    while True:
        n = chained.readinto(buf)
        if not n:
            break
        out += buf[:n]
    assert bytes(out) == data
