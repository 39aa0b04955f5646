# SPDX-License-Identifier: GPL-2.0-or-later
"""Decompression bombs: memory stays bounded, the caps warn.

The bomb: a ``.tar.xz`` streamed from a generator of zeros
through ``xz -0`` (never materialised) holding a 64 MiB ``vmmemctl`` (a small
file: cut at :data:`balloon_oom.readers.layout.SMALL_FILE_CAP`, 8 MiB, with a
warning) and a ``var/log/messages`` of ``$BALLOON_OOM_BOMB_GIB`` GiB of NUL
bytes (default 1 in CI; set 10 for the full-size case) with no line end at all
(cut at :data:`balloon_oom.readers.members.MAX_LINE_BYTES`, 64 KiB, per line).
Peak RSS is measured with ``os.wait4``'s rusage (``getrusage`` of the child),
by :func:`tests.hostile.run_cli`.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from balloon_oom.readers import layout
from balloon_oom.readers.members import MAX_LINE_BYTES
from tests import sosroots
from tests.hostile import add_tree, json_of, kvm_root, run_cli

pytestmark = pytest.mark.skipif(sosroots.captures_available() is not None,
                                reason=str(sosroots.captures_available()))


# --- the decompression bomb -------------------------------------------------------------------

class Zeros(io.RawIOBase):
    """``size`` NUL bytes, produced on demand."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def write_bomb(path: Path, root: Path, log_bytes: int, small_bytes: int) -> None:
    """A .tar.xz of ``root`` plus two zero-filled members, streamed through ``xz -0``."""
    with open(path, "wb") as out:
        xz = subprocess.Popen(["xz", "-0", "-T2", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert xz.stdin is not None
        with tarfile.open(fileobj=xz.stdin, mode="w|") as tar:
            add_tree(tar, root)
            for name, size in (("sys/kernel/debug/vmmemctl", small_bytes),
                               ("var/log/messages", log_bytes)):
                info = tarfile.TarInfo("sosreport-guest-2026/" + name)
                info.size = size
                tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))
        xz.stdin.close()
        assert xz.wait() == 0


def test_decompression_bomb_bounded_memory(tmp_path):
    gib = float(os.environ.get("BALLOON_OOM_BOMB_GIB", "1"))
    log_bytes = int(gib * (1 << 30))
    small_bytes = 64 << 20
    assert small_bytes > layout.SMALL_FILE_CAP and log_bytes > 1000 * MAX_LINE_BYTES
    root = kvm_root(tmp_path / "src")
    bomb = tmp_path / "in" / "bomb.tar.xz"
    bomb.parent.mkdir()
    write_bomb(bomb, root, log_bytes, small_bytes)
    assert bomb.stat().st_size < log_bytes // 1000          # it really is a bomb
    base, o, doc = _with_baseline(tmp_path, root, bomb)
    assert doc["verdict"] == json_of(base)["verdict"] == "contributed"
    assert (f"sys/kernel/debug/vmmemctl: larger than {layout.SMALL_FILE_CAP} bytes; "
            f"only the first {layout.SMALL_FILE_CAP} were read") in doc["warnings"]
    # The vmmemctl complaint names the file and line, and stays short.
    vmw = [w for w in doc["warnings"] if w.startswith("sys/kernel/debug/vmmemctl:1:")]
    assert vmw and all(len(w) < 1000 for w in vmw), [w[:200] for w in vmw]
    # Memory: a small-file cap, a line cap, the parse and the output; never the member.
    grown_mib = (o.maxrss_kb - base.maxrss_kb) / 1024
    print(f"bomb {gib} GiB: peak RSS {o.maxrss_kb} KiB, without the bomb {base.maxrss_kb} KiB")
    assert grown_mib < 96, (o.maxrss_kb, base.maxrss_kb)


def _with_baseline(tmp_path, root, target):
    """``analyze`` of the plain report (``root`` as a ``.tar.xz``, same process
    shape, no bomb), then of ``target``: both runs, and ``target``'s JSON."""
    plain = tmp_path / "in" / "plain.tar.xz"
    with tarfile.open(plain, "w:xz") as tar:
        add_tree(tar, root)
    base = run_cli(["analyze", "--format", "json", str(plain)], tmp_path / "run0", trace=False)
    o = run_cli(["analyze", "--format", "json", str(target)], tmp_path / "run1", trace=False)
    return base, o, json_of(o)


@pytest.mark.parametrize("outer", ["case.tar", "case.zip"])
def test_bomb_inside_a_case_archive_bounded_memory(tmp_path, outer):
    """The bomb (64 MiB vmmemctl, 128 MiB log line of NULs) as
    ``case/attachments/bomb.tar.xz`` inside a case tarball or zip: the same caps hold
    one archive down (the inner one is decompressed through a pipe, never held)."""
    import zipfile

    root = kvm_root(tmp_path / "src")
    bomb = tmp_path / "bomb.tar.xz"
    write_bomb(bomb, root, 128 << 20, 64 << 20)
    case = tmp_path / "in" / outer
    case.parent.mkdir()
    if outer.endswith(".zip"):
        with zipfile.ZipFile(case, "w", zipfile.ZIP_STORED) as zf:
            zf.write(bomb, "case/attachments/bomb.tar.xz")
    else:
        with tarfile.open(case, "w") as tar:
            tar.add(str(bomb), arcname="case/attachments/bomb.tar.xz")
    base, o, doc = _with_baseline(tmp_path, root, case)
    assert doc["verdict"] == "contributed"
    assert (f"sys/kernel/debug/vmmemctl: larger than {layout.SMALL_FILE_CAP} bytes; "
            f"only the first {layout.SMALL_FILE_CAP} were read") in doc["warnings"]
    grown_mib = (o.maxrss_kb - base.maxrss_kb) / 1024
    assert grown_mib < 96, (o.maxrss_kb, base.maxrss_kb)
